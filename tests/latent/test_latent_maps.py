"""Latent maps (raw, PCA, t-SNE) and the prior-quantile manifold grid."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import Independent, Normal

from genlab.errors import ConfigError
from genlab.latent import decode, encode, project_2d, quantile_grid


@pytest.mark.slow
def test_raw_map_keeps_2d_codes_and_auto_picks_it(vae2d):
    z = encode(vae2d.model, vae2d.x)
    proj = project_2d(z, "auto")
    assert proj.method == "raw" and torch.equal(proj.coords, z)


@pytest.mark.slow
def test_pca_map_of_16d_codes(vae):
    z = encode(vae.model, vae.x)
    proj = project_2d(z, "auto")
    assert proj.method == "pca" and proj.coords.shape == (len(z), 2)
    assert len(proj.explained_variance) == 2 and sum(proj.explained_variance) <= 1
    with pytest.raises(ConfigError, match="2-D codes"):
        project_2d(z, "raw")


@pytest.mark.slow
def test_tsne_map_is_seeded(vae):
    z = encode(vae.model, vae.x[:40])
    a, b = project_2d(z, "tsne", seed=1), project_2d(z, "tsne", seed=1)
    assert a.coords.shape == (40, 2) and torch.allclose(a.coords, b.coords)
    with pytest.raises(ConfigError, match="unknown map method"):
        project_2d(z, "umap")


def test_quantile_grid_layout():
    prior = Independent(Normal(torch.zeros(2), torch.tensor([1.0, 3.0])), 1)
    z = quantile_grid(prior, 2, 5, edge=0.05).view(5, 5, 2)
    z1, z2 = z[0, :, 0], z[:, 0, 1]  # quantiles 0.05, 0.275, 0.5, 0.725, 0.95
    assert torch.allclose(z1, torch.tensor([-1.6449, -0.5978, 0.0, 0.5978, 1.6449]), atol=1e-3)
    assert torch.allclose(z2, 3 * z1.flip(0), atol=1e-3)  # top row is the largest z2
    assert bool((z[:, :, 0] == z1).all()) and bool((z[:, :, 1] == z2.unsqueeze(1)).all())


@pytest.mark.slow
def test_manifold_grid_decodes_a_2d_model(vae2d):
    m = vae2d.model
    images = decode(m, quantile_grid(m.prior(), m.latent_dim, 4))
    assert images.shape == (16, 1, 28, 28)


@pytest.mark.slow
def test_a_2d_grid_of_a_16d_model_is_refused(vae):
    with pytest.raises(ConfigError, match="2-D latent space; this model has 16"):
        quantile_grid(vae.model.prior(), vae.model.latent_dim, 10)
