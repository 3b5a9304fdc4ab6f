"""RealNVP against closed forms: an invertible map whose log-determinant is the autograd
Jacobian's, and, at initialisation (identity couplings), the density torch.distributions
gives for a logistic-normal pixel model."""

from __future__ import annotations

import pytest
import torch
from torch.distributions import (
    AffineTransform,
    Independent,
    Normal,
    SigmoidTransform,
    TransformedDistribution,
)

from genlab.errors import ConfigError
from genlab.models.base import Batch
from genlab.models.flow import FlowConfig, RealNVP

SHAPE = (1, 2, 3)


def _flow(couplings: int = 4, trained_like: bool = True) -> RealNVP:
    torch.manual_seed(0)
    model = RealNVP(FlowConfig(name="realnvp", couplings=couplings, width=16), SHAPE, 10)
    if trained_like:  # away from the identity the couplings start as
        for layer in model.layers:
            torch.nn.init.normal_(layer.net[-1].weight, std=0.5)
    return model.double()


def _pixels(n: int) -> torch.Tensor:
    return (torch.rand(n, *SHAPE, generator=torch.Generator().manual_seed(1)) * 0.9 + 0.05
            ).double()


def test_the_decoder_inverts_the_encoder() -> None:
    model, x = _flow(), _pixels(5)
    torch.testing.assert_close(model.decode(model.encode(x)).mean, x, rtol=0, atol=1e-10)


def test_the_log_determinant_is_the_jacobians() -> None:
    model, x = _flow(), _pixels(3)
    _, logdet = model._forward(x)
    for i in range(3):
        jac = torch.autograd.functional.jacobian(
            lambda v: model._forward(v.view(1, *SHAPE))[0].flatten(), x[i].flatten())
        torch.testing.assert_close(logdet[i], torch.linalg.slogdet(jac)[1], rtol=1e-9,
                                   atol=1e-9)


def test_at_initialisation_it_is_a_logistic_normal_density() -> None:
    model, x = _flow(trained_like=False), _pixels(4)
    a = model.config.alpha
    base = Independent(Normal(torch.zeros(6, dtype=torch.float64),
                              torch.ones(6, dtype=torch.float64)), 1)
    pixels = TransformedDistribution(
        base, [SigmoidTransform(), AffineTransform(-a / (1 - 2 * a), 1 / (1 - 2 * a))])
    torch.testing.assert_close(model.log_likelihood(x), pixels.log_prob(x.flatten(1)),
                               rtol=1e-10, atol=1e-10)


def test_the_loss_is_the_nll_of_dequantised_pixels_with_its_8_bit_figure() -> None:
    model = _flow().float()
    x = torch.randint(0, 256, (8, *SHAPE)) / 255
    torch.manual_seed(3)
    out = model.loss(Batch(x, torch.zeros(8, dtype=torch.long)))
    bpd = (out.terms["nll"] + 6 * torch.log(torch.tensor(256.0))) / (6 * torch.log(
        torch.tensor(2.0)))
    torch.testing.assert_close(out.terms["bpd_8bit"], bpd, rtol=1e-5, atol=1e-5)
    assert model.likelihood_scale("none").dequantised


@pytest.mark.parametrize("options", [{"couplings": 0}, {"alpha": 0.5}])
def test_bad_options_are_refused(options: dict) -> None:
    with pytest.raises(ConfigError, match="model."):
        FlowConfig(name="realnvp", **options).validate()
