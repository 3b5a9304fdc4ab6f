"""Gated PixelCNN against brute force: on images small enough to enumerate, the exact
likelihood sums to one over all of them (Bernoulli and categorical, grey and colour), each
pixel's conditional depends on exactly the pixels before it in raster order (no blind spot),
the incremental sampler computes the same conditionals as the whole-image pass and draws
with their frequencies, and completion keeps the observed pixels."""

from __future__ import annotations

import itertools

import pytest
import torch

from genlab.errors import ConfigError
from genlab.models.core.base import Batch
from genlab.models.core.sampling import TemperatureOptions, resolve_options
from genlab.models.families.autoregressive.pixelcnn import PixelCNN, PixelCNNConfig


def _model(shape: tuple[int, int, int], layers: int = 2, classes: int = 0,
           **options: object) -> PixelCNN:
    torch.manual_seed(0)
    config = PixelCNNConfig(name="pixelcnn", layers=layers, features=6,
                            class_conditional=classes > 0, **options)
    model = PixelCNN(config, shape, max(classes, 10))
    for p in model.parameters():  # far from initialisation, so every weight matters
        torch.nn.init.normal_(p, std=0.5)
    return model.double().eval()


def _all_images(shape: tuple[int, int, int], values: list[float]) -> torch.Tensor:
    grid = itertools.product(values, repeat=torch.Size(shape).numel())
    return torch.tensor(list(grid), dtype=torch.float64).view(-1, *shape)


@pytest.mark.parametrize(("shape", "options", "values"), [
    ((1, 2, 2), {}, [0.0, 1.0]),
    ((1, 2, 2), {"likelihood": "categorical", "bins": 3}, [0.0, 0.5, 1.0]),
    ((3, 1, 2), {"likelihood": "categorical", "bins": 2}, [0.0, 1.0]),
    ((2, 2, 1), {}, [0.0, 1.0]),
])
def test_probabilities_of_all_images_sum_to_one(shape: tuple, options: dict,
                                                values: list[float]) -> None:
    model, x = _model(shape, **options), _all_images(shape, values)
    total = model.log_likelihood(x).logsumexp(0).exp()
    torch.testing.assert_close(total, torch.tensor(1.0, dtype=torch.float64), rtol=0,
                               atol=1e-12)


def test_a_class_conditional_model_sums_to_one_per_class() -> None:
    model, x = _model((1, 2, 2), classes=3), _all_images((1, 2, 2), [0.0, 1.0])
    for label in range(3):
        y = torch.full((len(x),), label)
        torch.testing.assert_close(model.log_likelihood(x, y).logsumexp(0).exp(),
                                   torch.tensor(1.0, dtype=torch.float64), rtol=0, atol=1e-12)


def test_each_conditional_sees_the_pixels_before_it_within_reach() -> None:
    """The gradient of pixel (i, j)'s channel-c parameters is nonzero exactly on the inputs
    before it in raster order (its own earlier channels included) within the receptive field:
    the rows i - reach..i - 1 at columns j - L..j + L (no blind spot to the upper right) and
    the columns j - reach..j - 1 of row i, for L layers of kernel 3 (reach = L + 1)."""
    shape, reach = (2, 6, 9), 4  # 1 + layers * (kernel // 2)
    model = _model(shape, layers=3, likelihood="categorical", bins=4)
    x = torch.rand(1, *shape, dtype=torch.float64, requires_grad=True)
    out = model.net(2 * x - 1).view(2, 4, 6, 9)  # (channel, bin, row, col)
    order = torch.arange(108).view(6, 9, 2).permute(2, 0, 1)  # raster, then channel
    rows, cols = torch.arange(6).view(-1, 1), torch.arange(9).view(1, -1)
    for c, i, j in [(0, 0, 0), (1, 0, 0), (0, 2, 3), (1, 5, 8), (0, 5, 0), (1, 4, 4)]:
        (grad,) = torch.autograd.grad(out[c, :, i, j].sum(), x, retain_graph=True)
        above = (rows < i) & (rows >= i - reach) & ((cols - j).abs() < reach)
        left = (rows == i) & (cols >= j - reach) & (cols <= j)
        assert torch.equal(grad[0] != 0, (above | left) & (order < order[c, i, j])), (c, i, j)


@pytest.mark.parametrize("options", [{}, {"likelihood": "categorical", "bins": 5}])
def test_the_sampler_computes_the_whole_image_conditionals(options: dict) -> None:
    """Its caches (one row of the vertical stack per image row, one pixel of the horizontal
    stack per pixel) give what the pass over the whole image gives, at every pixel."""
    model = _model((2, 9, 11), layers=3, **options)
    x = torch.rand(3, 2, 9, 11, dtype=torch.float64)
    value, biases = model._value(x), model.net.biases(None)
    whole, rows = model.net(value), model._stores(value)
    for i in range(9):
        from_v = model.net.vertical_row(rows, i, biases)
        cols = model._stores(value[:, :, i:i + 1])
        for j in range(11):
            context = model.net.horizontal_pixel(cols, from_v, j, biases)
            head = model.net.head(context, value[:, :, i:i + 1, j:j + 1])
            torch.testing.assert_close(head[..., 0, 0], whole[:, :, i, j], rtol=1e-10,
                                       atol=1e-10)


def test_draws_follow_the_exact_probabilities() -> None:
    model, x = _model((1, 2, 2)), _all_images((1, 2, 2), [0.0, 1.0])
    p = model.log_likelihood(x).exp()
    n = 20_000
    draws = model.sample(n, generator=torch.Generator().manual_seed(0), mean=False)
    index = (draws.flatten(1) * torch.tensor([8.0, 4.0, 2.0, 1.0], dtype=draws.dtype)).sum(1)
    freq = torch.bincount(index.long(), minlength=16).double() / n
    sd = (p * (1 - p) / n).sqrt()
    assert ((freq - p).abs() <= 5 * sd + 1e-9).all(), (freq, p)


def test_sampling_is_seeded_and_batched() -> None:
    model = _model((1, 4, 4), likelihood="categorical", bins=4)
    a = model.sample(5, generator=torch.Generator().manual_seed(1), mean=False)
    b = model.sample(5, generator=torch.Generator().manual_seed(1), mean=False)
    assert torch.equal(a, b) and a.shape == (5, 1, 4, 4)
    assert set(torch.unique(a * 3).tolist()) <= {0.0, 1.0, 2.0, 3.0}
    mean = model.sample(5, generator=torch.Generator().manual_seed(1))
    assert mean.min() >= 0 and mean.max() <= 1


def test_completion_keeps_the_observed_pixels_and_refuses_other_orders() -> None:
    model = _model((1, 4, 4))
    x = torch.bernoulli(torch.full((3, 1, 4, 4), 0.5, dtype=torch.float64))
    top = torch.zeros(1, 1, 4, 4)
    top[:, :, :2] = 1
    done = model.complete(x, top, generator=torch.Generator().manual_seed(0))
    assert torch.equal(done[:, :, :2], x[:, :, :2]) and not torch.equal(done, x)
    ragged = torch.ones(3, 1, 4, 4)  # per image: the last row, the end of row 2 on, nothing
    ragged[0, :, 3] = 0
    ragged[1].view(-1)[9:] = 0
    kept = model.complete(x, ragged, generator=torch.Generator().manual_seed(0))
    assert torch.equal(kept[ragged.expand_as(x).bool()], x[ragged.expand_as(x).bool()])
    assert torch.equal(kept[2], x[2])
    left = torch.zeros(1, 1, 4, 4)
    left[..., :2] = 1
    with pytest.raises(ConfigError, match="needs every hidden pixel after every observed"):
        model.complete(x, left)


def test_the_loss_is_the_nll_with_its_bits_per_dim() -> None:
    model = _model((1, 3, 3)).float()
    x = torch.bernoulli(torch.full((4, 1, 3, 3), 0.5))
    out = model.loss(Batch(x, torch.zeros(4, dtype=torch.long)))
    torch.testing.assert_close(out.total, -model.log_likelihood(x).float().mean(),
                               rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(out.terms["bpd"], out.total / (9 * torch.log(torch.tensor(2.0))),
                               rtol=1e-6, atol=1e-6)
    assert model.likelihood_scale("dynamic").kind == "discrete"
    eight_bit = _model((1, 2, 2), likelihood="categorical", bins=256).likelihood_scale("none")
    assert eight_bit.eight_bit and not _model((1, 2, 2), likelihood="categorical",
                                              bins=16).likelihood_scale("none").eight_bit


@pytest.mark.parametrize("options", [{"likelihood": "gaussian"}, {"kernel": 4},
                                     {"likelihood": "categorical", "bins": 300},
                                     {"layers": 0}])
def test_bad_options_are_refused(options: dict) -> None:
    with pytest.raises(ConfigError, match="model."):
        PixelCNNConfig(name="pixelcnn", **options).validate()


def test_temperature_sharpens_the_draws() -> None:
    """At T -> 0 every draw is its conditional's mode: the same image for every seed."""
    model = _model((1, 3, 3))
    cold = TemperatureOptions(temperature=1e-6)
    a, b = (model.sample(4, generator=torch.Generator().manual_seed(s), mean=False,
                         options=cold) for s in (0, 1))
    assert torch.equal(a, b) and torch.equal(a[0:1].expand_as(a), a)
    with pytest.raises(ConfigError, match="temperature must be positive"):
        resolve_options(TemperatureOptions, {"temperature": 0}, "pixelcnn")
