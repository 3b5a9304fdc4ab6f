"""A diffusion prior learned on a trained encoder family's codes: a two-stage model, the second
stage a Gaussian diffusion over the first stage's flat latent space (latent diffusion,
Rombach et al. 2022, with a flat code; Vahdat et al. 2021 learn such a prior jointly).

A VAE's aggregate posterior is not its N(0, I) prior, and an AE has no prior: decoded prior
draws miss the codes of real images. The first stage (a VAE, beta-VAE, CVAE, AE, the residual
64 x 64 VAE) is frozen. The diffusion (Ho et al. 2020; ``parts.diffusion``, shared with
latent-diffusion in ``code_diffusion``) is trained on its codes, each standardised by
per-dimension means and sds of the first training batch's codes; the denoiser is a residual
MLP (``parts.code_denoiser``), conditioned on the label when the first stage is (a CVAE). The
encoder, the decoder and the prior the latent tools fit and grid codes in are the first
stage's, so blends and interpolations are the first stage's. Likelihood: the two-stage ELBO
of ``code_diffusion``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

from torch import Tensor

from genlab.models.core.base import GenerativeModel
from genlab.models.families.two_stage.code_diffusion import CodeDiffusion, CodeDiffusionConfig
from genlab.models.parts.code_denoiser import CodeDenoiser

LABEL_DROPOUT = 0.1
"""How often a conditional prior's training drops the label, so that the same denoiser is
also unconditional and classifier-free guidance applies (Ho & Salimans 2022)."""


@dataclass
class DiffusionPriorConfig(CodeDiffusionConfig):
    """The diffusion of ``CodeDiffusionConfig``; the denoiser's ``width`` and residual
    ``blocks``."""

    width: int = 512
    blocks: int = 3

    positive: ClassVar[tuple[str, ...]] = ("timesteps", "width", "blocks", "bound_timesteps")


class DiffusionPrior(CodeDiffusion):
    """A trained encoder family's decoder under a diffusion prior learned on its codes."""

    config_class = DiffusionPriorConfig
    label_dropout = LABEL_DROPOUT
    tiny: ClassVar[dict[str, Any]] = {"first_stage": "vae", "timesteps": 20, "width": 32,
                                      "blocks": 1, "bound_timesteps": 4}
    """For the registry's contract tests, ``first_stage`` names the family whose tiny run
    it is built on."""

    def __init__(self, config: DiffusionPriorConfig, shape: tuple[int, int, int],
                 num_classes: int, components: dict[str, GenerativeModel]):
        super().__init__(config, shape, num_classes, components)
        self.conditional = self.stage.conditional  # a CVAE's codes: a prior p(z | y)
        self.net = CodeDenoiser(self.stage.latent_dim, config.width, config.blocks,
                                num_classes if self.conditional else 0)

    def statistics(self, codes: Tensor) -> tuple[Tensor, Tensor]:
        """Each dimension's mean and sd over the codes."""
        return codes.mean(0), codes.std(0)

    def denoiser(self, xt: Tensor, t: Tensor, y: Tensor | None) -> Tensor:
        return self.net(xt, t, y)
