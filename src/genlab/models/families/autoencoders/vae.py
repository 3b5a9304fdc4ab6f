"""Variational autoencoder (Kingma & Welling, 2014) with a choice of decoder likelihood.

The loss is the negative ELBO with a ``beta`` weight on the analytic Gaussian KL (Higgins et
al., 2017 for beta > 1; beta < 1, e.g. 0.01, trades a looser prior for sharper reconstructions).
Values are nats per image.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, Independent, Normal, kl_divergence

from genlab.errors import ConfigError
from genlab.models.core.base import Batch, EncoderDecoderModel, LossOutput
from genlab.models.core.config import LatentConfig
from genlab.models.core.scale import LikelihoodScale, pixel_likelihood_scale
from genlab.models.parts.density import IW_SAMPLES, iw_log_likelihood
from genlab.models.parts.likelihoods import PixelDistribution, PixelLikelihoodConfig
from genlab.models.parts.nets import BackboneConfig, build_decoder, build_encoder


@dataclass
class VAEConfig(PixelLikelihoodConfig, BackboneConfig, LatentConfig):
    """A code, a backbone, a decoder likelihood and ``beta``, the weight of the KL term."""

    beta: float = 1.0


class VAE(EncoderDecoderModel):
    """VAE: Gaussian encoder q(z|x), N(0, I) prior, decoder likelihood chosen by config."""

    config_class = VAEConfig
    tiny: ClassVar[dict[str, Any]] = {"hidden": [32], "latent_dim": 4}

    def __init__(self, config: VAEConfig, shape: tuple[int, int, int], num_classes: int):
        super().__init__(config, shape, num_classes)
        self.likelihood = config.build_likelihood(self.shape)
        self.encoder, self.decoder = self.networks(config)

    def networks(self, config: VAEConfig) -> tuple[nn.Module, nn.Module]:
        """The encoder, to the (mean, log-variance) halves of 2 ``latent_dim`` features, and
        the decoder, from a code (and a one-hot label) to the likelihood head's raw output;
        dropout where ``model.dropout``/``dropout_in`` put it."""
        cond = self.num_classes if self.conditional else 0
        spec = config.net_spec()
        p_enc, p_dec = config.dropout_rates()
        encoder = build_encoder(spec, self.shape, 2 * config.latent_dim, cond_dim=cond,
                                dropout=p_enc)
        decoder = build_decoder(spec, self.shape, config.latent_dim + cond,
                                self.likelihood.out_channels, dropout=p_dec)
        return encoder, decoder

    def full_precision_layers(self) -> list[nn.Module]:
        return self.likelihood.full_precision_layers(self.decoder)

    def _cond(self, y: Tensor | None) -> Tensor | None:
        if not self.conditional:
            return None
        if y is None:
            raise ConfigError(f"{self.config.name} is conditional: pass the labels")
        return self.one_hot(y)

    def encode(self, x: Tensor, y: Tensor | None = None) -> Distribution:
        mu, logvar = self.encoder(x, self._cond(y)).chunk(2, dim=1)
        return Independent(Normal(mu, torch.exp(0.5 * logvar.clamp(-30.0, 20.0))), 1)

    def decode(self, z: Tensor, y: Tensor | None = None) -> PixelDistribution:
        cond = self._cond(y)
        if cond is not None:
            z = torch.cat([z, cond], dim=1)
        return self.likelihood(self.decoder(z))

    def elbo_terms(self, x: Tensor, y: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """Per-image (nll, kl): a one-sample reconstruction term and the analytic KL."""
        q = self.encode(x, y)
        z = q.rsample()
        nll = -self.decode(z, y).log_prob(x)
        kl = kl_divergence(q, self.prior())
        return nll, kl

    def elbo(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        nll, kl = self.elbo_terms(x, y)
        return -(nll + kl)

    def loss(self, batch: Batch) -> LossOutput:
        nll, kl = self.elbo_terms(batch.x, batch.y)
        beta = self.config.beta
        total = (nll + beta * kl).mean()
        terms = {"nll": nll.mean(), "kl": kl.mean(), "neg_elbo": (nll + kl).mean()}
        return LossOutput(total, terms)

    def log_likelihood(self, x: Tensor, y: Tensor | None = None, k: int = IW_SAMPLES) -> Tensor:
        """The importance-sampled bound with k draws from the encoder (Burda et al. 2016)."""
        return iw_log_likelihood(self, x, y, k=k)

    def likelihood_method(self, k: int) -> str:
        return f"importance sampling, k = {k} (Burda et al. 2016)"

    def likelihood_scale(self, binarize: str) -> LikelihoodScale:
        return pixel_likelihood_scale(self.config.likelihood, binarize, self.config.bins)

    def log_importance_weights(self, x: Tensor, y: Tensor | None, k: int) -> Tensor:
        """log p(x, z_i) - log q(z_i | x) for k posterior samples, shape (k, N)."""
        q = self.encode(x, y)
        z = q.rsample((k,))  # (k, N, D)
        n = x.shape[0]
        flat = z.reshape(k * n, -1)
        labels = None if y is None else y.repeat(k)
        log_px = self.decode(flat, labels).log_prob(x.repeat(k, 1, 1, 1)).view(k, n)
        return log_px + self.prior().log_prob(z) - q.log_prob(z)

    def iw_bound(self, x: Tensor, y: Tensor | None = None, k: int = 1) -> Tensor:
        """Importance-weighted bound log (1/k) sum_i w_i per image (Burda et al., 2016)."""
        log_w = self.log_importance_weights(x, y, k)
        return torch.logsumexp(log_w, dim=0) - math.log(k)


@dataclass
class BetaVAEConfig(VAEConfig):
    beta: float = 4.0


class BetaVAE(VAE):
    """A VAE whose KL weight defaults to 4 (Higgins et al., 2017)."""

    config_class = BetaVAEConfig
