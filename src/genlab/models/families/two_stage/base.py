"""What every prior learned on a trained autoencoder's codes shares. ``StagePrior`` (every
two-stage family, vqvae-pixelcnn's discrete grid included): its first stage, whose codes,
encoder and decoder it uses as they are, so the latent tools move through the first stage's
space, and whose likelihood scale it reports on. ``CodePrior`` (gmm-prior, diffusion-prior,
latent-diffusion: continuous codes) adds the spread of the training codes and the proposal its
likelihood is importance-sampled or averaged with.

The first stage must have an encoder, a decoder and a continuous code of the rank the prior's
network takes (``code_rank``): flat codes for gmm-prior's mixture and diffusion-prior's MLP, a
(c, h, w) grid for latent-diffusion's U-Net. A deterministic encoder (an AE) is no proposal
q(z|x): N(enc(x), (PROPOSAL_WIDTH * sd of the codes)^2) is used in its place, a bound on the
same scale as the first stage's decoder likelihood.
"""

from __future__ import annotations

import dataclasses
from typing import ClassVar

import torch
from torch import Tensor
from torch.distributions import Distribution, Independent, Normal

from genlab.errors import ConfigError
from genlab.models.core.base import EncoderDecoderModel, GenerativeModel
from genlab.models.core.capabilities import Decoder, Encoder
from genlab.models.core.components import Component
from genlab.models.core.config import ModelConfig
from genlab.models.core.latent_space import CONTINUOUS, LatentSpace, require_space
from genlab.models.core.pixels import PixelDistribution
from genlab.models.core.scale import LikelihoodScale

PROPOSAL_WIDTH = 0.1
"""A deterministic encoder's proposal sd, as a fraction of each code dimension's spread."""
CODE_RANKS = {1: "flat codes", 3: "(c, h, w) code grids"}
"""The code ranks a prior's network can take, in words for a refusal."""


class StagePrior(EncoderDecoderModel):
    """A first stage's decoder under a prior of its own over the first stage's codes: the
    first stage's encoder, decoder, code space (drawn from this model's ``sample_prior``) and
    likelihood scale."""

    component_specs: ClassVar[tuple[Component, ...]] = (
        Component("first_stage", (Encoder, Decoder), "first stage"),)

    @property
    def stage(self) -> GenerativeModel:
        return self.built_on["first_stage"]

    @property
    def latent_space(self) -> LatentSpace:
        """The first stage's codes, drawn from this model's prior."""
        return dataclasses.replace(self.stage.latent_space, prior=self.sample_prior)

    def encode(self, x: Tensor, y: Tensor | None = None) -> Distribution | Tensor:
        return self.stage.encode(x, y)

    def decode(self, z: Tensor, y: Tensor | None = None) -> PixelDistribution:
        return self.stage.decode(z, y)

    def likelihood_scale(self, binarize: str) -> LikelihoodScale:
        return self.stage.likelihood_scale(binarize)

    def likelihood_name(self) -> str:
        return self.stage.likelihood_name()


class CodePrior(StagePrior):
    """A prior over a first stage's continuous codes, flat or a grid (``code_rank``)."""

    code_rank: ClassVar[int] = 1
    """Axes of one code that the prior's network takes: 1 (flat), 3 (a (c, h, w) grid)."""

    def __init__(self, config: ModelConfig, shape: tuple[int, int, int], num_classes: int,
                 components: dict[str, GenerativeModel]):
        super().__init__(config, shape, num_classes, components)
        space = require_space(self.stage, f"{config.name}'s first stage", CONTINUOUS)
        if len(space.shape) != self.code_rank:
            raise ConfigError(f"{config.name} needs a first stage with "
                              f"{CODE_RANKS[self.code_rank]}, but the "
                              f"{self.stage.config.name!r} model's are {space.describe()}")
        self.register_buffer("code_sd", torch.ones(space.shape))
        with torch.no_grad():  # one image through the encoder: a distribution or a point?
            image = torch.zeros(1, *self.shape, device=self.stage.device)
            label = torch.zeros(1, dtype=torch.long, device=image.device)
            probe = self.stage.encode(image, label if self.stage.conditional else None)
        self.deterministic_encoder = not isinstance(probe, Distribution)

    def proposal(self, x: Tensor, y: Tensor | None) -> Distribution:
        """q(z | x): the first stage's, or a narrow Gaussian around a deterministic code."""
        q = self.stage.encode(x, y)
        if not self.deterministic_encoder:
            return q
        sd = (PROPOSAL_WIDTH * self.code_sd).reshape(q.shape[1:])  # the encoder's layout
        return Independent(Normal(q, sd.expand_as(q)), q.dim() - 1)

    def proposal_words(self) -> str:
        return (f"a Gaussian around the code (sd {PROPOSAL_WIDTH} x the codes' sd)"
                if self.deterministic_encoder else "the first stage's q(z|x)")
