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
from torch import Tensor

from genlab.errors import ConfigError
from genlab.io import naming


class Board:
    """One training session's writer; every method is a no-op when TensorBoard is off (or
    on a rank other than the first)."""

    def __init__(self, enabled: bool, run_dir: Path, is_main: bool) -> None:
        self.log_dir = Path(run_dir) / "tensorboard"
        self.writer: Any = None
        self.enabled = enabled and is_main
        if enabled:  # on every rank: the same error everywhere, before any work
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:
                raise ConfigError(
                    "train.tensorboard needs the tensorboard package: "
                    "pip install 'genlab[tensorboard]' (or pip install tensorboard)"
                ) from None
            self._writer_class = SummaryWriter

    def start(self, config_yaml: str, step: int, resumed: bool) -> None:
        """Open the event file; a resumed session purges events after ``step``."""
        if not self.enabled:
            return
        text = "\n".join("    " + line for line in config_yaml.splitlines())  # a code block
        with naming(self.log_dir):
            self.writer = self._writer_class(str(self.log_dir),
                                             purge_step=step + 1 if resumed else None)
            self.writer.add_text("config", text, step)

    def step(self, tag: str, value: Tensor, step: int) -> None:
        """One player's loss after one of its updates."""
        if self.writer is not None:
            with naming(self.log_dir):
                self.writer.add_scalar(f"step/{tag}", float(value.detach()), step)

    def epoch(self, row: dict[str, Any], grid: Path | None) -> None:
        """The epoch's row (its numbers) and sample grid, flushed to disk."""
        if self.writer is None:
            return
        step = row["step"]
        with naming(self.log_dir):
            for key, value in row.items():
                if key != "step" and isinstance(value, int | float):
                    self.writer.add_scalar(key, value, step)
            if grid is not None:
                image = np.asarray(Image.open(grid).convert("RGB"))
                self.writer.add_image("samples", image, step, dataformats="HWC")
            self.writer.flush()

    def close(self) -> None:
        if self.writer is not None:
            writer, self.writer = self.writer, None
            with naming(self.log_dir):
                writer.close()
