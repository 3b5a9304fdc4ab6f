"""Tiny runs and a tiny classifier on the embedded mnist-mini, shared by the evaluation tests.

The classifier is an untrained (seeded) network: the plumbing needs features, not good ones.
Reference statistics go to a per-test cache directory, never to ~/.cache.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

import genlab
from genlab.data.dataset import MNIST_CLASSES
from genlab.evaluation.classifier import ClassifierConfig, ClassifierNet, save_classifier
from genlab.models.registry import build_model
from genlab.runs import Run
from genlab.training.config import config_from_dict


@pytest.fixture(autouse=True)
def stats_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "cache" / "stats"


def _train(root: Path, model: dict, binarize: str = "dynamic", epochs: int = 1) -> str:
    out = root / model["name"]
    genlab.train({
        "model": dict(model),
        "data": {"dataset": "mnist-mini", "binarize": binarize, "val_size": 8000},
        "train": {"epochs": epochs, "batch_size": 256, "lr": 2e-3, "progress": False,
                  "seed": 0, "device": "cpu"},
    }, out=out)
    return str(out)


@pytest.fixture(scope="session")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Run directories: a small VAE, a CVAE, PCA and the class-mean baseline, each trained
    on 2,000 images (the rest is validation) to stay fast."""
    root = tmp_path_factory.mktemp("eval-runs")
    return {
        "vae": _train(root, {"name": "vae", "hidden": [64], "latent_dim": 4}),
        "cvae": _train(root, {"name": "cvae", "hidden": [64], "latent_dim": 4}),
        "pca": _train(root, {"name": "pca", "n_components": 16}, binarize="none"),
        "mean": _train(root, {"name": "mean"}, binarize="none"),
    }


@pytest.fixture(scope="session")
def gan_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    """An untrained GAN as a Run: it samples, but has no encoder, ELBO or reconstruction."""
    config = config_from_dict({"model": {"name": "gan"}, "data": {"dataset": "mnist-mini"}})
    torch.manual_seed(0)
    model = build_model(config.model, (1, 28, 28), 10).eval()
    return Run(model, config, tmp_path_factory.mktemp("gan") / "untrained.safetensors", {})


@pytest.fixture(scope="session")
def tiny_classifier(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A seeded, untrained 28 x 28 classifier with its JSON record."""
    torch.manual_seed(0)
    net = ClassifierNet(ClassifierConfig(widths=[8, 16], convs=[1, 1], feature_dim=16)).eval()
    path = tmp_path_factory.mktemp("clf") / "tiny.safetensors"
    return save_classifier(net, path, {"dataset": "mnist-mini", "class_names": MNIST_CLASSES,
                                       "test_accuracy": None})
