"""The discretised logistic mixture (Salimans et al. 2017) as a decoder likelihood: a true
probability of 8-bit pixels, checked against closed forms."""

from __future__ import annotations

import itertools

import pytest
import torch
from torch.distributions import AffineTransform, SigmoidTransform, TransformedDistribution, Uniform

from genlab.errors import ConfigError
from genlab.models.parts.likelihoods import build_likelihood
from genlab.models.parts.logistic import LogisticMixturePixels
from genlab.training.config import config_from_dict

LEVELS = torch.arange(256, dtype=torch.float64) / 255


def _head(channels: int, mixtures: int, seed: int = 0):
    torch.manual_seed(seed)
    head = build_likelihood("logistic", channels, 1, 1, mixtures=mixtures)
    h = torch.randn(1, head.out_channels, 1, 1, dtype=torch.float64)
    return head, h


def _logistic(m: float, s: float) -> TransformedDistribution:
    return TransformedDistribution(Uniform(torch.tensor(0.0, dtype=torch.float64),
                                           torch.tensor(1.0, dtype=torch.float64)),
                                   [SigmoidTransform().inv, AffineTransform(m, s)])


def test_one_component_is_the_logistic_mass_of_each_bin_edges_taking_the_tails():
    f64 = {"dtype": torch.float64}
    m, log_s = 0.3, -2.5
    pixels = LogisticMixturePixels(torch.zeros(1, 1, 1, 1, **f64),
                                   torch.full((1, 1, 1, 1, 1), m, **f64),
                                   torch.full((1, 1, 1, 1, 1), log_s, **f64),
                                   torch.zeros(1, 1, 0, 1, 1, **f64))
    logistic = _logistic(m, float(torch.exp(torch.tensor(log_s))))
    got = pixels.log_prob(LEVELS.view(256, 1, 1, 1))
    v = 2 * LEVELS - 1
    upper = torch.where(LEVELS == 1, 1.0, logistic.cdf((v + 1 / 255).clamp(max=1)))
    lower = torch.where(LEVELS == 0, 0.0, logistic.cdf((v - 1 / 255).clamp(min=-1)))
    expected = torch.log(upper - lower)
    finite = expected > -20  # where a difference of cdfs is still well conditioned
    assert finite.sum() > 100
    torch.testing.assert_close(got[finite], expected[finite], rtol=1e-6, atol=1e-9)


@pytest.mark.parametrize(("channels", "mixtures"), [(1, 1), (1, 4), (2, 3)])
def test_the_probabilities_of_all_8_bit_pixels_sum_to_one(channels, mixtures):
    """Every joint value of one pixel's channels, coupled means included (256^C values)."""
    head, h = _head(channels, mixtures)
    values = torch.tensor(list(itertools.product(range(256), repeat=channels)),
                          dtype=torch.float64) / 255
    x = values.view(-1, channels, 1, 1)
    dist = head(h.expand(len(x), -1, -1, -1))
    total = torch.logsumexp(dist.log_prob(x), 0).exp()
    torch.testing.assert_close(total, torch.tensor(1.0, dtype=torch.float64), rtol=0, atol=1e-6)


def test_draws_follow_the_probabilities_and_the_mean_is_theirs():
    head, h = _head(1, 3, seed=1)
    torch.manual_seed(0)
    dist = head(h.expand(40_000, -1, -1, -1))
    draws = dist.sample().flatten()
    assert torch.equal((draws * 255).round(), draws * 255)  # on the 256 levels
    probs = head(h.expand(256, -1, -1, -1)).log_prob(LEVELS.view(256, 1, 1, 1)).exp()
    expected_mean = float((probs * LEVELS).sum())
    counts = torch.bincount((draws * 255).round().long(), minlength=256).double()
    # each level's frequency within 5 binomial standard errors of its probability
    se = (probs * (1 - probs) / len(draws)).sqrt()
    assert ((counts / len(draws) - probs).abs() <= 5 * se + 1e-4).all()
    assert abs(float(dist.mean[0].flatten()) - expected_mean) < 2 / 255


def test_a_mask_drops_whole_pixels():
    torch.manual_seed(0)
    head = build_likelihood("logistic", 3, 2, 2, mixtures=2)
    dist = head(torch.randn(2, head.out_channels, 2, 2))
    x = torch.rand(2, 3, 2, 2)
    mask = torch.tensor([[1.0, 0.0], [1.0, 1.0]]).view(1, 1, 2, 2)
    per_pixel = dist.pixel_mixture_log_prob(x)
    torch.testing.assert_close(dist.log_prob(x, mask), per_pixel.flatten(1)[:, [0, 2, 3]].sum(1))
    torch.testing.assert_close(dist.log_prob(x), dist.pixel_log_prob(x).flatten(1).sum(1))
    assert dist.sample().shape == dist.mean.shape == (2, 3, 2, 2)


def test_the_logistic_vae_needs_8_bit_pixels_and_positive_mixtures():
    with pytest.raises(ConfigError, match="data.binarize must be none"):
        config_from_dict({"model": {"name": "vae", "likelihood": "logistic"},
                          "data": {"dataset": "mnist-mini", "binarize": "dynamic"}})
    with pytest.raises(ConfigError, match="mixtures"):
        build_likelihood("logistic", 3, 4, 4, mixtures=0)


def test_gradients_stay_finite_at_extreme_parameters():
    head = build_likelihood("logistic", 3, 2, 2, mixtures=2)
    h = (torch.randn(4, head.out_channels, 2, 2) * 30).requires_grad_(True)
    x = torch.randint(0, 256, (4, 3, 2, 2)) / 255
    head(h).log_prob(x).sum().backward()
    assert torch.isfinite(h.grad).all()


@pytest.mark.slow
def test_a_logistic_vae_reports_its_nll_on_the_8_bit_scale_as_it_is(tmp_path):
    import genlab
    from genlab.evaluation.evaluate import likelihood_metrics
    from genlab.runs import open_run

    genlab.train({"model": {"name": "vae", "likelihood": "logistic", "mixtures": 3,
                            "hidden": [32], "latent_dim": 4},
                  "data": {"dataset": "mnist-mini", "val_size": 200, "binarize": "none"},
                  "train": {"epochs": 1, "batch_size": 500, "progress": False,
                            "device": "cpu"}}, out=tmp_path / "run")
    out = likelihood_metrics(open_run(tmp_path / "run"), n=20, k=4)
    assert out["scale"] == "discrete, binarisation none"
    assert out["nll_8bit_bpd"] == out["nll_bpd"] and 0 < out["nll_bpd"] < 8
