"""The trainer's event interface: a callback hears a run's events and may end it.

The trainer's own extras (the weight average, prior refits, epoch grids, early stopping, the
time limit, TensorBoard; ``genlab.training.callbacks``) are callbacks; a family adds those its
training needs through ``GenerativeModel.callbacks`` and a user passes more to
``genlab.train(config, callbacks=[...])``, neither editing the trainer. It lives here, at the
bottom of ``models``, so that a family can subclass it. Every hook is a no-op: a callback
overrides the events it needs.

``trainer`` is the running ``genlab.training.trainer.Trainer``: ``model`` (the trained
weights), ``scored`` (the copy that validation, the grids, the best checkpoint and the
returned model are; ``model`` unless a callback set another in ``setup``), ``copies`` (every
copy of the weights), ``config``, ``state`` (epoch, step, history, best epoch), ``run_dir``,
``dist`` (rank and world size) and ``prepare`` (a uint8 slice as a batch on the device).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from genlab.models.core.base import LossOutput


@dataclass
class EpochEnd:
    """One validated epoch: its numbers (a callback may add some, which the metric files and
    TensorBoard then hold), whether it is the best so far, and the figures written for it by
    name (TensorBoard shows each)."""

    row: dict[str, Any]
    improved: bool
    images: dict[str, Path] = field(default_factory=dict)


class Callback:
    """Hooks on a training run's events, called in the order the callbacks are listed.

    ``name`` keys the callback's state in a checkpoint (the class name when empty); the
    callbacks of a run have distinct names."""

    name: str = ""

    @property
    def key(self) -> str:
        return self.name or type(self).__name__

    def setup(self, trainer: Any) -> None:
        """The model is built; nothing has trained or been restored yet. A callback that
        keeps a copy of the weights makes it here (and may make it ``trainer.scored``)."""

    def on_train_start(self, trainer: Any, resumed: bool) -> None:
        """Training starts: fresh, or restored from the last checkpoint (states included)."""

    def on_step_end(self, trainer: Any, player: str, out: LossOutput) -> None:
        """One optimiser step of ``player`` on the loss ``out`` is done."""

    def before_validation(self, trainer: Any) -> None:
        """An epoch's pass over the training data is done; validation comes next."""

    def on_epoch_end(self, trainer: Any, epoch: EpochEnd) -> None:
        """The epoch is validated and ranked; its checkpoint comes next."""

    def on_train_end(self, trainer: Any) -> None:
        """Training is over, also after an error or an interrupt."""

    def should_stop(self, trainer: Any) -> bool:
        """Asked before every epoch: True ends training there (its last checkpoint stays)."""
        return False

    def state_dict(self) -> dict[str, Any]:
        """What a resumed run needs to continue exactly: tensors and JSON values."""
        return {}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Take back what :meth:`state_dict` returned; called only when the checkpoint has it."""
