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

import torch
from torch import Tensor

from genlab.io import write_text
from genlab.models.base import Decoder, GenerativeModel, LossOutput, has
from genlab.report.curves import plot_curves
from genlab.report.images import save_image_grid


def history_csv(history: list[dict[str, Any]]) -> str:
    """The history as CSV; columns are the union of every row's keys, in first-seen order."""
    keys = list(dict.fromkeys(k for row in history for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buffer.getvalue()


def prefixed(prefix: str, values: dict[str, float]) -> dict[str, float]:
    """``{"loss": 1}`` -> ``{"val/loss": 1}``."""
    return {f"{prefix}/{k}": v for k, v in values.items()}


def write_epoch_samples(
    model: GenerativeModel, run_dir: Path, epoch: int, n: int, seed: int
) -> Path | None:
    """Decode one fixed noise batch to ``samples/epoch_NNN.png`` after every epoch, so a user
    can watch training (and a mode collapse) happen. The noise comes from its own generator:
    the training random stream is untouched, so resuming stays exact."""
    if n <= 0 or not has(model, Decoder):
        return None
    was_training = model.training
    model.eval()
    with torch.no_grad():
        images = model.sample(n, generator=torch.Generator().manual_seed(seed))
    model.train(was_training)
    return save_image_grid(images, run_dir / "samples" / f"epoch_{epoch:03d}.png")


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
