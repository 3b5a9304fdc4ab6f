"""Latent diffusion (Rombach et al. 2022): a U-Net diffusion over the (c, h, w) code grid of a
frozen KL-regularised autoencoder (``kl-ae``), so that the diffusion's steps run on a grid f^2
times smaller than the image and the autoencoder carries the perceptual detail.

The diffusion (``code_diffusion``: process, samplers, the two-stage likelihood) is trained on
one posterior draw z ~ q(z | x) per image, scaled to unit variance by the paper's scale factor
1 / s, s the sd of all values of the first training batch's codes (a buffer, ``code_sd``,
set once before the first step; no mean is removed: ``code_mean`` stays 0). The denoiser is
the DDPM's U-Net (``parts.unet``), class-conditional with classifier-free guidance as the
DDPM is (labels dropped with probability ``label_dropout``; sampling mixes (1 + w) f(u, y) -
w f(u), Ho & Salimans 2022), whatever the first stage's conditioning. Sampling draws codes by
the chosen sampler (DDIM, DDPM, DPM-Solver++, steps chosen at sampling time), unscales and
decodes them; the latent tools move through the first stage's continuous code grid.
Likelihood: the two-stage ELBO on the first stage's scale, log p(z) the diffusion's bound.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.models.core.base import GenerativeModel
from genlab.models.families.two_stage.code_diffusion import CodeDiffusion, CodeDiffusionConfig
from genlab.models.parts.unet import UNet


@dataclass
class LatentDiffusionConfig(CodeDiffusionConfig):
    """The diffusion of ``CodeDiffusionConfig``; the U-Net's ``channels`` per resolution level
    of the code grid (each halves it), ``res_blocks`` per level, ``attention`` at the lowest
    level, ``dropout``; ``label_dropout``: how often training drops the label (0: no
    classifier-free guidance)."""

    channels: list[int] = field(default_factory=lambda: [64, 128])
    res_blocks: int = 2
    attention: bool = True
    dropout: float = 0.0
    label_dropout: float = 0.1

    positive: ClassVar[tuple[str, ...]] = ("timesteps", "res_blocks", "bound_timesteps")

    def validate(self) -> None:
        super().validate()
        if not self.channels or min(self.channels) < 1:
            raise ConfigError(f"model.channels must be positive widths, got {self.channels}")
        for key in ("dropout", "label_dropout"):
            if not 0 <= getattr(self, key) < 1:
                raise ConfigError(f"model.{key} must be in [0, 1), got {getattr(self, key)}")


class LatentDiffusion(CodeDiffusion):
    """A KL-autoencoder's decoder under a U-Net diffusion learned on its scaled code grid."""

    config_class = LatentDiffusionConfig
    conditional = True
    code_rank = 3
    tiny: ClassVar[dict[str, Any]] = {"first_stage": "kl-ae", "timesteps": 20,
                                      "channels": [8, 16], "res_blocks": 1, "attention": False,
                                      "bound_timesteps": 4}
    """For the registry's contract tests, ``first_stage`` names the family whose tiny run
    it is built on."""

    def __init__(self, config: LatentDiffusionConfig, shape: tuple[int, int, int],
                 num_classes: int, components: dict[str, GenerativeModel]):
        super().__init__(config, shape, num_classes, components)
        self.label_dropout = config.label_dropout
        self.net = UNet(self.latent_space.shape[0], config.channels, config.res_blocks,
                        config.attention, config.dropout, num_classes)

    @property
    def scale_factor(self) -> float:
        """The paper's 1 / s: the factor of the codes the diffusion is trained on."""
        return float(1 / self.code_sd.flatten()[0])

    def statistics(self, codes: Tensor) -> tuple[Tensor, Tensor]:
        """No mean; one sd of all the codes' values, at every position (Rombach et al. 2022,
        the scale factor)."""
        shape = codes.shape[1:]
        return torch.zeros(shape, device=codes.device), codes.std().expand(shape)

    def denoiser(self, xt: Tensor, t: Tensor, y: Tensor | None) -> Tensor:
        return self.net(xt, t, self.net.label_index(y, len(xt)))
