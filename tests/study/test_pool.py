"""The process executor's worker pool: how it shares the CPUs, and a real tiny study on two
spawned workers that ends as the same study run in this process."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import threading
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import torch
import yaml
from studydata import tiny_study

from genlab.study.config import study_from_dict
from genlab.study.pool import layout
from genlab.study.runner import Executor, plan, run_study
from genlab.training.lock import run_lock


def _jobs(n: int, device: str = "cpu") -> list[Any]:
    return [SimpleNamespace(config=SimpleNamespace(train=SimpleNamespace(device=device)))] * n


@pytest.mark.parametrize(("jobs", "workers", "cpus_per_run", "cpus", "expected"), [
    (10, None, None, 2, (2, 1)),     # two cores: two runs at a time, a thread each
    (1, None, None, 2, (1, 2)),      # one run: both threads to it, in this process
    (4, None, None, 16, (4, 4)),     # the CPUs shared out among the runs
    (10, None, 2, 8, (4, 2)),        # --cpus-per-run fixes the threads, workers follow
    (10, 3, None, 8, (3, 2)),        # --workers fixes the workers, threads follow
    (10, 1, None, 2, (1, 2)),        # --workers 1: one after another, here
])
def test_the_cpus_are_shared_out_among_the_runs(jobs: int, workers: int | None,
                                                cpus_per_run: int | None, cpus: int,
                                                expected: tuple[int, int]) -> None:
    assert layout(_jobs(jobs), workers, cpus_per_run, cpus) == expected


def test_runs_on_a_gpu_share_it_from_one_process(monkeypatch: pytest.MonkeyPatch) -> None:
    assert layout(_jobs(6, "cuda"), None, None, 16) == (1, 16)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert layout(_jobs(6, "auto"), None, None, 16) == (6, 2)  # auto: the CPU here
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    assert layout(_jobs(6, "auto"), None, None, 16) == (1, 16)


def _numbers(out: Path) -> dict[str, Any]:
    results = json.loads((out / "results.json").read_text())
    return {m["label"]: m["summary"] for m in results["models"]}


@pytest.mark.slow
def test_two_workers_train_the_study_as_this_process_would(
        tmp_path: Path, classifier: Path) -> None:
    models = tiny_study(classifier)["models"][1:]
    models[1]["set"].append("train.progress=true")  # the VAE's trainer prints its epochs
    study = study_from_dict(tiny_study(classifier, models=models))
    messages: list[str] = []
    run_study(study, tmp_path, tmp_path / "pool", log=messages.append,
              executor=Executor(workers=2, cpus_per_run=1))
    assert messages[0] == ("3 runs on 2 worker processes, 1 torch thread(s) each, the longest "
                           "first: [3/3] gan, [2/3] vae, [1/3] pca")
    pids = set(re.findall(r"in worker pid (\d+)", "\n".join(messages)))
    assert len(pids) == 2  # both workers trained, their lines relayed to this process
    assert all(re.match(r"\[[1-3]/3\] (pca|vae|gan): ", m) for m in messages[1:])
    assert any(m.startswith("[2/3] vae: epoch 2  train/loss ") for m in messages)
    threads = torch.get_num_threads()
    run_study(study, tmp_path, tmp_path / "here", log=lambda m: None,
              executor=Executor(workers=1, cpus_per_run=1))
    assert torch.get_num_threads() == threads  # this process's threads are given back
    pool, here = _numbers(tmp_path / "pool"), _numbers(tmp_path / "here")
    assert list(pool) == ["pca", "vae", "gan"] and pool.keys() == here.keys()
    for label, numbers in here.items():  # one thread each side: the same computation
        torch.testing.assert_close(pool[label], numbers, rtol=1e-5, atol=1e-6)


@pytest.mark.slow
def test_a_run_another_process_holds_is_waited_for_in_a_second_round(
        tmp_path: Path, classifier: Path) -> None:
    study = study_from_dict(tiny_study(classifier, models=tiny_study(classifier)["models"][:2]))
    held = plan(study, tmp_path, tmp_path / "out")[1].run_dir
    asked, released = threading.Event(), threading.Event()

    def hold() -> None:
        with run_lock(held):
            released.set()
            asked.wait(timeout=300)

    holder = threading.Thread(target=hold)
    holder.start()
    released.wait()
    messages: list[str] = []

    def log(message: str) -> None:
        messages.append(message)
        if "coming back to it" in message:
            asked.set()

    run_study(study, tmp_path, tmp_path / "out", log=log, executor=Executor(workers=2))
    holder.join()
    assert any(f"{held} is in use by pid" in m for m in messages)
    assert [m["label"] for m in json.loads((tmp_path / "out" / "results.json").read_text())
            ["models"]] == ["mean", "pca"]


@pytest.mark.slow
def test_a_run_that_fails_in_a_worker_is_its_own_one_line_error(tmp_path: Path,
                                                                 classifier: Path) -> None:
    vae = {"label": "vae", "config": {"model": {"name": "vae", "hidden": [32], "latent_dim": 2},
                                      "train": {"lr": 1e12}}}  # diverges at once
    study = tiny_study(classifier, models=[tiny_study(classifier)["models"][0], vae])
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))
    done = subprocess.run([sys.executable, "-m", "genlab", "study", str(tmp_path / "study.yaml"),
                           "--out", str(tmp_path / "out"), "--workers", "2"],
                          capture_output=True, text=True, timeout=600,
                          env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines()[-1].startswith("genlab: error: loss is ")
    assert not (tmp_path / "out" / "report.html").exists()


def _alive(pid: int) -> bool:
    """Whether ``pid`` runs (a zombie left for a container's init to reap counts as ended)."""
    try:
        return "\nState:\tZ" not in Path(f"/proc/{pid}/status").read_text()
    except FileNotFoundError:
        return False


@pytest.mark.slow
@pytest.mark.skipif(not Path("/proc").is_dir(), reason="reads worker states from /proc (Linux)")
def test_sigterm_stops_the_study_and_its_workers_at_once(tmp_path: Path,
                                                         classifier: Path) -> None:
    long = {"model": {"name": "vae", "hidden": [32], "latent_dim": 2}, "train": {"epochs": 500}}
    study = tiny_study(classifier, models=[{"label": "a", "config": long},
                                           {"label": "b", "config": long, "set": ["train.seed=1"]}])
    (tmp_path / "study.yaml").write_text(yaml.safe_dump(study))
    started = subprocess.Popen([sys.executable, "-m", "genlab", "study",
                                str(tmp_path / "study.yaml"), "--out", str(tmp_path / "out"),
                                "--workers", "2"], stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert started.stderr is not None
    pids, training = [], 0
    for line in started.stderr:  # both workers training
        pids += [int(p) for p in re.findall(r"in worker pid (\d+)", line)]
        training += ": training vae into " in line
        if training == 2:
            break
    started.terminate()
    try:
        assert started.wait(timeout=60) != 0
        assert not any(_alive(pid) for pid in pids)
    finally:  # a failing check leaves no process behind
        started.kill()
        for pid in filter(_alive, pids):
            os.kill(pid, signal.SIGKILL)
    assert not json.loads((tmp_path / "out" / "sessions.jsonl").read_text())["finished"]
