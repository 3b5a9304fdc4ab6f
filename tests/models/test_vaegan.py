"""VAE/GAN (Larsen et al. 2016): its losses, the gradients each player's update carries, the
model contract (samples, save/load) and a tiny run through the trainer and a latent tool."""

from __future__ import annotations

import json

import pytest
import torch

import genlab
from genlab.errors import ConfigError
from genlab.latent import experiments as ex
from genlab.models.core.base import Batch
from genlab.models.core.capabilities import Decoder, Encoder, HasELBO, has
from genlab.models.families.adversarial.vaegan import PLAYERS, VAEGAN
from genlab.models.registry import build_model, model_config_class
from genlab.training.checkpoint import (
    atomic_save,
    model_from_checkpoint,
    model_meta,
    read_checkpoint,
)
from genlab.training.config import RunConfig

SMALL = {"hidden": [32], "channels": [8, 16], "res_blocks": 1, "latent_dim": 4,
         "feature_dim": 16}
TERMS = {
    "encoder": {"kl", "feature_nll", "nll", "neg_elbo"},
    "decoder": {"g_loss"},
    "discriminator": {"d_loss", "d_real", "d_fake"},
}


def make(net: str = "mlp", shape: tuple[int, int, int] = (1, 28, 28), **options) -> VAEGAN:
    torch.manual_seed(0)
    cfg = model_config_class("vaegan")(name="vaegan", net=net, **{**SMALL, **options})
    return build_model(cfg, shape, num_classes=10)


def batch(shape: tuple[int, int, int] = (1, 28, 28), n: int = 6) -> Batch:
    gen = torch.Generator().manual_seed(1)
    return Batch(torch.rand(n, *shape, generator=gen), torch.arange(n) % 10)


def grads_of(model: VAEGAN, name: str, total: torch.Tensor) -> list[torch.Tensor | None]:
    """What a backward of ``total`` leaves on every parameter, after clearing all gradients."""
    model.zero_grad(set_to_none=True)
    total.backward()
    return [p.grad for p in model.parameters()]


@pytest.mark.parametrize(("net", "shape"), [("mlp", (1, 28, 28)), ("conv", (1, 28, 28)),
                                            ("resnet", (3, 32, 32))])
def test_forward_and_finite_losses(net, shape):
    model = make(net, shape)
    assert has(model, Encoder) and has(model, Decoder) and has(model, HasELBO)
    losses = model.objectives(batch(shape))
    assert list(losses) == list(PLAYERS) == [p.name for p in model.players()]
    for name, out in losses.items():
        assert set(out.terms) == TERMS[name]
        assert out.total.ndim == 0 and torch.isfinite(out.total)
        assert all(torch.isfinite(v) for v in out.terms.values())
    assert model.elbo(batch(shape).x).shape == (6,)


def test_players_split_the_parameters():
    model = make("conv", likelihood="gaussian", sigma_mode="global")
    owned = [id(p) for params in model.param_groups().values() for p in params]
    assert sorted(owned) == sorted(id(p) for p in model.parameters())
    assert {id(model.likelihood.log_sigma)} <= {id(p) for p in model.param_groups()["decoder"]}


@pytest.mark.parametrize("net", ["mlp", "conv"])
def test_each_update_carries_its_own_loss_into_its_own_parameters(net):
    """The shared forward pass gives each player exactly the gradient of its own loss on a
    separate pass at the same parameters and noise, and nothing on the others' parameters."""
    model, b = make(net), batch()
    groups = model.param_groups()
    owner = {id(p): name for name, params in groups.items() for p in params}
    torch.manual_seed(5)
    shared = {name: grads_of(model, name, out.total)
              for name, out in model.player_losses(b).items()}
    for name in PLAYERS:
        torch.manual_seed(5)
        alone = torch.autograd.grad(model.objectives(b)[name].total, list(model.parameters()),
                                    allow_unused=True)
        for p, got, want in zip(model.parameters(), shared[name], alone, strict=True):
            if owner[id(p)] != name:
                assert got is None, (name, owner[id(p)])
            elif want is not None:
                assert torch.allclose(got, want, atol=1e-6), name
        assert any(g is not None and g.abs().sum() > 0 for g in shared[name])
    # A player's objective alone touches nothing of the others' either.
    for player in model.players():
        left = grads_of(model, player.name, player.objective(b).total)
        assert all(g is None for p, g in zip(model.parameters(), left, strict=True)
                   if owner[id(p)] != player.name)


def test_the_adversarial_loss_does_not_reach_the_encoder():
    """gamma weighs only the decoder's loss (Larsen et al.'s limited error signals): the
    encoder's gradient is the same for any gamma, the decoder's is not."""
    out = {}
    for gamma in (1.0, 5.0):
        model, b = make(gamma=gamma), batch()
        torch.manual_seed(5)
        losses = model.player_losses(b)
        out[gamma] = {name: [g for g in grads_of(model, name, losses[name].total)
                             if g is not None] for name in ("encoder", "decoder")}
    assert all(torch.allclose(a, b) for a, b in zip(out[1.0]["encoder"], out[5.0]["encoder"],
                                                    strict=True))
    assert not all(torch.allclose(a, b) for a, b in zip(out[1.0]["decoder"],
                                                        out[5.0]["decoder"], strict=True))


def test_bad_weights_are_refused():
    with pytest.raises(ConfigError, match="model.gamma must not be negative"):
        make(gamma=-1.0)
    with pytest.raises(ConfigError, match="model.feature_dim must be positive"):
        make(feature_dim=0)


def test_samples_and_a_save_load_round_trip(tmp_path):
    model = make("conv")
    model.player_losses(batch())  # move the BatchNorm statistics off their start
    model.eval()
    samples = model.sample(5, generator=torch.Generator().manual_seed(2))
    assert samples.shape == (5, 1, 28, 28) and samples.min() >= 0 and samples.max() <= 1
    path = tmp_path / "m.safetensors"
    meta = model_meta(model, RunConfig(model=model.config).to_dict())
    atomic_save(path, {f"model.{k}": v for k, v in model.state_dict().items()}, meta)
    loaded = model_from_checkpoint(read_checkpoint(path), path)
    assert isinstance(loaded, VAEGAN) and loaded.config == model.config
    z = torch.randn(3, model.latent_dim)
    with torch.no_grad():
        assert torch.equal(model.decode(z).mean, loaded.decode(z).mean)
        x = batch().x
        assert torch.equal(model.discriminator(x)[1], loaded.discriminator(x)[1])


@pytest.mark.slow
def test_a_tiny_run_trains_samples_and_runs_a_latent_experiment(tmp_path):
    config = {
        "model": {"name": "vaegan", "net": "mlp", **SMALL},
        "data": {"dataset": "mnist-mini", "val_size": 200},
        "train": {"epochs": 1, "batch_size": 500, "progress": False, "seed": 0,
                  "device": "cpu", "epoch_samples": 0},
    }
    result = genlab.train(config, out=tmp_path / "run")
    row = result.history[0]
    for key in ("train/loss.encoder", "train/loss.decoder", "train/loss.discriminator",
                "train/feature_nll", "train/g_loss", "val/d_real", "val/kl", "val/loss"):
        assert key in row and torch.isfinite(torch.tensor(row[key])), key
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["selection"] == {"metric": "last epoch", "best": None}
    ckpt = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.safetensors")
    for name in PLAYERS:  # three optimisers, each stepped once per batch, at the family's lr
        assert ckpt.meta["optimizers"][name]["param_groups"][0]["lr"] == 3e-4
        assert float(ckpt.tensors[f"optim.{name}.0.step"]) == ckpt.meta["step"] == 20

    run = genlab.load(str(tmp_path / "run"))
    images = run.sample(8)
    assert images.shape == (8, 1, 28, 28) and images.min() >= 0 and images.max() <= 1
    sel = run.select("test", n=3)
    moved = ex.perturb(run, sel, [0.0, 1.0], torch.Generator().manual_seed(0))
    assert moved.numbers["codes_from"] == "encoder"
    assert torch.allclose(moved.rows[2], moved.rows[1], atol=1e-6)  # sigma 0: the code itself
