"""Watching a study: every line labelled with its run, and on a terminal a live view.

Two workers writing into one stream interleave their lines (``epoch 5 train/loss 141`` from
whichever model), so every line a job writes, its own messages and the trainer's epoch lines
alike, goes out prefixed with the job's tag (:class:`LabelledStream`; the trainer is
unchanged: the executor wraps the streams a job writes to). Where the lines go is a
:class:`Watch`: plain labelled lines to a log (a file, a CI log, a captured stream), or on a
terminal a :class:`LiveView` that keeps below them one line per running job (its epoch, its
training loss and training time left) and a count of the jobs waiting, running and done.

The view reads each running job's progress from its run's ``metrics.jsonl``, which the trainer
appends after every epoch's checkpoint: the parent process learns it without any channel from
the trainer, in the pool, in this process or from another study process on the same folder.
:func:`render` is a pure function of the jobs' states, so the view is tested without a
terminal.
"""

from __future__ import annotations

import json
import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from genlab.models.registry import model_class
from genlab.training.estimate import duration

if TYPE_CHECKING:  # the runner imports this module
    from genlab.study.runner import Job

Log = Callable[[str], None]
STATES = ("running", "waiting", "done")
REDRAW_EVERY = 1.0
"""Seconds between two redraws of the live view (its time left counts down in between)."""


_emitting = threading.local()
"""Whether this thread is inside an ``emit``: what it writes then is the log's own output."""


@contextmanager
def passing_through() -> Iterator[None]:
    """Meanwhile, what this thread writes to a :class:`LabelledStream` goes to the stream it
    stands in for: a log's own output, which would otherwise come back to the log."""
    before = getattr(_emitting, "on", False)
    _emitting.on = True
    try:
        yield
    finally:
        _emitting.on = before


class LabelledStream:
    """A text stream whose every whole line goes to ``emit`` prefixed with ``tag``; a line
    written in pieces (``tqdm.write`` writes the text, then the newline) goes out once whole.
    What ``emit`` itself writes (a log that prints) goes to ``passthrough``, the stream this
    one stands in for. Not a terminal to whoever asks (tqdm then hides its bars, which would
    overwrite each other), so a job's progress bars never reach the shared stream."""

    def __init__(self, emit: Log, tag: str, passthrough: TextIO | None = None) -> None:
        self.emit, self.tag, self.passthrough, self._partial = emit, tag, passthrough, ""

    def write(self, text: str) -> int:
        if getattr(_emitting, "on", False) and self.passthrough is not None:
            return self.passthrough.write(text)
        *lines, self._partial = (self._partial + text).split("\n")
        for line in lines:
            self._emit(line)
        return len(text)

    def _emit(self, line: str) -> None:
        with passing_through():
            self.emit(f"{self.tag}: {line}")

    def flush(self) -> None:
        """Lines go out when whole; a job's last unfinished line goes out at :meth:`close`."""
        if getattr(_emitting, "on", False) and self.passthrough is not None:
            self.passthrough.flush()

    def close(self) -> None:
        if self._partial:
            self._emit(self._partial)
            self._partial = ""

    def isatty(self) -> bool:
        return False


@contextmanager
def labelled(emit: Log, tag: str) -> Iterator[None]:
    """Everything written to stdout and stderr meanwhile (the trainer's epoch lines, its
    warnings) goes to ``emit`` line by line, labelled with ``tag``."""
    out = LabelledStream(emit, tag, sys.stdout)
    err = LabelledStream(emit, tag, sys.stderr)
    try:
        with redirect_stdout(out), redirect_stderr(err):  # type: ignore[type-var]
            yield
    finally:
        out.close()
        err.close()


@dataclass
class JobProgress:
    """What the view shows of one job: its state, and once it runs, its last epoch's numbers
    (from ``metrics.jsonl``; ``finished`` once ``summary.json`` exists: it is evaluated)."""

    tag: str
    epochs: int
    closed_form: bool = False
    state: str = "waiting"
    epoch: int = 0
    loss: float | None = None
    epoch_seconds: float | None = None
    finished: bool = False


def job_progress(job: Job) -> JobProgress:
    """A job's entry in the view, before it starts."""
    return JobProgress(job.tag, job.config.train.epochs,
                       model_class(job.config.model.name).closed_form)


def read_metrics(run_dir: Path, into: JobProgress) -> None:
    """Update ``into`` from the run's ``metrics.jsonl``: the last epoch, its ``train/loss``
    and the mean seconds of an epoch (a line cut mid-write is left for the next read)."""
    path = Path(run_dir) / "metrics.jsonl"
    rows = []
    if path.is_file():
        for line in path.read_text().splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                break
    if rows:
        seconds = [r["seconds"] for r in rows if "seconds" in r]
        into.epoch, into.loss = rows[-1]["epoch"], rows[-1].get("train/loss")
        into.epoch_seconds = sum(seconds) / len(seconds) if seconds else None
    into.finished = (Path(run_dir) / "summary.json").is_file()


def job_line(p: JobProgress) -> str:
    """One running job: ``[4/6] vae  epoch 12/50  loss 102.3  2m10s of training left``."""
    if p.finished:
        return f"{p.tag}  trained, evaluating"
    if p.closed_form:
        return f"{p.tag}  fitting in closed form"
    if p.epoch == 0:
        return f"{p.tag}  epoch 0/{p.epochs}  starting"
    loss = "" if p.loss is None else f"  loss {p.loss:.4g}"
    left = ("" if p.epoch_seconds is None
            else f"  {duration((p.epochs - p.epoch) * p.epoch_seconds)} of training left")
    return f"{p.tag}  epoch {p.epoch}/{p.epochs}{loss}{left}"


def render(jobs: Sequence[JobProgress], elapsed: float) -> list[str]:
    """The live view of ``jobs``: a line per running job, then the count of each state."""
    counts = {s: sum(j.state == s for j in jobs) for s in STATES}
    tally = ", ".join(f"{counts[s]} {s}" for s in STATES)
    return [*(job_line(j) for j in jobs if j.state == "running"),
            f"study: {tally}  ({duration(elapsed)} so far)"]


class Watch:
    """Where a study's lines go and what it knows of its jobs' states: here each line to
    ``log`` as it comes, nothing redrawn (what a log file or CI should hold)."""

    def __init__(self, jobs: Sequence[Job], log: Log) -> None:
        self.jobs = list(jobs)
        self.progress = [job_progress(j) for j in jobs]
        self.log = log
        self.lock = threading.Lock()

    def line(self, text: str) -> None:
        with self.lock, passing_through():
            self.log(text)

    def set_state(self, i: int, state: str) -> None:
        """Job ``i`` is waiting, running or done (a job done stays done)."""
        with self.lock:
            if self.progress[i].state != "done":
                self.progress[i].state = state

    def close(self) -> None:
        """Stop watching (the live view clears itself)."""


class LiveView(Watch):
    """The view on a terminal: lines scroll above a block that a thread redraws every
    :data:`REDRAW_EVERY` seconds from the running jobs' ``metrics.jsonl`` (ANSI: the cursor
    goes back up over the block, which is cleared and drawn again)."""

    def __init__(self, jobs: Sequence[Job], stream: TextIO,
                 clock: Callable[[], float] = time.monotonic, every: float = REDRAW_EVERY,
                 ) -> None:
        super().__init__(jobs, lambda text: print(text, file=stream, flush=True))
        self.stream, self.clock, self.start, self.drawn = stream, clock, clock(), 0
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self._refresh, args=(every,), daemon=True)
        if every > 0:
            self.thread.start()

    def _block(self) -> list[str]:
        for job, p in zip(self.jobs, self.progress, strict=True):
            if p.state == "running":
                read_metrics(job.run_dir, p)
        width = shutil.get_terminal_size().columns - 1  # a wrapped line would break the count
        return [line[:width] for line in render(self.progress, self.clock() - self.start)]

    def _draw(self, before: str = "") -> None:
        """Clear the block, write ``before`` (lines that scroll), draw the block anew."""
        block = self._block()
        clear = f"\x1b[{self.drawn}F\x1b[J" if self.drawn else ""
        self.stream.write(clear + before + "".join(f"{line}\n" for line in block))
        self.stream.flush()
        self.drawn = len(block)

    def line(self, text: str) -> None:
        with self.lock:
            self._draw(f"{text}\n")

    def set_state(self, i: int, state: str) -> None:
        super().set_state(i, state)
        with self.lock:
            self._draw()

    def _refresh(self, every: float) -> None:
        while not self.stopped.wait(every):
            with self.lock:
                self._draw()

    def close(self) -> None:
        """Stop redrawing and leave the final counts on the terminal."""
        self.stopped.set()
        if self.thread.is_alive():
            self.thread.join()
        with self.lock:
            self._draw()


def watch_for(jobs: Sequence[Job], log: Log, terminal: TextIO | None) -> Watch:
    """The live view on ``terminal`` where there is one, else plain labelled lines to ``log``."""
    return LiveView(jobs, terminal) if terminal is not None else Watch(jobs, log)
