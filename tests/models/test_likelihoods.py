"""Decoder likelihoods agree with closed forms, respect masks and produce valid images."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch.distributions import Normal
from torch.nn import functional as F

from genlab.errors import ConfigError
from genlab.models.parts.likelihoods import (
    BETA_CLAMP,
    BETA_MIN_CONCENTRATION,
    LIKELIHOODS,
    SIGMA_MIN,
    ImplicitPixels,
    Likelihood,
    bin_index,
    build_likelihood,
)

SHAPE = (2, 3, 4)  # C, H, W: two channels catch parameter-layout mistakes
N = 5


def make(name: str, **kwargs: object) -> Likelihood:
    return build_likelihood(name, *SHAPE, **kwargs).double()


def raw(lik: Likelihood, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    _, h, w = SHAPE
    return 2 * torch.randn(N, lik.out_channels, h, w, generator=g, dtype=torch.float64)


def images(seed: int = 1) -> torch.Tensor:
    return torch.rand(N, *SHAPE, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def per_image(lp: np.ndarray) -> np.ndarray:
    return lp.reshape(N, -1).sum(1)


@pytest.mark.parametrize("name", list(LIKELIHOODS))
def test_every_likelihood_gives_valid_images(name: str) -> None:
    lik = make(name)
    dist = lik(raw(lik))
    if name != "logistic":  # the mixture couples a pixel's channels: no per-channel dist
        assert tuple(dist.dist.batch_shape) == (N, *SHAPE)
    for image in (dist.mean, dist.sample()):
        assert image.shape == (N, *SHAPE)
        assert image.min() >= 0 and image.max() <= 1
    lp = dist.log_prob(images())
    assert lp.shape == (N,) and torch.isfinite(lp).all()


@pytest.mark.parametrize("name", list(LIKELIHOODS))
def test_mask_selects_observed_pixels(name: str) -> None:
    lik = make(name)
    dist, x = lik(raw(lik)), images()
    if name == "bernoulli":
        x = x.round()
    # the logistic mixture is one probability per pixel: its masks cover whole pixels
    shape = (N, 1, *SHAPE[1:]) if name == "logistic" else (N, *SHAPE)
    mask = (torch.rand(shape, generator=torch.Generator().manual_seed(2)) > 0.5).double()
    pixel = dist.pixel_log_prob(x)
    torch.testing.assert_close(dist.log_prob(x, mask), (pixel * mask).flatten(1).sum(1))
    torch.testing.assert_close(dist.log_prob(x, torch.ones_like(x)), dist.log_prob(x))
    assert (dist.log_prob(x, torch.zeros_like(x)) == 0).all()
    left = torch.zeros(1, 1, *SHAPE[1:])
    left[..., : SHAPE[2] // 2] = 1
    torch.testing.assert_close(dist.log_prob(x, left), (pixel * left).flatten(1).sum(1))


def test_mask_hides_infinite_pixels() -> None:
    lik = make("categorical", bins=4)
    h = raw(lik)
    h[:, :4] = torch.tensor([0.0, 0.0, 0.0, -math.inf]).view(1, 4, 1, 1)  # channel 0: no bin 3
    x = torch.ones(N, *SHAPE, dtype=torch.float64)
    mask = torch.ones_like(x)
    mask[:, 0] = 0
    dist = lik(h)
    assert torch.isinf(dist.log_prob(x)).all()
    assert torch.isfinite(dist.log_prob(x, mask)).all()


def test_bernoulli_matches_closed_form() -> None:
    lik = make("bernoulli")
    h = raw(lik)
    dist = lik(h)
    p = torch.sigmoid(h).numpy()
    for x in (images().round(), images()):  # binary data, and grey data as cross-entropy
        xn = x.numpy()
        expected = per_image(xn * np.log(p) + (1 - xn) * np.log1p(-p))
        np.testing.assert_allclose(dist.log_prob(x).numpy(), expected, rtol=1e-10)
    binary = images().round()
    torch.testing.assert_close(dist.pixel_log_prob(binary), dist.dist.log_prob(binary))
    torch.testing.assert_close(dist.mean, torch.sigmoid(h))
    assert set(dist.sample().unique().tolist()) <= {0.0, 1.0}


@pytest.mark.parametrize("mode", ["fixed", "global", "pixel"])
def test_gaussian_matches_scipy(mode: str) -> None:
    lik = make("gaussian", sigma=0.2, sigma_mode=mode)
    h, x = raw(lik), images()
    dist = lik(h)
    mu = torch.sigmoid(h).numpy()
    expected = per_image(stats.norm.logpdf(x.numpy(), loc=mu, scale=0.2))
    # log(sigma) is stored in float32 before .double(), hence the looser tolerance
    np.testing.assert_allclose(dist.log_prob(x).detach().numpy(), expected, rtol=1e-6)
    torch.testing.assert_close(dist.mean, torch.sigmoid(h))


@pytest.mark.parametrize("mode", ["fixed", "global", "pixel"])
def test_gaussian_log_prob_and_its_gradients_are_normals(mode: str) -> None:
    """The unbroadcast closed form computes torch.distributions.Normal's log-density."""
    lik = make("gaussian", sigma=0.2, sigma_mode=mode)
    h, x = raw(lik).requires_grad_(), images()
    mine = lik(h).pixel_log_prob(x)
    scale = lik.log_sigma.exp()
    theirs = Normal(torch.sigmoid(h), scale.expand_as(x)).log_prob(x)
    torch.testing.assert_close(mine, theirs)
    w = torch.rand_like(x)
    wrt = [h, *lik.parameters()]
    for a, b in zip(torch.autograd.grad((mine * w).sum(), wrt),
                    torch.autograd.grad((theirs * w).sum(), wrt), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-5)


def test_gaussian_sigma_modes_have_the_right_parameters() -> None:
    assert list(make("gaussian").parameters()) == []
    for mode, shape in (("global", ()), ("pixel", SHAPE)):
        lik = make("gaussian", sigma=0.3, sigma_mode=mode)
        (param,) = lik.parameters()
        assert param.shape == shape
        torch.testing.assert_close(param.detach().float(), torch.full(shape, math.log(0.3)))
        h = raw(lik).requires_grad_()
        lik(h).log_prob(images()).sum().backward()
        assert param.grad is not None and param.grad.abs().sum() > 0
        assert h.grad is not None and h.grad.abs().sum() > 0


def test_learned_gaussian_sigma_is_floored() -> None:
    lik = make("gaussian", sigma_mode="global")
    with torch.no_grad():
        lik.log_sigma.fill_(-50.0)
    assert lik(raw(lik)).dist.scale.min().item() == pytest.approx(SIGMA_MIN)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"sigma_mode": "channel"}, "fixed, global, pixel"),
        ({"sigma": 0.0}, "sigma"),
        ({"sigma": SIGMA_MIN / 2}, "sigma"),
    ],
)
def test_gaussian_rejects_bad_options(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        make("gaussian", **kwargs)


def test_beta_matches_scipy() -> None:
    lik = make("beta")
    assert lik.params_per_channel == 2
    h = raw(lik)
    x = images()
    x[0, 0, 0, :2] = torch.tensor([0.0, 1.0])  # endpoints are clamped, not infinite
    dist = lik(h)
    ab = F.softplus(h.view(N, SHAPE[0], 2, *SHAPE[1:])) + BETA_MIN_CONCENTRATION
    a, b = ab[:, :, 0].numpy(), ab[:, :, 1].numpy()
    xc = x.clamp(BETA_CLAMP, 1 - BETA_CLAMP).numpy()
    np.testing.assert_allclose(
        dist.log_prob(x).numpy(), per_image(stats.beta.logpdf(xc, a, b)), rtol=1e-8
    )
    np.testing.assert_allclose(dist.mean.numpy(), a / (a + b), rtol=1e-10)


def test_categorical_matches_manual_pmf() -> None:
    k = 5
    lik = make("categorical", bins=k)
    assert lik.params_per_channel == k
    h = raw(lik)
    x = images()
    dist = lik(h)
    logp = torch.log_softmax(h.view(N, SHAPE[0], k, *SHAPE[1:]), dim=2)  # (N, C, k, H, W)
    bins = (x * k).floor().long().clamp(max=k - 1)
    expected = logp.gather(2, bins.unsqueeze(2)).squeeze(2).flatten(1).sum(1)
    torch.testing.assert_close(dist.log_prob(x), expected)
    centres = (torch.arange(k, dtype=torch.float64) + 0.5) / k
    expected_mean = (logp.exp() * centres.view(1, 1, k, 1, 1)).sum(2)
    torch.testing.assert_close(dist.mean, expected_mean)
    sample = dist.sample()
    assert torch.isin(sample, centres).all()


def test_categorical_bin_edges() -> None:
    k = 16
    x = torch.tensor([0.0, 0.5 / k, 1 / k - 1e-6, 1 / k, 0.5, 1 - 1e-6, 1.0, -0.1, 1.1])
    assert bin_index(x, k).tolist() == [0, 0, 0, 1, 8, k - 1, k - 1, 0, k - 1]
    centres = (torch.arange(k) + 0.5) / k
    assert (bin_index(centres, k) == torch.arange(k)).all()


def test_categorical_rejects_too_few_bins() -> None:
    with pytest.raises(ConfigError, match="bins"):
        make("categorical", bins=1)


def cb_log_norm(lam: np.ndarray) -> np.ndarray:
    return np.log(2 * np.arctanh(1 - 2 * lam) / (1 - 2 * lam))


def test_continuous_bernoulli_matches_closed_form() -> None:
    lik = make("continuous-bernoulli")
    h = raw(lik)
    h = h.sign() * (h.abs() + 0.2)  # away from lambda = 0.5, where the closed form is 0/0
    x = images()
    dist = lik(h)
    lam, xn = torch.sigmoid(h).numpy(), x.numpy()
    expected = per_image(cb_log_norm(lam) + xn * np.log(lam) + (1 - xn) * np.log1p(-lam))
    np.testing.assert_allclose(dist.log_prob(x).numpy(), expected, rtol=1e-8)
    true_mean = lam / (2 * lam - 1) + 1 / (2 * np.arctanh(1 - 2 * lam))
    np.testing.assert_allclose(dist.mean.numpy(), true_mean, rtol=1e-8)
    assert not np.allclose(true_mean, lam)  # the mean is not the parameter
    at_half = lik(torch.zeros(1, *SHAPE, dtype=torch.float64)).mean
    torch.testing.assert_close(at_half, torch.full_like(at_half, 0.5))


def test_wrong_decoder_output_shape_is_reported() -> None:
    lik = make("beta")
    with pytest.raises(ValueError, match=r"\(N, 4, 3, 4\)"):
        lik(torch.zeros(N, 2, 3, 4))


def test_unknown_likelihood_names_the_valid_ones() -> None:
    with pytest.raises(ConfigError) as err:
        build_likelihood("laplace", 1, 28, 28)
    for name in LIKELIHOODS:
        assert name in str(err.value)


def test_registry_describes_every_likelihood() -> None:
    assert set(LIKELIHOODS) == {
        "bernoulli",
        "gaussian",
        "beta",
        "categorical",
        "continuous-bernoulli",
        "logistic",
    }
    assert all(isinstance(d, str) and d for d in LIKELIHOODS.values())


def test_implicit_pixels_are_a_point_mass_with_a_gaussian_inversion_likelihood():
    images = torch.rand(2, 1, 4, 4)
    out = ImplicitPixels(images, sigma=0.1)
    assert torch.equal(out.mean, images) and torch.equal(out.sample(), images)
    x = torch.rand(2, 1, 4, 4)
    expected = Normal(images, 0.1).log_prob(x).flatten(1).sum(1)
    torch.testing.assert_close(out.log_prob(x), expected, rtol=1e-6, atol=1e-5)


def test_a_decoder_sigma_is_normals_log_density_with_the_softplus_scale() -> None:
    """sigma_mode=decoder: channel 2c is channel c's mean logits, 2c + 1 its sigma's raw value;
    log p(x|z) and its gradients are torch.distributions.Normal's with sigma = SIGMA_MIN +
    softplus(h_s + b), and h_s = 0 gives the configured sigma."""
    lik = make("gaussian", sigma=0.2, sigma_mode="decoder")
    assert lik.out_channels == 2 * SHAPE[0] and list(lik.parameters()) == []
    h, x = raw(lik).requires_grad_(), images()
    b = math.log(math.expm1(0.2 - SIGMA_MIN))
    theirs = Normal(torch.sigmoid(h[:, 0::2]), SIGMA_MIN + F.softplus(h[:, 1::2] + b))
    mine = lik(h)
    torch.testing.assert_close(mine.log_prob(x), theirs.log_prob(x).sum((1, 2, 3)))
    torch.testing.assert_close(mine.mean, torch.sigmoid(h[:, 0::2]))
    w = torch.rand_like(x)
    (a,) = torch.autograd.grad((mine.pixel_log_prob(x) * w).sum(), h)
    (c,) = torch.autograd.grad((theirs.log_prob(x) * w).sum(), h)
    torch.testing.assert_close(a, c)
    zero = torch.zeros(N, lik.out_channels, *SHAPE[1:], dtype=torch.float64)
    torch.testing.assert_close(lik(zero).dist.scale, torch.full((N, *SHAPE), 0.2,
                                                                dtype=torch.float64))


def test_a_decoder_sigma_stays_finite_and_floored_at_extreme_outputs() -> None:
    lik = make("gaussian", sigma_mode="decoder")
    h = raw(lik)
    for value in (-1e4, 1e4):
        h[:, 1::2] = value
        h.requires_grad_()
        dist = lik(h)
        lp = dist.log_prob(images())
        assert torch.isfinite(lp).all()
        (grad,) = torch.autograd.grad(lp.sum(), h)
        assert torch.isfinite(grad).all()
        h = h.detach()
    assert lik(torch.full_like(h, -1e4)).dist.scale.max().item() == pytest.approx(SIGMA_MIN)
    with pytest.raises(ConfigError, match="above it with sigma_mode=decoder"):
        make("gaussian", sigma=SIGMA_MIN, sigma_mode="decoder")


def test_a_vae_with_a_decoder_sigma_has_a_variance_that_depends_on_z() -> None:
    from genlab.models.core.base import Batch
    from genlab.models.registry import build_model
    from genlab.training.config import config_from_dict

    for net in ("mlp", "conv"):
        torch.manual_seed(0)
        config = config_from_dict({"model": {"name": "vae", "net": net, "hidden": [16],
                                             "channels": [8], "likelihood": "gaussian",
                                             "sigma_mode": "decoder", "latent_dim": 3}})
        vae = build_model(config.model, (1, 28, 28), num_classes=10)
        z = torch.randn(2, 3, generator=torch.Generator().manual_seed(0))
        scale = vae.decode(z).dist.scale
        assert scale.shape == (2, 1, 28, 28) and not torch.equal(scale[0], scale[1])
        x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(1))
        loss = vae.loss(Batch(x, torch.zeros(4, dtype=torch.long))).total
        loss.backward()
        assert torch.isfinite(loss) and vae.decoder[0].weight.grad.abs().sum() > 0
