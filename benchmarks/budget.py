"""What the quality benchmarks share: the command line of a run trained within a time budget
(``--data-dir``, ``--minutes``, ``--out``, ``--resume``), the timed training and the report
printed and written beside the run as ``quality.json``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from genlab.training import train
from genlab.training.trainer import RunResult


def parser(doc: str | None, minutes: float, out: str) -> argparse.ArgumentParser:
    """The shared options, with the benchmark's default budget and run directory."""
    p = argparse.ArgumentParser(description=doc,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--minutes", type=float, default=minutes, help="training budget")
    p.add_argument("--out", default=out)
    p.add_argument("--resume", action="store_true")
    return p


def train_within(config: dict[str, Any], args: argparse.Namespace) -> tuple[RunResult, float]:
    """Train ``config`` for at most ``args.minutes`` (early stopping as configured); the result
    and the wall minutes it took."""
    config["train"].update(epochs=200, time_limit=args.minutes, progress=False)
    t0 = time.perf_counter()
    result = train(config, out=args.out, resume=args.resume)
    return result, (time.perf_counter() - t0) / 60


def report(out: str, found: dict[str, Any]) -> None:
    """Print the report and write it to ``OUT/quality.json``."""
    text = json.dumps(found, indent=2)
    print(text)
    Path(out, "quality.json").write_text(text)
