"""Training: run configs, the one trainer, checkpoints and data parallelism."""

from genlab.training.trainer import RunResult, Trainer, train

__all__ = ["RunResult", "Trainer", "train"]
