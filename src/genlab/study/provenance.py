"""Where and how long a study ran: ``DIR/sessions.jsonl``, one line per ``genlab study``
session (a study stopped and continued has several), so a results page can say what
hardware made its numbers and how much wall time the whole study took."""

from __future__ import annotations

import json
import os
import platform
import signal
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import torch

from genlab.io import append_text
from genlab.version import __version__

SESSIONS = "sessions.jsonl"


def machine() -> dict[str, Any]:
    """The hardware and software a session ran on."""
    cpu = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        cpu = names[0] if names else cpu
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    return {"genlab": __version__, "torch": torch.__version__, "python": platform.python_version(),
            "platform": platform.platform(), "cpu": cpu, "cpus": os.cpu_count(),
            "torch_threads": torch.get_num_threads(), "gpu": gpu}


def _terminate(signum: int, frame: Any) -> None:
    """SIGTERM (kill, a scheduler's time limit) ends a session like an interrupt, so its
    record is still written; the runs resume from their last checkpoints."""
    raise SystemExit(128 + signum)


def _now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


@contextmanager
def session(out: Path, command: Sequence[str]) -> Iterator[None]:
    """Record one session of the study in ``out`` (appended when it ends, also when it fails
    or is interrupted: ``finished`` says which), unless it stopped before making ``out``
    (a config refused before any work leaves nothing behind)."""
    started, t0, finished = _now(), time.perf_counter(), False
    main = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _terminate) if main else None
    try:
        yield
        finished = True
    finally:
        if main:
            signal.signal(signal.SIGTERM, previous)
        record = {"command": " ".join(command), "started": started, "ended": _now(),
                  "seconds": round(time.perf_counter() - t0, 1), "finished": finished,
                  **machine()}
        if out.is_dir():
            append_text(out / SESSIONS, json.dumps(record) + "\n")


def read_sessions(out: Path) -> list[dict[str, Any]]:
    """The sessions recorded in ``out`` (none for a study made before genlab recorded them)."""
    path = Path(out) / SESSIONS
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
