"""``genlab study --executor ray`` on a real local Ray instance (not a mock): the runs as
tasks, the same page and tables, and a worker killed mid-training whose run resumes."""

from __future__ import annotations

import csv
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from studydata import tiny_study

from genlab.study.config import study_from_dict
from genlab.study.runner import Executor, run_study

pytest.importorskip("ray")
pytestmark = pytest.mark.slow
ENV = {**os.environ, "OMP_NUM_THREADS": "1", "RAY_USAGE_STATS_ENABLED": "0"}


def test_a_two_seed_study_runs_as_ray_tasks(tmp_path: Path, classifier: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    study = tiny_study(classifier, models=tiny_study(classifier)["models"][1:3], seeds=[0, 1],
                       evaluation={"metrics": ["nll", "fid"], "n": 32, "nll_images": 8,
                                   "iw_samples": 10, "classifier": str(classifier)})
    messages: list[str] = []
    run_study(study_from_dict(study), tmp_path, tmp_path, log=messages.append,
              executor=Executor("ray"))
    assert any(m.startswith("4 runs submitted to Ray (1 CPU each") for m in messages)
    assert sum(": on " in m and "(pid " in m for m in messages) == 4  # each on a worker
    table = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert [(r["model"], r["seed"]) for r in table] == [
        ("pca", "0"), ("pca", "1"), ("vae", "0"), ("vae", "1"), ("pca", "all"), ("vae", "all")]
    page = (tmp_path / "report.html").read_text()
    assert "id='glance'" in page and " ± " in page and "<section id='vae'>" in page


def test_a_run_that_fails_on_a_worker_is_its_own_one_line_error(tmp_path: Path,
                                                                classifier: Path) -> None:
    vae = {"label": "vae", "config": {"model": {"name": "vae", "hidden": [32], "latent_dim": 2},
                                      "train": {"lr": 1e12}}}  # diverges at once
    study = tiny_study(classifier, models=[vae])
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))
    done = subprocess.run([sys.executable, "-m", "genlab", "study", str(tmp_path / "study.yaml"),
                           "--out", str(tmp_path / "out"), "--executor", "ray"],
                          capture_output=True, text=True, env=ENV, timeout=600)
    assert done.returncode == 2
    assert done.stderr.strip().splitlines()[-1].startswith("genlab: error: loss is ")


def _lock_pid(run_dir: Path) -> int | None:
    try:
        return int(json.loads((run_dir / ".lock").read_text())["pid"])
    except (OSError, ValueError, KeyError):
        return None


def test_a_killed_worker_resumes_its_run_from_the_last_checkpoint(tmp_path: Path,
                                                                  classifier: Path) -> None:
    vae = {"label": "vae", "config": {"model": {"name": "vae", "hidden": [64], "latent_dim": 2},
                                      "data": {"binarize": "dynamic"}}}
    study = tiny_study(classifier, models=[vae], data={"dataset": "mnist-mini"},
                       evaluation={"metrics": ["nll"], "n": 8, "nll_images": 8,
                                   "iw_samples": 10, "classifier": str(classifier)})
    study["train"]["epochs"] = 12
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))
    out = tmp_path / "out"
    proc = subprocess.Popen([sys.executable, "-m", "genlab", "study", str(tmp_path / "study.yaml"),
                             "--out", str(out), "--executor", "ray"], stderr=subprocess.PIPE,
                            text=True, env=ENV)
    deadline = time.monotonic() + 300
    killed = None
    while killed is None:
        assert proc.poll() is None and time.monotonic() < deadline, "the study ended first"
        runs = list((out / "runs").glob("vae-*")) if (out / "runs").is_dir() else []
        if runs and (runs[0] / "checkpoints" / "last.safetensors").is_file():
            killed = _lock_pid(runs[0])
        time.sleep(0.1)
    assert killed != proc.pid  # the worker holds the run, not the driver
    os.kill(killed, signal.SIGKILL)
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err
    assert f"resuming vae into {runs[0]}" in err
    epochs = [json.loads(line)["epoch"] for line in (runs[0] / "metrics.jsonl").open()]
    assert epochs == list(range(1, 13))  # nothing lost, nothing twice
    assert json.loads((runs[0] / "summary.json").read_text())["epochs_run"] == 12
    assert "<section id='vae'>" in (out / "report.html").read_text()
