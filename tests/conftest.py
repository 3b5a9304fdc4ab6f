"""Fixtures shared by every test package."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from genlab import train
from genlab.training.trainer import RunResult, Trainer


@pytest.fixture
def interrupted_then_resumed(monkeypatch) -> Callable[..., RunResult]:
    """``run(config, out, epoch)``: train ``config`` into ``out``, stop it with a
    KeyboardInterrupt right after the checkpoint of ``epoch`` is written (as a kill would),
    then resume it from that checkpoint; returns the resumed run's result."""

    def run(config: dict[str, Any], out: Path, epoch: int) -> RunResult:
        real_save = Trainer._save

        def save_then_die(self: Trainer, *args: Any, **kwargs: Any) -> None:
            real_save(self, *args, **kwargs)
            if self.state.epoch == epoch:
                raise KeyboardInterrupt

        monkeypatch.setattr(Trainer, "_save", save_then_die)
        with pytest.raises(KeyboardInterrupt):
            train(config, out=out)
        monkeypatch.setattr(Trainer, "_save", real_save)
        return train(config, out=out, resume=True)

    return run
