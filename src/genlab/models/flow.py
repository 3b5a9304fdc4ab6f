"""RealNVP: a normalizing flow with an exact likelihood (Dinh et al., 2017).

An image x in [0, 1]^D is uniformly dequantised, x~ = (255 x + u) / 256 (Theis et al. 2016),
mapped to logit space, y = logit(a + (1 - 2a) x~) (Dinh et al. 2017, 4.1), and through
``couplings`` affine coupling layers to z = f(y) with a N(0, I) prior. Each coupling keeps the
pixels of a checkerboard mask and scales and shifts the others by functions of the kept ones,
y' = y * m + (1 - m) * (y * exp(s(y m)) + t(y m)), alternating the mask, so that its Jacobian
is triangular: log |det| = sum (1 - m) s. The change of variables gives the exact density

    log p(x~) = log N(f(y); 0, I) + sum_layers log |det| + sum_d log |dy_d / dx~_d|,

in nats on [0, 1]^D; + D log 256 is the discrete likelihood of the 8-bit pixels that the
literature's bits/dim report (``models.density``). The flow is its own encoder (z = f(y), no
noise) and decoder (its inverse), so every latent tool applies.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from genlab.errors import ConfigError
from genlab.models.base import Batch, EncoderDecoderModel, LossOutput, ModelConfig
from genlab.models.density import LikelihoodScale, dequantise, eight_bit_nats
from genlab.models.likelihoods import ImplicitPixels


@dataclass
class FlowConfig(ModelConfig):
    """``couplings`` affine coupling layers, each an MLP of ``width`` units; ``alpha``: the
    margin of the logit transform (0.05 in Dinh et al. 2017)."""

    couplings: int = 8
    width: int = 512
    alpha: float = 0.05

    def validate(self) -> None:
        if self.couplings < 1 or self.width < 1:
            raise ConfigError("model.couplings and model.width must be positive")
        if not 0 < self.alpha < 0.5:
            raise ConfigError(f"model.alpha must be in (0, 0.5), got {self.alpha}")


class Coupling(nn.Module):
    """One affine coupling: the pixels where ``mask`` is 1 pass through and condition the
    scale and shift of the others (tanh-bounded log-scales keep early training stable)."""

    def __init__(self, mask: Tensor, hidden: int) -> None:
        super().__init__()
        self.register_buffer("mask", mask)
        d = mask.numel()
        self.net = nn.Sequential(nn.Linear(d, hidden), nn.ReLU(), nn.Linear(hidden, hidden),
                                 nn.ReLU(), nn.Linear(hidden, 2 * d))
        nn.init.zeros_(self.net[-1].weight)  # starts as the identity
        nn.init.zeros_(self.net[-1].bias)

    def _scale_shift(self, kept: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self.net(kept).chunk(2, dim=1)
        free = 1 - self.mask
        return torch.tanh(s) * free, t * free

    def forward(self, y: Tensor) -> tuple[Tensor, Tensor]:
        s, t = self._scale_shift(y * self.mask)
        return y * torch.exp(s) + t, s.sum(1)

    def inverse(self, y: Tensor) -> Tensor:
        s, t = self._scale_shift(y * self.mask)
        return (y - t) * torch.exp(-s)


class RealNVP(EncoderDecoderModel):
    """RealNVP normalizing flow: exact log-likelihood, encoder and decoder (Dinh et al. 2017)."""

    config_class = FlowConfig
    tiny: ClassVar[dict[str, Any]] = {"couplings": 2, "width": 32}
    fit_objective = ("the flow's decoder as a point mass: Gaussian pixel likelihood (sigma 0.1)"
                     " around the inverse of the code, plus the KL of q(z) to the prior")

    def __init__(self, config: FlowConfig, shape: tuple[int, int, int], num_classes: int):
        super().__init__(config, shape, num_classes)
        c, h, w = shape
        board = ((torch.arange(h).view(-1, 1) + torch.arange(w)) % 2).float()
        masks = [board.expand(c, h, w).flatten(), 1 - board.expand(c, h, w).flatten()]
        self.layers = nn.ModuleList(Coupling(masks[i % 2].clone(), config.width)
                                    for i in range(config.couplings))

    @property
    def latent_dim(self) -> int:
        return math.prod(self.shape)

    # --- the bijection ------------------------------------------------------------------
    def _to_logit(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """y = logit(a + (1 - 2a) x) and log |dy/dx| per image."""
        a = self.config.alpha
        s = a + (1 - 2 * a) * x.flatten(1)
        y = torch.log(s) - torch.log1p(-s)
        return y, (math.log(1 - 2 * a) - torch.log(s) - torch.log1p(-s)).sum(1)

    def _forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        """z = f(logit(x)) and log |dz/dx| per image."""
        y, logdet = self._to_logit(x)
        for layer in self.layers:
            y, ld = layer(y)
            logdet = logdet + ld
        return y, logdet

    def encode(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return self._forward(x)[0]

    def decode(self, z: Tensor, y: Tensor | None = None) -> ImplicitPixels:
        for layer in reversed(self.layers):
            z = layer.inverse(z)
        a = self.config.alpha
        x = ((torch.sigmoid(z) - a) / (1 - 2 * a)).clamp(0, 1)
        return ImplicitPixels(x.view(-1, *self.shape), 0.1)

    # --- the likelihood -----------------------------------------------------------------
    def log_likelihood(self, x: Tensor, y: Tensor | None = None, k: int = 0) -> Tensor:
        """Exact log p(x) per image, float64 nats, of pixels x in [0, 1] as given (dequantise
        8-bit data first: ``likelihood_scale``); ``k`` does not apply."""
        z, logdet = self._forward(x)
        prior = -0.5 * (z.double() ** 2).sum(1) - 0.5 * z.shape[1] * math.log(2 * math.pi)
        return prior + logdet.double()

    def likelihood_method(self, k: int) -> str:
        return "exact (change of variables, RealNVP)"

    def likelihood_scale(self, binarize: str) -> LikelihoodScale:
        return LikelihoodScale("density", binarize, "an exact density of pixels in [0, 1]: "
                               "compare its 8-bit bits/dim with other models' on the same pixels")

    def loss(self, batch: Batch) -> LossOutput:
        """-log p of the dequantised batch (fresh noise each batch, from the global RNG that
        runs checkpoint), nats per image, and its 8-bit bits/dim."""
        x = dequantise(batch.x)
        nll = -self.log_likelihood(x).float()
        dims = x[0].numel()
        bpd = eight_bit_nats(nll, dims) / (dims * math.log(2))
        return LossOutput(nll.mean(), {"nll": nll.mean(), "bpd_8bit": bpd.mean()})
