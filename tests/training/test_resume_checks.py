"""A resume goes on from where its run stands, on the images it was trained on, and says
why when it has nothing to train (``RunResult.trained``, ``callbacks.stop_note``)."""

from __future__ import annotations

import re

import pytest

from genlab import train
from genlab.errors import CheckpointError
from genlab.training.callbacks import stop_note
from genlab.training.config import TrainConfig

OTHER_IMAGES = [("dataset", "mnist"), ("train_split", "test"), ("val_size", 600),
                ("split_seed", 1), ("binarize", "static"), ("size", 32), ("classes", ["0", "1"])]


@pytest.mark.slow
def test_a_resume_on_other_images_is_refused_naming_the_key(tmp_path, tiny):
    run = tmp_path / "run"
    train(tiny(train={"epochs": 1, "epoch_samples": 0}), out=run)
    for key, value in OTHER_IMAGES:
        with pytest.raises(CheckpointError, match=rf"trained on other data \(differs in "
                           rf"data.{key}: .*this run asks for {re.escape(repr(value))}"):
            train(tiny(data={key: value}, train={"epochs": 2}), out=run, resume=True)
    # Where the images are read from is not what they are: a resume may change it.
    moved = tiny(data={"data_dir": str(tmp_path), "download": True},
                 train={"epochs": 2, "epoch_samples": 0})
    result = train(moved, out=run, resume=True)
    assert result.trained == 1 and len(result.history) == 2


def test_the_time_limit_and_a_spent_resume_are_said_with_what_lets_it_go_on():
    cfg = TrainConfig(epochs=50, time_limit=0.1, patience=3)
    rows = [{"epoch": i + 1, "seconds": 1.5} for i in range(6)]
    assert stop_note("time_limit", rows, 6, 6, cfg) == (
        "stopped by the time limit after 6 epochs (0.1 min of training)")
    spent = stop_note("time_limit", rows, 6, 0, cfg)
    assert spent.startswith("nothing trained: the time limit (0.1 min) was spent by this run's "
                            "earlier sessions (6 epochs, 0.15 min of training")
    assert spent.endswith("raise --time-limit to train on")
    assert stop_note("early_stopping", rows, 3, 2, cfg) == (
        "stopped early after 6 epochs: 3 epochs without improving on epoch 3")
    assert "raise --patience" in stop_note("early_stopping", rows, 3, 0, cfg)
    assert stop_note("mine", rows[:1], 1, 1, cfg) == "stopped by the mine callback after 1 epoch"
    assert stop_note("", rows, 6, 0, cfg) == (
        "nothing trained: the run already has 6 epochs: raise --epochs to train on")
    assert stop_note("", rows, 6, 6, cfg) == ""
