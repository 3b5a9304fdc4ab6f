"""Importance-weighted autoencoder (Burda et al., 2016): trains on the k-sample bound, which
is tighter than the ELBO for k > 1 and equals it in expectation for k = 1."""

from __future__ import annotations

from dataclasses import dataclass

from genlab.errors import ConfigError
from genlab.models.core.base import Batch, LossOutput
from genlab.models.families.autoencoders.vae import VAE, VAEConfig


@dataclass
class IWAEConfig(VAEConfig):
    k: int = 5


class IWAE(VAE):
    """Importance-weighted autoencoder trained on the k-sample bound."""

    config_class = IWAEConfig

    def __init__(self, config: IWAEConfig, shape: tuple[int, int, int], num_classes: int):
        if config.k < 1:
            raise ConfigError(f"model.k must be at least 1, got {config.k}")
        super().__init__(config, shape, num_classes)

    def loss(self, batch: Batch) -> LossOutput:
        bound = self.iw_bound(batch.x, batch.y, self.config.k)
        total = -bound.mean()
        return LossOutput(total, {"neg_iw_bound": total.detach()})
