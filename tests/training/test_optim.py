"""Optimisers: fused Adam kernels where torch has them, the same update as the foreach path."""

from __future__ import annotations

import pytest
import torch

from genlab.models.core.base import Batch
from genlab.models.registry import build_model, model_config_class
from genlab.training.checkpoint import (
    FORMAT,
    atomic_save,
    optimizer_state,
    read_checkpoint,
    restore_optimizer,
)
from genlab.training.config import TrainConfig
from genlab.training.optim import build_optimizers, fusable


def vae():
    torch.manual_seed(0)
    cfg = model_config_class("vae")(name="vae", net="mlp", hidden=[32], latent_dim=4)
    return build_model(cfg, (1, 28, 28), num_classes=10)


def steps(model, opt, n: int = 3) -> None:
    x = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(1))
    batch = Batch(x.round(), torch.zeros(16, dtype=torch.long))
    for i in range(n):
        opt.zero_grad(set_to_none=True)
        torch.manual_seed(i)  # the same reparameterisation noise for both optimisers
        model.players()[0].objective(batch).total.backward()
        opt.step()


@pytest.mark.parametrize("kind", ["adam", "adamw"])
def test_adam_on_a_cpu_is_fused_and_sgd_is_not(kind):
    opts = build_optimizers(vae(), TrainConfig(optimizer=kind))
    assert opts["model"].defaults["fused"] is True
    assert not build_optimizers(vae(), TrainConfig(optimizer="sgd"))["model"].defaults.get("fused")


def test_only_float_tensors_on_a_cpu_or_cuda_device_fuse():
    assert fusable([torch.nn.Parameter(torch.zeros(2))])
    assert not fusable([torch.nn.Parameter(torch.zeros(2, device="meta"))])
    assert not fusable([])


@pytest.mark.parametrize("kind", ["adam", "adamw"])
def test_the_fused_step_is_the_foreach_step(kind):
    """Same weights after three steps to float rounding (the kernels order their float
    operations differently: 1e-6 relative, far below one step's change)."""
    fused, plain = vae(), vae()
    cfg = TrainConfig(optimizer=kind, weight_decay=0.01)
    steps(fused, build_optimizers(fused, cfg)["model"])
    settings = build_optimizers(plain, cfg)["model"].defaults
    adam = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
    steps(plain, adam(plain.parameters(), lr=settings["lr"], betas=settings["betas"],
                      weight_decay=0.01, foreach=True))
    for a, b in zip(fused.parameters(), plain.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def test_a_foreach_state_loads_into_a_fused_optimiser():
    """Checkpoints of runs trained before the fused kernels resume: their param groups say
    foreach, so the resumed run keeps the kernels it started with (and its exactness)."""
    model = vae()
    old = torch.optim.Adam(model.parameters(), lr=1e-3, foreach=True)
    steps(model, old)
    new = build_optimizers(model, TrainConfig())["model"]
    new.load_state_dict(old.state_dict())
    assert not new.param_groups[0]["fused"]
    steps(model, new, n=1)
    assert int(new.state[next(iter(model.parameters()))]["step"]) == 4


class Strided(torch.nn.Module):
    """A channels-last convolution and a transposed-view parameter (as RealNVP's invertible
    1x1 convolution starts, from a QR factor): weights whose strides are not contiguous."""

    def __init__(self) -> None:
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 4, 3).to(memory_format=torch.channels_last)
        self.mix = torch.nn.Parameter(torch.randn(4, 4).t())

    def loss(self, step: int) -> torch.Tensor:
        x = torch.randn(2, 3, 5, 5, generator=torch.Generator().manual_seed(step))
        return (self.conv(x).mean((2, 3)) @ self.mix).square().sum()


def test_a_resumed_fused_adam_updates_strided_weights_as_an_uninterrupted_one(tmp_path):
    """The checkpoint stores moments contiguous; restored with their weight's strides, the
    fused kernel (which silently mixes up elements when the layouts differ) continues the
    run exactly."""
    def train(model, opt, steps_):
        for i in steps_:
            opt.zero_grad(set_to_none=True)
            model.loss(i).backward()
            opt.step()

    torch.manual_seed(0)
    straight = Strided()
    torch.manual_seed(0)
    resumed = Strided()
    assert not straight.mix.is_contiguous() and not straight.conv.weight.is_contiguous()
    fused = lambda m: torch.optim.Adam(m.parameters(), lr=0.1, fused=True)  # noqa: E731
    opt = fused(straight)
    train(straight, opt, range(4))
    first = fused(resumed)
    train(resumed, first, range(2))
    tensors, info = optimizer_state("model", first)
    path = tmp_path / "opt.safetensors"
    atomic_save(path, tensors, {"format": FORMAT, "optimizers": {"model": info}})
    second = fused(resumed)
    restore_optimizer(read_checkpoint(path), "model", second)
    train(resumed, second, range(2, 4))
    for a, b in zip(straight.parameters(), resumed.parameters(), strict=True):
        assert torch.equal(a, b)


def test_sgd_momentum_is_the_configured_one_heavy_ball_by_hand():
    """``train.momentum`` reaches SGD: two steps are p1 = p0 - lr g1, p2 = p1 - lr (m g1 + g2)
    (Qian 1999, torch's dampening-free form), for m = 0.5 as for the unset default 0.9."""
    for momentum, expected in ((0.5, 0.5), (None, 0.9)):
        model = vae()
        opt = build_optimizers(model, TrainConfig(optimizer="sgd", lr=0.01,
                                                  momentum=momentum))["model"]
        assert opt.defaults["momentum"] == expected
        weight = next(model.parameters())
        p0 = weight.detach().clone()
        grads = []
        x = torch.rand(16, 1, 28, 28, generator=torch.Generator().manual_seed(1)).round()
        for i in range(2):
            opt.zero_grad(set_to_none=True)
            torch.manual_seed(i)
            batch = Batch(x, torch.zeros(16, dtype=torch.long))
            model.players()[0].objective(batch).total.backward()
            grads.append(weight.grad.detach().clone())
            opt.step()
        by_hand = p0 - 0.01 * grads[0] - 0.01 * (expected * grads[0] + grads[1])
        torch.testing.assert_close(weight.detach(), by_hand, rtol=1e-5, atol=1e-7)


def test_momentum_from_yaml_set_and_flag_and_refused_where_it_does_not_apply(monkeypatch,
                                                                            tmp_path):
    import argparse

    from genlab.cli import train_flags
    from genlab.errors import ConfigError
    from genlab.training.config import apply_overrides, config_from_dict

    raw = {"model": {"name": "vae"}, "train": {"optimizer": "sgd", "momentum": 1}}
    assert config_from_dict(raw).train.momentum == 1.0  # Matlab's sgdm takes 1 (seed 001)
    assert config_from_dict(apply_overrides(raw, ["train.momentum=0.3"])).train.momentum == 0.3
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path))  # the flag table's cache
    p = argparse.ArgumentParser()
    train_flags.add_train_flags(p, "vae")
    assert train_flags.flag_values(p.parse_args(["vae", "--momentum", "0.7"]))["train"] == {
        "momentum": 0.7}
    with pytest.raises(ConfigError, match=r"train\.momentum=0\.5: .*train\.optimizer=sgd "
                                          r"\(got adam\)"):
        config_from_dict({"train": {"momentum": 0.5}})
    with pytest.raises(ConfigError, match=r"train\.momentum=1\.5: .*\[0, 1\]"):
        config_from_dict({"train": {"optimizer": "sgd", "momentum": 1.5}})
