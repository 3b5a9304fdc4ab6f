"""The trainer's event interface: a user's or a family's callback hears every event in order,
can add to an epoch's numbers, can end training, and keeps its state over a kill and resume,
all without a change to the trainer."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from PIL import Image

from genlab import train
from genlab.errors import ConfigError
from genlab.models.core.base import LossOutput
from genlab.models.core.callbacks import Callback, EpochEnd
from genlab.models.families.autoencoders.ae import Autoencoder
from genlab.models.families.autoencoders.vae import VAE
from genlab.training import callbacks as callbacks_module
from genlab.training.callbacks import spread_subset
from genlab.training.checkpoint import read_checkpoint
from genlab.training.config import config_from_dict
from genlab.training.trainer import Trainer

ONE_BATCH = {"batch_size": 9500, "epoch_samples": 0}  # tiny's 9,500 training images: one step


class Recorder(Callback):
    """Every event it hears, as (event, what the trainer says at that moment)."""

    def __init__(self, name: str = "") -> None:
        self.name = name
        self.events: list[tuple[str, Any]] = []

    def setup(self, trainer: Any) -> None:
        self.events.append(("setup", trainer.state.step))

    def on_train_start(self, trainer: Any, resumed: bool) -> None:
        self.events.append(("train_start", resumed))

    def on_step_end(self, trainer: Any, player: str, out: LossOutput) -> None:
        self.events.append(("step_end", (player, trainer.state.step)))

    def before_validation(self, trainer: Any) -> None:
        self.events.append(("before_validation", trainer.state.step))

    def on_epoch_end(self, trainer: Any, epoch: EpochEnd) -> None:
        self.events.append(("epoch_end", (epoch.row["epoch"], "val/loss" in epoch.row)))
        epoch.row["recorded/events"] = len(self.events)

    def on_train_end(self, trainer: Any) -> None:
        self.events.append(("train_end", trainer.state.epoch))


def test_a_user_callback_hears_the_events_in_order_and_adds_numbers(tmp_path, tiny):
    recorder = Recorder()
    result = train(tiny(train={"epochs": 2, "batch_size": 4750, "epoch_samples": 0}),
                   out=tmp_path / "run", callbacks=[recorder])
    epoch = [("step_end", ("model", 1)), ("step_end", ("model", 2)),
             ("before_validation", 2), ("epoch_end", (1, True))]
    later = [("step_end", ("model", 3)), ("step_end", ("model", 4)),
             ("before_validation", 4), ("epoch_end", (2, True))]
    assert recorder.events == [("setup", 0), ("train_start", False), *epoch, *later,
                               ("train_end", 2)]
    rows = [json.loads(line) for line in (tmp_path / "run" / "metrics.jsonl").read_text()
            .splitlines()]
    assert [r["recorded/events"] for r in rows] == [6, 10]
    assert [r["recorded/events"] for r in result.history] == [6, 10]


class StopAfter(Callback):
    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def should_stop(self, trainer: Any) -> bool:
        return trainer.state.epoch >= self.epochs


def test_a_user_callback_ends_training_and_the_summary_names_it(tmp_path, tiny):
    result = train(tiny(train={"epochs": 5, **ONE_BATCH}), out=tmp_path / "run",
                   callbacks=[StopAfter(2)])
    assert [r["epoch"] for r in result.history] == [1, 2] and result.stopped_early
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["stopped_by"] == "StopAfter" and summary["epochs_run"] == 2


def test_a_family_adds_callbacks_after_the_trainers_and_before_the_users(
        tmp_path, tiny, monkeypatch):
    family = Recorder("family")
    monkeypatch.setattr(VAE, "callbacks", lambda self: [family])
    trainer = Trainer(config_from_dict(
        tiny(train={"epochs": 1, "ema": 0.9, "patience": 2, **ONE_BATCH})), tmp_path / "run",
        callbacks=[user := Recorder("user")])
    assert [c.key for c in trainer.callbacks] == ["ema", "early_stopping", "family", "user"]
    trainer.run()
    assert family.events == user.events and family.events[-1] == ("train_end", 1)


def test_two_callbacks_of_one_name_or_a_non_callback_are_refused(tmp_path, tiny):
    with pytest.raises(ConfigError, match=r"two callbacks are named 'Recorder'"):
        train(tiny(), out=tmp_path / "a", callbacks=[Recorder(), Recorder()])
    with pytest.raises(ConfigError, match=r"callbacks must be .*Callback instances, got int"):
        train(tiny(), out=tmp_path / "b", callbacks=[3])
    with pytest.raises(ConfigError, match=r"callback name 'a\.b' has a dot"):
        train(tiny(), out=tmp_path / "c", callbacks=[Recorder("a.b")])
    assert not (tmp_path / "a").exists(), "refused before any work"


class Counter(Callback):
    """State in both kinds: a JSON count of steps and a tensor sum of their losses."""

    name = "counter"

    def __init__(self) -> None:
        self.steps, self.total = 0, torch.zeros((), dtype=torch.float64)

    def on_step_end(self, trainer: Any, player: str, out: LossOutput) -> None:
        self.steps += 1
        self.total += out.total.detach().double()

    def state_dict(self) -> dict[str, Any]:
        return {"steps": self.steps, "total": self.total}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.steps, self.total = state["steps"], state["total"].clone()


@pytest.mark.slow
def test_a_callbacks_state_survives_a_kill_and_resume_exactly(tmp_path, tiny, monkeypatch):
    config = tiny(train={"epochs": 3, "batch_size": 1000, "epoch_samples": 0})  # 10 steps
    full = Counter()
    train(config, out=tmp_path / "full", callbacks=[full])
    real_save = Trainer._save

    def save_then_die(self: Trainer, *args: Any, **kwargs: Any) -> None:
        real_save(self, *args, **kwargs)
        if self.state.epoch == 2:
            raise KeyboardInterrupt

    monkeypatch.setattr(Trainer, "_save", save_then_die)
    with pytest.raises(KeyboardInterrupt):
        train(config, out=tmp_path / "cut", callbacks=[Counter()])
    ckpt = read_checkpoint(tmp_path / "cut" / "checkpoints" / "last.safetensors")
    assert ckpt.meta["callbacks"]["counter"] == {"steps": 20}
    assert "callback.counter.total" in ckpt.tensors
    monkeypatch.setattr(Trainer, "_save", real_save)
    resumed = Counter()
    train(config, out=tmp_path / "cut", resume=True, callbacks=[resumed])
    assert resumed.steps == full.steps == 30 and torch.equal(resumed.total, full.total)


def test_a_spread_subset_covers_a_class_sorted_split_in_proportion():
    labels = torch.arange(10).repeat_interleave(1000)  # 10 classes, sorted
    chosen = spread_subset(len(labels), 500, seed=0)
    assert torch.equal(chosen, chosen.unique()) and len(chosen) == 500  # sorted, distinct
    counts = torch.bincount(labels[chosen], minlength=10)
    assert counts.min() >= 30 and counts.max() <= 70  # 50 each expected; binomial sd ~ 6.5
    assert torch.equal(chosen, spread_subset(len(labels), 500, seed=0))
    assert torch.equal(spread_subset(7, 10, seed=0), torch.arange(7))


def _class_sorted_folder(root: Path, classes: int, per_class: int) -> None:
    rng = np.random.default_rng(0)
    for c in range(classes):
        (root / f"class{c}").mkdir(parents=True)
        for i in range(per_class):
            pixels = rng.integers(0, 256, (8, 8), dtype=np.uint8)
            Image.fromarray(pixels).save(root / f"class{c}" / f"{i:03d}.png")


@pytest.mark.slow
def test_the_prior_is_refitted_on_images_of_every_class_of_a_class_sorted_folder(
        tmp_path, monkeypatch):
    """The first 30 of 150 training images of a class-sorted folder are all class 0."""
    _class_sorted_folder(tmp_path / "images", classes=5, per_class=36)
    monkeypatch.setattr(callbacks_module, "PRIOR_FIT_IMAGES", 30)
    seen: list[torch.Tensor] = []
    real_fit = Autoencoder.fit_prior

    def recording(self: Autoencoder, x: torch.Tensor, y: torch.Tensor) -> None:
        seen.append(y.clone())
        real_fit(self, x, y)

    monkeypatch.setattr(Autoencoder, "fit_prior", recording)
    config = {"model": {"name": "ae", "net": "mlp", "hidden": [16], "latent_dim": 2},
              "data": {"dataset": f"folder:{tmp_path / 'images'}", "val_size": 30},
              "train": {"epochs": 2, "batch_size": 50, "progress": False, "epoch_samples": 0}}
    train(config, out=tmp_path / "run")
    assert len(seen) == 2 and torch.equal(seen[0], seen[1])  # the same subset every epoch
    assert len(seen[0]) == 30 and set(seen[0].tolist()) == set(range(5))
