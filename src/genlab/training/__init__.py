"""Training: run configs, the one trainer, optimisers, checkpoints and data parallelism.

Imports are lazy (PEP 562): ``import genlab.training.config`` does not pull in the trainer,
tqdm or matplotlib.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from genlab.training.trainer import RunResult, Trainer, train

__all__ = ["RunResult", "Trainer", "train"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from genlab.training import trainer

        return getattr(trainer, name)
    raise AttributeError(f"module 'genlab.training' has no attribute {name!r}")
