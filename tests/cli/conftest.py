"""CLI tests keep genlab's cache (the ``genlab train`` flag table, folder caches) in a temp dir,
shared by the session so the flag table is derived once."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def cli_cache(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("genlab-cache")


@pytest.fixture(autouse=True)
def _cache_in_tmp(cli_cache: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENLAB_CACHE", str(cli_cache))


@pytest.fixture(scope="session")
def tiny_vae(tmp_path_factory: pytest.TempPathFactory) -> str:
    """One tiny VAE (2-D codes, one epoch on mnist-mini), trained once for the session."""
    import genlab

    out = tmp_path_factory.mktemp("tiny") / "vae"
    genlab.train({"model": {"name": "vae", "hidden": [16], "latent_dim": 2},
                  "data": {"val_size": 500, "binarize": "dynamic"},
                  "train": {"epochs": 1, "progress": False, "epoch_samples": 0}}, out=out)
    return str(out)
