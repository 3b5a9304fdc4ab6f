"""Wasserstein GAN with gradient penalty (Gulrajani et al. 2017).

The critic estimates the earth mover's distance E D(x) - E D(G(z)) (Arjovsky et al. 2017),
which is only meaningful for a 1-Lipschitz critic. Instead of clipping weights, WGAN-GP
penalises lambda E (||grad D(x_hat)||_2 - 1)^2 on random interpolates x_hat between real and
generated images, with lambda = 10. The penalty is per image, so the critic has no BatchNorm
(which would couple the images of a batch): layer normalisation takes its place, or spectral
normalisation (``norm: spectral``). The critic is trained five times per generator update,
with Adam lr 1e-4 and betas (0, 0.9). The networks are otherwise DCGAN's. Evaluation runs
with autograd on: the penalty is a gradient.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from torch import Tensor

from genlab.errors import ConfigError
from genlab.models.families.adversarial.dcgan import DCGAN, DCGANConfig
from genlab.models.parts.adversarial_losses import gradient_penalty


@dataclass
class WGANGPConfig(DCGANConfig):
    norm: str = "layer"
    loss: str = "wasserstein"
    n_critic: int = 5
    gp_weight: float = 10.0


class WGANGP(DCGAN):
    """WGAN-GP: Wasserstein critic kept 1-Lipschitz by a gradient penalty, n_critic steps."""

    config_class = WGANGPConfig
    loss_choices = ("wasserstein",)
    optim_defaults: ClassVar[dict[str, dict[str, Any]]] = {
        "discriminator": {"lr": 1e-4, "betas": (0.0, 0.9)},
        "generator": {"lr": 1e-4, "betas": (0.0, 0.9)},
    }
    eval_with_grad = True

    def __init__(self, config: WGANGPConfig, shape: tuple[int, int, int], num_classes: int):
        if config.n_critic < 1:
            raise ConfigError(f"model.n_critic must be at least 1, got {config.n_critic}")
        if config.gp_weight < 0:
            raise ConfigError(f"model.gp_weight must not be negative, got {config.gp_weight}")
        if config.norm == "batch":
            raise ConfigError(
                "model.norm=batch is not valid for wgan-gp: the gradient penalty is per image, "
                "and BatchNorm couples a batch's images; use layer or spectral"
            )
        super().__init__(config, shape, num_classes)

    @property
    def critic_steps(self) -> int:
        return self.config.n_critic

    def penalty(
        self, real: Tensor, fake: Tensor, y: Tensor | None
    ) -> tuple[Tensor, dict[str, Tensor]]:
        gp = gradient_penalty(lambda x: self.discriminate(x, y), real, fake)
        return self.config.gp_weight * gp, {"gp": gp}
