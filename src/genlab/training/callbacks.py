"""The trainer's extras, each a callback on its event interface (``models.core.callbacks``).

:func:`run_callbacks` lists a run's callbacks in the order they hear each event: the weight
average (``train.ema``, ``training.average``), prior refits (families that override
``fit_prior``), the epoch grids (``train.epoch_samples``), early stopping
(``train.patience``), the time limit (``train.time_limit``), kept checkpoints
(``train.checkpoint_every``), the family's own
(``GenerativeModel.callbacks``), the user's (``genlab.train(..., callbacks=[...])``), and
TensorBoard (``train.tensorboard``) last, so that it logs what the others add to an epoch.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.models.core.base import GenerativeModel, LossOutput
from genlab.models.core.callbacks import Callback, EpochEnd
from genlab.training.average import ExponentialMovingAverage
from genlab.training.board import TensorBoard
from genlab.training.config import TrainConfig
from genlab.training.logs import another_epoch_fits, write_epoch_samples

PRIOR_FIT_IMAGES = 10_000
"""Training images a learnt prior is refitted on after every epoch."""

__all__ = ["Callback", "CallbackList", "EpochEnd", "run_callbacks"]


def spread_subset(total: int, n: int, seed: int) -> Tensor:
    """``n`` of ``total`` indices, drawn by a seeded permutation and sorted: spread over the
    whole split whatever its order (a class-sorted folder's first images are one class)."""
    if n >= total:
        return torch.arange(total)
    perm = torch.randperm(total, generator=torch.Generator().manual_seed(seed))
    return perm[:n].sort().values


class PriorRefit(Callback):
    """Refit a learnt prior (an autoencoder's Gaussian over its codes) on every copy of the
    weights after each epoch's training pass, before validation and the grid sample from it;
    on :data:`PRIOR_FIT_IMAGES` images spread over the training split, the same every epoch."""

    name = "prior_refit"

    def setup(self, trainer: Any) -> None:
        n = min(PRIOR_FIT_IMAGES, len(trainer.train_labels))
        chosen = spread_subset(len(trainer.train_labels), n, trainer.config.train.seed)
        self.images = trainer.train_images.index_select(0, chosen)
        self.labels = trainer.train_labels[chosen]

    def before_validation(self, trainer: Any) -> None:
        batch = trainer.prepare(self.images, self.labels, train=False)
        for model in trainer.copies:
            model.fit_prior(batch.x, batch.y)


class EpochGrids(Callback):
    """``train.epoch_samples``: a grid decoded from fixed noise, ``samples/epoch_NNN.png``,
    after every epoch, so that a user watches training (and a mode collapse) happen."""

    name = "epoch_grids"

    def __init__(self, n: int, seed: int) -> None:
        self.n, self.seed = n, seed

    def on_epoch_end(self, trainer: Any, epoch: EpochEnd) -> None:
        if not trainer.dist.is_main:
            return
        path = write_epoch_samples(trainer.scored, trainer.run_dir, epoch.row["epoch"], self.n,
                                   self.seed)
        if path is not None:
            epoch.images["samples"] = path


class EarlyStopping(Callback):
    """``train.patience``: stop once ``patience`` epochs in a row have not improved the
    family's selection metric. The count is the epochs since the best one, both in every
    checkpoint, so a resumed run counts on exactly."""

    name = "early_stopping"

    def __init__(self, patience: int) -> None:
        self.patience = patience

    def should_stop(self, trainer: Any) -> bool:
        return trainer.state.epoch - trainer.state.best_epoch >= self.patience


class TimeLimit(Callback):
    """``train.time_limit``: no epoch starts that would end past the minutes of training of
    every session of the run, by the mean epoch so far (the first always starts)."""

    name = "time_limit"

    def __init__(self, minutes: float) -> None:
        self.minutes = minutes

    def should_stop(self, trainer: Any) -> bool:
        return not another_epoch_fits(trainer.state.history, 60 * self.minutes)


class TimedCheckpoints(Callback):
    """``train.checkpoint_every``: the epoch's checkpoint also kept as
    ``checkpoints/timed_NNN.safetensors`` whenever the run's minutes of training (every
    session's) pass the NNN-th multiple of ``minutes``, so its quality can be read along the
    run (a budget-matched study's curve), not only at its best and last epochs. Stateless:
    the count is read off the history's seconds, so a resumed run keeps on counting."""

    name = "timed_checkpoints"

    def __init__(self, minutes: float) -> None:
        self.every = 60 * minutes

    def on_epoch_end(self, trainer: Any, epoch: EpochEnd) -> None:
        spent = [row.get("seconds", 0.0) for row in trainer.state.history]
        passed = int(sum(spent) // self.every)
        if passed > int(sum(spent[:-1]) // self.every):
            trainer.keep.append(f"{TIMED}{passed:03d}")


TIMED = "timed_"
"""The name of a kept checkpoint before its count (``checkpoints/timed_003.safetensors``)."""


def stop_note(stopped_by: str, history: list[dict[str, Any]], best_epoch: int, trained: int,
              cfg: TrainConfig) -> str:
    """What ``genlab train`` says of a run that ended before ``train.epochs`` (which callback
    ended it, after how many epochs) or of a resumed session that trained nothing (why, and
    which option would let it go on); "" for a run that trained to its epochs."""
    epochs = len(history)
    done = f"{epochs} epoch{'s' if epochs != 1 else ''}"
    if stopped_by == TimeLimit.name:
        limit = f"{cfg.time_limit:g} min"
        if trained:
            return f"stopped by the time limit after {done} ({limit} of training)"
        spent = sum(row.get("seconds", 0.0) for row in history) / 60
        return (f"nothing trained: the time limit ({limit}) was spent by this run's earlier "
                f"sessions ({done}, {spent:.3g} min of training; the limit counts every "
                "session's): raise --time-limit to train on")
    if stopped_by == EarlyStopping.name:
        why = f"{cfg.patience} epochs without improving on epoch {best_epoch}"
        if trained:
            return f"stopped early after {done}: {why}"
        return f"nothing trained: the run had stopped early ({why}): raise --patience to train on"
    if stopped_by:
        return f"stopped by the {stopped_by} callback after {done}"
    if not trained:
        return f"nothing trained: the run already has {done}: raise --epochs to train on"
    return ""


def builtin_callbacks(model: GenerativeModel, cfg: TrainConfig) -> list[Callback]:
    """The extras the ``train`` section turns on, TensorBoard aside (it comes last)."""
    chosen: list[Callback] = []
    if cfg.ema:
        chosen.append(ExponentialMovingAverage(cfg.ema))
    if type(model).fit_prior is not GenerativeModel.fit_prior:
        chosen.append(PriorRefit())
    if cfg.epoch_samples > 0 and not model.closed_form:
        chosen.append(EpochGrids(cfg.epoch_samples, cfg.seed))
    if cfg.patience > 0:
        chosen.append(EarlyStopping(cfg.patience))
    if cfg.time_limit > 0:
        chosen.append(TimeLimit(cfg.time_limit))
    if cfg.checkpoint_every > 0 and not model.closed_form:
        chosen.append(TimedCheckpoints(cfg.checkpoint_every))
    return chosen


class CallbackList:
    """A run's callbacks in order; each event goes to every one of them."""

    def __init__(self, callbacks: Sequence[Callback]) -> None:
        self.callbacks = list(callbacks)

    def __iter__(self) -> Iterator[Callback]:
        return iter(self.callbacks)

    def setup(self, trainer: Any) -> None:
        for callback in self.callbacks:
            callback.setup(trainer)

    def on_train_start(self, trainer: Any, resumed: bool) -> None:
        for callback in self.callbacks:
            callback.on_train_start(trainer, resumed)

    def on_step_end(self, trainer: Any, player: str, out: LossOutput) -> None:
        for callback in self.callbacks:
            callback.on_step_end(trainer, player, out)

    def before_validation(self, trainer: Any) -> None:
        for callback in self.callbacks:
            callback.before_validation(trainer)

    def on_epoch_end(self, trainer: Any, row: dict[str, Any], improved: bool) -> None:
        epoch = EpochEnd(row, improved)
        for callback in self.callbacks:
            callback.on_epoch_end(trainer, epoch)

    def on_train_end(self, trainer: Any) -> None:
        for callback in self.callbacks:
            callback.on_train_end(trainer)

    def stopping(self, trainer: Any) -> str:
        """The key of the first callback that ends training here; "" if none does."""
        return next((c.key for c in self.callbacks if c.should_stop(trainer)), "")


def run_callbacks(model: GenerativeModel, cfg: TrainConfig,
                  extra: Sequence[Callback] = ()) -> CallbackList:
    """Every callback of a run, in order; two of one name are refused (a name keys its
    state in a checkpoint)."""
    tail = [TensorBoard()] if cfg.tensorboard else []
    chosen = [*builtin_callbacks(model, cfg), *model.callbacks(), *extra, *tail]
    wrong = [c for c in chosen if not isinstance(c, Callback)]
    if wrong:
        raise ConfigError(f"callbacks must be genlab.training.callbacks.Callback instances, "
                          f"got {type(wrong[0]).__name__}")
    keys = [c.key for c in chosen]
    dotted = [k for k in keys if "." in k]
    if dotted:
        raise ConfigError(f"callback name {dotted[0]!r} has a dot; a name keys the "
                          "callback's tensors in a checkpoint (callback.NAME.*)")
    twice = sorted({k for k in keys if keys.count(k) > 1})
    if twice:
        raise ConfigError(f"two callbacks are named {twice[0]!r}; give each its own name "
                          "(Callback.name), which keys its state in a checkpoint")
    return CallbackList(chosen)
