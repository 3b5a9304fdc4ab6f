"""Likelihood estimators against probabilistic PCA, whose log-likelihood is exact."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import MultivariateNormal

from genlab.devices import seeded
from genlab.errors import ConfigError
from genlab.evaluation.likelihood import bits_per_dim, negative_elbo
from genlab.models.families.autoencoders.vae import VAE, VAEConfig
from genlab.models.families.baselines.pca import PCAConfig, PCAModel
from genlab.models.parts.density import iw_log_likelihood

SHAPE = (1, 4, 5)


def _ppca(orthonormal: bool = True) -> PCAModel:
    """A 3-component pPCA on 20 pixels with chosen parameters (no fit needed)."""
    gen = torch.Generator().manual_seed(0)
    model = PCAModel(PCAConfig(latent_dim=3), SHAPE, 10)
    w = torch.randn(20, 3, generator=gen)
    model.components = torch.linalg.qr(w).Q.T.contiguous() if orthonormal else w.T / 3
    model.center = torch.rand(20, generator=gen)
    model.variances = torch.tensor([2.0, 1.0, 0.5])
    model.noise_var = torch.tensor(0.05)
    return model


def _marginal(model: PCAModel) -> MultivariateNormal:
    w = model.components.double()
    cov = w.T @ torch.diag(model.variances.double()) @ w + model.noise_var.double() * torch.eye(20)
    return MultivariateNormal(model.center.double(), covariance_matrix=cov)


def _data(model: PCAModel, n: int = 200) -> torch.Tensor:
    torch.manual_seed(1)
    return _marginal(model).sample((n,)).float().view(n, *SHAPE)


@pytest.mark.parametrize("orthonormal", [True, False])
def test_woodbury_equals_the_full_gaussian(orthonormal: bool) -> None:
    model = _ppca(orthonormal)
    x = _data(model)
    expected = _marginal(model).log_prob(x.flatten(1).double())
    torch.testing.assert_close(model.log_likelihood(x), expected, rtol=1e-10, atol=1e-9)


def test_the_exact_posterior_makes_importance_sampling_exact_at_any_k() -> None:
    """Every weight is p(x) itself, so any chunking must give log p(x) back."""
    model = _ppca()
    x = _data(model, 50)
    exact = model.log_likelihood(x)
    proposal = model.posterior()
    for k, image_chunk, sample_chunk in [(1, 100, 100), (250, 7, 100), (33, 50, 8)]:
        estimate = iw_log_likelihood(model, x, k=k, proposal=proposal,
                                     image_chunk=image_chunk, sample_chunk=sample_chunk)
        torch.testing.assert_close(estimate, exact, rtol=0, atol=2e-4)


def test_a_mismatched_proposal_converges_from_below() -> None:
    """Burda et al.: E log (1/k) sum w_i <= log p(x), tighter as k grows."""
    model = _ppca()
    x = _data(model, 200)
    exact = float(model.log_likelihood(x).mean())
    proposal = model.posterior(scale=1.6, shift=0.3)
    gaps = []
    with seeded(0, x.device):
        for k in (1, 10, 100, 1000):
            gaps.append(exact - float(iw_log_likelihood(model, x, k=k, proposal=proposal).mean()))
    assert gaps[0] > gaps[1] > gaps[2] > 0, gaps  # 3.6, 0.46, 0.04 nats
    assert abs(gaps[3]) < 0.1 and gaps[3] < gaps[2] + 0.01, gaps


def test_with_one_sample_it_is_the_elbo_in_expectation() -> None:
    torch.manual_seed(0)
    vae = VAE(VAEConfig(hidden=[32], latent_dim=4), (1, 28, 28), 10).eval()
    x = (torch.rand(20, 1, 28, 28) < 0.3).float().repeat(100, 1, 1, 1)  # 100 draws per image
    with seeded(0, x.device):
        iw = iw_log_likelihood(vae, x, k=1)
        elbo = -negative_elbo(vae, x)
    se = math.sqrt((iw.var() + elbo.var()) / len(x))
    assert abs(float(iw.mean() - elbo.mean())) < 4 * se
    assert float(iw_log_likelihood(vae, x[:20], k=200).mean()) > float(elbo.mean())


def test_a_deterministic_encoder_is_no_proposal() -> None:
    model = _ppca()
    with pytest.raises(ConfigError, match="deterministic"):
        iw_log_likelihood(model, _data(model, 4), k=2)


def test_bits_per_dim_and_seeding() -> None:
    assert bits_per_dim(784 * math.log(2), 784) == pytest.approx(1.0)
    state = torch.random.get_rng_state()
    with seeded(5, torch.device("cpu")):
        a = torch.rand(3)
    with seeded(5, torch.device("cpu")):
        b = torch.rand(3)
    assert torch.equal(a, b) and torch.equal(state, torch.random.get_rng_state())
