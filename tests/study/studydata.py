"""The tiny study the study tests share (a module, so that tests can import it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genlab.study.runner import Executor

HERE = Executor(workers=1)
"""Runs one after another in the test's process (where its monkeypatches apply)."""


def tiny_study(classifier: Path, **over: Any) -> dict[str, Any]:
    """A study mapping: class mean, PCA, a 2-D VAE and a GAN, one epoch each."""
    study: dict[str, Any] = {
        "name": "tiny study",
        "data": {"dataset": "mnist-mini", "val_size": 9000},
        "train": {"epochs": 1, "batch_size": 256, "progress": False, "device": "cpu",
                  "epoch_samples": 0},
        "models": [
            {"label": "mean", "config": {"model": {"name": "mean"}}},
            {"label": "pca", "config": {"model": {"name": "pca", "n_components": 8,
                                                  "explained_variance": None}}},
            {"label": "vae", "config": {"model": {"name": "vae", "hidden": [32], "latent_dim": 2},
                                        "data": {"binarize": "dynamic"}},
             "set": ["train.epochs=2"]},
            {"label": "gan", "config": {"model": {"name": "gan", "latent_dim": 8}}},
        ],
        "evaluation": {"metrics": ["nll", "recon", "fid", "confidence", "believability"],
                       "n": 64, "nll_images": 8, "iw_samples": 10, "classifier": str(classifier)},
        "perturbations": {"images": 12, "sigmas": [1.0], "alphas": [0.5, 1.0],
                          "source_class": "4", "target_class": "9"},
        "figures": {"samples": 16, "images": 4, "interpolation_steps": 4, "map_images": 100},
    }
    study.update(over)
    return study
