"""One process per run directory: an exclusive ``flock`` on ``RUN/.lock``.

Two trainers (or a trainer and a study worker) writing one directory would interleave their
checkpoints and metrics. The lock is an OS lock on an open file, so the kernel releases it
when its process dies, ``kill -9`` included: a lock file left behind is never stale, only a
record of the last holder. The holder writes its pid and host into the file, which the
refusal names. Within one process the lock is re-entrant (a study worker holds it around the
``train`` call that takes it again).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import time
from collections.abc import Iterator
from pathlib import Path

from genlab.errors import GenlabError

LOCK_FILE = ".lock"
_held: dict[Path, int] = {}
"""Run directories this process holds -> how many nested holds."""


class RunDirLocked(GenlabError):
    """Another process holds the run directory (the message names it and the holder)."""


def holder(run_dir: Path) -> str:
    """Who holds (or last held) ``run_dir``'s lock, as 'pid N on HOST', from the lock file."""
    try:
        record = json.loads((Path(run_dir) / LOCK_FILE).read_text() or "{}")
        return f"pid {record['pid']} on {record['host']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "another process (its lock file names no holder yet)"


@contextlib.contextmanager
def run_lock(run_dir: str | Path, wait: bool = False) -> Iterator[None]:
    """Hold ``run_dir`` for the block. Held elsewhere: :class:`RunDirLocked` at once, or with
    ``wait`` block until the holder ends (a study waits for a run another worker trains)."""
    run_dir = Path(run_dir).resolve()
    if run_dir in _held:
        _held[run_dir] += 1
        try:
            yield
        finally:
            _held[run_dir] -= 1
        return
    created = not run_dir.exists()
    run_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(run_dir / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    failed = True
    try:
        _acquire(fd, run_dir, wait)
        os.ftruncate(fd, 0)
        record = {"pid": os.getpid(), "host": socket.gethostname(), "since": time.time()}
        os.write(fd, json.dumps(record).encode())
        _held[run_dir] = 1
        try:
            yield
            failed = False
        finally:
            del _held[run_dir]
    finally:
        os.close(fd)  # releases the lock
        if created and failed and [p.name for p in run_dir.iterdir()] == [LOCK_FILE]:
            # refused before any work (a bad option): leave no directory behind
            (run_dir / LOCK_FILE).unlink()
            run_dir.rmdir()


def _acquire(fd: int, run_dir: Path, wait: bool) -> None:
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
    except BlockingIOError:
        raise RunDirLocked(f"{run_dir} is in use by {holder(run_dir)}; wait for it to "
                           "finish or choose another --out") from None



def train_lock(run_dir: str | Path) -> contextlib.AbstractContextManager[None]:
    """The lock a trainer takes: under torchrun rank 0's alone (the other ranks write nothing
    to the directory, and would otherwise refuse each other)."""
    return run_lock(run_dir) if os.environ.get("RANK", "0") == "0" else contextlib.nullcontext()
