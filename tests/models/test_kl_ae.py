"""The KL-regularised autoencoder (``kl-ae``, Rombach et al. 2022): its code is a continuous
(C, H / f, W / f) grid, its loss the VAE's with a small KL weight, checked against the closed
form, and its likelihood the importance-sampled bound over the grid, checked against a direct
computation; options the images cannot take are refused."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal

from genlab.errors import ConfigError
from genlab.models.core.base import Batch
from genlab.models.families.autoencoders.kl_ae import KLAEConfig, KLAutoencoder
from genlab.models.registry import build_model


def _model(**options) -> KLAutoencoder:
    config = KLAEConfig(name="kl-ae", channels=[4, 8, 8], latent_channels=3, **options)
    config.validate()
    torch.manual_seed(0)
    return build_model(config, (3, 32, 32), 10).eval()


def test_the_code_is_a_continuous_grid_a_quarter_of_the_image_side() -> None:
    model = _model()
    assert model.latent_space.shape == (3, 8, 8) and model.latent_space.continuous
    assert model.latent_space.describe() == "continuous (3, 8, 8)"
    x = torch.rand(2, 3, 32, 32)
    with torch.no_grad():
        q = model.encode(x)
        z = q.sample()
        assert z.shape == (2, 192)  # flattened in C order, as the VAE's
        shaped = model.decode(z.view(2, 3, 8, 8)).mean  # the latent tools' layout
        assert torch.equal(shaped, model.decode(z).mean)
    assert model.sample_prior(4).shape == (4, 3, 8, 8)
    assert model.sample(2).shape == (2, 3, 32, 32)


def test_the_loss_is_the_reconstruction_plus_beta_times_the_closed_form_kl() -> None:
    model = _model(beta=1e-3, likelihood="gaussian")
    x = torch.rand(4, 3, 32, 32)
    out = model.loss(Batch(x, torch.zeros(4, dtype=torch.long)))
    with torch.no_grad():
        q = model.encode(x)
    mu, sd = q.mean, q.stddev
    kl = 0.5 * (mu ** 2 + sd ** 2 - 1 - 2 * sd.log()).sum(1)
    torch.testing.assert_close(out.terms["kl"], kl.mean(), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(out.total, out.terms["nll"] + 1e-3 * out.terms["kl"])


def test_the_likelihood_is_the_importance_sampled_bound_over_the_grid() -> None:
    model = _model()
    x = (torch.rand(3, 3, 32, 32) > 0.5).float()
    torch.manual_seed(1)
    estimate = model.log_likelihood(x, k=5)
    torch.manual_seed(1)  # the draws of q in the same order
    with torch.no_grad():
        q = model.encode(x)
        z = q.sample((5,))  # (k, N, 192)
        direct = torch.empty(5, 3, dtype=torch.float64)
        for i in range(5):
            for j in range(3):
                code = z[i, j].view(1, 3, 8, 8)
                log_px = model.decode(code).log_prob(x[j][None])[0]
                log_pz = Normal(0.0, 1.0).log_prob(z[i, j]).sum()
                log_q = Normal(q.mean[j], q.stddev[j]).log_prob(z[i, j]).sum()
                direct[i, j] = float(log_px + log_pz - log_q)
    expected = direct.logsumexp(0) - math.log(5)
    torch.testing.assert_close(estimate, expected, rtol=1e-6, atol=1e-3)


@pytest.mark.parametrize("values, key", [
    ({"channels": []}, "channels"),
    ({"latent_channels": 0}, "latent_channels"),
    ({"res_blocks": 0}, "res_blocks"),
    ({"beta": -1.0}, "beta"),
])
def test_bad_options_are_refused_naming_them(values: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=f"model.{key}"):
        KLAEConfig(name="kl-ae", **values).validate()


def test_an_image_side_the_levels_cannot_halve_is_refused() -> None:
    config = KLAEConfig(name="kl-ae", channels=[8, 16, 16])
    config.validate_data("none", (32, 32))
    config.validate_data("dynamic", (28, 28))
    with pytest.raises(ConfigError, match=r"30x30 must divide by 4 \(data.size\)"):
        config.validate_data("none", (30, 30))
