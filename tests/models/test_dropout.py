"""Dropout in a VAE's or AE's encoder, or in both halves (seed 001): after every hidden
activation of the mlp and conv backbones, active in training only; off, no module at all."""

from __future__ import annotations

import argparse

import pytest
import torch
from torch import nn

from genlab.errors import ConfigError
from genlab.models.registry import build_model
from genlab.training.config import apply_overrides, config_from_dict

NETS = {"mlp": {"hidden": [32, 16]}, "conv": {"channels": [8, 16]}}


def model(family: str = "vae", **options):
    torch.manual_seed(0)
    config = config_from_dict({"model": {"name": family, "latent_dim": 4, **options}})
    return build_model(config.model, (1, 28, 28), num_classes=10)


def dropouts(net: nn.Module) -> list[float]:
    return [m.p for m in net.modules() if isinstance(m, nn.Dropout)]


@pytest.mark.parametrize("net", list(NETS))
@pytest.mark.parametrize("where", ["encoder", "both"])
def test_one_dropout_after_each_hidden_layer_of_the_halves_asked_for(net, where) -> None:
    m = model(net=net, dropout=0.3, dropout_in=where, **NETS[net])
    hidden = 2  # two hidden widths, or two conv stages, in each half
    assert dropouts(m.encoder) == [0.3] * hidden
    assert dropouts(m.decoder) == ([0.3] * hidden if where == "both" else [])
    assert dropouts(model(net=net, **NETS[net])) == []  # off: no module, old checkpoints load


@pytest.mark.parametrize("net", list(NETS))
def test_dropout_draws_in_training_and_is_off_in_evaluation(net) -> None:
    x = torch.rand(8, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    z = torch.randn(8, 4, generator=torch.Generator().manual_seed(1))
    for where in ("encoder", "both"):
        m = model(net=net, dropout=0.5, dropout_in=where, **NETS[net])
        m.eval()
        assert torch.equal(m.encode(x).mean, m.encode(x).mean)
        assert torch.equal(m.decode(z).mean, m.decode(z).mean)
        m.train()
        assert not torch.equal(m.encode(x).mean, m.encode(x).mean)
        assert torch.equal(m.decode(z).mean, m.decode(z).mean) == (where == "encoder")


def test_an_autoencoders_prior_is_fitted_to_its_evaluation_codes() -> None:
    """The trainer refits the AE's prior right after an epoch's training pass: with dropout
    (and BatchNorm) the codes must be the eval-mode ones, the same as at sampling time."""
    m = model("ae", net="conv", dropout=0.5, **NETS["conv"])
    x = torch.rand(64, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    m.train()
    m.fit_prior(x, torch.zeros(64, dtype=torch.long))
    assert m.training
    m.eval()
    with torch.no_grad():
        codes = m.encode(x)
    torch.testing.assert_close(m.code_mean, codes.mean(0))
    torch.testing.assert_close(m.code_std, codes.std(0))


def test_the_vaegan_discriminator_keeps_no_dropout() -> None:
    m = model("vaegan", dropout=0.2, dropout_in="both", hidden=[16], feature_dim=8)
    assert dropouts(m.encoder) == [0.2] and dropouts(m.decoder) == [0.2]
    assert dropouts(m.discriminator) == []


def test_yaml_set_and_flags_reach_dropout(monkeypatch, tmp_path) -> None:
    from genlab.cli import train_flags

    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path))
    raw = apply_overrides({"model": {"name": "cvae"}},
                          ["model.dropout=0.25", "model.dropout_in=both"])
    assert config_from_dict(raw).model.dropout_rates() == (0.25, 0.25)
    p = argparse.ArgumentParser()
    train_flags.add_train_flags(p, "iwae")
    args = p.parse_args(["iwae", "--dropout", "0.1", "--dropout-in", "both"])
    assert train_flags.flag_values(args)["model"] == {"dropout": 0.1, "dropout_in": "both"}
    with pytest.raises(SystemExit):
        p.parse_args(["iwae", "--dropout-in", "decoder"])


@pytest.mark.parametrize(("options", "message"), [
    ({"dropout": 1.0}, r"model\.dropout must be in \[0, 1\) \(0 = off\), got 1\.0"),
    ({"dropout": -0.1}, r"model\.dropout must be in \[0, 1\)"),
    ({"dropout": 0.2, "net": "resnet"}, r"model\.dropout applies to the mlp and conv "
                                        r"backbones, not net=resnet"),
    ({"dropout_in": "both"}, r"model\.dropout_in=both has no dropout to place"),
])
def test_dropout_that_cannot_apply_is_refused(options, message) -> None:
    with pytest.raises(ConfigError, match=message):
        config_from_dict({"model": {"name": "vae", **options}})
    with pytest.raises(ConfigError, match=r"model\.dropout .*not an option of dcgan"):
        config_from_dict({"model": {"name": "dcgan", "dropout": 0.2}})


def test_a_trained_run_reopens_with_its_dropout_and_reconstructs_deterministically(
        tmp_path) -> None:
    import genlab

    out = tmp_path / "vae"
    genlab.train({"model": {"name": "vae", "hidden": [16], "latent_dim": 2, "dropout": 0.5,
                            "dropout_in": "both"},
                  "data": {"val_size": 500},
                  "train": {"epochs": 1, "progress": False, "epoch_samples": 0}}, out=out)
    run = genlab.load(out)
    assert dropouts(run.model) == [0.5, 0.5] and not run.model.training
    sel = run.select("test", 8)
    assert torch.equal(run.reconstruct(sel.x), run.reconstruct(sel.x))
