from __future__ import annotations

import pytest
import torch
from safetensors.torch import save_file

from genlab.errors import CheckpointError
from genlab.models.vae import VAE, VAEConfig
from genlab.training.checkpoint import (
    atomic_save,
    load_model,
    load_weights,
    read_checkpoint,
)


def test_atomic_save_leaves_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "c.safetensors"
    atomic_save(path, {"a": torch.ones(2)}, {"format": "x"})
    before = path.read_bytes()

    def broken(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr("genlab.training.checkpoint.save", broken)
    with pytest.raises(OSError):
        atomic_save(path, {"a": torch.zeros(2)}, {"format": "x"})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]


def test_not_a_checkpoint_is_named(tmp_path):
    junk = tmp_path / "junk.safetensors"
    junk.write_bytes(b"hello world, not safetensors")
    with pytest.raises(CheckpointError, match="junk.safetensors is not a genlab checkpoint"):
        read_checkpoint(junk)
    plain = tmp_path / "plain.safetensors"
    save_file({"w": torch.ones(1)}, str(plain))
    with pytest.raises(CheckpointError, match="not a genlab checkpoint"):
        read_checkpoint(plain)
    with pytest.raises(CheckpointError, match="no such run"):
        load_model(tmp_path / "missing")
    with pytest.raises(CheckpointError, match="holds no checkpoint"):
        load_model(tmp_path)


def test_mismatched_weights_are_refused(tmp_path):
    small = VAE(VAEConfig(net="mlp", hidden=[8], latent_dim=2), (1, 28, 28), 10)
    other = VAE(VAEConfig(net="mlp", hidden=[8], latent_dim=3), (1, 28, 28), 10)
    with pytest.raises(CheckpointError, match="expects"):
        load_weights(other, small.state_dict(), tmp_path / "x")
    conv = VAE(VAEConfig(net="conv", channels=[4, 8], latent_dim=2), (1, 28, 28), 10)
    with pytest.raises(CheckpointError, match="missing|unexpected"):
        load_weights(conv, small.state_dict(), tmp_path / "x")
