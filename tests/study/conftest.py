"""A tiny study on the embedded mnist-mini: four models of four kinds, small enough to train,
evaluate and draw in seconds, with a seeded untrained classifier (plumbing, not quality)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genlab.data.dataset import MNIST_CLASSES
from genlab.evaluation.classifier import ClassifierConfig, ClassifierNet, save_classifier


@pytest.fixture(autouse=True)
def stats_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture(scope="session")
def classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    torch.manual_seed(0)
    net = ClassifierNet(ClassifierConfig(widths=[8, 16], convs=[1, 1], feature_dim=16)).eval()
    return save_classifier(net, tmp_path_factory.mktemp("clf") / "tiny.safetensors",
                           {"dataset": "mnist-mini", "class_names": MNIST_CLASSES})


