"""``train.ema`` warms up (TensorFlow's ExponentialMovingAverage with ``num_updates``): the
average never holds more than a small share of the random initial weights.

The share is checked in closed form and on short runs of a family whose one weight starts at 0
and is 1 after every update, so that the average's distance from 1 is exactly the share of the
initial weight in it (float64: measured to about 1e-16).
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import torch
from torch import nn

from genlab import train
from genlab.models.core.base import Batch, GenerativeModel, LossOutput
from genlab.models.core.callbacks import Callback
from genlab.models.registry import MODELS
from genlab.training.average import initial_share, warmed_decay
from genlab.training.checkpoint import atomic_save, read_checkpoint

DECAY = 0.999


class Tagged(GenerativeModel):
    """One float64 weight, 0 at the start; each training objective sets it to 1 with a zero
    gradient, so the optimiser step leaves it there."""

    selection_metric = None

    def __init__(self, config: Any, shape: tuple[int, int, int], num_classes: int) -> None:
        super().__init__(config, shape, num_classes)
        self.w = nn.Parameter(torch.zeros(1, dtype=torch.float64))

    def loss(self, batch: Batch) -> LossOutput:
        if self.training:  # the trained copy only, never the average under validation
            with torch.no_grad():
                self.w.fill_(1.0)
        return LossOutput((self.w * 0).sum(), {})


class Shares(Callback):
    """The share of the initial weight in the average after every update."""

    def __init__(self) -> None:
        self.values: list[float] = []

    def on_step_end(self, trainer: Any, player: str, out: LossOutput) -> None:
        self.values.append(1.0 - float(trainer.scored.w))


@pytest.fixture
def tagged(monkeypatch):
    monkeypatch.setitem(MODELS, "tagged", Tagged)

    def config(epochs: int, batch_size: int) -> dict[str, Any]:
        return {"model": {"name": "tagged"}, "data": {"dataset": "mnist-mini", "val_size": 200},
                "train": {"epochs": epochs, "batch_size": batch_size, "optimizer": "sgd",
                          "progress": False, "device": "cpu", "epoch_samples": 0,
                          "ema": DECAY}}

    return config


def test_the_share_of_the_initial_weights_is_one_over_a_binomial_during_the_warm_up():
    """While (1 + n) / (10 + n) < decay (n < 8990 for 0.999) the decays' product telescopes
    to 9! N! / (N + 9)!; after it the constant decay takes over."""
    assert warmed_decay(DECAY, 0) == 0.1 and warmed_decay(DECAY, 10**6) == DECAY
    for n in (1, 2, 3, 10, 100, 840, 8990):
        assert initial_share(DECAY, n) == pytest.approx(1 / math.comb(n + 9, 9), rel=1e-9)
    after = 1 / math.comb(8990 + 9, 9) * DECAY**10
    assert initial_share(DECAY, 9000) == pytest.approx(after, rel=1e-9)
    # The bound: under 1% from the third update on, 2.3e-13 after 100 updates, where the
    # constant decay leaves 90%; the 840 updates left 43% without the warm-up.
    assert initial_share(DECAY, 2) > 0.01 > initial_share(DECAY, 3)
    assert initial_share(DECAY, 100) < 1e-12 and DECAY**100 > 0.9
    assert DECAY**840 > 0.43 and initial_share(DECAY, 840) < 1e-20


@pytest.mark.slow
def test_a_short_run_leaves_that_share_of_the_initial_weights_in_the_average(tmp_path, tagged):
    shares = Shares()
    result = train(tagged(1, batch_size=98), out=tmp_path / "run", callbacks=[shares])
    assert result.history[-1]["step"] == len(shares.values) == 100
    expected = [initial_share(DECAY, n) for n in range(1, 101)]
    torch.testing.assert_close(torch.tensor(shares.values, dtype=torch.float64),
                               torch.tensor(expected, dtype=torch.float64), rtol=1e-9, atol=1e-14)
    assert shares.values[2] < 0.01 and shares.values[-1] < 1e-12
    ckpt = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.safetensors")
    assert float(ckpt.tensors["live.w"]) == 1.0 and 1 - float(result.model.w) == shares.values[-1]
    assert ckpt.meta["callbacks"] == {"ema": {"updates": {"model": 100}}}


@pytest.mark.slow
def test_the_update_counts_survive_a_kill_and_resume(tmp_path, tagged, interrupted_then_resumed):
    full = train(tagged(2, batch_size=980), out=tmp_path / "full")
    cut = interrupted_then_resumed(tagged(2, batch_size=980), tmp_path / "cut", epoch=1)
    assert float(cut.model.w) == float(full.model.w)  # a count restarted at 0 would differ
    ckpt = read_checkpoint(tmp_path / "cut" / "checkpoints" / "last.safetensors")
    assert ckpt.meta["callbacks"]["ema"] == {"updates": {"model": 20}}


@pytest.mark.slow
def test_a_checkpoint_written_before_the_warm_up_resumes_from_its_step(tmp_path, tagged):
    """genlab before the warm-up stored no update counts: the average is taken to be as old
    as the checkpoint's step, and warms up on from there."""
    run = tmp_path / "run"
    train(tagged(1, batch_size=980), out=run)
    path = run / "checkpoints" / "last.safetensors"
    ckpt = read_checkpoint(path)
    assert ckpt.meta["step"] == 10
    del ckpt.meta["callbacks"]
    old_share = DECAY**10  # what an average without the warm-up held after 10 updates
    ckpt.tensors["model.w"] = torch.tensor([1 - old_share], dtype=torch.float64)
    path.unlink()
    atomic_save(path, ckpt.tensors, ckpt.meta)
    shares = Shares()
    train(tagged(2, batch_size=980), out=run, resume=True, callbacks=[shares])
    expected = [old_share * math.prod(warmed_decay(DECAY, 10 + j) for j in range(k))
                for k in range(1, 11)]
    torch.testing.assert_close(torch.tensor(shares.values, dtype=torch.float64),
                               torch.tensor(expected, dtype=torch.float64), rtol=1e-9, atol=1e-14)
