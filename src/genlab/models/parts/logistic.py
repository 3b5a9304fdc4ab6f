"""Discretised logistic mixture pixels (Salimans et al. 2017, PixelCNN++ 2.1-2.2), here the
likelihood of a VAE's decoder, not of an autoregressive model.

8-bit pixel values k in {0, ..., 255} are centred to v = 2k/255 - 1 in [-1, 1]. Each pixel has
a mixture of K logistics shared by its channels: weights pi_j, and per channel c a mean and a
log-scale. The channels of one component are linearly coupled, as in PixelCNN++ (their
eq. 3): the red value shifts the green mean, red and green shift the blue one, so the
mixture models a pixel's colour, not three independent intensities. A channel's probability
is the logistic's mass on its bin of width 2/255 (the edge bins take the tails):

    P(v | m, s) = sigma((v + 1/255 - m) / s) - sigma((v - 1/255 - m) / s).

The log-likelihood is a probability of the integer pixels (``models.core.scale``: discrete, 256
levels), so its bits/dim are on the literature's 8-bit scale with no dequantisation.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.distributions import Categorical
from torch.nn import functional as F

from genlab.errors import ConfigError
from genlab.models.core.pixels import Likelihood, PixelDistribution

LEVELS = 256
LOG_SCALE_MIN, LOG_SCALE_MAX = -7.0, 7.0
"""Bounds of a component's log-scale: PixelCNN++'s floor keeps a bin's mass computable; the
ceiling (a scale far wider than the [-1, 1] pixel range) keeps 1 / s from underflowing."""


def _coupled_means(means: Tensor, coeffs: Tensor, x: Tensor) -> Tensor:
    """Channel means of each component shifted by the preceding channels' values ``x``
    ((N, 1, C, H, W), in [-1, 1]): m_1 += a x_0, m_2 += b x_0 + c x_1 (PixelCNN++ eq. 3)."""
    c = means.shape[2]
    if c == 1:
        return means
    shifted = [means[:, :, 0]]
    k = 0
    for channel in range(1, c):
        m = means[:, :, channel]
        for earlier in range(channel):
            m = m + coeffs[:, :, k] * x[:, :, earlier]
            k += 1
        shifted.append(m)
    return torch.stack(shifted, 2)


class LogisticMixturePixels(PixelDistribution):
    """The mixture over (N, C, H, W) images; components and coupling per pixel. It is
    independent across pixels but not across a pixel's channels, so it masks whole pixels."""

    def __init__(self, logits: Tensor, means: Tensor, log_scales: Tensor, coeffs: Tensor):
        super().__init__(Categorical(logits=logits.movedim(1, -1), validate_args=False))
        self.logits, self.means, self.coeffs = logits, means, coeffs
        self.log_scales = log_scales.clamp(LOG_SCALE_MIN, LOG_SCALE_MAX)

    def pixel_mixture_log_prob(self, x: Tensor) -> Tensor:
        """log P(pixel) of each pixel, (N, H, W), in nats."""
        v = (x * (LEVELS - 1)).round() * (2 / (LEVELS - 1)) - 1
        v = v.unsqueeze(1)  # (N, 1, C, H, W) against the K components
        centred = v - _coupled_means(self.means, self.coeffs, v)
        inv_s = torch.exp(-self.log_scales)
        half = 1 / (LEVELS - 1)
        # sigma(a) - sigma(b) = sigma(a) sigma(-b) (1 - exp(b - a)): the bin's mass with no
        # cancellation, since b - a = -2 half / s does not depend on the pixel.
        log_up = -F.softplus(-inv_s * (centred + half))  # log sigma(a): the bottom bin's mass
        log_down = -F.softplus(inv_s * (centred - half))  # log sigma(-b): the top bin's mass
        inner = log_up + log_down + torch.log(-torch.expm1(-2 * half * inv_s))
        log_bin = torch.where(v < -1 + half, log_up, torch.where(v > 1 - half, log_down, inner))
        joint = log_bin.sum(2) + F.log_softmax(self.logits, dim=1)  # channels of a component
        return torch.logsumexp(joint, dim=1)

    def pixel_log_prob(self, x: Tensor) -> Tensor:
        """Each pixel's log-probability, put on its first channel (the others 0), (N, C, H, W):
        its sum over channels and pixels is the image's log-likelihood."""
        lp = self.pixel_mixture_log_prob(x).unsqueeze(1)
        return torch.cat([lp, lp.new_zeros(lp.shape[0], x.shape[1] - 1, *lp.shape[2:])], 1)

    def log_prob(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Log-likelihood of each image, (N,), over the pixels whose every channel ``mask``
        observes (a pixel's channels are one joint probability)."""
        lp = self.pixel_mixture_log_prob(x)
        if mask is not None:
            seen = mask.bool().expand_as(x).all(1)
            lp = torch.where(seen, lp, 0.0)
        return lp.flatten(1).sum(1)

    @property
    def mean(self) -> Tensor:
        """The expected image in [0, 1]: each component's expected clamped logistic,
        E clamp(X, -1, 1) = -1 + s (softplus((m + 1) / s) - softplus((m - 1) / s)), mixed by
        the weights. Exact for one channel up to the rounding to 256 levels; a coupled
        channel takes its component's expected preceding values as the shift."""
        s = torch.exp(self.log_scales)
        means = self.means
        for _ in range(means.shape[2]):  # the coupling resolved channel by channel
            expected = -1 + s * (F.softplus((means + 1) / s) - F.softplus((means - 1) / s))
            means = _coupled_means(self.means, self.coeffs, expected)
        weights = torch.softmax(self.logits, dim=1).unsqueeze(2)
        return (((weights * expected).sum(1) + 1) / 2).clamp(0, 1)

    def sample(self) -> Tensor:
        """One image per batch entry on the 256 levels (uses torch's global RNG): a component
        per pixel, then its channels in order, each from its coupled logistic."""
        j = self.dist.sample()  # (N, H, W)
        pick = F.one_hot(j, self.logits.shape[1]).movedim(-1, 1).unsqueeze(2).to(self.means)
        means, log_s = (self.means * pick).sum(1), (self.log_scales * pick).sum(1)
        coeffs = (self.coeffs * pick).sum(1, keepdim=True)
        u = torch.rand_like(means).clamp(1e-5, 1 - 1e-5)
        noise = torch.exp(log_s) * (torch.log(u) - torch.log1p(-u))
        x = torch.zeros_like(means)
        for c in range(means.shape[1]):  # channel c's mean depends on the values drawn before
            m = _coupled_means(means.unsqueeze(1), coeffs, x.unsqueeze(1))[:, 0, c]
            x[:, c] = (m + noise[:, c]).clamp(-1, 1)
        return ((x + 1) / 2 * (LEVELS - 1)).round() / (LEVELS - 1)


class DiscretisedLogisticLikelihood(Likelihood):
    description = ("mixture of discretised logistics over 256 levels, channels coupled "
                   "(Salimans et al. 2017); mixtures = K")
    fp32_parameters = True
    """A bin is 2/255 wide; bf16 resolves a mean near 1 to 2^-7, a whole bin: with a bf16
    output layer a CIFAR-10 VAE's -ELBO came out 1.7% worse after 3 epochs, with an fp32 one
    as good as fp32 training (``benchmarks/results/bench_precision_2026-12-06.log``)."""

    def __init__(self, shape: tuple[int, int, int], mixtures: int = 10) -> None:
        super().__init__(shape)
        if not isinstance(mixtures, int) or mixtures < 1:
            raise ConfigError(f"mixtures must be a positive integer, got {mixtures!r}")
        self.mixtures = mixtures
        c = shape[0]
        self.sizes = (mixtures, mixtures * c, mixtures * c, mixtures * (c * (c - 1) // 2))

    @property
    def out_channels(self) -> int:
        """Mixture logits, then per component and channel a mean, a log-scale and the
        coupling coefficients."""
        return sum(self.sizes)

    def distribution(self, h: Tensor) -> PixelDistribution:
        k, (c, height, width) = self.mixtures, self.shape
        logits, means, log_scales, coeffs = h.split(self.sizes, dim=1)
        per = (h.shape[0], k, c, height, width)
        pairs = (h.shape[0], k, c * (c - 1) // 2, height, width)
        return LogisticMixturePixels(logits, means.reshape(per), log_scales.reshape(per),
                                     torch.tanh(coeffs).reshape(pairs))
