"""A model's declared latent space: the shape of one code, continuous or discrete, and how to
draw from its prior.

``latent_dim`` alone cannot tell a flat Gaussian code from a diffusion model's x_T of the
image's (c, h, w) shape or a grid of codebook indices (a VQ-VAE's, van den Oord et al. 2017).
Every :class:`~genlab.models.core.base.LatentVariableModel` declares a :class:`LatentSpace`;
the latent tools state what they need of it (:class:`SpaceNeeds`) and :func:`require_space`
refuses, in one line naming the space, a model whose space does not offer it.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from genlab.errors import ConfigError
from genlab.models.core.capabilities import Decoder, require

if TYPE_CHECKING:
    import torch
    from torch import Tensor

    from genlab.models.core.base import GenerativeModel

Kind = Literal["continuous", "discrete"]
KINDS: tuple[Kind, ...] = ("continuous", "discrete")
Draw = Callable[[int, "torch.Generator | None"], "Tensor"]
"""``draw(n, generator)``: n codes from the prior, shaped (n, *shape)."""


@dataclass(frozen=True)
class LatentSpace:
    """One code's ``shape`` (``(d,)`` flat, or e.g. ``(c, h, w)``), its ``kind``, the
    codebook size ``levels`` of a discrete space (0 for a continuous one) and ``prior``, how
    to draw codes (the model's own ``sample_prior``)."""

    shape: tuple[int, ...]
    kind: Kind = "continuous"
    levels: int = 0
    prior: Draw = field(kw_only=True, compare=False, repr=False)

    def __post_init__(self) -> None:
        shape = tuple(self.shape)
        if not shape or not all(isinstance(s, int) and s > 0 for s in shape):
            raise ConfigError(f"a latent space's shape is one or more positive sizes, got {shape}")
        object.__setattr__(self, "shape", shape)
        if self.kind not in KINDS:
            raise ConfigError(f"a latent space is {' or '.join(KINDS)}, got {self.kind!r}")
        if self.continuous and self.levels != 0:
            raise ConfigError(f"a continuous latent space has no codebook, got levels "
                              f"{self.levels}")
        if not self.continuous and self.levels < 2:
            raise ConfigError(f"a discrete latent space needs a codebook of at least 2 codes "
                              f"(levels), got {self.levels}")

    @property
    def size(self) -> int:
        """Coordinates (or positions) of one code: what a flattened code has."""
        return math.prod(self.shape)

    @property
    def continuous(self) -> bool:
        return self.kind == "continuous"

    @property
    def flat(self) -> bool:
        return len(self.shape) == 1

    def describe(self) -> str:
        """One line: ``continuous (16,)``, ``continuous (1, 28, 28)``, ``discrete 8x8 grid of
        512 codes``."""
        if self.continuous:
            return f"continuous {self.shape}"
        where = (f"{self.size} positions" if self.flat
                 else f"{'x'.join(map(str, self.shape))} grid")
        return f"discrete {where} of {self.levels} codes"

    def shaped(self, z: Tensor) -> Tensor:
        """Codes (N, *shape) from codes of this space in any layout of N rows, e.g. flattened
        (N, size) in C order, as a fit or a slider keeps them."""
        if z.dim() == 0 or math.prod(z.shape[1:]) != self.size:
            raise ConfigError(f"codes of shape {tuple(z.shape)} are not codes of the latent "
                              f"space {self.describe()}")
        return z.reshape(len(z), *self.shape)

    def sample(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n codes from the prior, (n, *shape)."""
        z = self.prior(n, generator)
        if tuple(z.shape) != (n, *self.shape):
            raise ConfigError(f"the prior of the latent space {self.describe()} drew codes of "
                              f"shape {tuple(z.shape)}, not {(n, *self.shape)}")
        return z


@dataclass(frozen=True)
class SpaceNeeds:
    """What a latent tool needs of a space: ``continuous`` codes (it adds noise, interpolates
    or averages them), and ``flat_dims``, a flat space of exactly that many coordinates (the
    manifold grid over a plane)."""

    continuous: bool = False
    flat_dims: int | None = None

    def met_by(self, space: LatentSpace) -> bool:
        if self.continuous and not space.continuous:
            return False
        return self.flat_dims is None or space.shape == (self.flat_dims,)

    def words(self) -> str:
        """``a latent space``, ``a continuous latent space``, ``a flat, continuous 2-D latent
        space``."""
        kinds = ", ".join(["flat"] * bool(self.flat_dims) + ["continuous"] * self.continuous)
        size = f"{self.flat_dims}-D " if self.flat_dims else ""
        return f"a {kinds + ' ' if kinds else ''}{size}latent space"


ANY_SPACE = SpaceNeeds()
CONTINUOUS = SpaceNeeds(continuous=True)
PLANE = SpaceNeeds(continuous=True, flat_dims=2)


def require_space(model: GenerativeModel, op: str, needs: SpaceNeeds,
                  hint: str = "") -> LatentSpace:
    """The model's latent space, if it has one and it offers what ``op`` needs; else a
    one-line refusal naming the space (and ``hint``, what to do instead), before any work."""
    require(model, Decoder, op)
    space: LatentSpace = model.latent_space  # type: ignore[attr-defined]
    if not needs.met_by(space):
        instead = f" ({hint})" if hint else ""
        raise ConfigError(f"{op} needs {needs.words()}, but the {model.config.name!r} model's "
                          f"is {space.describe()}{instead}")
    return space
