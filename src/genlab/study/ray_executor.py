"""``genlab study --executor ray``: every (model, seed) run as a Ray task (``genlab[ray]``).

Each task trains (or reuses, or resumes) one run and evaluates it through
:func:`genlab.study.runner.run_job`, holding the run directory's lock, with the CPUs it asks
for (``cpus_per_run``, its torch threads) and a GPU when its config trains on CUDA. The driver
collects the sections as tasks finish and the study writes the page when all are done. Tasks
are submitted longest first (:mod:`genlab.study.schedule`), as the worker pool starts them.
Without an address a local Ray instance is started (and stopped) on this machine; with one
(``ray start --head`` printed it) the tasks spread over that cluster, whose machines must see
the study folder at the same path (a shared file system) and have genlab installed.

A worker that dies (killed, out of memory, its machine gone) is retried by Ray: the new
attempt finds the run's last checkpoint and resumes from it, so nothing finished is lost.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from typing import Any

from genlab.errors import ConfigError, GenlabError
from genlab.report.records import ModelSection
from genlab.study.runner import Job, built_first, run_job
from genlab.study.schedule import longest_first

Log = Callable[[str], None]
RETRIES = 3
"""Attempts after a worker dies before the study gives up on a run."""


def import_ray() -> Any:
    """The ray module, or a ConfigError naming the extra that installs it."""
    try:
        import ray
    except ImportError:
        raise ConfigError("--executor ray needs Ray: pip install 'genlab[ray]'") from None
    return ray


def _task(job: Job, data_dir: str | None, threads: int,
          *after: Any) -> tuple[ModelSection, list[str]]:
    """One run on a Ray worker, its torch threads the CPUs it was given; returns its section
    and the lines it logged (the driver prints them). ``after``: the results of the tasks of
    the runs it is built on, which Ray waits for before it starts this one."""
    import torch

    torch.set_num_threads(threads)
    lines: list[str] = [f"{job.tag}: on {os.uname().nodename} (pid {os.getpid()})"]
    section = run_job(job, data_dir, lines.append, wait=True)
    return section, lines


def run_on_ray(jobs: Sequence[Job], data_dir: str | None = None,
               log: Log = print, address: str | None = None,
               cpus_per_run: int = 1) -> list[ModelSection]:
    """Every job as a Ray task on the cluster at ``address`` (None: a local instance);
    the sections in the jobs' order."""
    ray = import_ray()
    started = not ray.is_initialized()
    if started:
        ray.init(address=address, include_dashboard=False, log_to_driver=False,
                 runtime_env={"env_vars": {"OMP_NUM_THREADS": str(cpus_per_run)}})
    try:
        task = ray.remote(max_retries=RETRIES, retry_exceptions=False)(_task)
        refs: dict[int, Any] = {}
        for i in built_first(longest_first(jobs, data_dir), jobs):
            refs[i] = task.options(
                num_cpus=cpus_per_run,
                num_gpus=1 if str(jobs[i].config.train.device).startswith("cuda") else 0,
            ).remote(jobs[i], data_dir, cpus_per_run, *[refs[d] for d in jobs[i].after])
        pending = {ref: i for i, ref in refs.items()}
        log(f"{len(jobs)} runs submitted to Ray ({cpus_per_run} CPU each, "
            f"{ray.cluster_resources().get('CPU', 0):g} CPUs in the cluster)")
        done: dict[int, ModelSection] = {}
        while pending:
            ready, _ = ray.wait(list(pending), num_returns=1)
            index = pending.pop(ready[0])
            section, lines = _result(ray, ready[0], pending)
            for line in lines:
                log(line)
            done[index] = section
        return [done[i] for i in range(len(jobs))]
    finally:
        if started:
            ray.shutdown()


def _result(ray: Any, ref: Any, pending: dict[Any, int]) -> tuple[ModelSection, list[str]]:
    """A finished task's result. A run that failed cancels the others; a user error (a
    diverged loss, a full disk) is raised as itself, one line at the command line."""
    try:
        return ray.get(ref)
    except ray.exceptions.RayTaskError as exc:
        for other in pending:
            ray.cancel(other, force=True)
        if isinstance(exc.cause, GenlabError | OSError):
            raise exc.cause from None
        raise
