"""Small trained runs on the embedded mnist-mini dataset, shared by the whole session.

Each fixture trains (or fits in closed form) once; together they take a few seconds on 2 cores.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
import torch
from torch import Tensor

import genlab
from genlab.models.core.base import GenerativeModel
from genlab.runs import Run, open_run

TEST_IMAGES = 64


@dataclass
class Trained:
    """A run directory, its model and the first TEST_IMAGES test images as model input."""

    path: str
    run: Run
    x: Tensor
    y: Tensor

    @property
    def model(self) -> GenerativeModel:
        return self.run.model


def _train(factory: pytest.TempPathFactory, model: dict[str, Any], epochs: int = 3,
           binarize: str = "dynamic") -> Trained:
    out = factory.mktemp("latent") / model["name"]
    config = {
        "model": dict(model),
        "data": {"dataset": "mnist-mini", "binarize": binarize},
        "train": {"epochs": epochs, "batch_size": 128, "lr": 2e-3, "progress": False,
                  "seed": 0, "device": "cpu"},
    }
    genlab.train(config, out=out)
    run = open_run(str(out))
    x, y = run.images("test", torch.arange(TEST_IMAGES))
    return Trained(str(out), run, x, y)


@pytest.fixture(scope="session")
def vae(tmp_path_factory) -> Trained:
    """The main subject: a 16-D mlp VAE, Bernoulli decoder."""
    return _train(tmp_path_factory, {"name": "vae", "hidden": [256], "latent_dim": 16}, epochs=4)


@pytest.fixture(scope="session")
def vae2d(tmp_path_factory) -> Trained:
    return _train(tmp_path_factory, {"name": "vae", "hidden": [128], "latent_dim": 2}, epochs=2)


@pytest.fixture(scope="session")
def cvae(tmp_path_factory) -> Trained:
    return _train(tmp_path_factory, {"name": "cvae", "hidden": [128], "latent_dim": 4}, epochs=2)


@pytest.fixture(scope="session")
def ae(tmp_path_factory) -> Trained:
    return _train(tmp_path_factory, {"name": "ae", "hidden": [128], "latent_dim": 8}, epochs=2)


@pytest.fixture(scope="session")
def pca(tmp_path_factory) -> Trained:
    return _train(tmp_path_factory, {"name": "pca", "n_components": 24}, binarize="none")


@pytest.fixture(scope="session")
def mean(tmp_path_factory) -> Trained:
    return _train(tmp_path_factory, {"name": "mean"}, binarize="none")


@pytest.fixture(scope="session")
def pixelcnn(tmp_path_factory) -> Trained:
    """No latent space: completes in raster order from its own conditionals."""
    return _train(tmp_path_factory, {"name": "pixelcnn", "layers": 2, "features": 8}, epochs=1)


@pytest.fixture(params=["vae", "ae", "pca"])
def family(request) -> Trained:
    """The same check on a VAE, an autoencoder and PCA: nothing may assume a family."""
    return request.getfixturevalue(request.param)
