"""Tiny runs on the embedded mnist-mini and an explorer serving them, shared by the session.

Each run trains one epoch on 2,000 images (the rest is validation): a 16-D VAE (more than 12
dimensions, so its sliders are principal directions, and an ``evaluation.json`` beside it), a
2-D VAE (raw sliders, a raw map), a conditional VAE, and an untrained GAN (no encoder: codes
by inversion).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
import torch

import genlab
from genlab.explore.session import Explorer
from genlab.models.registry import build_model
from genlab.runs import Run, open_run
from genlab.training.config import config_from_dict

EVALUATION = {"run": {}, "n": 100, "split": "test", "seed": 0,
              "metrics": {"nll": {"nll_nats": 123.4, "nll_bpd": 0.227, "neg_elbo_nats": 130.1},
                          "fid": {"fid": 42.0}},
              "skipped": {"kid": "not asked"}}


def _train(root: Path, name: str, model: dict) -> Path:
    out = root / name
    genlab.train({
        "model": dict(model),
        "data": {"dataset": "mnist-mini", "binarize": "dynamic", "val_size": 8000},
        "train": {"epochs": 1, "batch_size": 256, "lr": 2e-3, "progress": False, "seed": 0,
                  "device": "cpu"},
    }, out=out)
    return out


@pytest.fixture(scope="session")
def run_dirs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("explore-runs")
    dirs = {
        "vae16": _train(root, "vae16", {"name": "vae", "hidden": [64], "latent_dim": 16}),
        "vae2": _train(root, "vae2", {"name": "vae", "hidden": [64], "latent_dim": 2}),
        "cvae": _train(root, "cvae", {"name": "cvae", "hidden": [64], "latent_dim": 4}),
    }
    (dirs["vae16"] / "evaluation.json").write_text(json.dumps(EVALUATION))
    return dirs


def untrained(folder: Path, model: dict) -> Run:
    """A seeded, untrained model as a Run, built in memory (no training, no checkpoint)."""
    config = config_from_dict({"model": dict(model),
                               "data": {"dataset": "mnist-mini"}})
    torch.manual_seed(0)
    net = build_model(config.model, (1, 28, 28), 10).eval()
    return Run(net, config, folder / "untrained.safetensors", {})


def gan_run(folder: Path) -> Run:
    """An untrained MLP GAN: a decoder and a prior, no encoder."""
    return untrained(folder, {"name": "gan", "latent_dim": 8})


@pytest.fixture(scope="session")
def explorer(run_dirs: dict[str, Path], tmp_path_factory: pytest.TempPathFactory
             ) -> Iterator[Explorer]:
    """Runs 0..3: vae16, vae2, cvae, gan."""
    runs = [(name, open_run(path)) for name, path in run_dirs.items()]
    runs.append(("gan", gan_run(tmp_path_factory.mktemp("gan"))))
    state = Explorer(runs)
    yield state
    state.close()


@pytest.fixture(scope="session")
def untrained_explorer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Explorer]:
    """The same layout with untrained models (instant): for validation and safety tests, which
    need the shapes and the dataset, not good codes. Runs 0..3: vae16, vae2, cvae, gan."""
    folder = tmp_path_factory.mktemp("untrained")
    state = Explorer([
        ("vae16", untrained(folder, {"name": "vae", "hidden": [32], "latent_dim": 16})),
        ("vae2", untrained(folder, {"name": "vae", "hidden": [32], "latent_dim": 2})),
        ("cvae", untrained(folder, {"name": "cvae", "hidden": [32], "latent_dim": 4})),
        ("gan", gan_run(folder)),
    ])
    yield state
    state.close()
