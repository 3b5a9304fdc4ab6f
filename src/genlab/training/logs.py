"""Per-epoch numbers and the run's metric files: ``metrics.jsonl``, ``metrics.csv``, ``curves.png``.

They are rewritten whole from the checkpointed history after every epoch, so a resumed run
never holds rows of an epoch that was lost, and each is written atomically.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path
from typing import Any

from torch import Tensor

from genlab.io import write_text
from genlab.models.base import LossOutput
from genlab.report.curves import plot_curves


def history_csv(history: list[dict[str, Any]]) -> str:
    """The history as CSV; columns are the union of every row's keys, in first-seen order."""
    keys = list(dict.fromkeys(k for row in history for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buffer.getvalue()


def write_history(history: list[dict[str, Any]], run_dir: Path, title: str) -> None:
    """metrics.jsonl, metrics.csv and curves.png of ``run_dir`` from ``history``."""
    write_text(run_dir / "metrics.jsonl", "".join(json.dumps(row) + "\n" for row in history))
    write_text(run_dir / "metrics.csv", history_csv(history))
    plot_curves(history, run_dir / "curves.png", title=title)


class EpochLog:
    """Running sums of each player's total and terms, each averaged over its own updates (a
    generator stepping every n-th batch is averaged over its n-times fewer updates)."""

    def __init__(self, players: int) -> None:
        self.players = players
        self.sums: dict[str, Tensor] = {}
        self.counts: dict[str, int] = {}

    def add(self, name: str, out: LossOutput, n: int) -> None:
        total = out.total.detach()
        items = {"loss" if self.players == 1 else f"loss.{name}": total, **out.terms}
        for k, v in items.items():
            self.sums[k] = self.sums.get(k, 0) + v.detach() * n
            self.counts[k] = self.counts.get(k, 0) + n

    def means(self) -> dict[str, float]:
        out = {k: float(v) / self.counts[k] for k, v in self.sums.items()}
        if self.players > 1:  # the sum of the players' mean objectives
            out = {"loss": sum(v for k, v in out.items() if k.startswith("loss.")), **out}
        return out
