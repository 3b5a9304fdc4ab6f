"""Per-epoch numbers and the run's metric files: ``metrics.jsonl``, ``metrics.csv``, ``curves.png``.

Rows are appended as each epoch is checkpointed (after the checkpoint, so the files never run
ahead of it), and both files are rewritten whole, atomically, from the checkpointed history
when a run starts or resumes: a resumed run never holds rows of an epoch that was lost, nor a
line cut by a kill. ``curves.png`` costs matplotlib about as long as a small model's epoch, so
it is drawn when training ends and at most every ``CURVES_EVERY`` seconds before.
"""

from __future__ import annotations

import csv
import io
import json
import time
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genlab.errors import TrainingDivergedError
from genlab.figures.curves import import_in_background, plot_curves
from genlab.figures.images import save_image_grid
from genlab.io import append_text, write_text
from genlab.models.core.base import GenerativeModel, LossOutput
from genlab.training import distributed
from genlab.training.checkpoint import non_finite
from genlab.training.config import RunConfig
from genlab.training.state import TrainState

CURVES_EVERY = 300.0
"""Seconds of training between two drawings of curves.png before the run ends."""


def history_csv(history: list[dict[str, Any]]) -> str:
    """The history as CSV; columns are the union of every row's keys, in first-seen order."""
    if not history:
        return ""
    keys = list(dict.fromkeys(k for row in history for k in row))
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=keys, lineterminator="\n")
    writer.writeheader()
    writer.writerows(history)
    return buffer.getvalue()


def another_epoch_fits(history: list[dict[str, Any]], budget_s: float) -> bool:
    """Whether one more epoch, as long as the mean of those so far, ends within ``budget_s``
    seconds of training, counted over every session of a resumed run. Epochs stay whole (a
    checkpoint ends each), so the budget holds to the spread of epoch times, not to a whole
    epoch past it. The first epoch always starts."""
    spent = [row.get("seconds", 0.0) for row in history]
    return not spent or sum(spent) * (1 + 1 / len(spent)) <= budget_s


def prefixed(prefix: str, values: dict[str, float]) -> dict[str, float]:
    """``{"loss": 1}`` -> ``{"val/loss": 1}``."""
    return {f"{prefix}/{k}": v for k, v in values.items()}


def write_epoch_samples(
    model: GenerativeModel, run_dir: Path, epoch: int, n: int, seed: int
) -> Path | None:
    """Decode one fixed noise batch to ``samples/epoch_NNN.png`` after every epoch, so a user
    can watch training (and a mode collapse) happen. The noise comes from its own generator:
    the training random stream is untouched, so resuming stays exact."""
    if n <= 0 or type(model).sample is GenerativeModel.sample:  # a family that cannot sample
        return None
    was_training = model.training
    model.eval()
    with torch.no_grad():
        images = model.sample(n, generator=torch.Generator().manual_seed(seed))
    model.train(was_training)
    return save_image_grid(images, run_dir / "samples" / f"epoch_{epoch:03d}.png")


class MetricsFiles:
    """The metric files of one run directory, kept in step with its checkpointed history."""

    def __init__(self, run_dir: Path, title: str, draws: bool = True) -> None:
        """``draws``: this process draws curves.png (the main rank), so matplotlib starts
        loading now, off the critical path of the drawing at the end."""
        self.run_dir, self.title = Path(run_dir), title
        if draws:
            import_in_background()
        self.columns: list[str] = []
        self.drawn_rows = 0
        self.drawn_at = time.monotonic()

    def rewrite(self, history: list[dict[str, Any]]) -> None:
        """Both files from ``history`` alone, atomically (a start, or a resume)."""
        write_text(self.run_dir / "metrics.jsonl", "".join(json.dumps(r) + "\n" for r in history))
        write_text(self.run_dir / "metrics.csv", history_csv(history))
        self.columns = list(dict.fromkeys(k for row in history for k in row))

    def append(self, history: list[dict[str, Any]]) -> None:
        """Add ``history``'s last row; a row with new columns rewrites the CSV (its header)."""
        row = history[-1]
        append_text(self.run_dir / "metrics.jsonl", json.dumps(row) + "\n")
        if self.columns and set(row) <= set(self.columns):
            buffer = io.StringIO()
            csv.DictWriter(buffer, fieldnames=self.columns, lineterminator="\n").writerow(row)
            append_text(self.run_dir / "metrics.csv", buffer.getvalue())
        else:
            write_text(self.run_dir / "metrics.csv", history_csv(history))
            self.columns = list(dict.fromkeys(k for r in history for k in r))
        if time.monotonic() - self.drawn_at >= CURVES_EVERY:
            self.draw(history)

    def draw(self, history: list[dict[str, Any]]) -> None:
        """curves.png from ``history``, unless it already shows every row."""
        if history and len(history) != self.drawn_rows:
            plot_curves(history, self.run_dir / "curves.png", title=self.title)
            self.drawn_rows = len(history)
        self.drawn_at = time.monotonic()


def epoch_line(row: dict[str, Any]) -> str:
    """The progress line of one epoch: its numbers and seconds."""
    parts = [f"epoch {row['epoch']}", *[f"{k} {v:.4g}" for k, v in row.items() if "/" in k]]
    return "  ".join(parts) + f"  ({row['seconds']:.1f}s)"


def run_summary(
    model: GenerativeModel, config: RunConfig, state: TrainState, eval_split: str,
    seconds: float, dist: distributed.DistInfo,
) -> dict[str, Any]:
    """summary.json: where the run ended (and which callback ended it before ``train.epochs``:
    early stopping, the time limit, a user's), what chose its best epoch, each rank's checksum."""
    metric = model.selection_metric
    return {
        "model": config.model.name,
        "dataset": config.data.dataset,
        "eval_split": eval_split,
        "epochs_run": state.epoch,
        "best_epoch": state.best_epoch,
        "selection": {"metric": metric or "last epoch", "best": state.best_val if metric else None},
        "stopped_early": bool(state.stopped_by),
        "stopped_by": state.stopped_by or None,
        "seconds": seconds,
        "parameters": sum(p.numel() for p in model.parameters()),
        "final": state.history[-1] if state.history else {},
        "world_size": dist.world_size,
        "rank_checksums": distributed.gather_checksums(model, dist),
    }


def check_finite(
    out: LossOutput, player: str, epoch: int, step: int, last: Path, last_epoch: int
) -> None:
    """Stop a diverged run, saying where (epoch, step, objective, term) and what is kept."""
    if bool(torch.isfinite(out.total)):
        return
    bad = [k for k, v in out.terms.items() if not bool(torch.isfinite(v).all())] or ["total"]
    raise TrainingDivergedError(
        f"loss is {float(out.total.detach())} at epoch {epoch}, step {step} "
        f"(objective {player!r}, term {bad[0]!r}); {_kept(last, last_epoch)}. "
        "Try a lower train.lr, train.clip_grad, or another likelihood."
    )


def check_finite_weights(models: list[GenerativeModel], epoch: int, last: Path) -> None:
    """Stop a run whose weights are NaN or inf though its losses were finite (an infinite
    gradient at the epoch's last step), before they are checkpointed: the trainer never
    writes them, and the checkpoint before stays the run's last."""
    for model in models:
        bad = non_finite(model.state_dict(), prefixes=("",))
        if bad:
            raise TrainingDivergedError(
                f"the weights are not finite after epoch {epoch} ({bad} has NaN or inf "
                f"values); {_kept(last, epoch - 1)}. Try a lower train.lr or train.clip_grad."
            )


def _kept(last: Path, last_epoch: int) -> str:
    """What a diverged run keeps."""
    if last.exists():
        return f"the last good checkpoint {last} (epoch {last_epoch}) is untouched"
    return "no checkpoint had been written yet"


class EpochLog:
    """Running sums of each player's total and terms, each averaged over its own updates (a
    generator stepping every n-th batch is averaged over its n-times fewer updates)."""

    def __init__(self, players: int) -> None:
        self.players = players
        self.sums: dict[str, Tensor] = {}
        self.counts: dict[str, int] = {}

    def key(self, name: str) -> str:
        """Player ``name``'s loss: ``loss``, or ``loss.NAME`` beside other players."""
        return "loss" if self.players == 1 else f"loss.{name}"

    def add(self, name: str, out: LossOutput, n: int) -> None:
        items = {self.key(name): out.total.detach(), **out.terms}
        for k, v in items.items():
            self.sums[k] = self.sums.get(k, 0) + v.detach().float() * n  # fp32 under bf16
            self.counts[k] = self.counts.get(k, 0) + n

    def means(self) -> dict[str, float]:
        out = {k: float(v) / self.counts[k] for k, v in self.sums.items()}
        if self.players > 1:  # the sum of the players' mean objectives
            out = {"loss": sum(v for k, v in out.items() if k.startswith("loss.")), **out}
        return out
