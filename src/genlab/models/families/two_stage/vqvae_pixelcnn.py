"""A gated PixelCNN prior over a trained VQ-VAE's grid of codes (van den Oord et al. 2017,
"Neural Discrete Representation Learning", section 4.1: the VQ-VAE trained with a uniform
prior, then an autoregressive prior fitted to its codes).

The first stage is frozen; its deterministic encoder maps each training image to a grid of
indices z_q(x) into its K codes, and the second stage learns p(z) = prod_i p(z_i | z_<i) over
the positions in raster order, each conditional a categorical over the K codes from the gated
PixelCNN of ``parts.pixelcnn_nets`` (``CodePixelCNN``: the indices embedded, then the gated
stacks), conditioned on the label when ``class_conditional``. Sampling draws the grid position
by position at the options' temperature, then decodes it with the first stage. The encoder,
the decoder and the code space are the first stage's, so the latent tools see the VQ-VAE's
discrete grid: the continuous moves refuse it.

Likelihood: q(z | x) is a point mass at z_q(x), so log p(x) >= log p(x | z_q(x)) +
log p_PixelCNN(z_q(x)), the first stage's bound with the uniform -h w log K replaced by the
learned prior's exact log-probability of the code grid; on the first stage's scale.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, ClassVar

import torch
from torch import Tensor
from torch.distributions import Distribution
from torch.nn import functional as F

from genlab.errors import ConfigError
from genlab.models.core.base import (
    Batch,
    GenerativeModel,
    LossOutput,
    render,
)
from genlab.models.core.capabilities import Decoder, Encoder, HasLikelihood
from genlab.models.core.components import Component
from genlab.models.core.config import ModelConfig
from genlab.models.core.sampling import SampleOptions, TemperatureOptions
from genlab.models.families.two_stage.base import StagePrior
from genlab.models.parts.density import chunked
from genlab.models.parts.pixelcnn_nets import CodePixelCNN


@dataclass
class VQPixelCNNConfig(ModelConfig):
    """``first_stage``: the trained VQ-VAE's run. The prior: ``layers`` gated layers of
    ``features`` maps with kernel side ``kernel`` (odd), each code index embedded in
    ``embedding`` maps; ``class_conditional``: a class embedding biases every gate."""

    first_stage: str = ""
    layers: int = 12
    features: int = 64
    kernel: int = 3
    embedding: int = 32
    class_conditional: bool = False

    def validate(self) -> None:
        super().validate()
        for key in ("layers", "features", "embedding"):
            if getattr(self, key) < 1:
                raise ConfigError(f"model.{key} must be positive, got {getattr(self, key)}")
        if self.kernel < 3 or self.kernel % 2 == 0:
            raise ConfigError(f"model.kernel must be odd and at least 3, got {self.kernel}")


class VQPixelCNN(StagePrior):
    """A trained VQ-VAE's decoder under a gated PixelCNN prior over its code grid."""

    config_class = VQPixelCNNConfig
    component_specs: ClassVar[tuple[Component, ...]] = (
        Component("first_stage", (Encoder, Decoder, HasLikelihood), "first stage"),)
    sample_options = TemperatureOptions
    likelihood_samples: ClassVar[int] = 1
    tiny: ClassVar[dict[str, Any]] = {"first_stage": "vqvae", "layers": 2, "features": 8,
                                      "embedding": 4}
    """For the registry's contract tests, ``first_stage`` names the family whose tiny run
    it is built on."""

    def __init__(self, config: VQPixelCNNConfig, shape: tuple[int, int, int],
                 num_classes: int, components: dict[str, GenerativeModel]):
        super().__init__(config, shape, num_classes, components)
        space = self.stage.latent_space
        if space.continuous or len(space.shape) != 2:
            raise ConfigError(f"{config.name} needs a first stage with a discrete 2-D grid of "
                              f"codes (a vqvae run); model.first_stage is a "
                              f"{self.stage.config.name!r} model, whose codes are "
                              f"{space.describe()}")
        self.conditional = config.class_conditional
        self.fit_objective = self.stage.fit_objective
        self.net = CodePixelCNN(space.levels, config.embedding, config.features, config.layers,
                                config.kernel, num_classes if self.conditional else 0)

    def _labels(self, y: Tensor | None) -> Tensor | None:
        if not self.conditional:
            return None
        if y is None:
            raise ConfigError(f"{self.config.name} is class-conditional: pass the labels")
        return y.long().to(self.device)

    def prior(self) -> Distribution:
        """Refused: the prior is autoregressive, not a distribution object (its draws:
        :meth:`sample_prior`; its log-probability: :meth:`code_log_prob`)."""
        raise ConfigError(f"the {self.config.name} prior over codes is autoregressive and has "
                          "no closed form; draw codes with sample_prior")

    # --- the prior ---------------------------------------------------------------------------
    def code_log_prob(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """log p(z) of index grids (N, h, w): the sum of every position's log p(z_i | z_<i)."""
        logits = self.net(z, self._labels(y)).float()
        return -F.cross_entropy(logits, z.long(), reduction="none").flatten(1).sum(1)

    def loss(self, batch: Batch) -> LossOutput:
        """-log p(z_q(x)) in nats per image, of the frozen first stage's codes of the batch."""
        with torch.no_grad():
            z = self.stage.encode(batch.x, batch.y)
        nll = -self.code_log_prob(z, batch.y).mean()
        return LossOutput(nll, {"code_nll": nll})

    @torch.no_grad()
    def draw_codes(self, n: int, labels: Tensor | None = None,
                   generator: torch.Generator | None = None, temperature: float = 1.0) -> Tensor:
        """n grids drawn position by position in raster order, each from its conditional
        (logits / ``temperature``) by inverse CDF of a uniform drawn on the CPU from
        ``generator``, so a seed draws the same codes on any device. The grid is small (7 x 7
        for MNIST): each position is one pass of the network over the whole grid."""
        h, w = self.latent_space.shape
        z = torch.zeros(n, h, w, dtype=torch.long, device=self.device)
        y = self._labels(labels)
        for i in range(h):
            for j in range(w):
                logits = self.net(z, y)[:, :, i, j].float() / temperature
                u = torch.rand(n, 1, generator=generator, device="cpu").to(logits)
                cdf = logits.softmax(-1).cumsum(-1)
                z[:, i, j] = torch.searchsorted(cdf, u)[:, 0].clamp(max=cdf.shape[1] - 1)
        return z

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self.draw_codes(n, self.labels_for(n, None), generator)

    def sample(self, n: int, labels: Tensor | None = None,
               generator: torch.Generator | None = None, mean: bool = True,
               options: SampleOptions | None = None) -> Tensor:
        """The first stage's decoder mean (or a pixel draw) of grids of the learned prior."""
        y = self.labels_for(n, labels)
        t = (options or TemperatureOptions()).temperature  # type: ignore[attr-defined]
        return render(self.decode(self.draw_codes(n, y, generator, t), y), mean)

    # --- likelihood ----------------------------------------------------------------------------
    @torch.no_grad()
    def log_likelihood(self, x: Tensor, y: Tensor | None = None, k: int = 1) -> Tensor:
        """log p(x | z_q(x)) + log p(z_q(x)) per image, float64 nats; ``k`` does not apply."""
        def log_p(xs: Tensor, ys: Tensor | None) -> Tensor:
            z = self.stage.encode(xs, ys)
            return (self.stage.decode(z, ys).log_prob(xs).double()
                    + self.code_log_prob(z, ys).double())
        return chunked(log_p, x, y)

    def likelihood_method(self, k: int) -> str:
        return ("bound log p(x | z_q(x)) + log p(z_q(x)), p(z) the gated PixelCNN's exact "
                "log-probability of the code grid (deterministic encoder, q a point mass; "
                "van den Oord et al. 2017)")
