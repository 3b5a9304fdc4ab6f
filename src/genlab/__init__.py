"""genlab: a laboratory for image generative models.

The Python API mirrors the CLI: ``genlab.train(config)`` is ``genlab train``, ``genlab.load(run)``
opens what ``genlab sample``/``reconstruct``/``latent`` work on. Every subpackage is an
attribute imported on first use (PEP 562): ``import genlab; genlab.latent.encode(...)`` works,
while ``import genlab`` itself loads nothing heavy, so ``genlab --help`` stays instant.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from genlab.version import __version__

if TYPE_CHECKING:
    from genlab.runs import Run
    from genlab.training.config import RunConfig


def train(config: RunConfig | dict[str, Any] | str, **kwargs: Any) -> Any:
    """Train from a RunConfig, a dict or a YAML path; returns a ``RunResult``."""
    from genlab.training import train as _train

    return _train(config, **kwargs)


def load(run: str, which: str = "best", device: str = "cpu", data_dir: str | None = None) -> Run:
    """Open a run directory (or checkpoint file): its model, config and data, for sampling,
    reconstruction and the latent tools (``genlab.runs.open_run``)."""
    from genlab.runs import open_run

    return open_run(run, which=which, device=device, data_dir=data_dir)


SUBMODULES = ("cli", "data", "devices", "errors", "evaluation", "explore", "figures", "io",
              "latent", "models", "progress", "report", "runs", "study", "training", "version")
"""The package's modules and subpackages (``__main__`` aside: importing it runs the CLI)."""


def __getattr__(name: str) -> Any:
    """``genlab.latent`` and the other subpackages, imported when first named."""
    if name in SUBMODULES:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *SUBMODULES})


__all__ = ["__version__", "load", "train"]
