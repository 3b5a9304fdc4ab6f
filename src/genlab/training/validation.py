"""Validation: each player's objective over a split, and the number that ranks epochs."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
from torch import Tensor

from genlab.devices import seeded
from genlab.errors import ConfigError
from genlab.models.core.base import Batch, GenerativeModel
from genlab.training.logs import EpochLog

EVAL_SEED_OFFSET = 7919
"""Added to ``train.seed`` for the RNG that validation runs under."""


def evaluate_split(
    model: GenerativeModel, images: Tensor, labels: Tensor,
    prepare: Callable[[Tensor, Tensor], Batch], batch_size: int, seed: int,
    device: torch.device,
) -> dict[str, float]:
    """Mean of every player's objective and terms over a split, in eval mode.

    Runs under a forked RNG with a fixed seed (``seed`` + :data:`EVAL_SEED_OFFSET`): every
    epoch sees the same posterior noise (so validation curves and early stopping compare like
    with like), and the training random stream is left exactly where it was. Autograd is on
    only for families that differentiate in their objectives (a gradient penalty)."""
    was_training = model.training
    model.eval()
    log = EpochLog(len(model.players()))
    grad = torch.enable_grad() if model.eval_with_grad else torch.no_grad()
    with seeded(seed + EVAL_SEED_OFFSET, device), grad:
        for start in range(0, len(labels), batch_size):
            batch = prepare(images[start:start + batch_size], labels[start:start + batch_size])
            for name, out in model.evaluation(batch):
                log.add(name, out, batch.x.shape[0])
    model.train(was_training)
    return log.means()


def selection_value(model: GenerativeModel, row: dict[str, Any]) -> float:
    """The family's ``selection_metric`` in an epoch's row (lower is better); without one,
    the epoch, so that the last epoch is best."""
    metric = model.selection_metric
    if metric is None:
        return float(row["epoch"])
    if metric not in row:
        raise ConfigError(f"the {model.config.name!r} model selects checkpoints by {metric!r}, "
                          f"which its evaluation does not log (logged: {', '.join(row)})")
    return float(row[metric])
