from __future__ import annotations

from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

from genlab.errors import CheckpointError
from genlab.models.families.autoencoders.vae import VAE, VAEConfig
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

    def broken(tensors, filename, metadata=None):
        Path(filename).write_bytes(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr("genlab.training.checkpoint.save_file", broken)
    with pytest.raises(OSError):
        atomic_save(path, {"a": torch.zeros(2)}, {"format": "x"})
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["c.safetensors"]


@pytest.mark.parametrize("links", [True, False])
def test_further_paths_hold_the_same_file_and_survive_the_next_save(tmp_path, monkeypatch, links):
    last, best = tmp_path / "last.safetensors", tmp_path / "best.safetensors"
    if not links:  # a file system without hard links: a copy instead
        monkeypatch.setattr("genlab.training.checkpoint.os.link", _no_links)
    atomic_save([last, best], {"a": torch.ones(2)}, {"format": "x", "epoch": 1})
    assert best.read_bytes() == last.read_bytes()
    atomic_save(last, {"a": torch.zeros(2)}, {"format": "x", "epoch": 2})
    assert torch.equal(load_file(str(best))["a"], torch.ones(2))
    assert torch.equal(load_file(str(last))["a"], torch.zeros(2))
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best.safetensors", "last.safetensors"]


def _no_links(src, dst):
    raise OSError("hard links are not supported here")


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
