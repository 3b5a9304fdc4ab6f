"""genlab.progress: the long loops of latent/ and evaluation/ count their steps to the hook a
front end sets, else to a tqdm bar that stays silent where stderr is not a terminal."""

from __future__ import annotations

import contextlib
import math
import threading

import pytest
import torch

from genlab.evaluation import evaluate as ev
from genlab.latent import ops
from genlab.models.registry import MODELS, build_model
from genlab.progress import reporting, steps
from genlab.runs import Run
from genlab.training.config import config_from_dict


def _record() -> tuple[list[tuple[str, int, int]], contextlib.AbstractContextManager[None]]:
    seen: list[tuple[str, int, int]] = []
    return seen, reporting(lambda what, done, total: seen.append((what, done, total)))


def test_steps_report_what_done_and_total_inside_the_context_only(capsys) -> None:
    seen, hook = _record()
    with hook, steps("work", 5) as advance:
        advance(2)
        advance(3)
    assert seen == [("work", 2, 5), ("work", 5, 5)]
    with steps("work", 3) as advance:  # no hook: a tqdm bar, hidden when not a terminal
        advance(3)
    assert len(seen) == 2 and capsys.readouterr().err == ""


def test_another_threads_loops_are_not_reported_to_this_ones_hook() -> None:
    seen, hook = _record()

    def elsewhere() -> None:
        with steps("other", 1) as advance:
            advance(1)

    with hook:
        thread = threading.Thread(target=elsewhere)
        thread.start()
        thread.join()
    assert seen == []


def _vae() -> torch.nn.Module:
    config = config_from_dict({"model": {"name": "vae", **MODELS["vae"].tiny}})
    return build_model(config.model, (1, 28, 28), 10).eval()


def test_encoding_and_decoding_count_their_images_chunk_by_chunk(monkeypatch) -> None:
    monkeypatch.setattr(ops, "CHUNK", 4)
    model = _vae()
    seen, hook = _record()
    with hook:
        z = ops.encode(model, torch.rand(10, 1, 28, 28))
        ops.decode(model, z)
    assert seen == [("encoding", 4, 10), ("encoding", 8, 10), ("encoding", 10, 10),
                    ("decoding", 4, 10), ("decoding", 8, 10), ("decoding", 10, 10)]


def test_the_likelihood_counts_its_images_and_matches_one_call(monkeypatch, tmp_path) -> None:
    """Chunks of NLL_CHUNK images each report; an exact likelihood (a flow's) is the same as
    of one call on every image (a flow on uniformly dequantised pixels)."""
    monkeypatch.setattr(ev, "NLL_CHUNK", 3)
    flow = {"name": "realnvp", **MODELS["realnvp"].tiny, "dequantisation": "uniform"}
    config = config_from_dict({"model": flow,
                               "data": {"dataset": "mnist-mini", "binarize": "none"}})
    model = build_model(config.model, (1, 28, 28), 10).eval()
    run = Run(model, config, tmp_path / "untrained.safetensors", {})
    seen, hook = _record()
    with hook:
        nll = ev.likelihood_metrics(run, n=7, k=2)
    assert [s for s in seen if s[0] == "likelihood"] == [
        ("likelihood", 3, 7), ("likelihood", 6, 7), ("likelihood", 7, 7)]
    x = ev.dequantise(ev._spread(run, "test", 7, 0)[0], torch.Generator().manual_seed(0))
    with torch.no_grad():
        whole = -model.log_likelihood(x, None, 2).double().mean()
    assert math.isfinite(nll["nll_nats"])
    assert nll["nll_nats"] == pytest.approx(float(whole), rel=1e-6)


def test_samples_are_counted_by_the_thousand(tmp_path) -> None:
    config = config_from_dict({"model": {"name": "vae", **MODELS["vae"].tiny}})
    run = Run(_vae(), config, tmp_path / "untrained.safetensors", {})
    seen, hook = _record()
    with hook:
        assert run.sample(1500).shape[0] == 1500
    assert seen == [("sampling", 1000, 1500), ("sampling", 1500, 1500)]
