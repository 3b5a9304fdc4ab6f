"""The two abstractions every pixel likelihood is built on: a distribution over images that
is independent across pixels (``PixelDistribution``) and the decoder head that makes one from
a network's raw output (``Likelihood``). The heads themselves are in ``likelihoods``."""

from __future__ import annotations

from typing import ClassVar

import torch
from torch import Tensor, nn
from torch.distributions import Distribution


class PixelDistribution:
    """A distribution over (N, C, H, W) images in [0, 1], independent across pixels."""

    def __init__(self, dist: Distribution) -> None:
        self._dist = dist

    @property
    def dist(self) -> Distribution:
        """The underlying per-pixel torch distribution, batch shape (N, C, H, W)."""
        return self._dist

    def pixel_log_prob(self, x: Tensor) -> Tensor:
        """Per-pixel log-probabilities in nats, shape (N, C, H, W)."""
        return self._dist.log_prob(x)

    def log_prob(self, x: Tensor, mask: Tensor | None = None) -> Tensor:
        """Log-likelihood of each image, shape (N,), summed over the pixels where ``mask`` is 1.

        ``mask`` is 0/1 with x's shape or broadcastable to it, e.g. (1, 1, H, W).
        """
        lp = self.pixel_log_prob(x)
        if mask is not None:
            # where, not multiply: a -inf at a hidden pixel must not turn the sum into NaN
            lp = torch.where(mask.bool(), lp, 0.0)
        return lp.flatten(1).sum(1)

    @property
    def mean(self) -> Tensor:
        """The expected image, (N, C, H, W) in [0, 1]."""
        return self._dist.mean

    def sample(self) -> Tensor:
        """One image per batch entry, (N, C, H, W) in [0, 1] (uses torch's global RNG)."""
        return self._dist.sample()


INVERSION_SIGMA = 0.1
"""Pixel sigma of the Gaussian around an implicit decoder's image that inverting it maximises
(a GAN's generator, a flow's inverse): fitting q(z) then minimises the squared pixel error over
2 sigma^2 plus the KL to the prior, i.e. inversion with a prior term (Zhu et al. 2016 invert
a generator by pixel loss alone; the prior keeps z where the decoder was trained)."""


OUTPUT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d, nn.ConvTranspose1d,
                 nn.ConvTranspose2d, nn.ConvTranspose3d)
"""The layer kinds a network can end with: the layer whose output a head reads."""


class Likelihood(nn.Module):
    """Decoder head: raw (N, C * params_per_channel, H, W) output -> ``PixelDistribution``.

    The parameters of image channel c are output channels c*p ... c*p + p - 1.
    """

    params_per_channel: int = 1
    description: ClassVar[str]
    fp32_parameters: ClassVar[bool] = False
    """Whether the layer that outputs this head's parameters computes in fp32 in a bf16 run: a
    head that reads them finer than bf16's 8-bit mantissa resolves (``training.precision``)."""

    def full_precision_layers(self, network: nn.Module) -> list[nn.Module]:
        """The layers of ``network``, the one whose output this head reads, that compute in
        fp32 in a bf16 run: its output layer (its last Linear or convolution, as every
        decoder of ``parts.nets`` ends) where the head needs ``fp32_parameters``, else none."""
        if not self.fp32_parameters:
            return []
        return [m for m in network.modules() if isinstance(m, OUTPUT_LAYERS)][-1:]

    def __init__(self, shape: tuple[int, int, int]) -> None:
        super().__init__()
        self.shape = tuple(shape)

    @property
    def out_channels(self) -> int:
        """Channels of raw decoder output this head reads: ``params_per_channel`` per image
        channel unless a head shares parameters across channels."""
        return self.shape[0] * self.params_per_channel

    def forward(self, h: Tensor) -> PixelDistribution:
        _, height, width = self.shape
        expected = (self.out_channels, height, width)
        if h.dim() != 4 or tuple(h.shape[1:]) != expected:
            raise ValueError(
                f"{type(self).__name__} expects decoder output (N, {', '.join(map(str, expected))})"
                f", got {tuple(h.shape)}"
            )
        return self.distribution(h)

    def distribution(self, h: Tensor) -> PixelDistribution:
        raise NotImplementedError

    def split(self, h: Tensor) -> Tensor:
        """(N, C*p, H, W) -> (N, C, p, H, W): each image channel's parameters together."""
        return h.unflatten(1, (self.shape[0], self.params_per_channel))
