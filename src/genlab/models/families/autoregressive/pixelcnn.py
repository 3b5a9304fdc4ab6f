"""Gated PixelCNN (van den Oord et al. 2016): an autoregressive model with an exact likelihood.

p(x) = prod_i p(x_i | x_<i) over the pixels in raster order (row by row, left to right) and,
within a pixel, over its channels in order (R, then G given R, then B given R and G), each
conditional from the gated network of ``models.pixelcnn_nets``. ``likelihood`` picks the
conditional: ``bernoulli`` for binarised pixels (the data config's ``binarize``, through
genlab's one binarisation path, ``data.prepare``), ``categorical`` for ``bins``-way pixels
(256: the 8-bit pixels themselves). log p(x) is then an exact probability of discrete
pixels, in nats, on the same ``discrete`` scale as a VAE's importance-sampled NLL of the same
binarisation (``models.core.scale``).

Sampling is sequential over pixels and batched over images; ``complete`` fills in the hidden
pixels of images whose hidden pixels all come after the observed ones in raster order (the
bottom rows, or the end of a row and everything below). The model has no latent space:
the latent tools refuse it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from genlab.errors import ConfigError
from genlab.models.core.base import Batch, GenerativeModel, LossOutput
from genlab.models.core.config import ModelConfig
from genlab.models.core.sampling import SampleOptions, TemperatureOptions
from genlab.models.core.scale import LikelihoodScale, pixel_likelihood_scale
from genlab.models.parts.density import chunked
from genlab.models.parts.likelihoods import PixelDistribution, build_likelihood
from genlab.models.parts.pixelcnn_nets import GatedPixelCNN

PIXEL_LIKELIHOODS = ("bernoulli", "categorical")


@dataclass
class PixelCNNConfig(ModelConfig):
    """``layers`` gated layers of ``features`` maps with kernel side ``kernel`` (odd);
    ``likelihood`` bernoulli (binarised data) or categorical with ``bins`` values per channel;
    ``class_conditional``: a class embedding biases every gate (van den Oord et al. 2016, 2.3)."""

    likelihood: str = "bernoulli"
    bins: int = 256
    layers: int = 8
    features: int = 32
    kernel: int = 3
    class_conditional: bool = False

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"likelihood": PIXEL_LIKELIHOODS}

    def validate(self) -> None:
        super().validate()
        if self.likelihood == "categorical" and not 2 <= self.bins <= 256:
            raise ConfigError(f"model.bins must be in 2..256, got {self.bins}")
        if self.layers < 1 or self.features < 1:
            raise ConfigError("model.layers and model.features must be positive")
        if self.kernel < 3 or self.kernel % 2 == 0:
            raise ConfigError(f"model.kernel must be odd and at least 3, got {self.kernel}")

    def validate_data(self, binarize: str, size: tuple[int, int] | None) -> None:
        """A Bernoulli of continuous pixels is no likelihood: binarise or use categorical."""
        if self.likelihood == "bernoulli" and binarize == "none":
            raise ConfigError(
                "model.likelihood=bernoulli needs binary pixels but data.binarize is none: "
                "set data.binarize (static, dynamic, threshold) or model.likelihood=categorical "
                "with model.bins")


class PixelCNN(GenerativeModel):
    """Gated PixelCNN: exact discrete log-likelihood, batched sampling, raster completion."""

    config_class = PixelCNNConfig
    sample_options = TemperatureOptions
    tiny: ClassVar[dict[str, Any]] = {"layers": 2, "features": 8}

    def __init__(self, config: PixelCNNConfig, shape: tuple[int, int, int], num_classes: int):
        super().__init__(config, shape, num_classes)
        self.conditional = config.class_conditional
        self.pixels = build_likelihood(config.likelihood, *shape, bins=config.bins)
        self.net = GatedPixelCNN(shape[0], config.features, config.layers, config.kernel,
                                 self.pixels.params_per_channel,
                                 num_classes if self.conditional else 0)

    def full_precision_layers(self) -> list[nn.Module]:
        return self.pixels.full_precision_layers(self.net)

    def _labels(self, y: Tensor | None) -> Tensor | None:
        if not self.conditional:
            return None
        if y is None:
            raise ConfigError(f"{self.config.name} is class-conditional: pass the labels")
        return y.long()

    def _value(self, x: Tensor) -> Tensor:
        """Pixels as the network reads them: the value of their bin, centred to [-1, 1]."""
        if self.config.likelihood == "categorical":
            bins = self.config.bins
            x = (x * bins).floor().clamp(0, bins - 1) / (bins - 1)
        return 2 * x - 1

    def conditionals(self, x: Tensor, y: Tensor | None = None,
                     temperature: float = 1.0) -> PixelDistribution:
        """p(x_i | x_<i) of every pixel and channel of x (logits / ``temperature``), as one
        pixel distribution."""
        return self.pixels(self.net(self._value(x), self._labels(y)) / temperature)

    # --- the likelihood -----------------------------------------------------------------
    def log_likelihood(self, x: Tensor, y: Tensor | None = None, k: int = 0) -> Tensor:
        """Exact log p(x) per image, float64 nats; ``k`` does not apply."""
        return chunked(lambda xs, ys: self.conditionals(xs, ys).log_prob(xs).double(), x, y)

    def likelihood_method(self, k: int) -> str:
        return "exact (autoregressive product of conditionals, gated PixelCNN)"

    def likelihood_scale(self, binarize: str) -> LikelihoodScale:
        """Discrete: binarised pixels, or ``bins`` levels (256: the 8-bit scale as it is)."""
        return pixel_likelihood_scale(self.config.likelihood, binarize, self.config.bins)

    def loss(self, batch: Batch) -> LossOutput:
        """-log p(x) in nats per image, and bits per dimension."""
        nll = -self.conditionals(batch.x, batch.y).log_prob(batch.x)
        bpd = nll / (batch.x[0].numel() * math.log(2))
        return LossOutput(nll.mean(), {"nll": nll.mean(), "bpd": bpd.mean()})

    # --- generation ---------------------------------------------------------------------
    def sample(self, n: int, labels: Tensor | None = None,
               generator: torch.Generator | None = None, mean: bool = True,
               options: SampleOptions | None = None) -> Tensor:
        """n images drawn pixel by pixel at the options' temperature; ``mean`` shows each
        pixel's conditional mean given the drawn pixels before it (an autoregressive model
        has no mean image), else the draw."""
        x = torch.zeros(n, *self.shape).to(self.net.head.out.weight)
        t = (options or TemperatureOptions()).temperature  # type: ignore[attr-defined]
        return self._fill(x, self.labels_for(n, labels), None, generator, mean, t)

    def complete(self, x: Tensor, mask: Tensor, y: Tensor | None = None,
                 generator: torch.Generator | None = None, mean: bool = False,
                 temperature: float = 1.0) -> Tensor:
        """x with its hidden pixels (``mask`` 0, (1 or N, 1, H, W)) drawn from p(hidden |
        observed). Exact when every hidden pixel comes after every observed one in raster
        order, which is what is supported; any other mask is refused."""
        _, h, w = self.shape
        observed = mask.expand(len(x), 1, h, w).flatten(1).bool()
        first = torch.where(observed.all(1), h * w, (~observed).float().argmax(1))
        after = torch.arange(h * w, device=observed.device) >= first[:, None]
        if (observed & after).any():
            raise ConfigError("PixelCNN completion needs every hidden pixel after every "
                              "observed one in raster order (e.g. --mask top: the bottom rows "
                              "hidden); this mask hides a pixel before an observed one")
        return self._fill(x.clone(), y if self.conditional else None,
                          observed.view(-1, 1, h, w), generator, mean, temperature)

    @torch.no_grad()
    def _fill(self, x: Tensor, y: Tensor | None, observed: Tensor | None,
              generator: torch.Generator | None, mean: bool, temperature: float) -> Tensor:
        """Draw every pixel not ``observed`` (None: all), in raster order, each channel from
        its conditional (logits / ``temperature``) given all before it, through the network's
        caches (one row of the vertical stack per row, one pixel of the horizontal stack per
        pixel). The uniforms come from ``generator`` on the CPU, so a seed draws the same
        images on any device."""
        _, height, width = self.shape
        value, biases = self._value(x), self.net.biases(self._labels(y))
        rows = self._stores(value)
        for i in range(height):
            from_v = self.net.vertical_row(rows, i, biases)
            if observed is not None and bool(observed[:, 0, i].all()):
                continue  # an observed row: only the vertical stack needs it
            cols = self._stores(value[:, :, i:i + 1])
            for j in range(width):
                context = self.net.horizontal_pixel(cols, from_v, j, biases)
                for c in range(self.shape[0]):
                    drawn = self._draw(context, value[:, :, i:i + 1, j:j + 1], c, generator,
                                       temperature)
                    if observed is not None:
                        drawn = torch.where(observed[:, 0, i, j], x[:, c, i, j], drawn)
                    x[:, c, i, j] = drawn
                    value[:, c, i, j] = self._value(drawn)
        if not mean:
            return x
        means = self.conditionals(x, y, temperature).mean.clamp(0, 1)
        return means if observed is None else torch.where(observed, x, means)

    def _stores(self, value: Tensor) -> list[Tensor]:
        """The caches of :meth:`GatedPixelCNN.vertical_row` / ``horizontal_pixel`` for
        ``value`` (the images, or one row of them): the input, then one per layer."""
        n, _, h, w = value.shape
        return [value, *(value.new_zeros(n, self.net.features, h, w) for _ in self.net.layers)]

    def _draw(self, context: Tensor, pixel: Tensor, c: int,
              generator: torch.Generator | None, temperature: float) -> Tensor:
        """Channel c of one pixel per image, drawn from its conditional by inverse CDF; a
        categorical draw of bin b is the value b / (bins - 1) (256 bins: the 8-bit pixel)."""
        p = self.pixels.params_per_channel
        logits = self.net.head(context, pixel)[:, c * p:(c + 1) * p, 0, 0] / temperature
        u = torch.rand(len(pixel), 1, generator=generator, device="cpu").to(logits)
        if self.config.likelihood == "bernoulli":
            return (u < torch.sigmoid(logits)).to(pixel)[:, 0]
        cdf = logits.softmax(-1).cumsum(-1)
        index = torch.searchsorted(cdf, u).clamp(max=p - 1)[:, 0]
        return index.to(pixel) / (p - 1)
