"""The shared base of every model family: one interface for training, sampling and latent tools."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, Independent, Normal

from genlab.models.likelihoods import PixelDistribution
from genlab.models.nets import NetSpec


@dataclass
class ModelConfig:
    """Options every family shares; a family adds its own fields in a subclass.

    ``net``/``hidden``/``channels``/``res_blocks``/``batchnorm`` choose the backbone,
    ``likelihood``/``sigma``/``sigma_mode``/``bins`` the decoder's pixel distribution.
    """

    name: str = "vae"
    latent_dim: int = 16
    net: str = "mlp"
    hidden: list[int] = field(default_factory=lambda: [512, 256])
    channels: list[int] = field(default_factory=lambda: [32, 64, 128])
    res_blocks: int = 2
    batchnorm: bool = True
    likelihood: str = "bernoulli"
    sigma: float = 0.1
    sigma_mode: str = "fixed"
    bins: int = 16

    def net_spec(self) -> NetSpec:
        return NetSpec(
            kind=self.net,
            hidden=tuple(self.hidden),
            channels=tuple(self.channels),
            res_blocks=self.res_blocks,
            batchnorm=self.batchnorm,
        )


@dataclass
class Batch:
    """One mini-batch as every model sees it: float images in [0, 1] (already binarised when
    the data config asks for it) and integer labels."""

    x: Tensor
    y: Tensor


@dataclass
class LossOutput:
    """``total`` is the scalar minimised (a mean over the batch); ``terms`` are named scalars
    (e.g. ``nll``, ``kl``) logged per epoch."""

    total: Tensor
    terms: dict[str, Tensor]


Objective = Callable[[Batch], LossOutput]


class GenerativeModel(nn.Module):
    """Base of every family. Subclasses set ``config_class`` and implement what applies.

    Gradient-trained models implement ``loss`` (or ``objectives`` for several optimisers, as
    adversarial models do); closed-form models set ``closed_form = True`` and implement ``fit``.
    """

    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    closed_form: ClassVar[bool] = False
    has_encoder: ClassVar[bool] = True
    conditional: ClassVar[bool] = False

    def __init__(self, config: ModelConfig, shape: tuple[int, int, int], num_classes: int):
        super().__init__()
        self.config = config
        self.shape = tuple(shape)
        self.num_classes = num_classes

    # --- latent space -------------------------------------------------------------------
    @property
    def latent_dim(self) -> int:
        return self.config.latent_dim

    def prior(self) -> Distribution:
        """p(z); standard normal unless a family fits its own (PCA)."""
        zeros = torch.zeros(self.latent_dim, device=self.device)
        return Independent(Normal(zeros, torch.ones_like(zeros)), 1)

    def encode(self, x: Tensor, y: Tensor | None = None) -> Distribution | Tensor:
        """q(z|x) for probabilistic encoders, a point code for deterministic ones."""
        raise NotImplementedError(f"{type(self).__name__} has no encoder")

    def encode_mean(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """A point code for x: the posterior mean, or the deterministic code."""
        q = self.encode(x, y)
        return q.mean if isinstance(q, Distribution) else q

    def decode(self, z: Tensor, y: Tensor | None = None) -> PixelDistribution:
        """p(x|z) as a pixel distribution with ``log_prob``, ``mean`` and ``sample``."""
        raise NotImplementedError

    # --- generation ---------------------------------------------------------------------
    def sample(
        self,
        n: int,
        labels: Tensor | None = None,
        generator: torch.Generator | None = None,
        mean: bool = True,
    ) -> Tensor:
        """n images in [0, 1], shape (n, C, H, W): the decoder mean of z ~ p(z) by default."""
        z = self.sample_prior(n, generator)
        return self.render(self.decode(z, self._labels_for(n, labels)), mean)

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        prior = self.prior()
        base = prior.base_dist if isinstance(prior, Independent) else prior
        eps = torch.randn(n, self.latent_dim, generator=generator, device="cpu").to(self.device)
        return base.loc + base.scale * eps

    @staticmethod
    def render(dist: PixelDistribution, mean: bool = True) -> Tensor:
        return (dist.mean if mean else dist.sample()).clamp(0, 1)

    def reconstruct(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Decoder mean of the point code of x."""
        return self.render(self.decode(self.encode_mean(x, y), y))

    def _labels_for(self, n: int, labels: Tensor | None) -> Tensor | None:
        if not self.conditional:
            return None
        if labels is None:
            return torch.arange(n, device=self.device) % self.num_classes
        labels = torch.as_tensor(labels, device=self.device).long()
        if labels.numel() == 1:
            labels = labels.expand(n)
        return labels

    # --- training -----------------------------------------------------------------------
    def loss(self, batch: Batch) -> LossOutput:
        raise NotImplementedError

    def objectives(self) -> list[tuple[str, Objective]]:
        """(optimiser name, objective) pairs stepped in turn each iteration."""
        return [("model", self.loss)]

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters per optimiser name used in ``objectives``."""
        return {"model": [p for p in self.parameters() if p.requires_grad]}

    def fit(self, x: Tensor, y: Tensor) -> dict[str, float]:
        """Closed-form fit on all training images at once; returns summary numbers."""
        raise NotImplementedError

    def fit_prior(self, x: Tensor, y: Tensor) -> None:
        """Refit p(z) to training codes after an epoch; only families without a fixed prior."""

    def elbo(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Per-image evidence lower bound in nats, shape (N,) (single-sample estimate)."""
        raise NotImplementedError(f"{type(self).__name__} has no ELBO")

    # --- helpers ------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        for t in self.parameters():
            return t.device
        for t in self.buffers():
            return t.device
        return torch.device("cpu")

    def one_hot(self, y: Tensor) -> Tensor:
        return nn.functional.one_hot(y.long(), self.num_classes).float()

    def describe(self) -> dict[str, Any]:
        n = sum(p.numel() for p in self.parameters())
        return {"model": self.config.name, "parameters": n, "latent_dim": self.latent_dim}
