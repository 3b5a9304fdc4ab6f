"""Deterministic autoencoder with an MSE or BCE reconstruction loss (Hinton & Salakhutdinov, 2006).

An autoencoder has no prior; to sample, genlab fits a diagonal Gaussian to the codes of the
training images (``fit_prior``, called by the trainer) and decodes draws from it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, Independent, Normal

from genlab.errors import ConfigError
from genlab.models.core.base import Batch, EncoderDecoderModel, LossOutput
from genlab.models.core.config import LatentConfig
from genlab.models.core.scale import LikelihoodScale, pixel_likelihood_scale
from genlab.models.parts.likelihoods import PixelDistribution, build_likelihood
from genlab.models.parts.nets import BackboneConfig, build_decoder, build_encoder

LOSSES = {"bce": "bernoulli", "mse": "gaussian"}


@dataclass
class AEConfig(BackboneConfig, LatentConfig):
    """A code, a backbone and ``loss``: bce (a Bernoulli decoder) or mse (a Gaussian one)."""

    loss: str = "bce"


class Autoencoder(EncoderDecoderModel):
    """Deterministic autoencoder (MSE or BCE); samples decode a Gaussian fitted to its codes."""

    config_class = AEConfig
    tiny: ClassVar[dict[str, Any]] = {"hidden": [32], "latent_dim": 4}

    def __init__(self, config: AEConfig, shape: tuple[int, int, int], num_classes: int):
        super().__init__(config, shape, num_classes)
        if config.loss not in LOSSES:
            raise ConfigError(f"model.loss={config.loss!r}; choose one of {', '.join(LOSSES)}")
        c, h, w = shape
        spec = config.net_spec()
        self.likelihood = build_likelihood(LOSSES[config.loss], c, h, w)
        p_enc, p_dec = config.dropout_rates()
        self.encoder = build_encoder(spec, shape, config.latent_dim, dropout=p_enc)
        self.decoder = build_decoder(spec, shape, config.latent_dim, self.likelihood.out_channels,
                                     dropout=p_dec)
        self.register_buffer("code_mean", torch.zeros(config.latent_dim))
        self.register_buffer("code_std", torch.ones(config.latent_dim))

    def full_precision_layers(self) -> list[nn.Module]:
        return self.likelihood.full_precision_layers(self.decoder)

    def encode(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self.encoder(x)

    def decode(self, z: Tensor, y: Tensor | None = None) -> PixelDistribution:
        return self.likelihood(self.decoder(z))

    def prior(self) -> Distribution:
        return Independent(Normal(self.code_mean, self.code_std), 1)

    def likelihood_scale(self, binarize: str) -> LikelihoodScale:
        """What its decoder's pixel likelihood is of (it has no likelihood of its own: a model
        built on its codes with a prior, ``gmm-prior``, has one on this scale)."""
        return pixel_likelihood_scale(LOSSES[self.config.loss], binarize)

    def likelihood_name(self) -> str:
        return LOSSES[self.config.loss]

    def loss(self, batch: Batch) -> LossOutput:
        dist = self.decode(self.encode(batch.x))
        mse = (dist.mean - batch.x).pow(2).flatten(1).sum(1).mean()
        if self.config.loss == "mse":
            return LossOutput(mse, {"mse": mse})
        bce = -dist.log_prob(batch.x).mean()
        return LossOutput(bce, {"bce": bce, "mse": mse.detach()})

    @torch.no_grad()
    def fit_prior(self, x: Tensor, y: Tensor) -> None:
        """The Gaussian of the codes the trained encoder gives: in eval mode (the trainer calls
        this between an epoch's training and validation), so neither dropout nor BatchNorm's
        batch statistics change them, and BatchNorm's running averages are left alone."""
        was_training = self.training
        self.eval()
        try:
            codes = torch.cat([self.encode(chunk) for chunk in x.split(1000)])
        finally:
            self.train(was_training)
        self.code_mean.copy_(codes.mean(0))
        self.code_std.copy_(codes.std(0).clamp_min(1e-6))
