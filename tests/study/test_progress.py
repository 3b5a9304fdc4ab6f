"""Watching a study: labelled lines, job progress read from metrics.jsonl, the live view's
lines from a fake state, its ANSI redraw, and the plain lines of a real study off a terminal."""

from __future__ import annotations

import io
import json
import sys
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import yaml
from studydata import tiny_study

from genlab.cli.main import main
from genlab.study.progress import (
    JobProgress,
    LabelledStream,
    LiveView,
    Watch,
    duration,
    labelled,
    read_metrics,
    render,
)


def test_every_whole_line_goes_out_labelled_once_whole() -> None:
    out: list[str] = []
    stream = LabelledStream(out.append, "[2/6] vae")
    stream.write("epoch 1  train/loss 141")  # tqdm.write: the text, then the newline
    assert out == []
    stream.write("\n")
    stream.write("a\nb\n\nc")
    stream.close()
    assert out == ["[2/6] vae: epoch 1  train/loss 141", "[2/6] vae: a", "[2/6] vae: b",
                   "[2/6] vae: ", "[2/6] vae: c"]
    assert not stream.isatty()  # tqdm hides its bars on it


def test_what_a_job_prints_to_stdout_and_stderr_is_labelled() -> None:
    out: list[str] = []
    with labelled(out.append, "[1/2] ae"):
        print("epoch 3  train/loss 2.5")
        print("a warning", file=sys.stderr)
        print("cut", end="")
    assert out == ["[1/2] ae: epoch 3  train/loss 2.5", "[1/2] ae: a warning", "[1/2] ae: cut"]
    assert not isinstance(sys.stdout, LabelledStream)


def test_a_log_that_prints_writes_to_the_stream_it_replaced(capsys: Any) -> None:
    with labelled(print, "[1/1] vae"):  # print: to sys.stdout, which is the labelled stream
        print("epoch 1")
        print("careful", file=sys.stderr)
    assert capsys.readouterr().out == "[1/1] vae: epoch 1\n[1/1] vae: careful\n"


def test_progress_is_read_from_the_runs_metrics_file(tmp_path: Path) -> None:
    p = JobProgress("[1/1] vae", epochs=10)
    read_metrics(tmp_path, p)
    assert (p.epoch, p.loss, p.epoch_seconds, p.finished) == (0, None, None, False)
    rows = [{"epoch": 1, "seconds": 2.0, "train/loss": 150.0},
            {"epoch": 2, "seconds": 4.0, "train/loss": 120.0}]
    text = "".join(json.dumps(r) + "\n" for r in rows)
    (tmp_path / "metrics.jsonl").write_text(text + '{"epoch": 3, "sec')  # cut mid-write
    read_metrics(tmp_path, p)
    assert (p.epoch, p.loss, p.epoch_seconds, p.finished) == (2, 120.0, 3.0, False)
    (tmp_path / "summary.json").write_text("{}")
    read_metrics(tmp_path, p)
    assert p.finished


def test_durations_read_as_minutes_and_hours() -> None:
    assert [duration(s) for s in (0, 59.4, 75, 3599, 4000)] == ["0s", "59s", "1m15s",
                                                                 "59m59s", "1h06m"]


def _fake_state() -> list[JobProgress]:
    return [
        JobProgress("[1/6] mean", 20, closed_form=True, state="done"),
        JobProgress("[2/6] pca", 20, closed_form=True, state="running"),
        JobProgress("[3/6] ae", 20, state="running", epoch=0),
        JobProgress("[4/6] vae", 50, state="running", epoch=12, loss=102.34, epoch_seconds=4.0),
        JobProgress("[5/6] cvae", 50, state="running", epoch=50, loss=99.0, epoch_seconds=4.0,
                    finished=True),
        JobProgress("[6/6] dcgan", 20, state="waiting"),
    ]


def test_the_view_has_a_line_per_running_job_and_counts_the_others() -> None:
    assert render(_fake_state(), elapsed=125) == [
        "[2/6] pca  fitting in closed form",
        "[3/6] ae  epoch 0/20  starting",
        "[4/6] vae  epoch 12/50  loss 102.3  2m32s of training left",  # 38 epochs x 4 s
        "[5/6] cvae  trained, evaluating",
        "study: 4 running, 1 waiting, 1 done  (2m05s so far)",
    ]


def _jobs(tmp_path: Path, n: int) -> list[Any]:
    config = SimpleNamespace(train=SimpleNamespace(epochs=5), model=SimpleNamespace(name="vae"))
    return [SimpleNamespace(tag=f"[{i + 1}/{n}] vae", run_dir=tmp_path / str(i), config=config)
            for i in range(n)]


def test_the_live_view_redraws_its_block_below_the_lines(tmp_path: Path) -> None:
    screen = io.StringIO()
    view = LiveView(_jobs(tmp_path, 2), screen, clock=lambda: 0.0, every=0)  # no thread
    view.set_state(0, "running")
    view.line("[1/2] vae: training vae")
    view.close()
    block = "[1/2] vae  epoch 0/5  starting\nstudy: 1 running, 1 waiting, 0 done  (0s so far)\n"
    assert screen.getvalue() == (block                                   # drawn
                                 + "\x1b[2F\x1b[J[1/2] vae: training vae\n" + block  # a line
                                 + "\x1b[2F\x1b[J" + block)              # drawn at the end


def test_the_plain_watch_writes_the_lines_and_nothing_else(tmp_path: Path) -> None:
    out: list[str] = []
    watch = Watch(_jobs(tmp_path, 2), out.append)
    watch.set_state(1, "running")
    watch.line("[2/2] vae: epoch 1")
    watch.set_state(1, "done")
    watch.set_state(1, "running")  # a done job stays done
    watch.close()
    assert out == ["[2/2] vae: epoch 1"] and watch.progress[1].state == "done"


def test_off_a_terminal_a_study_prints_plain_labelled_lines(tmp_path: Path, classifier: Path,
                                                            capsys: Any) -> None:
    study = tiny_study(classifier, models=[
        {"label": "mean", "config": {"model": {"name": "mean"}}},
        {"label": "ae", "config": {"model": {"name": "ae", "hidden": [16], "latent_dim": 2},
                                   "train": {"progress": True}}}])
    study["evaluation"]["metrics"] = ["recon"]
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(study))
    out = tmp_path / "out"
    assert main(["study", str(tmp_path / "s.yaml"), "--out", str(out), "--workers", "1"]) == 0
    lines = capsys.readouterr().err.splitlines()
    mean, ae = sorted((out / "runs").iterdir())[::-1]
    epoch = next(line for line in lines if line.startswith("[2/2] ae: epoch 1  "))
    estimate = next(line for line in lines if line.startswith("[2/2] ae: estimated epoch time"))
    assert lines == [
        f"[1/2] mean: training mean into {mean}",
        f"[1/2] mean: trained ({mean})",
        "[1/2] mean: perturbation experiments",
        "[1/2] mean: evaluating recon (n = 64)",
        "[1/2] mean: figures",
        f"[2/2] ae: training ae into {ae}",
        estimate,  # the trainer's estimate of its epoch, then its epoch line, labelled
        epoch,
        f"[2/2] ae: trained ({ae})",
        "[2/2] ae: perturbation experiments",
        "[2/2] ae: evaluating recon (n = 64)",
        "[2/2] ae: figures",
    ]
    assert "\x1b" not in "".join(lines)
