"""PCA as a generative model (Tipping & Bishop, 1999), fitted with scikit-learn.

Keeps ``n_components`` or enough components for ``explained_variance`` of the variance (seed
000 kept 95% on CIFAR-10). Generation follows probabilistic PCA (Tipping & Bishop, 1999):
scores z ~ N(0, diag(lambda)) and x | z ~ N(W z + mu, sigma^2 I), sigma^2 the mean discarded
eigenvalue, so PCA exposes encode/decode/sample/log-likelihood like the neural models.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import Distribution, Independent, Normal

from genlab.errors import ConfigError
from genlab.models.base import Batch, EncoderDecoderModel, LossOutput, ModelConfig
from genlab.models.likelihoods import PixelDistribution


@dataclass
class PCAConfig(ModelConfig):
    n_components: int | None = None
    explained_variance: float | None = 0.95


class PCAModel(EncoderDecoderModel):
    """PCA (scikit-learn); samples and decoder follow probabilistic PCA."""

    config_class = PCAConfig
    closed_form = True

    def __init__(self, config: PCAConfig, shape: tuple[int, int, int], num_classes: int):
        super().__init__(config, shape, num_classes)
        d = math.prod(shape)
        k = config.latent_dim
        self.register_buffer("components", torch.zeros(k, d))
        self.register_buffer("center", torch.zeros(d))
        self.register_buffer("variances", torch.ones(k))
        self.register_buffer("noise_var", torch.tensor(1e-2))

    def fit(self, x: Tensor, y: Tensor) -> dict[str, float]:
        cfg = self.config
        if cfg.n_components is not None:
            target: int | float = cfg.n_components
        elif cfg.explained_variance is not None and 0 < cfg.explained_variance < 1:
            target = cfg.explained_variance
        else:
            raise ConfigError(
                "pca needs model.n_components (an integer) or model.explained_variance in (0, 1)"
            )
        from sklearn.decomposition import PCA  # here: scikit-learn is slow to import

        flat = x.flatten(1).double().cpu().numpy()
        pca = PCA(n_components=target, svd_solver="covariance_eigh").fit(flat)
        k = pca.n_components_
        cfg.latent_dim = int(k)
        device = self.center.device
        self.components = torch.from_numpy(pca.components_).float().to(device)
        self.center = torch.from_numpy(pca.mean_).float().to(device)
        self.variances = torch.from_numpy(pca.explained_variance_).float().to(device)
        self.noise_var = torch.tensor(max(float(pca.noise_variance_), 1e-6), device=device)
        return {
            "n_components": float(k),
            "explained_variance": float(pca.explained_variance_ratio_.sum()),
            "noise_std": float(self.noise_var.sqrt()),
        }

    def prior(self) -> Distribution:
        return Independent(Normal(torch.zeros_like(self.variances), self.variances.sqrt()), 1)

    def encode(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        return (x.flatten(1) - self.center) @ self.components.T

    def decode(self, z: Tensor, y: Tensor | None = None) -> PixelDistribution:
        loc = (z @ self.components + self.center).view(-1, *self.shape)
        return PixelDistribution(Normal(loc, self.noise_var.sqrt().expand_as(loc)))

    def loss(self, batch: Batch) -> LossOutput:
        recon = self.decode(self.encode(batch.x)).mean
        mse = (recon - batch.x).pow(2).flatten(1).sum(1).mean()
        return LossOutput(mse, {"mse": mse})
