"""RealNVP: a multi-scale normalizing flow with an exact likelihood (Dinh et al. 2017), with
Glow's actnorm and invertible 1 x 1 convolutions as options (Kingma & Dhariwal 2018).

An image x in [0, 1]^D is uniformly dequantised for training, x~ = (255 x + u) / 256 (Theis
et al. 2016), mapped to logit space, y = logit(a + (1 - 2a) x~) (Dinh et al. 2017, 4.1), and
through ``levels`` scales (3.6): at each, ``couplings`` checkerboard affine couplings, a
squeeze (2 x 2 blocks to channels), ``couplings`` channel couplings, and half the channels
factored out to the code; the rest go on to the next scale, and after the last scale
``couplings`` checkerboard couplings end the flow. With ``actnorm`` every coupling is preceded
by an actnorm, with ``invconv`` every channel coupling by an invertible 1 x 1 convolution
(the layers: ``models.flow_layers``). The code z, everything factored out and the rest, has
a N(0, I) prior, and the change of variables gives the exact density

    log p(x~) = log N(z; 0, I) + sum_layers log |det J| + sum_d log |dy_d / dx~_d|,

in nats on [0, 1]^D; + D log 256 is the discrete likelihood of the 8-bit pixels that the
literature's bits/dim report (``models.core.scale``). With ``dequantisation: variational`` the
noise u comes from a learnt q(u | x) instead (Ho et al. 2019, 3.1) and training maximises
log P(x) >= E_q [log p((255 x + u) / 256) - log q(u | x)] - D log 256, a bound on the
8-bit pixels' probability that the evaluation importance-samples (``log_likelihood``).
The flow is its own encoder (z = f(y), no noise) and decoder (its inverse), exact both ways,
so every latent tool applies; sampling draws z from N(0, T^2 I) at the sampling option
``temperature`` T.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from genlab.errors import ConfigError
from genlab.models.core.base import Batch, EncoderDecoderModel, LossOutput, render
from genlab.models.core.config import ModelConfig
from genlab.models.core.latent_space import LatentSpace
from genlab.models.core.pixels import INVERSION_SIGMA
from genlab.models.core.sampling import SampleOptions, TemperatureOptions
from genlab.models.core.scale import LikelihoodScale
from genlab.models.parts.density import chunked, dequantise, eight_bit_nats
from genlab.models.parts.flow_layers import (
    ActNorm,
    ChannelCoupling,
    CheckerboardCoupling,
    InvConv,
    Squeeze,
    VariationalDequantiser,
)
from genlab.models.parts.likelihoods import ImplicitPixels

DEQUANTISATIONS = ("uniform", "variational")
DEQUANTISATION_DRAWS = 16
"""At most this many draws of u ~ q(u | x) per image for a variational flow's likelihood."""


@dataclass
class FlowConfig(ModelConfig):
    """``levels`` scales (each halves the image side: it must divide by 2^levels), each of
    ``couplings`` checkerboard and ``couplings`` channel couplings whose networks have
    ``width`` maps and ``blocks`` residual blocks; ``actnorm`` and ``invconv``: Glow's layers;
    ``alpha``: the margin of the logit transform (0.05 in Dinh et al. 2017); ``dequantisation``:
    uniform or variational (a learnt q(u | x) of ``width`` maps, Ho et al. 2019)."""

    levels: int = 2
    couplings: int = 3
    width: int = 32
    blocks: int = 1
    actnorm: bool = False
    invconv: bool = False
    alpha: float = 0.05
    dequantisation: str = "uniform"

    def validate(self) -> None:
        super().validate()
        if self.levels < 0:
            raise ConfigError(f"model.levels must not be negative, got {self.levels}")
        if self.couplings < 1 or self.width < 1 or self.blocks < 0:
            raise ConfigError("model.couplings and model.width must be positive and "
                              "model.blocks not negative")
        if not 0 < self.alpha < 0.5:
            raise ConfigError(f"model.alpha must be in (0, 0.5), got {self.alpha}")
        if self.dequantisation not in DEQUANTISATIONS:
            raise ConfigError(f"model.dequantisation={self.dequantisation!r} is not valid; "
                              f"choose one of {', '.join(DEQUANTISATIONS)}")

    def validate_data(self, binarize: str, size: tuple[int, int] | None) -> None:
        """Each level squeezes 2 x 2 blocks: the image side must divide by 2^levels."""
        step = 2 ** self.levels
        if size is not None and (size[0] % step or size[1] % step):
            raise ConfigError(
                f"model.levels={self.levels} squeezes the image {self.levels} times, but its "
                f"size {size[0]}x{size[1]} does not divide by {step}: lower model.levels or "
                f"set data.size to a multiple of {step}")


def _steps(kind: str, channels: int, config: FlowConfig) -> list[nn.Module]:
    """``config.couplings`` couplings of ``kind`` (alternating masks), each with its actnorm
    and, for channel couplings, 1 x 1 convolution when the config asks for them."""
    layers: list[nn.Module] = []
    for i in range(config.couplings):
        if config.actnorm:
            layers.append(ActNorm(channels))
        if kind == "channel":
            if config.invconv:
                layers.append(InvConv(channels))
            layers.append(ChannelCoupling(channels, i % 2 == 1, config.width, config.blocks))
        else:
            layers.append(CheckerboardCoupling(channels, i % 2, config.width, config.blocks))
    return layers


class RealNVP(EncoderDecoderModel):
    """Multi-scale RealNVP flow (Glow options): exact likelihood, exact encoder and decoder."""

    config_class = FlowConfig
    sample_options = TemperatureOptions
    tiny: ClassVar[dict[str, Any]] = {"levels": 1, "couplings": 1, "width": 8, "blocks": 0,
                                      "actnorm": True, "invconv": True,
                                      "dequantisation": "variational"}
    fit_objective = (f"the flow's decoder as a point mass: Gaussian pixel likelihood (sigma "
                     f"{INVERSION_SIGMA}) around the inverse of the code, plus the KL of q(z) "
                     "to the prior")

    def __init__(self, config: FlowConfig, shape: tuple[int, int, int], num_classes: int):
        super().__init__(config, shape, num_classes)
        c, h, w = shape
        config.validate_data("none", (h, w))  # a folder's images, sized only once loaded
        self.scales = nn.ModuleList()
        self.parts: list[tuple[int, int, int]] = []
        for _ in range(config.levels):
            self.scales.append(nn.ModuleList([*_steps("checkerboard", c, config), Squeeze(),
                                              *_steps("channel", 4 * c, config)]))
            c, h, w = 2 * c, h // 2, w // 2  # 4c channels, half of them factored out
            self.parts.append((c, h, w))
        self.final = nn.ModuleList(_steps("checkerboard", c, config))
        self.parts.append((c, h, w))
        self.dequantiser = (VariationalDequantiser(shape[0], config.width)
                            if config.dequantisation == "variational" else None)

    @property
    def latent_space(self) -> LatentSpace:
        """Flat and continuous: each scale's factored-out part, then the rest, concatenated
        (parts of different sizes, not one image grid), drawn from N(0, I)."""
        return LatentSpace((math.prod(self.shape),), "continuous", prior=self.sample_prior)

    # --- the bijection ------------------------------------------------------------------
    def _to_logit(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """y = logit(a + (1 - 2a) x) and log |dy/dx| per image."""
        a = self.config.alpha
        s = a + (1 - 2 * a) * x
        y = torch.log(s) - torch.log1p(-s)
        return y, (math.log(1 - 2 * a) - torch.log(s) - torch.log1p(-s)).flatten(1).sum(1)

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """z = f(logit(x)), flat (N, D): each scale's factored-out part, then the rest; and
        log |dz/dx| per image."""
        y, logdet = self._to_logit(x)
        codes = []
        for scale in self.scales:
            for layer in scale:
                y, ld = layer(y)
                logdet = logdet + ld
            out, y = y.chunk(2, dim=1)
            codes.append(out.flatten(1))
        for layer in self.final:
            y, ld = layer(y)
            logdet = logdet + ld
        return torch.cat([*codes, y.flatten(1)], dim=1), logdet

    def _inverse(self, z: Tensor) -> Tensor:
        """logit(x) from the flat code: the last part through the final layers back, then
        each scale's factored-out part joined and the scale undone, last scale first."""
        parts = [p.view(-1, *shape) for p, shape in
                 zip(z.split([math.prod(s) for s in self.parts], dim=1), self.parts,
                     strict=True)]
        y = parts[-1]
        for layer in reversed(self.final):
            y = layer.inverse(y)
        for scale, out in zip(reversed(self.scales), reversed(parts[:-1]), strict=True):
            y = torch.cat([out, y], dim=1)
            for layer in reversed(scale):
                y = layer.inverse(y)
        return y

    def encode(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self._forward(x)[0]

    def decode(self, z: Tensor, y: Tensor | None = None) -> ImplicitPixels:
        a = self.config.alpha
        x = ((torch.sigmoid(self._inverse(z)) - a) / (1 - 2 * a)).clamp(0, 1)
        return ImplicitPixels(x.view(-1, *self.shape), INVERSION_SIGMA)

    def sample(self, n: int, labels: Tensor | None = None,
               generator: torch.Generator | None = None, mean: bool = True,
               options: SampleOptions | None = None) -> Tensor:
        """Decodes of z ~ N(0, T^2 I), T the options' ``temperature``."""
        t = (options or TemperatureOptions()).temperature  # type: ignore[attr-defined]
        return render(self.decode(t * self.sample_prior(n, generator)), mean)

    # --- the likelihood -----------------------------------------------------------------
    def log_likelihood(self, x: Tensor, y: Tensor | None = None, k: int = 0) -> Tensor:
        """Per image, float64 nats: uniform dequantisation, the exact log p(x) of pixels x in
        [0, 1] as given (dequantise 8-bit data first: ``likelihood_scale``; ``k`` does not
        apply); variational, the importance-sampled bound on log P(x) of 8-bit pixels with
        min(k, DEQUANTISATION_DRAWS) draws of u ~ q(u | x) (Burda et al. 2016's estimator)."""
        if self.dequantiser is None:
            return chunked(lambda xs, _: self._log_density(xs), x, y)
        draws, dims = max(1, min(k, DEQUANTISATION_DRAWS)), x[0].numel()
        return chunked(lambda xs, _: torch.stack([self._dequantised(xs) for _ in range(draws)])
                       .logsumexp(0) - math.log(draws) - dims * math.log(256), x, y)

    def _log_density(self, x: Tensor) -> Tensor:
        z, logdet = self._forward(x)
        prior = -0.5 * (z.double() ** 2).sum(1) - 0.5 * z.shape[1] * math.log(2 * math.pi)
        return prior + logdet.double()

    def _dequantised(self, x: Tensor, eps: Tensor | None = None) -> Tensor:
        """log p((255 x + u) / 256) - log q(u | x) for one u ~ q(u | x) per image, from the
        noise ``eps`` (None: drawn from the global RNG), float64 nats: the variational bound's
        integrand on [0, 1]^D."""
        if eps is None:
            eps = torch.randn(x.shape, device="cpu").to(x)
        u, log_q = self.dequantiser(x, eps)  # type: ignore[misc]
        return self._log_density(((x * 255).round() + u) / 256) - log_q.double()

    def likelihood_method(self, k: int) -> str:
        if self.dequantiser is None:
            return "exact (change of variables, RealNVP)"
        return (f"variational dequantisation (Ho et al. 2019), importance-sampled with "
                f"{max(1, min(k, DEQUANTISATION_DRAWS))} draws of u ~ q(u | x)")

    def likelihood_name(self) -> str:
        return "flow density (RealNVP)"

    def likelihood_scale(self, binarize: str) -> LikelihoodScale:
        if self.dequantiser is not None:
            return LikelihoodScale("discrete", binarize, "a bound on the probability of the "
                                   "8-bit pixels: comparable with other models' 8-bit "
                                   "bits/dim", 256)
        return LikelihoodScale("density", binarize, "an exact density of pixels in [0, 1]: "
                               "compare its 8-bit bits/dim with other models' on the same pixels")

    def loss(self, batch: Batch) -> LossOutput:
        """-log p of the batch dequantised by fresh noise (the global RNG that runs
        checkpoint): uniform, or from q(u | x) minus log q (the variational bound), nats per
        image on [0, 1]^D, and the 8-bit bits/dim."""
        dims = batch.x[0].numel()
        if self.dequantiser is None:
            nll = -self._log_density(dequantise(batch.x)).float()
        else:
            nll = -self._dequantised(batch.x).float()
        bpd = eight_bit_nats(nll, dims) / (dims * math.log(2))
        return LossOutput(nll.mean(), {"nll": nll.mean(), "bpd_8bit": bpd.mean()})
