"""The run directory's per-epoch files: metrics appended in step with the checkpoints, rewritten
from the checkpointed history on resume, curves drawn off the epochs' path, cheap checkpoints."""

from __future__ import annotations

import json

import pytest

from genlab import train
from genlab.training import logs
from genlab.training.checkpoint import read_checkpoint
from genlab.training.logs import MetricsFiles, history_csv


def _rows(run) -> list[dict]:
    return [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]


@pytest.fixture
def drawings(monkeypatch) -> list[int]:
    """How many rows each drawing of curves.png showed."""
    shown: list[int] = []
    real = logs.plot_curves

    def counting(history, path, title=""):
        shown.append(len(history))
        return real(history, path, title)

    monkeypatch.setattr(logs, "plot_curves", counting)
    return shown


@pytest.mark.slow
def test_metrics_are_the_history_and_curves_are_drawn_once_at_the_end(tmp_path, tiny, drawings):
    result = train(tiny(), out=tmp_path / "run")
    run = tmp_path / "run"
    assert _rows(run) == result.history
    assert (run / "metrics.csv").read_text() == history_csv(result.history)
    assert drawings == [3] and (run / "curves.png").exists()


@pytest.mark.slow
def test_curves_are_redrawn_when_enough_time_has_passed(tmp_path, tiny, drawings, monkeypatch):
    monkeypatch.setattr(logs, "CURVES_EVERY", 0.0)
    train(tiny(), out=tmp_path / "run")
    assert drawings == [1, 2, 3], "each epoch, and not again at the end (nothing new)"


@pytest.mark.slow
def test_resume_drops_rows_of_lost_epochs_and_cut_lines(tmp_path, tiny):
    run = tmp_path / "run"
    train(tiny(train={"epochs": 2}), out=run)
    lost = json.dumps({**_rows(run)[-1], "epoch": 3}) + "\n"
    for name, junk in (("metrics.jsonl", lost + '{"epoch": 4, "st'), ("metrics.csv", "3,99,0.5")):
        with open(run / name, "a") as fh:
            fh.write(junk)
    result = train(tiny(train={"epochs": 3}), out=run, resume=True)
    assert [r["epoch"] for r in _rows(run)] == [1, 2, 3]
    assert _rows(run) == result.history
    assert (run / "metrics.csv").read_text() == history_csv(result.history)


def test_a_row_with_new_columns_rewrites_the_csv(tmp_path):
    files = MetricsFiles(tmp_path, "t")
    files.rewrite([])
    history = [{"epoch": 1, "val/loss": 2.0}]
    files.append(history)
    history.append({"epoch": 2, "val/loss": 1.5, "val/kl": 0.25})
    files.append(history)
    history.append({"epoch": 3, "val/loss": 1.0})
    files.append(history)
    assert (tmp_path / "metrics.csv").read_text() == history_csv(history)
    assert _rows(tmp_path) == history


@pytest.mark.slow
def test_best_checkpoint_stays_when_later_epochs_do_not_improve(tmp_path, tiny):
    # lr 0 never improves on epoch 1: best stays epoch 1 while last moves on.
    train(tiny(train={"epochs": 3, "lr": 0.0}), out=tmp_path / "run")
    ckpts = tmp_path / "run" / "checkpoints"
    assert read_checkpoint(ckpts / "best.safetensors").meta["epoch"] == 1
    assert read_checkpoint(ckpts / "last.safetensors").meta["epoch"] == 3
