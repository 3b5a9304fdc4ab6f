"""VQ-VAE (van den Oord et al. 2017, "Neural Discrete Representation Learning").

A convolutional encoder maps an image to a grid of D-dim vectors z_e; each is replaced by its
nearest entry of a codebook of K (``parts.quantiser``), and the decoder reads the grid of
entries z_q through one of the house's pixel likelihoods. The loss per image, in nats, is

    -log p(x | z_q) + beta sum_positions ||z_e - sg(z_q)||^2,

the gradient of the first term passed straight through the quantisation to the encoder
(z_e + sg(z_q - z_e)), the second (the commitment loss) keeping the encoder near its codes.
The codebook term of the paper is replaced by EMA updates of the codebook after each step
(the paper's appendix A.1; Razavi et al. 2019), with dead entries restarted.

The latent space is discrete: an h x w grid of indices into K codes (the encoder returns the
indices, the decoder takes them). On its own the VQ-VAE's prior is uniform and independent
over positions, as in the paper during its training; it samples from it (uniform codes decode
to little that looks like data: ``vqvae-pixelcnn`` learns the prior). Likelihood: the encoder
is deterministic, q(z | x) a point mass at z_q(x), so log p(x) >= log p(x | z_q(x)) + log p(z_q)
= log p(x | z_q(x)) - h w log K (the paper's bound, section 3.2), on the scale of the decoder's
pixel likelihood; h w log K is large (MNIST, a 7 x 7 grid of 512 codes: 306 nats).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.distributions import Categorical, Distribution, Independent

from genlab.errors import ConfigError
from genlab.models.core.base import Batch, EncoderDecoderModel, LossOutput, Update
from genlab.models.core.config import ModelConfig
from genlab.models.core.latent_space import LatentSpace
from genlab.models.core.scale import LikelihoodScale, pixel_likelihood_scale
from genlab.models.parts.density import chunked
from genlab.models.parts.likelihoods import PixelDistribution, PixelLikelihoodConfig
from genlab.models.parts.nets import (
    BackboneConfig,
    build_grid_decoder,
    build_grid_encoder,
    grid_size,
)
from genlab.models.parts.quantiser import EMAQuantiser


@dataclass
class VQVAEConfig(PixelLikelihoodConfig, BackboneConfig, ModelConfig):
    """A conv or resnet backbone whose stages set the grid (MNIST, two stages: 7 x 7), a
    codebook of ``codebook_size`` entries of ``code_dim`` coordinates, the commitment weight
    ``beta``, the codebook's EMA ``decay`` and Laplace smoothing ``epsilon``, and
    ``restart_after``: training steps an entry may go unused before it restarts (0: never)."""

    net: str = "conv"
    channels: list[int] = field(default_factory=lambda: [32, 64])
    codebook_size: int = 512
    code_dim: int = 64
    beta: float = 0.25
    decay: float = 0.99
    epsilon: float = 1e-5
    restart_after: int = 100

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"net": ("conv", "resnet")}

    def validate(self) -> None:
        super().validate()
        if self.codebook_size < 2 or self.code_dim < 1:
            raise ConfigError(f"model.codebook_size must be at least 2 and model.code_dim "
                              f"positive, got {self.codebook_size} and {self.code_dim}")
        if self.beta < 0 or self.epsilon <= 0 or self.restart_after < 0:
            raise ConfigError(f"model.beta and model.restart_after must be >= 0 and "
                              f"model.epsilon > 0, got {self.beta}, {self.restart_after}, "
                              f"{self.epsilon}")
        if not 0 < self.decay < 1:
            raise ConfigError(f"model.decay must be in (0, 1), got {self.decay}")
        if self.hidden != type(self)().hidden:
            raise ConfigError(f"model.hidden sets the widths of an mlp backbone, which a vqvae "
                              f"does not have (net: conv or resnet), got {self.hidden}")


class VQVAE(EncoderDecoderModel):
    """VQ-VAE: a grid of codebook indices, an EMA codebook, a uniform prior of its own."""

    config_class = VQVAEConfig
    fit_objective: ClassVar[str] = "log-likelihood of the decoder given the code grid"
    likelihood_samples: ClassVar[int] = 1
    tiny: ClassVar[dict[str, Any]] = {"channels": [8, 16], "codebook_size": 16, "code_dim": 4,
                                      "restart_after": 5}

    def __init__(self, config: VQVAEConfig, shape: tuple[int, int, int], num_classes: int):
        super().__init__(config, shape, num_classes)
        spec = config.net_spec()
        self.grid = grid_size(spec, self.shape)
        self.likelihood = config.build_likelihood(self.shape)
        self.encoder = build_grid_encoder(spec, self.shape, config.code_dim)
        self.quantiser = EMAQuantiser(config.codebook_size, config.code_dim, config.decay,
                                      config.epsilon, config.restart_after)
        self.decoder = build_grid_decoder(spec, self.shape, config.code_dim,
                                          self.likelihood.out_channels)

    def full_precision_layers(self) -> list[nn.Module]:
        return self.likelihood.full_precision_layers(self.decoder)

    @property
    def latent_space(self) -> LatentSpace:
        return LatentSpace(self.grid, "discrete", self.config.codebook_size,
                           prior=self.sample_prior)

    # --- encoder, decoder, prior ---------------------------------------------------------
    def encode(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """The grid of code indices z_q(x), (N, h, w): a deterministic encoder."""
        return self.quantiser.nearest(self.encoder(x))

    def decode(self, z: Tensor, y: Tensor | None = None) -> PixelDistribution:
        """p(x | z) of a grid of code indices (N, h, w)."""
        return self.likelihood(self.decoder(self.quantiser.lookup(z)))

    def prior(self) -> Distribution:
        """The uniform p(z) over the K codes at every position of the flattened grid."""
        logits = torch.zeros(self.latent_dim, self.config.codebook_size, device=self.device)
        return Independent(Categorical(logits=logits), 1)

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Uniform independent codes, drawn on the CPU (a seed: the same codes anywhere)."""
        z = torch.randint(self.config.codebook_size, (n, *self.grid), generator=generator)
        return z.to(self.device)

    # --- training ------------------------------------------------------------------------
    def objective(self, batch: Batch) -> tuple[LossOutput, Tensor, Tensor]:
        """The loss, and z_e with its indices (for the codebook's update)."""
        z_e = self.encoder(batch.x)
        indices = self.quantiser.nearest(z_e)
        z_q = self.quantiser.lookup(indices).to(z_e.dtype)
        straight_through = z_e + (z_q - z_e).detach()
        nll = -self.likelihood(self.decoder(straight_through)).log_prob(batch.x)
        commitment = (z_e - z_q.detach()).square().flatten(1).sum(1)
        usage = torch.bincount(indices.flatten(), minlength=self.config.codebook_size)
        p = usage[usage > 0] / indices.numel()
        terms = {"nll": nll.mean(), "commitment": commitment.mean(),
                 "perplexity": torch.exp(-(p * p.log()).sum()),
                 "neg_bound": nll.mean() + self.code_nats()}
        total = (nll + self.config.beta * commitment).mean()
        return LossOutput(total, terms), z_e.detach(), indices

    def loss(self, batch: Batch) -> LossOutput:
        return self.objective(batch)[0]

    def train_step(self, batch: Batch, update: Update, step: int) -> None:
        """A gradient step of the encoder and decoder, then the codebook's EMA step towards
        this batch's encoder outputs."""
        out, z_e, indices = self.objective(batch)
        update("model", out)
        self.quantiser.update(z_e, indices)

    # --- likelihood ----------------------------------------------------------------------
    def code_nats(self) -> float:
        """-log p(z) of any grid under the uniform prior: h w log K."""
        return self.latent_dim * math.log(self.config.codebook_size)

    @torch.no_grad()
    def log_likelihood(self, x: Tensor, y: Tensor | None = None, k: int = 1) -> Tensor:
        """log p(x | z_q(x)) + log p(z_q(x)) per image, float64 nats; ``k`` does not apply."""
        return chunked(lambda xs, _: self.decode(self.encode(xs)).log_prob(xs).double()
                       - self.code_nats(), x, y)

    def likelihood_method(self, k: int) -> str:
        return ("bound log p(x | z_q(x)) + log p(z_q(x)), uniform prior: -h w log K = "
                f"-{self.code_nats():.1f} nats (deterministic encoder, q a point mass; van "
                "den Oord et al. 2017, 3.2)")

    def likelihood_scale(self, binarize: str) -> LikelihoodScale:
        return pixel_likelihood_scale(self.config.likelihood, binarize, self.config.bins)
