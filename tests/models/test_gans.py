"""The adversarial families: their contract, their losses, the gradient penalty against finite
differences, conditioning, and exact resume through the real trainer."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.nn.functional import binary_cross_entropy_with_logits

import genlab
from genlab.errors import ConfigError
from genlab.models.core.base import Batch
from genlab.models.core.capabilities import Decoder, Encoder
from genlab.models.parts import adversarial_losses as adv
from genlab.models.registry import MODELS, build_model, model_config_class
from genlab.training.checkpoint import (
    atomic_save,
    model_from_checkpoint,
    model_meta,
    read_checkpoint,
)
from genlab.training.config import RunConfig, TrainConfig
from genlab.training.optim import player_settings

GANS = ["gan", "lsgan", "dcgan", "wgan-gp", "cgan"]
CONV = ["dcgan", "wgan-gp", "cgan"]
SHAPES = [(1, 28, 28), (3, 32, 32), (3, 64, 64)]
TERMS = {
    "discriminator": {"d_loss", "d_real", "d_fake"},
    "generator": {"g_loss"},
}


def _cases() -> list[tuple[str, dict, tuple[int, int, int]]]:
    cases = [(f, {}, s) for f in ("gan", "lsgan") for s in SHAPES[:2]]
    cases += [(f, {"channels": [8, 16]}, s) for f in CONV for s in SHAPES]
    # three stages on 28x28: 28 -> 14 -> 7 -> 3, and the generator's 3 -> 7 output padding
    cases += [(f, {"channels": [4, 8, 8]}, (1, 28, 28)) for f in CONV]
    cases.append(("gan", {"loss": "minimax"}, (1, 28, 28)))
    cases += [(f, {"channels": [8, 16], "norm": "spectral"}, (1, 28, 28)) for f in CONV]
    return cases


def make(family: str, options: dict, shape: tuple[int, int, int]):
    torch.manual_seed(0)
    cfg = model_config_class(family)(name=family, latent_dim=8, **options)
    return build_model(cfg, shape, num_classes=10)


def roundtrip(model, tmp_path):
    path = tmp_path / "m.safetensors"
    meta = model_meta(model, RunConfig(model=model.config).to_dict())
    atomic_save(path, {f"model.{k}": v for k, v in model.state_dict().items()}, meta)
    return model_from_checkpoint(read_checkpoint(path), path)


def test_every_adversarial_family_is_registered():
    assert set(GANS) <= set(MODELS)


@pytest.mark.parametrize(
    ("family", "options", "shape"), _cases(), ids=lambda v: v if isinstance(v, str) else None
)
def test_adversarial_contract(family, options, shape, tmp_path):
    model = make(family, options, shape)
    assert isinstance(model, Decoder) and not isinstance(model, Encoder)
    groups = model.param_groups()
    trainable = {id(p) for p in model.parameters() if p.requires_grad}
    owned = [id(p) for params in groups.values() for p in params]
    assert sorted(owned) == sorted(trainable)  # the players split the parameters, no overlap
    batch = Batch(torch.rand(6, *shape), torch.arange(6) % 10)
    for player in model.players():
        out = player.objective(batch)
        expected = TERMS[player.name] | (
            {"gp"} if player.name == "discriminator" and family == "wgan-gp" else set()
        )
        assert set(out.terms) == expected
        assert out.total.ndim == 0 and torch.isfinite(out.total)
        assert all(torch.isfinite(v) for v in out.terms.values())
        # The objective trains its own player and leaves no gradient on the other one.
        model.zero_grad(set_to_none=True)
        out.total.backward()
        for name, params in groups.items():
            grads = [p.grad for p in params]
            if name == player.name:
                assert any(g is not None for g in grads)
                assert all(torch.isfinite(g).all() for g in grads if g is not None)
            else:
                assert all(g is None for g in grads), (player.name, name)

    model.eval()
    with torch.no_grad():
        samples = model.sample(
            5, labels=torch.tensor([3]), generator=torch.Generator().manual_seed(1)
        )
        again = model.sample(
            5, labels=torch.tensor([3]), generator=torch.Generator().manual_seed(1)
        )
    assert samples.shape == (5, *shape) and samples.min() >= 0 and samples.max() <= 1
    assert torch.equal(samples, again)

    loaded = roundtrip(model, tmp_path)
    z = torch.randn(3, model.latent_dim)
    labels = torch.zeros(3, dtype=torch.long) if model.conditional else None
    with torch.no_grad():
        assert torch.equal(model.decode(z, labels).mean, loaded.decode(z, labels).mean)


def test_losses_match_their_definitions():
    real, fake = torch.tensor([2.0, -1.0, 0.5]), torch.tensor([-0.3, 1.2, 0.0])
    ones, zeros = torch.ones(3), torch.zeros(3)
    bce = binary_cross_entropy_with_logits
    assert torch.allclose(adv.minimax_discriminator(real, fake), bce(real, ones) + bce(fake, zeros))
    d_fake = torch.sigmoid(fake)
    assert torch.allclose(adv.minimax_generator(fake), torch.log1p(-d_fake).mean())
    assert torch.allclose(adv.non_saturating_generator(fake), -torch.log(d_fake).mean())
    assert torch.allclose(
        adv.least_squares_discriminator(real, fake),
        0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean(),
    )
    assert torch.allclose(adv.least_squares_generator(fake), 0.5 * ((fake - 1) ** 2).mean())
    assert torch.allclose(adv.wasserstein_critic(real, fake), fake.mean() - real.mean())
    assert torch.allclose(adv.wasserstein_generator(fake), -fake.mean())
    # at D = 1/2 everywhere the minimax game's value is -log 4 (Goodfellow et al. 2014)
    assert math.isclose(float(adv.minimax_discriminator(zeros, zeros)), math.log(4), rel_tol=1e-6)


def test_gradient_penalty_matches_finite_differences():
    torch.manual_seed(0)
    critic = nn.Sequential(nn.Flatten(), nn.Linear(4, 5), nn.Tanh(), nn.Linear(5, 1)).double()
    real, fake = torch.randn(3, 1, 2, 2).double(), torch.randn(3, 1, 2, 2).double()
    torch.manual_seed(7)
    gp = adv.gradient_penalty(critic, real, fake)
    torch.manual_seed(7)
    t = torch.rand(3, 1, 1, 1, dtype=torch.float64)
    mix = fake + t * (real - fake)
    eps = 1e-6
    grads = torch.zeros(3, 4, dtype=torch.float64)
    with torch.no_grad():
        for i in range(4):
            step = torch.zeros(4, dtype=torch.float64)
            step[i] = eps
            step = step.view(1, 1, 2, 2)
            grads[:, i] = (critic(mix + step) - critic(mix - step)).squeeze(1) / (2 * eps)
    expected = ((grads.norm(dim=1) - 1) ** 2).mean()
    assert torch.allclose(gp, expected, rtol=1e-7, atol=1e-9)
    gp.backward()  # the penalty is differentiable in the critic's weights
    assert all(m.weight.grad.abs().sum() > 0 for m in critic if isinstance(m, nn.Linear))


def test_wgan_gp_trains_the_critic_n_times_per_generator_step():
    model = make("wgan-gp", {"channels": [4, 8], "n_critic": 3}, (1, 28, 28))
    every = {p.name: p.every for p in model.players()}
    assert every == {"discriminator": 1, "generator": 3}
    assert model.eval_with_grad and model.selection_metric is None


def test_optimiser_defaults_follow_the_papers():
    cfg = TrainConfig()
    for family, lr, betas in [
        ("dcgan", 2e-4, (0.5, 0.999)),
        ("gan", 2e-4, (0.5, 0.999)),
        ("wgan-gp", 1e-4, (0.0, 0.9)),
    ]:
        model = make(family, {} if family == "gan" else {"channels": [4, 8]}, (1, 28, 28))
        for player in ("discriminator", "generator"):
            settings = player_settings(model, cfg, player)
            assert settings["lr"] == lr and settings["betas"] == betas, (family, player)


def test_the_fully_connected_networks_have_the_exercise_widths():
    model = make("gan", {}, (1, 28, 28))
    linear = [m for m in model.discriminator.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [(784, 256), (256, 256), (256, 1)]
    assert all(
        m.negative_slope == 0.01
        for m in model.discriminator.modules()
        if isinstance(m, nn.LeakyReLU)
    )
    linear = [m for m in model.generator.modules() if isinstance(m, nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linear] == [
        (8, 1024),
        (1024, 1024),
        (1024, 784),
    ]
    assert model_config_class("gan")().latent_dim == 96


def test_wgan_gp_critic_has_no_batchnorm():
    model = make("wgan-gp", {"channels": [4, 8, 8]}, (3, 32, 32))
    assert not any(isinstance(m, nn.BatchNorm2d) for m in model.discriminator.modules())
    assert any(isinstance(m, nn.GroupNorm) for m in model.discriminator.modules())


@pytest.mark.parametrize("family", CONV)
def test_spectral_norm_makes_every_discriminator_layer_1_lipschitz(family):
    """Miyato et al. (2018): after enough power iterations (one per training forward pass)
    each weight's largest singular value, as the layer uses it, is 1."""
    model = make(family, {"channels": [4, 8], "norm": "spectral"}, (1, 28, 28))
    d = model.discriminator.train()
    assert not any(isinstance(m, nn.BatchNorm2d | nn.GroupNorm) for m in d.modules())
    x, y = torch.rand(4, 1, 28, 28) * 2 - 1, torch.arange(4)
    with torch.no_grad():
        for _ in range(200):
            model.discriminate(x, y)
    layers = [m for m in d.modules() if isinstance(m, nn.Conv2d | nn.Linear | nn.Embedding)]
    assert layers and all(nn.utils.parametrize.is_parametrized(m, "weight") for m in layers)
    d.eval()
    for m in layers:
        sigma = torch.linalg.matrix_norm(m.weight.detach().flatten(1), ord=2)
        assert sigma == pytest.approx(1.0, abs=1e-3), m


def test_cgan_labels_reach_both_networks():
    model = make("cgan", {"channels": [4, 8]}, (1, 28, 28)).eval()
    seen = []
    model.generator.embed.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    z = torch.randn(4, model.latent_dim)
    with torch.no_grad():
        threes = model.sample(
            4, labels=torch.tensor([3]), generator=torch.Generator().manual_seed(0)
        )
        assert torch.equal(seen[-1], torch.full((4,), 3))
        fives = model.sample(
            4, labels=torch.tensor([5]), generator=torch.Generator().manual_seed(0)
        )
        assert torch.equal(seen[-1], torch.full((4,), 5))
        assert not torch.allclose(threes, fives)
        assert not torch.allclose(
            model.decode(z, torch.full((4,), 1)).mean, model.decode(z, torch.full((4,), 2)).mean
        )
        x = torch.rand(4, 1, 28, 28) * 2 - 1
        assert not torch.allclose(
            model.discriminate(x, torch.full((4,), 1)), model.discriminate(x, torch.full((4,), 2))
        )
    with pytest.raises(ConfigError, match="conditional"):
        model.decode(z)


@pytest.mark.parametrize(
    ("family", "options", "match"),
    [
        ("gan", {"loss": "least-squares"}, "model.loss"),
        ("lsgan", {"loss": "minimax"}, "model.loss"),
        ("wgan-gp", {"loss": "non-saturating"}, "model.loss"),
        ("wgan-gp", {"n_critic": 0}, "n_critic"),
        ("cgan", {"embed_dim": 0}, "embed_dim"),
        ("dcgan", {"channels": [4, 4, 4, 4, 4, 4]}, "too small"),
        ("dcgan", {"norm": "instance"}, "model.norm"),
        ("wgan-gp", {"norm": "batch"}, "model.norm=batch is not valid for wgan-gp"),
    ],
)
def test_bad_options_are_named(family, options, match):
    with pytest.raises(ConfigError, match=match):
        make(family, options, (1, 28, 28))


def _tiny(family: str, epochs: int, ema: float = 0.0, **model) -> dict:
    small = (
        {"latent_dim": 8} if family in ("gan", "lsgan") else {"latent_dim": 8, "channels": [4, 8]}
    )
    return {
        "model": {"name": family, **small, **model},
        "data": {"dataset": "mnist-mini", "val_size": 200},
        "train": {
            "epochs": epochs,
            "batch_size": 500,
            "progress": False,
            "seed": 3,
            "device": "cpu",
            "ema": ema,
        },
    }


@pytest.mark.slow
@pytest.mark.parametrize("family", GANS)
def test_one_tiny_epoch_trains_and_loads(family, tmp_path):
    run = tmp_path / family
    result = genlab.train(_tiny(family, 1), out=run)
    row = result.history[0]
    for key in (
        "train/loss.discriminator",
        "train/loss.generator",
        "train/d_real",
        "train/d_fake",
        "train/g_loss",
        "val/d_loss",
    ):
        assert math.isfinite(row[key]), key
    assert (run / "checkpoints" / "last.safetensors").exists()
    samples = genlab.load(str(run)).sample(8)
    assert samples.shape == (8, 1, 28, 28) and samples.min() >= 0 and samples.max() <= 1


@pytest.mark.slow
@pytest.mark.parametrize(
    ("family", "model"),
    [("wgan-gp", {"n_critic": 3}), ("dcgan", {"norm": "spectral"})],
)
def test_a_gan_with_ema_killed_and_resumed_is_exact(
    family, model, tmp_path, interrupted_then_resumed
):
    """Two optimisers, the EMA and (spectral norm) the power-iteration vectors all resume."""
    cfg = _tiny(family, 2, ema=0.9, **model)
    cfg["train"]["schedule"] = "cosine"
    genlab.train(cfg, out=tmp_path / "full")
    result = interrupted_then_resumed(cfg, tmp_path / "cut", epoch=1)
    assert [r["epoch"] for r in result.history] == [1, 2]
    full, cut = (
        read_checkpoint(tmp_path / run / "checkpoints" / "last.safetensors").tensors
        for run in ("full", "cut")
    )
    assert full.keys() == cut.keys()
    assert any(k.startswith("live.") for k in full)
    assert {k.split(".")[1] for k in full if k.startswith("optim.")} == {
        "discriminator",
        "generator",
    }
    for k in full:
        assert torch.equal(full[k], cut[k]), k
