"""genlab: a laboratory for image generative models.

The Python API mirrors the CLI: ``genlab.train(config)`` is ``genlab train``, ``genlab.load(run)``
opens what ``genlab sample``/``reconstruct``/``latent`` work on.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

if TYPE_CHECKING:
    from genlab.models.base import GenerativeModel
    from genlab.training.config import RunConfig


def train(config: RunConfig | dict[str, Any] | str, **kwargs: Any) -> Any:
    """Train from a RunConfig, a dict or a YAML path; returns a ``RunResult``."""
    from genlab.training import train as _train

    return _train(config, **kwargs)


def load(run: str, which: str = "best", device: str = "cpu") -> GenerativeModel:
    """Load the model of a run directory (or checkpoint file) for sampling and latent tools."""
    from genlab.training.checkpoint import load_model

    return load_model(run, which=which, device=device)


__all__ = ["__version__", "load", "train"]
