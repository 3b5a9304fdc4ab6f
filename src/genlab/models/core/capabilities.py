"""What a model can do, asked one way: ``isinstance`` against these protocols, through
:func:`has` and :func:`require`. Tools never ask a family what it is."""

from __future__ import annotations

from typing import TYPE_CHECKING, Protocol, runtime_checkable

import torch
from torch import Tensor
from torch.distributions import Distribution

from genlab.errors import ConfigError
from genlab.models.core.pixels import PixelDistribution
from genlab.models.core.sampling import SampleOptions
from genlab.models.core.scale import LikelihoodScale

if TYPE_CHECKING:
    from genlab.models.core.latent_space import LatentSpace


@runtime_checkable
class Decoder(Protocol):
    """A latent space: its declaration (``latent_space``), a prior p(z) and a decoder from
    codes to images."""

    @property
    def latent_space(self) -> LatentSpace: ...

    def prior(self) -> Distribution: ...

    def decode(self, z: Tensor, y: Tensor | None = None) -> PixelDistribution: ...

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> Tensor: ...


@runtime_checkable
class Encoder(Protocol):
    """An encoder q(z|x) (a distribution) or a deterministic code."""

    def encode(self, x: Tensor, y: Tensor | None = None) -> Distribution | Tensor: ...

    def encode_mean(self, x: Tensor, y: Tensor | None = None) -> Tensor: ...


@runtime_checkable
class Reconstructor(Protocol):
    """Maps an image to its model's version of it (an autoencoder, or the nearest class mean)."""

    def reconstruct(self, x: Tensor, y: Tensor | None = None) -> Tensor: ...


@runtime_checkable
class HasELBO(Protocol):
    """A per-image evidence lower bound in nats (VAE-like families)."""

    def elbo(self, x: Tensor, y: Tensor | None = None) -> Tensor: ...


@runtime_checkable
class Completer(Protocol):
    """Fills in pixels (mask 0) from the rest without a latent space (PixelCNN, in order)."""

    def complete(self, x: Tensor, mask: Tensor, y: Tensor | None = None,
                 generator: torch.Generator | None = None) -> Tensor: ...


@runtime_checkable
class HasLikelihood(Protocol):
    """log p(x) per image in nats (float64): exact, or a bound the family names, on the
    scale its decoder and the data's binarisation put it (``models.core.scale``)."""

    def log_likelihood(self, x: Tensor, y: Tensor | None = None, k: int = 1000) -> Tensor: ...

    def likelihood_method(self, k: int) -> str: ...

    def likelihood_scale(self, binarize: str) -> LikelihoodScale: ...


@runtime_checkable
class Refiner(Protocol):
    """A learned diffusion prior over the codes that brings moved codes back to its typical
    set (SDEdit in code space, Meng et al. 2022): codes (N, *shape) noised to the level t* in
    (0, 1] and denoised by the prior's sampler (``options``; DDIM, deterministic, by
    default), the labels y those of a conditional prior."""

    def refine(self, z: Tensor, t_star: float, y: Tensor | None = None,
               generator: torch.Generator | None = None,
               options: SampleOptions | None = None) -> Tensor: ...


CAPABILITY_WORDS: dict[type, tuple[str, str]] = {
    Decoder: ("a", "latent space"),
    Encoder: ("an", "encoder"),
    Reconstructor: ("a", "reconstruction"),
    HasELBO: ("an", "ELBO"),
    Completer: ("an", "exact completion"),
    HasLikelihood: ("a", "likelihood"),
    Refiner: ("a", "diffusion prior over its codes"),
}
"""Each protocol's article and noun, for error messages."""


def has(model: object, capability: type) -> bool:
    """Whether ``model`` offers ``capability`` (one of the protocols above)."""
    return isinstance(model, capability)


def family_has(family: type, capability: type) -> bool:
    """Whether instances of the class ``family`` offer ``capability``, asked before one is
    built (a study's plan); ``issubclass`` refuses protocols with properties."""
    members = {*getattr(capability, "__annotations__", {}),
               *(name for name in vars(capability) if not name.startswith("_"))}
    return all(hasattr(family, name) for name in members)


def require(model: object, capability: type, op: str) -> None:
    """Refuse, before any work starts, a model that lacks what ``op`` needs."""
    if not has(model, capability):
        article, word = CAPABILITY_WORDS[capability]
        raise ConfigError(
            f"{op} needs {article} {word}, but the {model.config.name!r} model has no {word}"
        )
