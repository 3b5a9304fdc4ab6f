"""Progress of long loops (encoding 10,000 images, fitting codes, a likelihood over 1,000
images), shared by every front end: the loops live in ``latent`` and ``evaluation``, and
report through :func:`steps` wherever they are called from.

Inside :func:`reporting` a front end receives ``(what, done, total)`` after every step (the
explorer's job status); elsewhere a tqdm bar counts the steps on stderr, shown only where
stderr is a terminal (``disable=None``), so logs and pipes get no bar lines.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from contextvars import ContextVar

from tqdm import tqdm

Report = Callable[[str, int, int], None]
"""``report(what, done, total)``: ``done`` of ``total`` steps of the loop named ``what``."""

_REPORT: ContextVar[Report | None] = ContextVar("genlab_progress", default=None)


@contextlib.contextmanager
def reporting(report: Report) -> Iterator[None]:
    """Send the progress of the loops run inside (this thread only: a ContextVar) to
    ``report`` instead of a bar."""
    token = _REPORT.set(report)
    try:
        yield
    finally:
        _REPORT.reset(token)


@contextlib.contextmanager
def steps(what: str, total: int, unit: str = "step") -> Iterator[Callable[[int], None]]:
    """``advance(k)`` for a loop of ``total`` steps: k more are done."""
    report = _REPORT.get()
    if report is not None:
        done = 0

        def advance(k: int = 1) -> None:
            nonlocal done
            done += k
            report(what, done, total)

        yield advance
        return
    with tqdm(total=total, desc=what, unit=unit, leave=False, disable=None) as bar:
        yield bar.update
