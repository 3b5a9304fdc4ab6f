"""Long work (posterior fits, GAN inversion, t-SNE) in one background worker, with progress.

A request that starts such work gets a job id at once and polls ``/api/jobs/ID``; decoding and
every other request go on being answered meanwhile, from the server's own threads. One worker
runs the jobs in turn: fits switch a model's parameters to constants for their duration
(``latent.fit.frozen``), which two fits on one model at once would undo for each other.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from genlab.errors import GenlabError

KEEP_JOBS = 64
"""Finished jobs kept for polling; older ones are forgotten (their id then answers 404)."""
MAX_PENDING = 8
"""Queued or running jobs at most: a ninth request is refused (HTTP 429) rather than queued
behind minutes of work."""


class NotFound(GenlabError):
    """An unknown run or job id (HTTP 404)."""


class Busy(GenlabError):
    """Too many jobs are waiting (HTTP 429)."""


@dataclass
class Job:
    """One piece of background work and where it stands."""

    id: str
    kind: str
    state: str = "queued"  # queued | running | done | error
    progress: float | None = 0.0  # None: running, but with no measure of how far
    phase: str = "queued"
    result: Any = None
    error: str | None = None
    created: float = field(default_factory=time.monotonic)
    finished: float | None = None

    def update(self, progress: float | None, phase: str | None = None) -> None:
        """Report progress (0..1, or None when unknown) and optionally the current phase."""
        self.progress = None if progress is None else min(max(progress, 0.0), 1.0)
        if phase is not None:
            self.phase = phase

    def view(self) -> dict[str, Any]:
        out = {"id": self.id, "kind": self.kind, "state": self.state, "phase": self.phase,
               "progress": self.progress,
               "seconds": round((self.finished or time.monotonic()) - self.created, 2)}
        if self.state == "done":
            out["result"] = self.result
        if self.state == "error":
            out["error"] = self.error
        return out


Work = Callable[[Job], Any]


class Jobs:
    """The job queue: ``submit`` returns a job at once, the worker fills in its result."""

    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="genlab-explore-job")
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._lock = threading.Lock()

    def submit(self, kind: str, work: Work) -> Job:
        with self._lock:
            pending = sum(j.state in ("queued", "running") for j in self._jobs.values())
            if pending >= MAX_PENDING:
                raise Busy(f"{pending} jobs are already waiting or running; try again when "
                           "one has finished")
            job = Job(secrets.token_hex(8), kind)
            self._jobs[job.id] = job
            while len(self._jobs) > KEEP_JOBS:
                oldest = next(iter(self._jobs))
                if self._jobs[oldest].state in ("queued", "running"):
                    break
                self._jobs.pop(oldest)
        self._pool.submit(self._run, job, work)
        return job

    @staticmethod
    def _run(job: Job, work: Work) -> None:
        job.state, job.phase = "running", "starting"
        try:
            job.result = work(job)
            job.state, job.progress, job.phase = "done", 1.0, "done"
        except Exception as exc:  # a job's failure is reported to its poller, not raised
            job.state, job.phase = "error", "failed"
            job.error = str(exc) if isinstance(exc, GenlabError) else (
                f"{type(exc).__name__}: {exc}")
        finally:
            job.finished = time.monotonic()

    def get(self, jid: str) -> Job:
        with self._lock:
            job = self._jobs.get(jid)
        if job is None:
            raise NotFound(f"no job {jid!r} (unknown, or finished long ago and forgotten)")
        return job

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
