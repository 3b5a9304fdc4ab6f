"""The noise of ``perturb``: Gaussian noise on codes, N(mean, sigma^2) per code value, in the
code's own units (``absolute``) or in units of each code dimension's spread (``relative``).

Models code their images on very different scales (an autoencoder's codes have no prior to
keep them near 1, PCA's shrink with each component's variance), so one absolute sigma moves
one model's images a lot and another's not at all. Relative noise is
z + sd ⊙ (mean + sigma * eps): sd is the per-dimension standard deviation of the point codes
of ``spread_images`` training images (spread over the training split) where the model has an
encoder, the codes its decoder is actually fed; a model without one (a GAN, whose codes are
inversions) has no such population, so its prior's sd, estimated from as many prior draws,
stands in: the codes its generator was trained on. Sigma = 1 then moves every model by about
the distance between two of its own codes' coordinates, whatever their units.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.latent.choices import SCALES, SPREAD_IMAGES
from genlab.latent.ops import encode
from genlab.models.core.capabilities import Encoder, has

if TYPE_CHECKING:
    from genlab.runs import Run

Scale = Literal["absolute", "relative"]
PRIOR_SEED = 0
"""The prior draws of a model without an encoder are seeded apart from the noise itself, so
the unit is one fixed number per model and the noise's generator is left as it was."""


@dataclass(frozen=True)
class CodeNoise:
    """How ``perturb`` scales its noise: ``scale`` (absolute or relative to the code spread),
    a ``mean`` added to every code value before scaling (0: the usual zero-mean noise), and
    ``spread_images``, the codes whose sd is relative noise's unit."""

    scale: Scale = "absolute"
    mean: float = 0.0
    spread_images: int = SPREAD_IMAGES

    def __post_init__(self) -> None:
        if self.scale not in SCALES:
            raise ConfigError(f"sigma_scale is {' or '.join(SCALES)}, got {self.scale!r}")
        if not math.isfinite(self.mean):
            raise ConfigError(f"noise_mean must be a finite number, got {self.mean}")
        if self.scale == "relative" and self.spread_images < 2:
            raise ConfigError("centroid_images (the codes whose spread is relative noise's "
                              f"unit) must be at least 2, got {self.spread_images}")

    def describe(self) -> str:
        """The noise as a figure title says it: ``z + N(0, σ²I)``, ``z + sd ⊙ N(0.5, σ²I)``."""
        scaled = "sd ⊙ " if self.scale == "relative" else ""
        return f"z + {scaled}N({self.mean:g}, σ²I)"


def spread_codes(run: Run, noise: CodeNoise, pool: Tensor | None = None) -> tuple[Tensor, str]:
    """The codes (N, *shape) whose spread is the unit, and where they came from: ``pool``
    (training codes already encoded, e.g. a study's centroid pool) or the first
    ``noise.spread_images`` spread over the training split where the model has an encoder,
    else as many prior draws."""
    m = run.model
    if not has(m, Encoder):
        draws = m.latent_space.sample(noise.spread_images,
                                      torch.Generator().manual_seed(PRIOR_SEED))
        return draws, "prior draws"
    if pool is None:
        split = run.config.data.train_split
        x, y = run.images(split, torch.tensor(run.spread(split, noise.spread_images)))
        pool = encode(m, x, y)
    return pool, "training codes"


def noise_unit(
    run: Run, noise: CodeNoise, pool: Tensor | None = None
) -> tuple[Tensor | float, dict[str, Any]]:
    """The unit of the noise per code value: 1 for absolute noise, the per-dimension sd of
    :func:`spread_codes` (shape ``(*shape)``) for relative noise; and the numbers that say so
    (the scale, the mean, and for relative noise the codes used and their mean sd)."""
    numbers: dict[str, Any] = {"noise_scale": noise.scale, "noise_mean": noise.mean}
    if noise.scale == "absolute":
        return 1.0, numbers
    codes, source = spread_codes(run, noise, pool)
    sd = codes.float().std(0).to(codes)
    numbers.update(spread_from=source, spread_codes=len(codes), mean_code_sd=sd.mean())
    return sd, numbers
