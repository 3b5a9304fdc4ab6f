"""The trainer's extension point, proved by a toy two-player model defined here alone.

A tiny WGAN-GP-like pair (Gulrajani et al. 2017): a critic and a generator with their own Adam
betas, 3 critic steps per generator step, the trainer's weight average (``train.ema``) for
sampling, and a gradient-penalty term that needs autograd during evaluation. It goes through
the real trainer, registry, checkpoints and resume, with no change to genlab.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, ClassVar

import pytest
import torch
from torch import Tensor, nn

from genlab import train
from genlab.models.core.base import Batch, LatentVariableModel, LossOutput, Player
from genlab.models.core.capabilities import Decoder
from genlab.models.core.capabilities import has as has_capability
from genlab.models.core.config import LatentConfig
from genlab.models.parts.likelihoods import ImplicitPixels
from genlab.models.registry import MODELS
from genlab.training.checkpoint import read_checkpoint

pytestmark = pytest.mark.slow


@dataclass
class ToyConfig(LatentConfig):
    n_critic: int = 3
    gp_weight: float = 10.0


class ToyGAN(LatentVariableModel):
    config_class = ToyConfig
    optim_defaults: ClassVar[dict[str, dict[str, Any]]] = {
        "critic": {"lr": 1e-3, "betas": (0.0, 0.9)},
        "generator": {"lr": 5e-4, "betas": (0.5, 0.999)},
    }
    eval_with_grad = True
    selection_metric = None

    def __init__(self, config: ToyConfig, shape: tuple[int, int, int], num_classes: int):
        super().__init__(config, shape, num_classes)
        pixels = shape[0] * shape[1] * shape[2]
        self.generator = nn.Sequential(
            nn.Linear(config.latent_dim, 32), nn.ReLU(), nn.Linear(32, pixels), nn.Sigmoid()
        )
        self.critic = nn.Sequential(nn.Flatten(), nn.Linear(pixels, 32), nn.LeakyReLU(0.2),
                                    nn.Linear(32, 1))

    def decode(self, z: Tensor, y: Tensor | None = None) -> ImplicitPixels:
        return ImplicitPixels(self.generator(z).view(-1, *self.shape), sigma=0.1)  # point mass

    def players(self) -> list[Player]:
        return [Player("critic", self.critic_loss),
                Player("generator", self.generator_loss, every=self.config.n_critic)]

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {"critic": list(self.critic.parameters()),
                "generator": list(self.generator.parameters())}

    def _fake(self, n: int) -> Tensor:
        z = torch.randn(n, self.latent_dim, device=self.device)
        return self.generator(z).view(-1, *self.shape)

    def critic_loss(self, batch: Batch) -> LossOutput:
        real, fake = batch.x, self._fake(len(batch.x)).detach()
        t = torch.rand(len(real), 1, 1, 1, device=real.device)
        mix = torch.lerp(real, fake, t).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.critic(mix).sum(), mix, create_graph=True)
        gp = (grad.flatten(1).norm(dim=1) - 1).square().mean()
        distance = self.critic(real).mean() - self.critic(fake).mean()
        return LossOutput(-distance + self.config.gp_weight * gp,
                          {"distance": distance.detach(), "gp": gp.detach()})

    def generator_loss(self, batch: Batch) -> LossOutput:
        score = self.critic(self._fake(len(batch.x))).mean()
        return LossOutput(-score, {"g_score": score.detach()})


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(MODELS, "toy-gan", ToyGAN)

    def config(epochs: int, **train_options) -> dict:
        return {
            "model": {"name": "toy-gan", "latent_dim": 4},
            "data": {"dataset": "mnist-mini", "val_size": 200},
            "train": {"epochs": epochs, "batch_size": 500, "progress": False, "seed": 3,
                      "device": "cpu", "ema": 0.9, **train_options},
        }

    return config


def _tensors(run) -> dict[str, Tensor]:
    return read_checkpoint(run / "checkpoints" / "last.safetensors").tensors


def test_two_players_with_their_own_optimisers_critic_steps_and_ema(tmp_path, toy):
    cfg = toy(1, optim={"generator": {"lr": 2e-4}})
    result = train(cfg, out=tmp_path / "run")
    model = result.model
    assert has_capability(model, Decoder)
    ckpt = read_checkpoint(tmp_path / "run" / "checkpoints" / "last.safetensors")
    groups = {k: v["param_groups"][0] for k, v in ckpt.meta["optimizers"].items()}
    assert groups["critic"]["betas"] == [0.0, 0.9] and groups["critic"]["lr"] == 1e-3
    assert groups["generator"]["betas"] == [0.5, 0.999]
    assert groups["generator"]["lr"] == 2e-4  # train.optim.generator beats the family default
    # 9,800 training images in batches of 500: 20 critic updates, every third batch for the G.
    batches = ckpt.meta["step"]
    assert batches == 20
    assert float(ckpt.tensors["optim.critic.0.step"]) == batches
    assert float(ckpt.tensors["optim.generator.0.step"]) == 7
    # The run's model is the weight average; the last iterate is kept to resume from.
    average = ckpt.tensors["model.generator.0.weight"]
    assert not torch.equal(average, ckpt.tensors["live.generator.0.weight"])
    torch.testing.assert_close(model.generator[0].weight, average, rtol=0, atol=0)
    row = result.history[0]
    for key in ("train/loss.critic", "train/loss.generator", "train/gp", "train/g_score",
                "val/gp", "val/distance", "val/loss"):
        assert key in row and torch.isfinite(torch.tensor(row[key])), key
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["selection"] == {"metric": "last epoch", "best": None}
    assert summary["best_epoch"] == 1
    samples = model.sample(6, generator=torch.Generator().manual_seed(0))
    assert samples.shape == (6, 1, 28, 28) and samples.min() >= 0 and samples.max() <= 1


def test_evaluation_runs_with_autograd_when_the_family_asks(tmp_path, toy, monkeypatch):
    monkeypatch.setattr(ToyGAN, "eval_with_grad", False)
    with pytest.raises(RuntimeError, match="does not require grad"):
        train(toy(1), out=tmp_path / "run")


def test_toy_gan_killed_and_resumed_is_exact(tmp_path, toy, interrupted_then_resumed):
    cfg = toy(3, schedule="cosine")
    train(cfg, out=tmp_path / "full")
    result = interrupted_then_resumed(cfg, tmp_path / "cut", epoch=1)
    assert [r["epoch"] for r in result.history] == [1, 2, 3]
    full, cut = _tensors(tmp_path / "full"), _tensors(tmp_path / "cut")
    assert full.keys() == cut.keys()
    assert any(k.startswith("live.") for k in full)
    assert any(k.startswith("optim.generator.") for k in full)
    for k in full:
        assert torch.equal(full[k], cut[k]), k
