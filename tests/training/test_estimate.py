"""The epoch time a run prints before its first epoch: ``genlab study --plan``'s estimate."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest
import torch

from genlab.study.forecast import probe
from genlab.training import estimate, train
from genlab.training.checkpoint import read_checkpoint
from genlab.training.config import config_from_dict
from genlab.training.estimate import estimate_line
from genlab.training.trainer import Trainer


def _fake_clock(monkeypatch: pytest.MonkeyPatch, tick: float) -> None:
    """Every timed call takes ``tick`` seconds, and the probe its fewest steps: what is
    measured is then the same wherever it runs, and the two estimates compare exactly."""
    clock = itertools.count()
    monkeypatch.setattr(estimate.time, "perf_counter", lambda: tick * next(clock))
    monkeypatch.setattr(estimate, "PROBE_SECONDS", 0.0)


@pytest.mark.slow  # training runs
def test_a_run_prints_the_plans_estimate_before_its_first_epoch(
        tmp_path: Path, tiny, monkeypatch: pytest.MonkeyPatch,
        capsys: pytest.CaptureFixture[str]) -> None:
    _fake_clock(monkeypatch, 2.0 ** -6)  # exact in binary: differences of ticks too
    cfg = config_from_dict(tiny(train={"epochs": 2, "progress": True, "epoch_samples": 16}))
    trainer = Trainer(cfg, tmp_path / "run")
    trainer.run()
    out = capsys.readouterr().out
    line = estimate_line(trainer.estimate, 2)
    assert line in out and out.index(line) < out.index("epoch 1")
    planned = probe(config_from_dict(tiny(train={"epochs": 2, "epoch_samples": 16}))).epoch_s
    assert trainer.estimate.epoch_s == planned
    # 9,500 training images in 38 batches of 256, 500 validation images in one batch of
    # 1,000, the prior's fit (none for a VAE) and the epoch's grid: each timed call one tick
    assert planned == pytest.approx((38 + 1 + 1) * 2.0 ** -6)


@pytest.mark.slow  # training runs
def test_the_estimate_leaves_the_run_as_it_would_be_without_it(tmp_path: Path, tiny) -> None:
    shown = train(tiny(train={"epochs": 1, "progress": True}), out=tmp_path / "shown")
    quiet = train(tiny(train={"epochs": 1}), out=tmp_path / "quiet")
    assert shown.model is not quiet.model
    for (name, a), (_, b) in zip(shown.model.state_dict().items(),
                                 quiet.model.state_dict().items(), strict=True):
        assert torch.equal(a, b), name
    drop = {"seconds"}
    assert ([{k: v for k, v in r.items() if k not in drop} for r in shown.history]
            == [{k: v for k, v in r.items() if k not in drop} for r in quiet.history])


def test_the_line_gives_the_epoch_and_the_epochs_left() -> None:
    measured = estimate.Probe(75.0, 0.0, True, False)
    assert estimate_line(measured, 4) == ("estimated epoch time on this machine: 1m15s "
                                          "(75 s); 4 epochs: about 5m00s")
    assert estimate_line(measured, 1).endswith("(75 s)")
    assert estimate_line(measured, 3, limited=True).endswith(
        "3 epochs (the time limit's): about 3m45s")


@pytest.mark.slow  # training runs
def test_a_checkpoint_is_kept_each_time_the_training_minutes_pass_a_multiple(
        tmp_path: Path, tiny) -> None:
    every = 0.002  # minutes: 0.12 s
    result = train(tiny(train={"epochs": 6, "checkpoint_every": every}), out=tmp_path / "r")
    spent = list(itertools.accumulate(row["seconds"] / 60 for row in result.history))
    passed = [int(m // every) for m in spent]
    expected = {f"timed_{n:03d}": epoch for epoch, n in enumerate(passed, 1)
                if n > (passed[epoch - 2] if epoch > 1 else 0)}
    kept = {p.stem: p for p in (tmp_path / "r" / "checkpoints").glob("timed_*.safetensors")}
    assert set(kept) == set(expected) and kept
    for name, epoch in expected.items():
        assert read_checkpoint(kept[name]).meta["epoch"] == epoch
