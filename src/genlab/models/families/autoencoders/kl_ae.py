"""The KL-regularised autoencoder of latent diffusion (Rombach et al. 2022, "KL-reg"): a VAE
whose code is a spatial grid, an H x W image's (latent_channels, H / f, W / f) Gaussian
posterior (4 x 8 x 8 for 32 x 32 images at f = 4), and whose KL term has a small weight
``beta`` (Rombach et al.'s 1e-6 with an L1 + perceptual reconstruction loss; here the
reconstruction term is a pixel likelihood in nats, whose gradients are larger, 1e-4 by
default): the KL keeps the codes near N(0, I) in scale without washing out detail, a first
stage for a diffusion over the code grid (``two_stage.latent_diffusion``). The nets are
``parts.grid_nets``; the loss, the likelihood (importance-sampled, Burda et al. 2016) and the
decoder likelihoods are the VAE's. No patch discriminator (the paper's adversarial term).

A spatial code rather than an option of the conv VAE: the conv VAE's code is a flat vector
through a linear layer, its ``latent_dim`` a free size, while the grid's size follows from
the image and the levels, and its nets have no linear bottleneck.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from torch import nn

from genlab.errors import ConfigError
from genlab.models.core.config import ModelConfig
from genlab.models.core.latent_space import LatentSpace
from genlab.models.families.autoencoders.vae import VAE
from genlab.models.parts.grid_nets import GridDecoder, GridEncoder, grid_side
from genlab.models.parts.likelihoods import PixelLikelihoodConfig


@dataclass
class KLAEConfig(PixelLikelihoodConfig, ModelConfig):
    """``channels``: the nets' widths per resolution level (each level after the first halves
    the side: f = 2^(levels - 1)); ``res_blocks`` per level; ``latent_channels`` C of the
    code grid; ``beta``: the weight of the KL term; a decoder likelihood."""

    channels: list[int] = field(default_factory=lambda: [64, 128, 128])
    res_blocks: int = 1
    latent_channels: int = 4
    beta: float = 1e-4

    def validate(self) -> None:
        super().validate()
        if not self.channels or min(self.channels) < 1:
            raise ConfigError(f"model.channels must be positive widths, got {self.channels}")
        for key in ("res_blocks", "latent_channels"):
            if getattr(self, key) < 1:
                raise ConfigError(f"model.{key} must be positive, got {getattr(self, key)}")
        if self.beta < 0:
            raise ConfigError(f"model.beta must be non-negative, got {self.beta}")

    def validate_data(self, binarize: str, size: tuple[int, int] | None) -> None:
        """The image's sides must halve exactly at each level after the first."""
        factor = 2 ** (len(self.channels) - 1)
        if size is not None and (size[0] % factor or size[1] % factor):
            raise ConfigError(f"model.channels has {len(self.channels)} levels, a code grid "
                              f"1/{factor} of the image's side: the image size "
                              f"{size[0]}x{size[1]} must divide by {factor} (data.size)")
        super().validate_data(binarize, size)


class KLAutoencoder(VAE):
    """A VAE with a (latent_channels, h, w) Gaussian code grid and a small KL weight."""

    config_class = KLAEConfig
    tiny: ClassVar[dict[str, Any]] = {"channels": [8, 16], "latent_channels": 2}

    def networks(self, config: KLAEConfig) -> tuple[nn.Module, nn.Module]:
        """The grid encoder to 2 C planes (mean, log-variance) and its mirror decoder."""
        levels = len(config.channels)
        grid = (config.latent_channels, *(grid_side(s, levels) for s in self.shape[1:]))
        encoder = GridEncoder(self.shape[0], config.channels, config.res_blocks,
                              2 * config.latent_channels)
        decoder = GridDecoder(grid, config.channels, config.res_blocks,
                              self.likelihood.out_channels)
        return encoder, decoder

    @property
    def latent_space(self) -> LatentSpace:
        """The code grid, continuous, drawn from the N(0, I) prior."""
        return LatentSpace(self.decoder.code_shape, "continuous", prior=self.sample_prior)
