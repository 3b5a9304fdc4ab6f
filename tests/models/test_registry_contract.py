"""The contract every registered family keeps, run on the family's own ``tiny`` options: it
trains, samples, saves and loads, resumes exactly, runs each latent tool or refuses it with a
clear error, and is evaluated or skipped with a reason. A new family gets all of it by
registering."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import genlab
from genlab.cli.latent_cmds import COMMANDS
from genlab.cli.main import main
from genlab.evaluation.evaluate import evaluate_run
from genlab.models.core.capabilities import Decoder, has
from genlab.models.parts.likelihoods import PixelDistribution
from genlab.models.registry import MODELS
from genlab.runs import open_run
from genlab.training.precision import bf16_supported

pytestmark = pytest.mark.slow

LATENT_ARGS = {
    "perturb": ["-n", "2", "--sigmas", "0.5,1"],
    "interpolate": ["--index", "0", "--to", "1", "--steps", "3"],
    "centroid": ["-n", "2", "--alphas", "0,1"],
    "toward-class": ["-n", "2", "--target", "7"],
    "blend": ["--a-index", "0,1", "--b-index", "2,3", "-n", "2"],
    "grid": ["--prior", "-n", "3"],
    "map": ["-n", "60", "--method", "pca"],
    "infer": ["-n", "2", "--max-steps", "3"],
    "complete": ["-n", "2", "--max-steps", "3"],
}
REFUSALS = ("needs", "has no", "conditional", "2-D")
"""Words of a clear refusal: 'blend needs an encoder, but the 'gan' model has none'."""


def _config(family: str, epochs: int, runs: dict[str, Path] | None = None) -> dict:
    """A family's tiny run config. A family built on other runs names, in its ``tiny``
    options, the family of each component (``first_stage: vae``): that family's tiny run in
    ``runs`` takes its place."""
    model = {"name": family, **MODELS[family].tiny}
    for spec in MODELS[family].component_specs:
        model[spec.field] = str((runs or {})[model[spec.field]])
    return {
        "model": model,
        "data": {"dataset": "mnist-mini", "binarize": "dynamic", "val_size": 8500},
        "train": {"epochs": epochs, "batch_size": 100, "progress": False, "seed": 0,
                  "device": "cpu", "epoch_samples": 4},
    }


def _components_first(families: list[str]) -> list[str]:
    """The families, each after those its tiny options build it on."""
    order: list[str] = []

    def place(family: str) -> None:
        for spec in MODELS[family].component_specs:
            place(MODELS[family].tiny[spec.field])
        if family not in order:
            order.append(family)

    for family in families:
        place(family)
    return order


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("registry")
    runs: dict[str, Path] = {}
    for family in _components_first(list(MODELS)):
        runs[family] = genlab.train(_config(family, 2, runs), out=root / family).run_dir
    return runs


def test_every_latent_tool_has_contract_arguments() -> None:
    assert set(LATENT_ARGS) == {c.name for c in COMMANDS}, "a latent tool has no contract args"


@pytest.mark.parametrize("family", list(MODELS))
def test_trains_samples_saves_and_loads(family: str, trained: dict[str, Path]) -> None:
    run = open_run(trained[family])
    assert type(run.model) is MODELS[family] and not run.model.training
    images = run.sample(5, seed=0)
    assert images.shape == (5, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    assert torch.equal(images, run.sample(5, seed=0))  # same seed, same path
    if has(run.model, Decoder):  # decoders always return a pixel distribution
        z = run.model.sample_prior(3, torch.Generator().manual_seed(0))
        with torch.no_grad():
            out = run.model.decode(z, run.model.labels_for(3, None))
        assert isinstance(out, PixelDistribution) and out.log_prob(out.mean).shape == (3,)
        assert isinstance(run.model.fit_objective, str)


@pytest.mark.parametrize("family", [f for f, m in MODELS.items() if not m.closed_form])
def test_resumes_exactly(family: str, trained: dict[str, Path], tmp_path: Path) -> None:
    out = tmp_path / family
    genlab.train(_config(family, 1, trained), out=out)
    genlab.train(_config(family, 2, trained), out=out, resume=True)
    straight = open_run(trained[family], which="last").model.state_dict()
    resumed = open_run(out, which="last").model.state_dict()
    assert straight.keys() == resumed.keys()
    for key, value in straight.items():
        assert torch.equal(value, resumed[key]), key  # the same computation on one machine


@pytest.mark.parametrize("family", list(MODELS))
def test_latent_tools_run_or_refuse_clearly(family: str, trained: dict[str, Path],
                                            tmp_path: Path, capsys) -> None:
    for name, extra in LATENT_ARGS.items():
        out = tmp_path / name
        code = main(["latent", name, str(trained[family]), *extra, "--out", str(out)])
        err = capsys.readouterr().err
        if code == 0:
            assert any(out.glob("*.png")), (family, name)
        else:
            assert code == 2 and any(w in err for w in REFUSALS), (family, name, err)
            assert len(err.strip().splitlines()) == 1 and not out.exists(), (family, name)


@pytest.mark.parametrize("family", list(MODELS))
def test_evaluated_or_skipped_with_a_reason(family: str, trained: dict[str, Path]) -> None:
    result = evaluate_run(open_run(trained[family]), metrics=["nll", "recon"], n=32,
                          nll_images=4, iw_samples=3, cache=False)
    assert set(result["metrics"]) | set(result["skipped"]) == {"nll", "recon"}
    assert all(isinstance(why, str) and why for why in result["skipped"].values())
    if "nll" in result["metrics"]:
        nll = result["metrics"]["nll"]
        assert torch.isfinite(torch.tensor(nll["nll_nats"])) and nll["scale"]


FAST = {"precision": "bf16", "channels_last": True}


@pytest.mark.skipif(not bf16_supported(torch.device("cpu")),
                    reason="this CPU has no native bf16 (oneDNN): bf16 falls back to fp32")
@pytest.mark.parametrize("family", [f for f, m in MODELS.items() if not m.closed_form])
def test_trains_in_bf16_channels_last_and_resumes_exactly(family: str, tmp_path: Path,
                                                          trained: dict[str, Path]) -> None:
    """``--set train.precision=bf16 --set train.channels_last=true`` for every family: the
    run trains to finite numbers, samples valid images and a killed run resumes exactly."""
    def config(epochs: int) -> dict:
        cfg = _config(family, epochs, trained)
        cfg["train"].update(FAST)
        return cfg

    full = genlab.train(config(2), out=tmp_path / "full")
    assert all(torch.isfinite(torch.tensor(v)) for v in full.history[-1].values()
               if isinstance(v, float))
    images = open_run(tmp_path / "full").sample(3, seed=0)
    assert images.dtype == torch.float32 and images.min() >= 0 and images.max() <= 1
    genlab.train(config(1), out=tmp_path / "cut")
    genlab.train(config(2), out=tmp_path / "cut", resume=True)
    straight = open_run(tmp_path / "full", which="last").model.state_dict()
    resumed = open_run(tmp_path / "cut", which="last").model.state_dict()
    for key, value in straight.items():
        assert torch.equal(value, resumed[key]), key
