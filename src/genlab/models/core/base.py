"""The shared base of every model family; the capabilities tools check are in ``capabilities``.

A family is a small class on :class:`GenerativeModel`: it samples, declares its training plan
(players, their objectives and optimiser defaults) and saves/loads through ``state_dict``.
Latent-variable families add a declared latent space (``latent_space``), a prior and a
decoder (:class:`LatentVariableModel`), and an encoder where they have one. Tools never ask a
family what it is, only what it can do, and always the same way: ``isinstance(model, Encoder)``,
``isinstance(model, Decoder)``, ... (:func:`require` turns a missing capability into a clear error).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

import torch
from torch import Tensor, nn
from torch.distributions import Distribution, Independent, Normal

from genlab.models.core.capabilities import Decoder
from genlab.models.core.components import Component, check_components
from genlab.models.core.config import ModelConfig
from genlab.models.core.latent_space import LatentSpace
from genlab.models.core.pixels import PixelDistribution
from genlab.models.core.sampling import SampleOptions

if TYPE_CHECKING:
    from genlab.models.core.callbacks import Callback


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
Update = Callable[[str, LossOutput], None]
"""``update(player, loss)``: one optimiser step of ``player`` on ``loss`` (the trainer's)."""


@dataclass
class Player:
    """One optimiser's share of training: its objective, stepped on every ``every``-th batch.

    WGAN-GP's critic steps every batch and its generator every ``n_critic``-th one, so the
    critic makes n updates, each on fresh data, per generator update (Gulrajani et al. 2017)."""

    name: str
    objective: Objective
    every: int = 1


class GenerativeModel(nn.Module):
    """Base of every family: images of ``shape``, ``num_classes`` labels, a training plan.

    Gradient-trained families implement ``loss`` (one player) or override ``players`` and
    ``param_groups`` (adversarial ones); closed-form families set ``closed_form`` and
    implement ``fit``. ``train_step`` and ``evaluation`` are the trainer's extension points;
    their defaults cover one or several players stepped in turn. A moving average of the
    weights is the trainer's (``train.ema``), for any family.
    """

    config_class: ClassVar[type[ModelConfig]] = ModelConfig
    closed_form: ClassVar[bool] = False
    conditional: ClassVar[bool] = False
    optim_defaults: ClassVar[dict[str, dict[str, Any]]] = {}
    """Per-player optimiser settings (``lr``, ``betas``, ``weight_decay``) that beat the
    ``train`` section's global ones; ``train.optim.<player>`` beats both."""
    eval_with_grad: ClassVar[bool] = False
    """Evaluate with autograd on, for objectives that differentiate (gradient penalties)."""
    tiny: ClassVar[dict[str, Any]] = {}
    """Model options of a small, fast instance: the registry's contract tests train one of
    every family with them, so a new family gets those tests by registering. A component
    field names the family whose tiny run the instance is built on (``first_stage: vae``)."""
    sample_options: ClassVar[type[SampleOptions]] = SampleOptions
    """The family's sampling options (``models.core.sampling``), chosen at sampling time."""
    likelihood_samples: ClassVar[int] = 1000
    """The ``k`` of ``log_likelihood`` an evaluation uses unless told: importance samples per
    image, or a diffusion model's timesteps of its bound."""
    selection_metric: ClassVar[str | None] = "val/loss"
    """The logged value that picks the best checkpoint and drives early stopping (lower is
    better); None keeps the last epoch as best."""

    component_specs: ClassVar[tuple[Component, ...]] = ()
    """Trained runs the family is built on (``core.components``): a two-stage model's first
    stage. The loader passes them, frozen, as ``components``; the model keeps them in
    ``built_on`` (by field name)."""

    def __init__(self, config: ModelConfig, shape: tuple[int, int, int], num_classes: int,
                 components: Mapping[str, GenerativeModel] | None = None):
        super().__init__()
        self.config = config
        self.shape = tuple(shape)
        self.num_classes = num_classes
        # A plain dict, not sub-modules: a component is neither trained nor saved with this
        # model, and stays in eval mode whatever mode this model is put in.
        self.built_on: dict[str, GenerativeModel] = check_components(self, components or {})

    def _apply(self, fn: Callable[..., Any], recurse: bool = True) -> GenerativeModel:
        """``.to(device)`` and its kin move the components with the model."""
        super()._apply(fn, recurse)
        for component in self.built_on.values():
            component._apply(fn, recurse)
        return self

    # --- generation ---------------------------------------------------------------------
    def sample(self, n: int, labels: Tensor | None = None,
               generator: torch.Generator | None = None, mean: bool = True,
               options: SampleOptions | None = None) -> Tensor:
        """n images in [0, 1], shape (n, C, H, W), drawn as ``options`` (an instance of
        ``sample_options``; None: its defaults) say."""
        raise NotImplementedError

    def labels_for(self, n: int, labels: Tensor | None) -> Tensor | None:
        """Labels to generate with: None for unconditional families, else ``labels`` (one
        label is repeated) or classes 0, 1, ... cycled."""
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
        raise NotImplementedError(f"{type(self).__name__} defines no loss")

    def players(self) -> list[Player]:
        """The optimisers and their objectives, in the order they step."""
        return [Player("model", self.loss)]

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        """Parameters per player named in ``players``."""
        return {"model": [p for p in self.parameters() if p.requires_grad]}

    def train_step(self, batch: Batch, update: Update, step: int) -> None:
        """One batch of training: each player due at ``step`` (1-based) updates once."""
        for player in self.players():
            if (step - 1) % player.every == 0:
                update(player.name, player.objective(batch))

    def evaluation(self, batch: Batch) -> list[tuple[str, LossOutput]]:
        """Each player's objective on a validation batch."""
        return [(p.name, p.objective(batch)) for p in self.players()]

    def fit(self, x: Tensor, y: Tensor) -> dict[str, float]:
        """Closed-form fit on all training images at once; returns summary numbers."""
        raise NotImplementedError(f"{type(self).__name__} has no closed-form fit")

    def fit_prior(self, x: Tensor, y: Tensor) -> None:
        """Refit p(z) to training codes after an epoch; only families without a fixed prior."""

    def full_precision_layers(self) -> list[nn.Module]:
        """The layers that compute in fp32 when the networks run in bf16 (``train.precision``,
        ``training.precision``): none by default; a family with a pixel likelihood returns
        what its head declares of the network feeding it (``Likelihood.full_precision_layers``)."""
        return []

    def likelihood_name(self) -> str:
        """What the likelihood of a ``HasLikelihood`` model is, for its evaluation record: the
        config's pixel likelihood; a family whose likelihood is not a configured one names it."""
        return str(self.config.likelihood)

    def callbacks(self) -> list[Callback]:
        """Callbacks on the trainer's events (``models.core.callbacks``) that training this
        family needs, beside the trainer's own; none by default."""
        return []

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
        info: dict[str, Any] = {"model": self.config.name, "parameters": n}
        info["latent_space"] = None  # declared: no codes to move (the class means, PixelCNN)
        if isinstance(self, Decoder):
            info["latent_dim"] = self.latent_dim
            info["latent_space"] = self.latent_space.describe()
        return info


@contextlib.contextmanager
def constant_parameters(module: nn.Module) -> Iterator[None]:
    """Treat ``module``'s parameters as constants for the duration (no gradient is computed
    for or left on them), then restore each one's ``requires_grad``."""
    flags = [p.requires_grad for p in module.parameters()]
    module.requires_grad_(False)
    try:
        yield
    finally:
        for p, flag in zip(module.parameters(), flags, strict=True):
            p.requires_grad_(flag)


def render(out: PixelDistribution, mean: bool = True) -> Tensor:
    """Images in [0, 1] from a decoder's pixel distribution: its mean (or a draw)."""
    return (out.mean if mean else out.sample()).clamp(0, 1)


class LatentVariableModel(GenerativeModel):
    """A prior p(z) and a decoder: sampling decodes prior draws (a GAN's generator is one).

    ``latent_space`` declares what a code is (shape, continuous or discrete, its prior draw),
    which the latent tools read; the default is ``config.latent_dim`` continuous coordinates
    under ``prior()``. ``decode`` takes codes of that shape and always returns a pixel
    distribution (``likelihoods.ImplicitPixels`` for a generator); ``fit_objective`` says what
    fitting codes through it maximises (the latent tools' inference without an encoder,
    completion, and inversion)."""

    fit_objective: ClassVar[str] = "ELBO of the decoder's likelihood"

    @property
    def latent_space(self) -> LatentSpace:
        """Flat continuous codes of ``config.latent_dim`` coordinates drawn by
        :meth:`sample_prior`; a family with another space (x_T of a diffusion model, a
        codebook grid) declares its own."""
        return LatentSpace((self.config.latent_dim,), "continuous", prior=self.sample_prior)

    @property
    def latent_dim(self) -> int:
        """Coordinates of one code, flattened: what a fit of q(z) and p(z) work in."""
        return self.latent_space.size

    def prior(self) -> Distribution:
        """p(z) of the flattened code (event shape (latent_dim,)); standard normal unless a
        family fits its own (PCA, AE). A discrete family overrides it and ``sample_prior``."""
        zeros = torch.zeros(self.latent_dim, device=self.device)
        return Independent(Normal(zeros, torch.ones_like(zeros)), 1)

    def decode(self, z: Tensor, y: Tensor | None = None) -> PixelDistribution:
        raise NotImplementedError

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """n codes from the Gaussian p(z), shaped (n, *latent_space.shape); the noise is drawn
        on the CPU so a seed means the same codes on every device."""
        prior = self.prior()
        base = prior.base_dist if isinstance(prior, Independent) else prior
        eps = torch.randn(n, self.latent_dim, generator=generator, device="cpu").to(self.device)
        return (base.loc + base.scale * eps).view(n, *self.latent_space.shape)

    def sample(self, n: int, labels: Tensor | None = None,
               generator: torch.Generator | None = None, mean: bool = True,
               options: SampleOptions | None = None) -> Tensor:
        """The decoder mean (or a pixel draw) of z ~ p(z)."""
        z = self.latent_space.sample(n, generator)
        return render(self.decode(z, self.labels_for(n, labels)), mean)


class EncoderDecoderModel(LatentVariableModel):
    """A latent-variable model with an encoder: PCA, autoencoders, VAEs."""

    def encode(self, x: Tensor, y: Tensor | None = None) -> Distribution | Tensor:
        """q(z|x) for probabilistic encoders, a point code for deterministic ones."""
        raise NotImplementedError

    def encode_mean(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """A point code for x: the posterior mean, or the deterministic code."""
        q = self.encode(x, y)
        return q.mean if isinstance(q, Distribution) else q

    def reconstruct(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Decoder mean of the point code of x."""
        return render(self.decode(self.encode_mean(x, y), y))
