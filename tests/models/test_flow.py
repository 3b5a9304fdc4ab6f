"""The RealNVP flow against closed forms: an invertible map (round trip to float tolerance)
whose log-determinant is the autograd Jacobian's, multi-scale with every layer kind, and, at
initialisation (identity couplings), the density torch.distributions gives for a
logistic-normal pixel model; image sizes its squeezes cannot divide are refused when the
config is read."""

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
from genlab.models.core.base import Batch
from genlab.models.core.sampling import TemperatureOptions
from genlab.models.families.flows.realnvp import FlowConfig, RealNVP
from genlab.models.parts.flow_layers import ActNorm, InvConv, squeeze, unsqueeze
from genlab.training.config import config_from_dict

SHAPE = (2, 4, 4)
GLOW = {"actnorm": True, "invconv": True}


def _flow(trained_like: bool = True, shape: tuple[int, int, int] = SHAPE,
          **options: object) -> RealNVP:
    torch.manual_seed(0)
    config = FlowConfig(name="realnvp", **{"levels": 1, "couplings": 2, "width": 8,
                                           "blocks": 1, **options})
    model = RealNVP(config, shape, 10)
    if trained_like:  # away from the identity the couplings start as
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * 0.2)
    return model.double().eval()


def _pixels(n: int, shape: tuple[int, int, int] = SHAPE) -> torch.Tensor:
    return (torch.rand(n, *shape, generator=torch.Generator().manual_seed(1)) * 0.9 + 0.05
            ).double()


@pytest.mark.parametrize("options", [{}, GLOW, {"levels": 2, **GLOW}, {"levels": 0}])
def test_the_decoder_inverts_the_encoder(options: dict) -> None:
    model, x = _flow(**options), _pixels(5)
    z = model.encode(x)
    assert z.shape == (5, 32)
    torch.testing.assert_close(model.decode(z).mean, x, rtol=0, atol=1e-10)
    torch.testing.assert_close(model.encode(model.decode(z).mean), z, rtol=0, atol=1e-8)


@pytest.mark.parametrize("options", [{}, {"levels": 2, **GLOW}])
def test_the_log_determinant_is_the_jacobians(options: dict) -> None:
    model, x = _flow(**options), _pixels(2)
    _, logdet = model._forward(x)
    for i in range(2):
        jac = torch.autograd.functional.jacobian(
            lambda v: model._forward(v.view(1, *SHAPE))[0].flatten(), x[i].flatten())
        torch.testing.assert_close(logdet[i], torch.linalg.slogdet(jac)[1], rtol=1e-9,
                                   atol=1e-9)


def test_at_initialisation_it_is_a_logistic_normal_density() -> None:
    """Identity couplings and actnorms; the 1 x 1 convolutions are rotations, under which
    N(0, I) is invariant."""
    model, x = _flow(trained_like=False, **GLOW), _pixels(4)
    with torch.no_grad():  # rotations to float64 precision (they start as float32 ones)
        for layer in model.modules():
            if isinstance(layer, InvConv):
                layer.weight.copy_(torch.linalg.qr(layer.weight)[0])
    a = model.config.alpha
    base = Independent(Normal(torch.zeros(32, dtype=torch.float64),
                              torch.ones(32, dtype=torch.float64)), 1)
    pixels = TransformedDistribution(
        base, [SigmoidTransform(), AffineTransform(-a / (1 - 2 * a), 1 / (1 - 2 * a))])
    torch.testing.assert_close(model.log_likelihood(x), pixels.log_prob(x.flatten(1)),
                               rtol=1e-10, atol=1e-10)


def test_squeeze_moves_each_2x2_block_to_channels() -> None:
    x = torch.arange(32.0).view(1, 2, 4, 4)
    s = squeeze(x)
    assert s.shape == (1, 8, 2, 2) and s[0, :4, 0, 0].tolist() == [0.0, 1.0, 4.0, 5.0]
    assert torch.equal(unsqueeze(s), x)


def test_actnorm_initialises_from_its_first_training_batch() -> None:
    layer = ActNorm(3)
    x = torch.randn(64, 3, 5, 5) * torch.tensor([1.0, 3.0, 0.5]).view(1, 3, 1, 1) + 2
    y, _ = layer(x)
    torch.testing.assert_close(y.mean((0, 2, 3)), torch.zeros(3), rtol=0, atol=1e-5)
    torch.testing.assert_close(y.std((0, 2, 3)), torch.ones(3), rtol=0, atol=1e-4)
    bias = layer.bias.clone()
    layer(x + 5)  # initialised once: later batches train it, not reset it
    assert torch.equal(layer.bias, bias) and bool(layer.initialised)


def test_the_loss_is_the_nll_of_dequantised_pixels_with_its_8_bit_figure() -> None:
    model = _flow().float()
    x = torch.randint(0, 256, (8, *SHAPE)) / 255
    torch.manual_seed(3)
    out = model.loss(Batch(x, torch.zeros(8, dtype=torch.long)))
    bpd = (out.terms["nll"] + 32 * torch.log(torch.tensor(256.0))) / (32 * torch.log(
        torch.tensor(2.0)))
    torch.testing.assert_close(out.terms["bpd_8bit"], bpd, rtol=1e-5, atol=1e-5)
    assert model.likelihood_scale("none").dequantised


def test_temperature_scales_the_code() -> None:
    model = _flow().float()  # codes are drawn in float32
    drawn = model.sample(3, generator=torch.Generator().manual_seed(0),
                         options=TemperatureOptions(temperature=0.5))
    z = model.sample_prior(3, torch.Generator().manual_seed(0))
    torch.testing.assert_close(drawn, model.decode(0.5 * z).mean, rtol=0, atol=0)


def test_the_dequantiser_density_is_a_logistic_normal() -> None:
    """q(u | x) against torch.distributions: N(mu, sigma) through a sigmoid."""
    model = _flow(dequantisation="variational")
    x, eps = _pixels(3), torch.randn(3, *SHAPE, dtype=torch.float64)
    u, log_q = model.dequantiser(x, eps)
    log_sigma, mu = model.dequantiser.net(2 * x - 1)
    q = TransformedDistribution(Normal(mu, log_sigma.exp()), [SigmoidTransform()])
    torch.testing.assert_close(u, torch.sigmoid(mu + log_sigma.exp() * eps), rtol=0, atol=0)
    torch.testing.assert_close(log_q, q.log_prob(u).flatten(1).sum(1), rtol=1e-9, atol=1e-9)


def test_the_variational_bound_integrates_to_each_8_bit_value_s_probability() -> None:
    """On one pixel, E_q[p(y) / q(u | x)] over the noise (a quadrature in eps) is 256 P(k),
    P(k) the flow's density integrated over the bin [k/256, (k+1)/256) by quadrature: log q
    is the density of the u it draws, and the bound is tight in expectation."""
    model = _flow(shape=(1, 1, 1), levels=0, dequantisation="variational")
    eps = torch.linspace(-12, 12, 48_001, dtype=torch.float64).view(-1, 1, 1, 1)
    log_normal = Normal(0.0, 1.0).log_prob(eps.flatten()) + torch.log(eps[1] - eps[0]).flatten()
    for k in (0, 77, 255):
        grid = (k + (torch.arange(4000, dtype=torch.float64) + 0.5) / 4000) / 256
        exact = model._log_density(grid.view(-1, 1, 1, 1)).exp().mean()  # 256 P(k)
        x = torch.full_like(eps, k / 255)
        expected = (model._dequantised(x, eps) + log_normal).logsumexp(0).exp()
        torch.testing.assert_close(expected, exact, rtol=1e-3, atol=0)  # two quadratures
        assert bool(model.log_likelihood(x[:2], k=4).exp().le(1).all())
    scale = model.likelihood_scale("none")
    assert scale.eight_bit and "4 draws" in model.likelihood_method(4)


def test_the_variational_loss_is_the_bound_with_its_8_bit_figure() -> None:
    model = _flow(dequantisation="variational").float().train()
    x = torch.randint(0, 256, (8, *SHAPE)) / 255
    out = model.loss(Batch(x, torch.zeros(8, dtype=torch.long)))
    bpd = (out.terms["nll"] + 32 * torch.log(torch.tensor(256.0))) / (32 * torch.log(
        torch.tensor(2.0)))
    torch.testing.assert_close(out.terms["bpd_8bit"], bpd, rtol=1e-5, atol=1e-5)
    out.total.backward()  # q trains with the flow, through the reparameterised noise
    assert model.dequantiser.net.out.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("options", [{"couplings": 0}, {"alpha": 0.5}, {"levels": -1},
                                     {"dequantisation": "gaussian"}])
def test_bad_options_are_refused(options: dict) -> None:
    with pytest.raises(ConfigError, match="model."):
        FlowConfig(name="realnvp", **options).validate()


def test_an_image_size_the_squeezes_cannot_divide_is_refused() -> None:
    with pytest.raises(ConfigError, match=r"model.levels=3 .*28x28 does not divide by 8"):
        config_from_dict({"model": {"name": "realnvp", "levels": 3},
                          "data": {"dataset": "mnist"}})
    with pytest.raises(ConfigError, match="data.size"):
        config_from_dict({"model": {"name": "realnvp"}, "data": {"dataset": "cifar10",
                                                                 "size": 30}})
    config_from_dict({"model": {"name": "realnvp", "levels": 2}, "data": {"dataset": "mnist"}})
    with pytest.raises(ConfigError, match="model.levels=2"):  # a folder's size, once loaded
        RealNVP(FlowConfig(name="realnvp"), (1, 6, 6), 10)
