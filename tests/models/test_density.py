"""The likelihood scales against closed forms: the 8-bit scale of a density is the discrete
likelihood of integer pixels (an upper bound on their NLL, tight for a smooth density)."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal

from genlab.models.core.scale import pixel_likelihood_scale
from genlab.models.parts.density import dequantise, eight_bit_nats

D = 50


def _pixels(n: int) -> torch.Tensor:
    """8-bit pixels k / 255 as the data layer gives them."""
    return torch.randint(0, 256, (n, D), generator=torch.Generator().manual_seed(0)) / 255


def test_dequantised_pixels_stay_in_their_bin() -> None:
    x = _pixels(200)
    k = (x * 255).round()
    deq = dequantise(x, torch.Generator().manual_seed(1))
    assert bool(((deq * 256).floor() == k).all()) and deq.min() >= 0 and deq.max() < 1


def test_the_uniform_density_is_8_bits_per_dimension() -> None:
    """p = 1 on [0, 1]^D is the uniform distribution over 256 levels: exactly 8 bits/dim."""
    nats = eight_bit_nats(torch.zeros(3), D)  # -log p = 0 on [0, 1]^D
    torch.testing.assert_close(nats / (D * math.log(2)), torch.full((3,), 8.0))


def test_a_smooth_density_on_the_8_bit_scale_bounds_the_discrete_likelihood() -> None:
    """Theis et al. 2016: E_u[-log p((k + u) / 256)] + D log 256 >= -log P(k), where P(k) is
    the density integrated over the bin [k / 256, (k + 1) / 256): closed form for a Gaussian."""
    torch.manual_seed(0)
    density = Normal(torch.rand(D, dtype=torch.float64) * 0.6 + 0.2,
                     torch.rand(D, dtype=torch.float64) * 0.1 + 0.15)
    x = _pixels(64).double()
    k = (x * 255).round()
    discrete = -torch.log(density.cdf((k + 1) / 256) - density.cdf(k / 256)).sum(1)
    draws = torch.stack([
        eight_bit_nats(-density.log_prob(dequantise(x, torch.Generator().manual_seed(s))).sum(1),
                       D)
        for s in range(200)
    ]).mean(0)
    gap = (draws - discrete) / D
    assert float(gap.mean()) >= -1e-4  # a bound, up to Monte-Carlo noise of 200 draws
    assert float(gap.abs().max()) < 1e-3  # and tight (nats per dimension) for sigma >> 1/256


@pytest.mark.parametrize(("likelihood", "binarize", "kind"), [
    ("bernoulli", "dynamic", "discrete"), ("bernoulli", "none", "cross-entropy"),
    ("categorical", "none", "discrete"), ("gaussian", "none", "density"),
    ("beta", "none", "density"), ("gaussian", "static", "density"),
])
def test_each_decoder_declares_its_scale(likelihood: str, binarize: str, kind: str) -> None:
    scale = pixel_likelihood_scale(likelihood, binarize)
    assert scale.kind == kind and scale.binarize == binarize
    assert scale.dequantised == (kind == "density" and binarize == "none")
