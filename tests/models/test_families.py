"""Math of the families against closed forms and independent implementations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from torch.distributions import kl_divergence

from genlab.errors import ConfigError
from genlab.models.core.base import Batch
from genlab.models.core.config import ModelConfig
from genlab.models.families.autoencoders.ae import AEConfig, Autoencoder
from genlab.models.families.autoencoders.iwae import IWAE, IWAEConfig
from genlab.models.families.autoencoders.vae import VAE, VAEConfig
from genlab.models.families.baselines.mean import ClassMean
from genlab.models.families.baselines.pca import PCAConfig, PCAModel

SHAPE = (1, 8, 8)


def small_vae(cls=VAE, cfg_cls=VAEConfig, **kw) -> VAE:
    torch.manual_seed(0)
    return cls(cfg_cls(net="mlp", hidden=[32], latent_dim=3, **kw), SHAPE, 10)


def test_gaussian_kl_matches_monte_carlo():
    model = small_vae()
    x = torch.rand(4, *SHAPE)
    q = model.encode(x)
    analytic = kl_divergence(q, model.prior())
    z = q.sample((200_000,))
    mc = (q.log_prob(z) - model.prior().log_prob(z)).mean(0)
    assert torch.allclose(analytic, mc, atol=0.02, rtol=0.01)


def test_iwae_k1_equals_elbo_in_expectation():
    model = small_vae()
    x = (torch.rand(3, *SHAPE) > 0.5).float()
    with torch.no_grad():
        reps = 4000
        xs = x.repeat(reps, 1, 1, 1)
        iw1 = model.iw_bound(xs, k=1).view(reps, 3)
        elbo = model.elbo(xs).view(reps, 3)
    se = (iw1.std(0) ** 2 / reps + elbo.std(0) ** 2 / reps).sqrt()
    assert ((iw1.mean(0) - elbo.mean(0)).abs() < 4 * se).all()


def test_iwae_bound_tightens_with_k():
    model = small_vae()
    x = (torch.rand(2, *SHAPE) > 0.5).float()
    with torch.no_grad():
        b1 = model.iw_bound(x.repeat(500, 1, 1, 1), k=1).mean()
        b50 = model.iw_bound(x.repeat(500, 1, 1, 1), k=50).mean()
    assert b50 > b1


def test_iwae_loss_is_negative_bound_and_k_validated():
    model = small_vae(IWAE, IWAEConfig, k=4)
    x = (torch.rand(5, *SHAPE) > 0.5).float()
    out = model.loss(Batch(x, torch.zeros(5).long()))
    assert torch.isfinite(out.total) and "neg_iw_bound" in out.terms
    with pytest.raises(ConfigError, match="k must be"):
        IWAE(IWAEConfig(k=0), SHAPE, 10)


def test_vae_loss_is_nll_plus_beta_kl():
    model = small_vae(beta=0.25)
    x = torch.rand(5, *SHAPE)
    torch.manual_seed(3)
    out = model.loss(Batch(x, torch.zeros(5).long()))
    expected = out.terms["nll"] + 0.25 * out.terms["kl"]
    assert torch.allclose(out.total, expected, rtol=1e-5)
    assert torch.allclose(out.terms["neg_elbo"], out.terms["nll"] + out.terms["kl"], rtol=1e-5)


def test_cvae_needs_labels_and_samples_given_classes():
    from genlab.models.families.autoencoders.cvae import CVAE

    model = CVAE(VAEConfig(name="cvae", net="mlp", hidden=[16], latent_dim=2), SHAPE, 10)
    with pytest.raises(ConfigError, match="labels"):
        model.encode(torch.rand(2, *SHAPE))
    assert model.sample(4, labels=torch.tensor([1, 2, 3, 4])).shape == (4, *SHAPE)


def test_pca_matches_sklearn_and_keeps_variance_fraction():
    rng = np.random.default_rng(0)
    x = torch.from_numpy(rng.random((200, *SHAPE), dtype=np.float32))
    model = PCAModel(PCAConfig(name="pca", explained_variance=0.9), SHAPE, 10)
    info = model.fit(x, torch.zeros(200).long())
    ref = PCA(n_components=0.9, svd_solver="full").fit(x.flatten(1).double().numpy())
    assert model.latent_dim == ref.n_components_ and info["explained_variance"] >= 0.9
    recon = model.decode(model.encode(x)).mean.flatten(1).numpy()
    expected = ref.inverse_transform(ref.transform(x.flatten(1).double().numpy()))
    assert np.allclose(recon, expected, atol=1e-4)
    # probabilistic PCA: the prior variances are the kept eigenvalues
    assert np.allclose(
        model.prior().base_dist.scale.numpy() ** 2, ref.explained_variance_, rtol=1e-4
    )


def test_pca_without_a_size_keeps_95_percent_and_records_the_count():
    model = PCAModel(PCAConfig(name="pca"), SHAPE, 10)
    info = model.fit(torch.rand(50, *SHAPE), torch.zeros(50).long())
    assert info["explained_variance"] >= 0.95
    assert model.config.latent_dim == info["n_components"] == model.components.shape[0]
    assert model.config.explained_variance is None  # the stored config rebuilds this model


def test_pca_is_sized_one_way():
    with pytest.raises(ConfigError, match="sized one way"):
        PCAConfig(name="pca", latent_dim=5, explained_variance=0.9).validate()
    with pytest.raises(ConfigError, match=r"explained_variance must be in \(0, 1\)"):
        PCAConfig(name="pca", explained_variance=1.5).validate()
    model = PCAModel(PCAConfig(name="pca", latent_dim=500), SHAPE, 10)
    with pytest.raises(ConfigError, match="at most"):
        model.fit(torch.rand(10, *SHAPE), torch.zeros(10).long())


def test_class_mean_is_the_mean_of_each_class():
    x, y = torch.rand(30, *SHAPE), torch.arange(30) % 3
    model = ClassMean(ModelConfig(name="mean"), SHAPE, 3)
    model.fit(x, y)
    for c in range(3):
        assert torch.allclose(model.means[c], x[y == c].mean(0), atol=1e-6)
    assert torch.equal(model.sample(3, labels=torch.tensor([2, 0, 1])), model.means[[2, 0, 1]])


def test_autoencoder_prior_is_fitted_to_codes():
    torch.manual_seed(0)
    model = Autoencoder(AEConfig(name="ae", net="mlp", hidden=[16], latent_dim=3), SHAPE, 10)
    x = torch.rand(50, *SHAPE)
    model.fit_prior(x, torch.zeros(50).long())
    codes = model.encode(x).detach()
    assert torch.allclose(model.prior().mean, codes.mean(0), atol=1e-5)
    with pytest.raises(ConfigError, match="loss"):
        Autoencoder(AEConfig(name="ae", loss="l1"), SHAPE, 10)
