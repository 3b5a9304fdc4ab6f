"""One process per run directory: two real processes on one directory, the holder named, no
stale lock after ``kill -9``, re-entrant within a process."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from genlab.training.lock import LOCK_FILE, RunDirLocked, run_lock

HOLD = ("import sys, time\nfrom genlab.training.lock import run_lock\n"
        "with run_lock(sys.argv[1]):\n    print('held', flush=True)\n"
        "    time.sleep(float(sys.argv[2]))\n")


def hold(run_dir: Path, seconds: float = 60) -> subprocess.Popen:
    """Another process holding ``run_dir`` (returned once it holds it)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(run_dir), str(seconds)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_process_is_refused_with_the_holder_named(tmp_path: Path) -> None:
    other = hold(tmp_path / "run")
    try:
        with pytest.raises(RunDirLocked) as refused, run_lock(tmp_path / "run"):
            pass
        message = str(refused.value)
        assert str((tmp_path / "run").resolve()) in message
        assert f"pid {other.pid} on {socket.gethostname()}" in message
        assert "\n" not in message
    finally:
        other.kill()
        other.wait()


def test_kill_9_leaves_no_stale_lock(tmp_path: Path) -> None:
    other = hold(tmp_path / "run")
    os.kill(other.pid, signal.SIGKILL)
    other.wait()
    assert (tmp_path / "run" / LOCK_FILE).is_file()  # the record stays, the lock does not
    with run_lock(tmp_path / "run"):
        assert str(os.getpid()) in (tmp_path / "run" / LOCK_FILE).read_text()


def test_wait_blocks_until_the_holder_ends(tmp_path: Path) -> None:
    other = hold(tmp_path / "run", seconds=1.0)
    start = time.monotonic()
    with run_lock(tmp_path / "run", wait=True):
        assert other.poll() is not None or time.monotonic() - start > 0.5
    other.wait()


def test_the_lock_is_reentrant_within_a_process(tmp_path: Path) -> None:
    with run_lock(tmp_path / "run"), run_lock(tmp_path / "run"):
        pass
    with run_lock(tmp_path / "run"):  # released after the outer block
        pass


def _train(out: Path, *extra: str) -> subprocess.Popen:
    command = [sys.executable, "-m", "genlab", "train", "vae", "--dataset", "mnist-mini",
               "--net", "mlp", "--hidden", "32", "--latent-dim", "2", "--epoch-samples", "0",
               *extra]
    return subprocess.Popen([*command, "--out", str(out)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})


@pytest.mark.slow
def test_two_trainers_on_one_directory_the_second_exits_2(tmp_path: Path) -> None:
    run = tmp_path / "run"
    first = _train(run, "--epochs", "500")
    try:
        deadline = time.monotonic() + 120
        while not (run / "checkpoints" / "last.safetensors").is_file():  # training for sure
            assert first.poll() is None and time.monotonic() < deadline, first.stderr
            time.sleep(0.2)
        second = _train(run, "--epochs", "1")
        _, err = second.communicate(timeout=120)
        assert second.returncode == 2
        lines = err.strip().splitlines()
        assert len(lines) == 1 and str(run.resolve()) in lines[0]
        assert f"pid {first.pid} on {socket.gethostname()}" in lines[0]
    finally:
        first.send_signal(signal.SIGKILL)
        first.communicate()
    resumed = subprocess.run([sys.executable, "-m", "genlab", "train", "--resume", str(run),
                              "--set", "train.epochs=1"], capture_output=True, text=True,
                             env={**os.environ, "OMP_NUM_THREADS": "1"})
    assert resumed.returncode == 0, resumed.stderr  # kill -9 left no stale lock
