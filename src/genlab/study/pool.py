"""The default executor of ``genlab study``: the runs of a study spread over worker processes
on this machine, every core busy.

Small models do not scale over threads (an MLP VAE's step on two threads is barely faster than
on one), so on a CPU the study runs as many runs at a time as it has cores for, each with its
share of the threads (:func:`layout`). Each worker trains and evaluates one run at a time
through :func:`genlab.study.runner.run_job`, holding the run directory's lock; a run another
study process holds is left for a second round that waits for it, as in-process. Workers are
spawned (not forked: torch's thread pools do not survive a fork) and send every line they
write, labelled with its job (:func:`genlab.study.progress.labelled`: the trainer's epoch
lines too, without progress bars), and the jobs they start back to the study process by a
queue, where one :class:`~genlab.study.progress.Watch` prints them (on a terminal above the
live view of the running jobs). The longest runs start first, so that no worker is left
alone with one at the end. A study with one worker, or one on a GPU, runs in this process instead.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections.abc import Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

import torch

from genlab.report.records import ModelSection
from genlab.study.progress import Watch, labelled
from genlab.study.runner import Job, run_job
from genlab.study.schedule import longest_first
from genlab.training.lock import RunDirLocked, holder


def cpu_count() -> int:
    """The CPUs this process may run on (its affinity, not the machine's count)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def layout(jobs: Sequence[Job], workers: int | None = None, cpus_per_run: int | None = None,
           cpus: int | None = None) -> tuple[int, int]:
    """(worker processes, torch threads each) for ``jobs`` on ``cpus`` CPUs. By default one
    worker per run up to the CPUs, the CPUs shared out among them; ``workers`` or
    ``cpus_per_run`` fix one and the other follows. Runs on a GPU share it from one process."""
    cpus = cpus or cpu_count()
    if any(_on_accelerator(str(job.config.train.device)) for job in jobs):
        return 1, cpus_per_run or cpus
    if workers is None:
        workers = cpus // cpus_per_run if cpus_per_run else cpus
        workers = max(1, min(len(jobs), workers))
    return workers, cpus_per_run or max(1, cpus // workers)


def _on_accelerator(device: str) -> bool:
    """Whether a run's ``train.device`` is a GPU (``auto``: one is available)."""
    if device == "auto":
        return torch.cuda.is_available()
    return torch.device(device).type != "cpu"


_channel: Any = None
"""A worker's queue to the study process: its lines and the jobs it starts."""


def _send(kind: str, i: int, text: str = "") -> None:
    _channel.put((kind, i, text))


def _start(threads: int, channel: Any) -> None:
    """A worker's set-up: its share of the CPUs, and the queue its lines go back by."""
    global _channel
    torch.set_num_threads(threads)
    _channel = channel


def _work(job: Job, i: int, data_dir: str | None, wait_for_lock: bool) -> ModelSection:
    """One run in a worker: train (or reuse) and evaluate it, each line it writes sent to the
    study process labelled with the job (what the trainer prints included)."""
    _send("running", i)

    def say(line: str) -> None:
        _send("line", i, line)

    with labelled(say, job.tag):
        say(f"{job.tag}: in worker pid {os.getpid()}")
        return run_job(job, data_dir, say, wait_for_lock)


def _relay(channel: Any, watch: Watch) -> None:
    """The study process's end of the workers' queue, until ``None``: their lines to the
    watch, the jobs they start marked running."""
    while (message := channel.get()) is not None:
        kind, i, text = message
        if kind == "line":
            watch.line(text)
        else:
            watch.set_state(i, "running")


def _run_round(pool: ProcessPoolExecutor, jobs: Sequence[Job], left: list[int],
               done: dict[int, ModelSection], data_dir: str | None, watch: Watch,
               wait_for_lock: bool) -> None:
    """Submit the jobs ``left``, each once the runs it is built on are done, and collect their
    sections into ``done``; a run another process holds is left out (for the next round, with
    the runs built on it), a failing run cancels those not started."""
    waiting = list(left)
    pending: dict[Future[ModelSection], int] = {}

    def submit_ready() -> None:
        for i in [i for i in waiting if all(d in done for d in jobs[i].after)]:
            waiting.remove(i)
            pending[pool.submit(_work, jobs[i], i, data_dir, wait_for_lock)] = i

    submit_ready()
    while pending:
        finished, _ = wait(pending, return_when=FIRST_COMPLETED)
        for future in finished:
            i = pending.pop(future)
            try:
                done[i] = future.result()
                watch.set_state(i, "done")
            except RunDirLocked:
                watch.set_state(i, "waiting")
                watch.line(f"{jobs[i].tag}: {jobs[i].run_dir} is in use by "
                           f"{holder(jobs[i].run_dir)}: coming back to it")
            except BaseException:
                for other in pending:
                    other.cancel()
                raise
        submit_ready()


def _stop_workers(others: set[multiprocessing.process.BaseProcess]) -> None:
    """Terminate the pool's workers (this process's children but ``others``): an interrupted
    study (Ctrl-C, SIGTERM) stops now, its runs resuming from their last checkpoints."""
    workers = [c for c in multiprocessing.active_children() if c not in others]
    for child in workers:
        child.terminate()
    for child in workers:
        child.join(timeout=30)


def run_in_pool(jobs: Sequence[Job], data_dir: str | None, watch: Watch, workers: int,
                threads: int) -> list[ModelSection]:
    """Every job on ``workers`` spawned processes of ``threads`` torch threads; the sections
    in the jobs' order, the runs started longest first (:mod:`genlab.study.schedule`), their
    lines and states to ``watch``. A run that fails stops the study (the runs in flight
    finish, the others are not started) and its error is raised here; an interrupt stops the
    workers too."""
    order = longest_first(jobs, data_dir)
    watch.line(f"{len(jobs)} runs on {workers} worker processes, {threads} torch thread(s) "
               f"each, the longest first: {', '.join(jobs[i].tag for i in order)}")
    done: dict[int, ModelSection] = {}
    context = multiprocessing.get_context("spawn")
    others = set(multiprocessing.active_children())
    channel = context.Queue()
    relay = threading.Thread(target=_relay, args=(channel, watch), daemon=True)
    relay.start()
    interrupted = False
    try:
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_start,
                                 initargs=(threads, channel)) as pool:
            try:
                for wait_for_lock in (False, True):
                    left = [i for i in order if i not in done]
                    _run_round(pool, jobs, left, done, data_dir, watch, wait_for_lock)
            except (KeyboardInterrupt, SystemExit):
                interrupted = True
                _stop_workers(others)  # else leaving the pool would wait for the runs in flight
                raise
    finally:  # the workers have exited, their last lines sent: relay them, then stop
        # A worker terminated in the middle of a line can leave the queue's lock held for good:
        # the sentinel may then never arrive, and this process must not wait for it to exit.
        channel.cancel_join_thread()
        channel.put(None)
        relay.join(timeout=2 if interrupted else 30)
    return [done[i] for i in range(len(jobs))]
