"""TensorBoard event files of a run (``train.tensorboard``), in ``RUN/tensorboard/``.

Every scalar is logged against the global step, so per-step losses and per-epoch numbers share
one axis and a resume can drop what its checkpoint does not hold: a resumed session's writer
purges every event after the checkpoint's step (TensorBoard's ``purge_step``), and an epoch's
events are flushed before its checkpoint is written, so none of a kept epoch is lost. A write
that fails (a full disk; TensorBoard's writer thread raises it at the next call) comes out as a
:class:`~genlab.io.WriteError` naming the event folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image

from genlab.errors import ConfigError
from genlab.io import naming
from genlab.models.core.base import LossOutput
from genlab.models.core.callbacks import Callback, EpochEnd
from genlab.training.logs import EpochLog


class TensorBoard(Callback):
    """``train.tensorboard`` as a callback: one training session's writer. It runs after
    every other callback, so it logs the numbers and figures they add to an epoch; on a rank
    other than the first it writes nothing."""

    name = "tensorboard"

    def __init__(self) -> None:
        try:  # on every rank: the same error everywhere, before any work
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            raise ConfigError(
                "train.tensorboard needs the tensorboard package: "
                "pip install 'genlab[tensorboard]' (or pip install tensorboard)"
            ) from None
        self._writer_class = SummaryWriter
        self.writer: Any = None

    def setup(self, trainer: Any) -> None:
        self.log_dir = Path(trainer.run_dir) / "tensorboard"
        self.enabled = trainer.dist.is_main
        self.log = EpochLog(len(trainer.model.players()))  # names each player's loss

    def on_train_start(self, trainer: Any, resumed: bool) -> None:
        """Open the event file; a resumed session purges events after its step."""
        if not self.enabled:
            return
        config_yaml = (Path(trainer.run_dir) / "config.yaml").read_text()
        text = "\n".join("    " + line for line in config_yaml.splitlines())  # a code block
        step = trainer.state.step
        with naming(self.log_dir):
            self.writer = self._writer_class(str(self.log_dir),
                                             purge_step=step + 1 if resumed else None)
            self.writer.add_text("config", text, step)

    def on_step_end(self, trainer: Any, player: str, out: LossOutput) -> None:
        """The player's loss after one of its updates."""
        if self.writer is not None:
            with naming(self.log_dir):
                self.writer.add_scalar(f"step/{self.log.key(player)}", float(out.total.detach()),
                                       trainer.state.step)

    def on_epoch_end(self, trainer: Any, epoch: EpochEnd) -> None:
        """The epoch's numbers and figures, flushed to disk."""
        if self.writer is None:
            return
        step = epoch.row["step"]
        with naming(self.log_dir):
            for key, value in epoch.row.items():
                if key != "step" and isinstance(value, int | float):
                    self.writer.add_scalar(key, value, step)
            for tag, path in epoch.images.items():
                image = np.asarray(Image.open(path).convert("RGB"))
                self.writer.add_image(tag, image, step, dataformats="HWC")
            self.writer.flush()

    def on_train_end(self, trainer: Any) -> None:
        if self.writer is not None:
            writer, self.writer = self.writer, None
            with naming(self.log_dir):
                writer.close()
