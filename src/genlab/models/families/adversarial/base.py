"""The base every generator/discriminator pair shares (the games themselves are
``parts.adversarial_losses``).

A generator G maps noise z ~ N(0, I) (and, for a conditional pair, a label) to an image in
[-1, 1] through a tanh; a discriminator D scores images, real ones mapped from [0, 1] by
2x - 1. The players step in turn, the discriminator first (Goodfellow et al. 2014), each with
its own optimiser.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from genlab.errors import ConfigError
from genlab.models.core.base import (
    Batch,
    LatentVariableModel,
    LossOutput,
    Player,
    constant_parameters,
)
from genlab.models.core.config import LatentConfig
from genlab.models.core.pixels import INVERSION_SIGMA
from genlab.models.parts.adversarial_losses import LOSSES
from genlab.models.parts.likelihoods import ImplicitPixels


@dataclass
class AdversarialConfig(LatentConfig):
    """``loss`` names the game (see :data:`LOSSES`). A moving average of the generator, which
    GANs usually sample from (Yazici et al. 2019), is the trainer's ``train.ema``."""

    latent_dim: int = 100
    loss: str = "non-saturating"


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
