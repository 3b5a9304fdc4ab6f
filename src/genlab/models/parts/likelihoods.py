"""Decoder pixel distributions p(x|z): the head that turns a decoder's raw output into a likelihood.

Every likelihood is a product of independent per-pixel distributions from ``torch.distributions``.
``log_prob`` sums over channels and pixels so it enters an ELBO directly, and its ``mask`` keeps
only observed pixels, which is what image completion conditions on.

Distributions are built with ``validate_args=False`` so that a NaN from a diverging network
reaches the loss (and the trainer's divergence check) instead of raising inside torch.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.distributions import (
    Bernoulli,
    Beta,
    Categorical,
    ContinuousBernoulli,
    Normal,
)
from torch.nn import functional as F

from genlab.errors import ConfigError
from genlab.models.core.pixels import Likelihood, PixelDistribution
from genlab.models.parts.logistic import DiscretisedLogisticLikelihood

SIGMA_MIN = 1e-3
"""Floor on the Gaussian sigma: pixels that are constant in the data (MNIST's black border) would
otherwise let a learned sigma, and with it the NLL, run off to zero and minus infinity."""

BETA_MIN_CONCENTRATION = 1e-3
"""Added to softplus so both Beta concentrations stay strictly positive."""

BETA_CLAMP = 1e-4
"""Data are clamped into [BETA_CLAMP, 1 - BETA_CLAMP] before the Beta log-density, which is
infinite or zero at exactly 0 and 1, values that near-binary images hit all the time."""

SIGMA_MODES = ("fixed", "global", "pixel", "decoder")
"""sigma fixed, one learned scalar, learned per pixel, or sigma(z) per pixel from the decoder."""


def bin_index(x: Tensor, bins: int) -> Tensor:
    """Categorical bin of each value in [0, 1]: floor(x * bins), with x = 1 in the last bin."""
    return (x * bins).floor().clamp(0, bins - 1).long()


class ImplicitPixels(PixelDistribution):
    """What an implicit decoder (a GAN's generator) gives: a point mass at its image G(z),
    whose mean and draws are that image. ``log_prob`` is a Gaussian of ``sigma`` around it, the
    likelihood that inverting the generator maximises (a pixel loss, Zhu et al. 2016)."""

    def __init__(self, images: Tensor, sigma: float) -> None:
        super().__init__(Normal(images, torch.full_like(images, sigma)))
        self.images = images

    @property
    def mean(self) -> Tensor:
        return self.images

    def sample(self) -> Tensor:
        return self.images


class _BernoulliPixels(PixelDistribution):
    def pixel_log_prob(self, x: Tensor) -> Tensor:
        # Equal to the Bernoulli log-pmf on binary x; on grey x it is the (negative) binary
        # cross-entropy, which is not a normalised likelihood (continuous-bernoulli is).
        return -F.binary_cross_entropy_with_logits(self.dist.logits, x, reduction="none")


class _GaussianPixels(PixelDistribution):
    def __init__(self, loc: Tensor, scale: Tensor) -> None:
        super().__init__(Normal(loc, scale, validate_args=False))
        self.loc, self.scale = loc, scale

    def pixel_log_prob(self, x: Tensor) -> Tensor:
        """Normal's log-density with sigma unbroadcast: ``Normal.log_prob`` takes the log and
        the square of sigma expanded to every pixel, which made a CIFAR-10 batch's
        likelihood (forward and backward) 4.8 ms instead of 1.4."""
        z = (x - self.loc) / self.scale
        return -0.5 * z.square() - (self.scale.log() + 0.5 * math.log(2 * math.pi))

    def sample(self) -> Tensor:
        # Clamped so a sample is a valid image, as for every other likelihood.
        return super().sample().clamp(0, 1)


class _BetaPixels(PixelDistribution):
    def pixel_log_prob(self, x: Tensor) -> Tensor:
        return self.dist.log_prob(x.clamp(BETA_CLAMP, 1 - BETA_CLAMP))


class _CategoricalPixels(PixelDistribution):
    """Pixels quantised to k bins; values map to bins with ``bin_index`` and back to centres."""

    @property
    def bins(self) -> int:
        return self.dist.logits.shape[-1]

    def _centres(self) -> Tensor:
        logits = self.dist.logits
        return (torch.arange(self.bins, device=logits.device, dtype=logits.dtype) + 0.5) / self.bins

    def pixel_log_prob(self, x: Tensor) -> Tensor:
        # A log-pmf over bins: the piecewise-uniform density on [0, 1] is this plus log(k).
        return self.dist.log_prob(bin_index(x, self.bins))

    @property
    def mean(self) -> Tensor:
        return self.dist.probs @ self._centres()

    def sample(self) -> Tensor:
        return self._centres()[self.dist.sample()]


class BernoulliLikelihood(Likelihood):
    description = "Bernoulli(logits=h); exact on binarised data, cross-entropy on grey data"

    def distribution(self, h: Tensor) -> PixelDistribution:
        return _BernoulliPixels(Bernoulli(logits=h, validate_args=False))


class GaussianLikelihood(Likelihood):
    """Normal(sigmoid(h), sigma). With ``sigma_mode="decoder"`` the decoder outputs two maps
    per channel, the mean's logits and sigma's raw value h_s (a heteroscedastic decoder, the
    variance a function of z, as seed 004's log-variance output and Kingma & Welling 2014's
    Gaussian MLP decoder): sigma = SIGMA_MIN + softplus(h_s + b), b chosen so that h_s = 0
    gives ``sigma``. Softplus, not exp of a log-variance and not a clamp: it grows linearly
    (no overflow for a large h_s), keeps a gradient everywhere (a clamp has none past its
    ends) and is floored like the learned modes, so a constant pixel's NLL stays finite."""

    description = ("Normal(sigmoid(h), sigma); sigma fixed, one learned scalar, learned per "
                   "pixel, or per pixel from the decoder (sigma(z))")

    def __init__(
        self, shape: tuple[int, int, int], sigma: float = 0.1, sigma_mode: str = "fixed"
    ) -> None:
        super().__init__(shape)
        if sigma_mode not in SIGMA_MODES:
            raise ConfigError(
                f"unknown sigma_mode {sigma_mode!r}; choose one of: {', '.join(SIGMA_MODES)}"
            )
        if not sigma >= SIGMA_MIN or (sigma_mode == "decoder" and sigma == SIGMA_MIN):
            raise ConfigError(f"sigma must be at least {SIGMA_MIN} (above it with "
                              f"sigma_mode=decoder: its value at zero output), got {sigma}")
        self.sigma_mode = sigma_mode
        if sigma_mode == "decoder":
            self.params_per_channel = 2
            self.offset = math.log(math.expm1(sigma - SIGMA_MIN))  # softplus^-1
            return
        init = torch.full(self.shape if sigma_mode == "pixel" else (), math.log(sigma))
        if sigma_mode == "fixed":
            self.register_buffer("log_sigma", init, persistent=False)
        else:
            self.log_sigma = nn.Parameter(init)

    def distribution(self, h: Tensor) -> PixelDistribution:
        if self.sigma_mode == "decoder":
            h, h_sigma = self.split(h).unbind(2)
            return _GaussianPixels(torch.sigmoid(h), SIGMA_MIN + F.softplus(h_sigma + self.offset))
        scale = self.log_sigma.clamp(min=math.log(SIGMA_MIN)).exp()
        return _GaussianPixels(torch.sigmoid(h), scale)


class BetaLikelihood(Likelihood):
    description = "Beta(softplus(h_a), softplus(h_b)); data clamped off the endpoints 0 and 1"
    params_per_channel = 2

    def distribution(self, h: Tensor) -> PixelDistribution:
        a, b = (F.softplus(self.split(h)) + BETA_MIN_CONCENTRATION).unbind(2)
        return _BetaPixels(Beta(a, b, validate_args=False))


class CategoricalLikelihood(Likelihood):
    description = "Categorical over k intensity bins (log-pmf in nats; bins = k)"

    def __init__(self, shape: tuple[int, int, int], bins: int = 16) -> None:
        super().__init__(shape)
        if not isinstance(bins, int) or bins < 2:
            raise ConfigError(f"bins must be an integer of at least 2, got {bins!r}")
        self.params_per_channel = bins

    def distribution(self, h: Tensor) -> PixelDistribution:
        logits = self.split(h).movedim(2, -1)
        return _CategoricalPixels(Categorical(logits=logits, validate_args=False))


class ContinuousBernoulliLikelihood(Likelihood):
    description = "ContinuousBernoulli(logits=h): the normalised Bernoulli for grey data in [0, 1]"

    def distribution(self, h: Tensor) -> PixelDistribution:
        return PixelDistribution(ContinuousBernoulli(logits=h, validate_args=False))


_CLASSES: dict[str, type[Likelihood]] = {
    "bernoulli": BernoulliLikelihood,
    "gaussian": GaussianLikelihood,
    "beta": BetaLikelihood,
    "categorical": CategoricalLikelihood,
    "continuous-bernoulli": ContinuousBernoulliLikelihood,
    "logistic": DiscretisedLogisticLikelihood,
}

LIKELIHOODS: dict[str, str] = {name: cls.description for name, cls in _CLASSES.items()}


@dataclass
class PixelLikelihoodConfig:
    """The decoder-likelihood part of a family's config: ``likelihood`` (one of
    :data:`LIKELIHOODS`), the Gaussian's ``sigma`` and ``sigma_mode`` (one of
    :data:`SIGMA_MODES`; ``decoder``: sigma(z), ``sigma`` its value at zero output), the
    categorical decoder's ``bins`` and the logistic mixture's number of components,
    ``mixtures``."""

    likelihood: str = "bernoulli"
    sigma: float = 0.1
    sigma_mode: str = "fixed"
    bins: int = 16
    mixtures: int = 10

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"likelihood": tuple(LIKELIHOODS),
                                                     "sigma_mode": tuple(SIGMA_MODES)}

    def build_likelihood(self, shape: tuple[int, int, int]) -> Likelihood:
        """This config's likelihood head for images of ``shape``."""
        return build_likelihood(self.likelihood, *shape, sigma=self.sigma,
                                sigma_mode=self.sigma_mode, bins=self.bins,
                                mixtures=self.mixtures)

    def validate_data(self, binarize: str, size: tuple[int, int] | None) -> None:
        """The logistic mixture is a probability of 8-bit pixels, not of binarised ones."""
        if self.likelihood == "logistic" and binarize != "none":
            raise ConfigError(f"model.likelihood=logistic models the 256 levels of 8-bit "
                              f"pixels; data.binarize must be none, got {binarize}")
        super().validate_data(binarize, size)  # type: ignore[misc]


def build_likelihood(
    name: str,
    channels: int,
    height: int,
    width: int,
    *,
    sigma: float = 0.1,
    sigma_mode: str = "fixed",
    bins: int = 16,
    mixtures: int = 10,
) -> Likelihood:
    """The likelihood head ``name`` for images of shape (channels, height, width)."""
    shape = (channels, height, width)
    if name == "logistic":
        return DiscretisedLogisticLikelihood(shape, mixtures=mixtures)
    if name == "gaussian":
        return GaussianLikelihood(shape, sigma=sigma, sigma_mode=sigma_mode)
    if name == "categorical":
        return CategoricalLikelihood(shape, bins=bins)
    if name not in _CLASSES:
        raise ConfigError(f"unknown likelihood {name!r}; choose one of: {', '.join(_CLASSES)}")
    return _CLASSES[name](shape)
