"""Small, fast run configs on the embedded mnist-mini dataset."""

from __future__ import annotations

from typing import Any

import pytest


def tiny_config(**sections: dict[str, Any]) -> dict[str, Any]:
    cfg: dict[str, Any] = {
        "model": {"name": "vae", "net": "mlp", "hidden": [64], "latent_dim": 4},
        "data": {"dataset": "mnist-mini", "binarize": "dynamic", "val_size": 500},
        "train": {"epochs": 3, "batch_size": 256, "lr": 2e-3, "progress": False, "seed": 0},
    }
    for key, values in sections.items():
        cfg[key] = {**cfg[key], **values}
    return cfg


@pytest.fixture
def tiny():
    return tiny_config
