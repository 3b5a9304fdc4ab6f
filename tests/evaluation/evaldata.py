"""Where the real data for the evaluation tests is (a module of its own: every test folder
has a ``conftest``, so ``from conftest import ...`` could find another folder's)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def shared_data() -> Path | None:
    """Where real MNIST is: $GENLAB_DATA (each of its directories), then ../shared/data."""
    candidates = [p for p in os.environ.get("GENLAB_DATA", "").split(os.pathsep) if p]
    candidates.append(str(REPO / ".." / "shared" / "data"))
    for base in candidates:
        if (Path(base) / "mnist" / "t10k-images-idx3-ubyte.gz").is_file():
            return Path(base).resolve()
    return None


needs_mnist = pytest.mark.skipif(
    shared_data() is None,
    reason="real MNIST not found in $GENLAB_DATA nor in ../shared/data (beside the repo root)",
)


def shared_cifar() -> Path | None:
    """The CIFAR-10 JPEG folder tree beside MNIST, if there."""
    candidates = [p for p in os.environ.get("GENLAB_DATA", "").split(os.pathsep) if p]
    candidates.append(str(REPO / ".." / "shared" / "data"))
    for base in candidates:
        if (Path(base) / "cifar10-jpg" / "test").is_dir():
            return (Path(base) / "cifar10-jpg").resolve()
    return None


needs_cifar = pytest.mark.skipif(
    shared_cifar() is None,
    reason="the CIFAR-10 JPEG folders not found in $GENLAB_DATA nor in ../shared/data",
)
