"""Adversarial training: the losses and the base every generator/discriminator pair shares.

A generator G maps noise z ~ N(0, I) (and, for a conditional pair, a label) to an image in
[-1, 1] through a tanh; a discriminator D scores images, real ones mapped from [0, 1] by
2x - 1. The players step in turn, the discriminator first (Goodfellow et al. 2014), each with
its own optimiser. Each loss below is a function of D's raw outputs (logits for the sigmoid
losses, scores otherwise), averaged over the batch:

- minimax (Goodfellow et al. 2014): D maximises log D(x) + log(1 - D(G(z))), G minimises
  log(1 - D(G(z))); with D = sigmoid(logit), log(1 - D) = -softplus(logit).
- non-saturating (Goodfellow et al. 2014): G maximises log D(G(z)) instead, whose gradient
  does not vanish while D rejects the fakes confidently (early in training).
- least squares (Mao et al. 2017), targets a = 0 (fake), b = 1 (real), c = 1 (what G wants):
  D minimises 1/2 (D(x) - 1)^2 + 1/2 D(G(z))^2, G minimises 1/2 (D(G(z)) - 1)^2.
- Wasserstein (Arjovsky et al. 2017): a critic maximises E D(x) - E D(G(z)), an estimate of
  the earth mover's distance when D is 1-Lipschitz; G minimises -E D(G(z)). The Lipschitz
  constraint is the gradient penalty of Gulrajani et al. (2017), :func:`gradient_penalty`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.nn.functional import softplus

from genlab.errors import ConfigError
from genlab.models.base import (
    Batch,
    LatentConfig,
    LatentVariableModel,
    LossOutput,
    Player,
    constant_parameters,
)
from genlab.models.likelihoods import ImplicitPixels


def minimax_discriminator(real: Tensor, fake: Tensor) -> Tensor:
    """-[log D(x) + log(1 - D(G(z)))] on logits: binary cross-entropy, real = 1, fake = 0."""
    return softplus(-real).mean() + softplus(fake).mean()


def minimax_generator(fake: Tensor) -> Tensor:
    """log(1 - D(G(z))) on logits (Goodfellow et al. 2014's original objective)."""
    return -softplus(fake).mean()


def non_saturating_generator(fake: Tensor) -> Tensor:
    """-log D(G(z)) on logits: the same fixed point, strong gradients where D wins."""
    return softplus(-fake).mean()


def least_squares_discriminator(real: Tensor, fake: Tensor) -> Tensor:
    """1/2 E (D(x) - b)^2 + 1/2 E (D(G(z)) - a)^2 with a = 0, b = 1 (Mao et al. 2017)."""
    return 0.5 * (real - 1).square().mean() + 0.5 * fake.square().mean()


def least_squares_generator(fake: Tensor) -> Tensor:
    """1/2 E (D(G(z)) - c)^2 with c = 1 (Mao et al. 2017)."""
    return 0.5 * (fake - 1).square().mean()


def wasserstein_critic(real: Tensor, fake: Tensor) -> Tensor:
    """-(E D(x) - E D(G(z))): the negated earth mover's estimate (Arjovsky et al. 2017)."""
    return fake.mean() - real.mean()


def wasserstein_generator(fake: Tensor) -> Tensor:
    """-E D(G(z)) (Arjovsky et al. 2017)."""
    return -fake.mean()


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
    """E (||grad_x D(x_hat)||_2 - 1)^2 on x_hat = t x + (1 - t) G(z), t ~ U(0, 1) per image
    (Gulrajani et al. 2017). The graph is kept so the penalty trains the critic."""
    t = torch.rand(real.shape[0], *[1] * (real.dim() - 1), device=real.device, dtype=real.dtype)
    mix = torch.lerp(fake.detach(), real, t).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).square().mean()


@dataclass(frozen=True)
class AdversarialLoss:
    """One game: D's loss on (real, fake) outputs, G's loss on fake outputs, and how an
    output reads as "D(x)" in the logs (a probability for the sigmoid losses)."""

    discriminator: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]
    readout: Callable[[Tensor], Tensor] = field(default=lambda s: s)


LOSSES: dict[str, AdversarialLoss] = {
    "non-saturating": AdversarialLoss(
        minimax_discriminator, non_saturating_generator, torch.sigmoid
    ),
    "minimax": AdversarialLoss(minimax_discriminator, minimax_generator, torch.sigmoid),
    "least-squares": AdversarialLoss(least_squares_discriminator, least_squares_generator),
    "wasserstein": AdversarialLoss(wasserstein_critic, wasserstein_generator),
}


@dataclass
class AdversarialConfig(LatentConfig):
    """``loss`` names the game (see :data:`LOSSES`). A moving average of the generator, which
    GANs usually sample from (Yazici et al. 2019), is the trainer's ``train.ema``."""

    latent_dim: int = 100
    loss: str = "non-saturating"


INVERSION_SIGMA = 0.1
"""Pixel sigma of the Gaussian around G(z) that inverting a generator maximises: fitting q(z)
then minimises the squared pixel error over 2 sigma^2 plus the KL to the prior, i.e. GAN
inversion with a prior term (Zhu et al. 2016 invert by pixel loss alone; the prior keeps z
where the generator was trained)."""


class AdversarialModel(LatentVariableModel):
    """A generator/discriminator pair; a family chooses the networks and the loss.

    Families implement ``make_generator`` and ``make_discriminator``; conditional ones get
    the labels as a second argument of both networks."""

    config_class = AdversarialConfig
    tiny: ClassVar[dict[str, Any]] = {"latent_dim": 8}
    loss_choices: ClassVar[tuple[str, ...]] = ("non-saturating", "minimax", "least-squares")
    optim_defaults: ClassVar[dict[str, dict[str, Any]]] = {
        # Adam 2e-4, beta1 0.5 for both players (Radford et al. 2016)
        "discriminator": {"lr": 2e-4, "betas": (0.5, 0.999)},
        "generator": {"lr": 2e-4, "betas": (0.5, 0.999)},
    }
    selection_metric = None  # neither player's loss measures sample quality
    fit_objective = (f"GAN inversion: Gaussian pixel likelihood (sigma {INVERSION_SIGMA}) "
                     "around the generator's image, plus the KL of q(z) to the prior")

    def __init__(self, config: AdversarialConfig, shape: tuple[int, int, int], num_classes: int):
        super().__init__(config, shape, num_classes)
        if config.loss not in self.loss_choices:
            raise ConfigError(
                f"model.loss={config.loss!r} is not valid for {config.name}; "
                f"choose one of {', '.join(self.loss_choices)}"
            )
        self.game = LOSSES[config.loss]
        self.generator = self.make_generator()
        self.discriminator = self.make_discriminator()

    # --- what a family chooses ------------------------------------------------------------
    def make_generator(self) -> nn.Module:
        """(N, latent_dim) noise [and labels] -> (N, C, H, W) images in [-1, 1]."""
        raise NotImplementedError

    def make_discriminator(self) -> nn.Module:
        """(N, C, H, W) images in [-1, 1] [and labels] -> one logit or score per image."""
        raise NotImplementedError

    @property
    def critic_steps(self) -> int:
        """Discriminator updates per generator update."""
        return 1

    def penalty(
        self, real: Tensor, fake: Tensor, y: Tensor | None
    ) -> tuple[Tensor | float, dict[str, Tensor]]:
        """A regulariser added to the discriminator's loss, and its terms to log (none here)."""
        return 0.0, {}

    # --- generation -----------------------------------------------------------------------
    def labels_or_nothing(self, y: Tensor | None) -> tuple[Tensor, ...]:
        """The networks' extra argument: the labels for a conditional pair, else nothing
        (an unconditional pair ignores the labels it is given)."""
        if not self.conditional:
            return ()
        if y is None:
            raise ConfigError(f"{self.config.name} is conditional: pass the labels")
        return (y,)

    def decode(self, z: Tensor, y: Tensor | None = None) -> ImplicitPixels:
        """Images in [0, 1] from codes."""
        return ImplicitPixels((self.generator(z, *self.labels_or_nothing(y)) + 1) / 2,
                              INVERSION_SIGMA)

    def discriminate(self, x: Tensor, y: Tensor | None) -> Tensor:
        """One logit or score per image of ``x`` (pixels in [-1, 1])."""
        return self.discriminator(x, *self.labels_or_nothing(y)).reshape(-1)

    def fake(self, n: int, y: Tensor | None) -> Tensor:
        """n generated images in [-1, 1]; a conditional pair imitates the batch's labels."""
        z = torch.randn(n, self.latent_dim, device=self.device)
        return self.generator(z, *self.labels_or_nothing(y))

    # --- training -------------------------------------------------------------------------
    def players(self) -> list[Player]:
        return [
            Player("discriminator", self.discriminator_loss),
            Player("generator", self.generator_loss, every=self.critic_steps),
        ]

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {
            "discriminator": list(self.discriminator.parameters()),
            "generator": list(self.generator.parameters()),
        }

    def discriminator_loss(self, batch: Batch) -> LossOutput:
        """D's side of the game on real images and detached fakes, plus any penalty."""
        real, y = 2 * batch.x - 1, batch.y
        with torch.no_grad():  # D's step never differentiates through G
            fake = self.fake(len(real), y)
        real_out, fake_out = self.discriminate(real, y), self.discriminate(fake, y)
        d_loss = self.game.discriminator(real_out, fake_out)
        penalty, logged = self.penalty(real, fake, y)
        terms = {
            "d_loss": d_loss,
            "d_real": self.game.readout(real_out).mean(),
            "d_fake": self.game.readout(fake_out).mean(),
            **logged,
        }
        return LossOutput(d_loss + penalty, {k: v.detach() for k, v in terms.items()})

    def generator_loss(self, batch: Batch) -> LossOutput:
        """G's side of the game, through a discriminator held constant."""
        with constant_parameters(self.discriminator):  # G's backward leaves D untouched
            fake_out = self.discriminate(self.fake(len(batch.x), batch.y), batch.y)
            g_loss = self.game.generator(fake_out)
        return LossOutput(g_loss, {"g_loss": g_loss.detach()})
