"""Latent maps (raw plane, PCA, t-SNE of the codes) and the prior-quantile manifold grid of a
2-D latent space (Kingma & Welling 2014, figure 4)."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch.distributions import Distribution, Independent

from genlab.errors import ConfigError

PROJECTIONS = ("auto", "raw", "pca", "tsne")


@dataclass
class Projection:
    """2-D coordinates of N codes and how they were obtained."""

    coords: Tensor  # (N, 2)
    method: str  # raw | pca | tsne
    axis_labels: tuple[str, str]
    explained_variance: list[float] | None = None  # PCA only: ratio per axis


def project_2d(z: Tensor, method: str = "auto", seed: int = 0) -> Projection:
    """Codes (N, D) -> a 2-D map: the raw plane (D = 2), PCA, or t-SNE (scikit-learn).

    ``auto`` keeps the raw plane when the codes are already 2-D and uses PCA otherwise, as seed
    004 did (figures 13 and 14)."""
    if method not in PROJECTIONS:
        raise ConfigError(f"unknown map method {method!r}; choose one of {', '.join(PROJECTIONS)}")
    d = z.shape[1]
    if method == "auto":
        method = "raw" if d == 2 else "pca"
    if method == "raw":
        if d != 2:
            raise ConfigError(f"a raw latent map needs 2-D codes, these have {d}; use pca or tsne")
        return Projection(z.detach().cpu().float(), "raw", ("z1", "z2"))
    data = z.detach().cpu().double().numpy()
    if len(data) < 3:
        raise ConfigError(f"a {method} map needs at least 3 images, got {len(data)}")
    if method == "pca":
        from sklearn.decomposition import PCA

        pca = PCA(n_components=min(2, d), random_state=seed).fit(data)
        coords = _two_columns(pca.transform(data))
        ratio = [float(r) for r in pca.explained_variance_ratio_]
        return Projection(coords, "pca", ("PC 1", "PC 2"), ratio)
    from sklearn.manifold import TSNE

    perplexity = float(min(30, len(data) - 1))
    coords = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=seed)
    return Projection(_two_columns(coords.fit_transform(data)), "tsne", ("t-SNE 1", "t-SNE 2"))


def _two_columns(a: object) -> Tensor:
    """A 1-D latent space still gets a (flat) 2-D map: missing columns are zero."""
    coords = torch.as_tensor(a, dtype=torch.float64)[:, :2]
    return torch.nn.functional.pad(coords, (0, 2 - coords.shape[1])).float()


def quantile_grid(prior: Distribution, latent_dim: int, n: int, edge: float = 0.05) -> Tensor:
    """Codes (n * n, 2) on a regular grid of the prior's quantiles, row by row from the top.

    Columns sweep z1 upwards, rows sweep z2 downwards, so the decoded grid reads like a plot
    with z2 on the vertical axis. Quantiles (not values) space the grid by prior mass, the
    usual manifold figure for 2-D VAEs (Kingma & Welling, 2014, figure 4)."""
    if latent_dim != 2:
        raise ConfigError(
            f"the manifold grid needs a 2-D latent space; this model has {latent_dim} dimensions "
            "(use --prior for prior samples, or `genlab latent map` for a 2-D view)"
        )
    if n < 2:
        raise ConfigError(f"a grid needs at least 2 points per side, got {n}")
    if not 0 < edge < 0.5:
        raise ConfigError(f"the grid edge quantile must be in (0, 0.5), got {edge}")
    base = prior.base_dist if isinstance(prior, Independent) else prior
    q = torch.linspace(edge, 1 - edge, n, device=prior.mean.device).unsqueeze(1)
    try:
        axes = base.icdf(q.expand(n, 2))  # (n, 2): column 0 for z1, column 1 for z2
    except NotImplementedError:
        raise ConfigError(f"the prior {type(base).__name__} has no quantile function") from None
    z1 = axes[:, 0].repeat(n)
    z2 = axes.flip(0)[:, 1].repeat_interleave(n)
    return torch.stack([z1, z2], dim=1)
