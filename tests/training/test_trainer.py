"""The trainer on mnist-mini: learning, run directory, exact resume, NaN guard."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest
import torch

from genlab import load, train
from genlab.errors import CheckpointError, ConfigError, TrainingDivergedError
from genlab.models.families.autoencoders.vae import VAE
from genlab.training.checkpoint import read_checkpoint
from genlab.training.logs import another_epoch_fits


@pytest.mark.slow
def test_vae_learns_on_mnist_mini_and_writes_a_run_dir(tmp_path, tiny):
    result = train(tiny(model={"hidden": [256]}), out=tmp_path / "run")
    first, last = result.history[0], result.history[-1]
    # Untrained: ~543 nats (784 ln 2). After 3 short epochs the MLP VAE is far below that and
    # still improving by a clear margin.
    assert last["val/neg_elbo"] < 200
    assert first["val/neg_elbo"] - last["val/neg_elbo"] > 10
    run = tmp_path / "run"
    for name in (
        "config.yaml",
        "metrics.jsonl",
        "metrics.csv",
        "curves.png",
        "summary.json",
        "checkpoints/best.safetensors",
        "checkpoints/last.safetensors",
        "samples/epoch_001.png",
        "samples/epoch_003.png",
    ):
        assert (run / name).exists(), name
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == [1, 2, 3]
    assert {"train/nll", "train/kl", "val/nll", "val/kl", "val/loss"} <= set(rows[0])
    opened = load(str(run))
    assert isinstance(opened.model, VAE) and opened.sample(4).shape == (4, 1, 28, 28)
    assert not opened.sample(2).requires_grad


def _weights(run) -> dict[str, torch.Tensor]:
    return read_checkpoint(run / "checkpoints" / "last.safetensors").section("model")


def _assert_same(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


@pytest.mark.slow
def test_interrupted_then_resumed_equals_uninterrupted(tmp_path, tiny, interrupted_then_resumed):
    cfg = tiny(model={"net": "conv", "channels": [4, 8]}, train={"epochs": 3, "schedule": "cosine"})
    train(cfg, out=tmp_path / "full")
    result = interrupted_then_resumed(cfg, tmp_path / "cut", epoch=2)
    assert [r["epoch"] for r in result.history] == [1, 2, 3]
    _assert_same(_weights(tmp_path / "full"), _weights(tmp_path / "cut"))


def _cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "genlab", *args]


@pytest.mark.slow
def test_killed_process_resumes_to_identical_weights(tmp_path):
    flags = [
        "vae",
        "--net",
        "mlp",
        "--hidden",
        "64",
        "--latent-dim",
        "4",
        "--epochs",
        "8",
        "--batch-size",
        "64",
        "--binarize",
        "dynamic",
        "--val-size",
        "500",
        "--no-progress",
    ]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    subprocess.run(
        _cli("train", *flags, "--out", str(tmp_path / "full")),
        check=True,
        env=env,
        capture_output=True,
    )
    cut = tmp_path / "cut"
    proc = subprocess.Popen(
        _cli("train", *flags, "--out", str(cut)),
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    last = cut / "checkpoints" / "last.safetensors"
    deadline = time.time() + 120
    while not last.exists() and time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    epoch = read_checkpoint(last).meta["epoch"]
    assert 1 <= epoch < 8, "the kill should land mid-run"
    subprocess.run(
        _cli("train", "--resume", str(cut), "--no-progress"),
        check=True,
        env=env,
        capture_output=True,
    )
    _assert_same(_weights(tmp_path / "full"), _weights(cut))
    assert not list((cut / "checkpoints").glob(".*.tmp")), "stale temp files are cleaned on resume"
    rows = [json.loads(line) for line in (cut / "metrics.jsonl").read_text().splitlines()]
    assert [r["epoch"] for r in rows] == list(range(1, 9))


@pytest.mark.slow
def test_nan_stops_with_location_and_keeps_last_checkpoint(tmp_path, tiny, monkeypatch):
    cfg = tiny(train={"epochs": 3})
    run = tmp_path / "run"
    real_loss = VAE.loss
    calls = {"n": 0}

    def poisoned(self, batch):
        out = real_loss(self, batch)
        if self.training:
            calls["n"] += 1
            if calls["n"] > 40:  # inside epoch 2 (mnist-mini: 34 batches per epoch)
                out.terms["kl"] = out.terms["kl"] * float("nan")
                out.total = out.total * float("nan")
        return out

    monkeypatch.setattr(VAE, "loss", poisoned)
    with pytest.raises(TrainingDivergedError, match=r"epoch 2, step 41 .*term 'kl'.*untouched"):
        train(cfg, out=run)
    ckpt = read_checkpoint(run / "checkpoints" / "last.safetensors")
    assert ckpt.meta["epoch"] == 1
    assert all(torch.isfinite(v).all() for v in ckpt.section("model").values())


@pytest.mark.slow
def test_run_dir_is_never_clobbered(tmp_path, tiny):
    cfg = tiny(train={"epochs": 1})
    train(cfg, out=tmp_path / "run")
    with pytest.raises(ConfigError, match="already holds a run"):
        train(cfg, out=tmp_path / "run")
    with pytest.raises(CheckpointError, match="cannot resume"):
        train(cfg, out=tmp_path / "nothing", resume=True)


@pytest.mark.slow
def test_resume_with_another_model_config_is_refused(tmp_path, tiny):
    train(tiny(train={"epochs": 1}), out=tmp_path / "run")
    with pytest.raises(CheckpointError, match="differs in model.latent_dim"):
        train(tiny(model={"latent_dim": 5}, train={"epochs": 2}), out=tmp_path / "run", resume=True)


@pytest.mark.slow
def test_early_stopping_with_patience(tmp_path, tiny):
    # lr 0 cannot improve after the first epoch, so patience 2 stops at epoch 3.
    result = train(tiny(train={"epochs": 10, "lr": 0.0, "patience": 2}), out=tmp_path / "run")
    assert result.stopped_early and len(result.history) == 3 and result.best_epoch == 1


def test_the_time_limit_counts_the_training_of_every_session(tmp_path, tiny):
    # A budget of a microsecond: the first epoch starts (nothing spent yet), no second one;
    # resumed with more epochs, the run has already spent its budget and trains none.
    budget = {"epochs": 4, "time_limit": 1e-8}
    first = train(tiny(train=budget), out=tmp_path / "run")
    assert len(first.history) == 1 and first.trained == 1
    assert first.stopped_early and first.summary["stopped_by"] == "time_limit"
    resumed = train(tiny(train={**budget, "epochs": 6}), out=tmp_path / "run", resume=True)
    assert len(resumed.history) == 1 and resumed.trained == 0
    assert resumed.summary["stopped_by"] == "time_limit"


def test_no_epoch_starts_that_its_mean_length_says_would_end_past_the_budget():
    rows = [{"seconds": 50.0}, {"seconds": 70.0}]  # 120 s spent, 60 s expected for the next
    assert another_epoch_fits(rows, 180.0) and not another_epoch_fits(rows, 179.0)
    assert another_epoch_fits([], 1e-9)  # the first epoch always starts


@pytest.mark.slow
@pytest.mark.parametrize("family", ["pca", "mean"])
def test_closed_form_models_use_the_same_entry_point(tmp_path, tiny, family):
    model = {"name": family}
    if family == "pca":
        model["explained_variance"] = 0.8
    result = train({**tiny(), "model": model}, out=tmp_path / family)
    assert (tmp_path / family / "checkpoints" / "best.safetensors").exists()
    assert result.history[0]["val/mse"] > 0
    loaded = load(str(tmp_path / family))
    assert loaded.sample(3).shape == (3, 1, 28, 28)
    if family == "pca":
        assert result.history[0]["fit/explained_variance"] >= 0.8
        assert loaded.model.latent_dim == result.model.latent_dim
