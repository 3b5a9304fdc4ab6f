"""Backbones produce exact shapes for every kind and image size, train, and reject bad specs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from genlab.errors import ConfigError
from genlab.models.parts.nets import BACKBONES, NetSpec, build_decoder, build_encoder

SHAPES = [(1, 28, 28), (3, 32, 32), (3, 64, 64)]


def grads_everywhere(module: nn.Module) -> bool:
    return all(p.grad is not None for p in module.parameters())


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", list(BACKBONES))
@pytest.mark.parametrize("cond_dim", [0, 10])
def test_encoder_shapes_and_gradients(
    kind: str, shape: tuple[int, int, int], cond_dim: int
) -> None:
    enc = build_encoder(NetSpec(kind=kind), shape, 12, cond_dim=cond_dim)
    x = torch.rand(3, *shape, requires_grad=True)
    cond = nn.functional.one_hot(torch.tensor([0, 3, 9]), 10).float() if cond_dim else None
    out = enc(x, cond)
    assert out.shape == (3, 12)
    out.square().sum().backward()
    assert grads_everywhere(enc) and x.grad is not None


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("kind", list(BACKBONES))
def test_decoder_shapes_and_gradients(kind: str, shape: tuple[int, int, int]) -> None:
    out_channels = 2 * shape[0]  # e.g. a Beta head
    dec = build_decoder(NetSpec(kind=kind), shape, 7, out_channels)
    z = torch.randn(3, 7, requires_grad=True)
    out = dec(z)
    assert out.shape == (3, out_channels, *shape[1:])
    out.square().sum().backward()
    assert grads_everywhere(dec) and z.grad is not None


@pytest.mark.parametrize("kind", ["conv", "resnet"])
@pytest.mark.parametrize("shape", [(2, 20, 12), (1, 9, 15)])
def test_odd_and_non_square_sizes_round_trip(kind: str, shape: tuple[int, int, int]) -> None:
    assert build_encoder(NetSpec(kind=kind), shape, 4)(torch.rand(2, *shape)).shape == (2, 4)
    assert build_decoder(NetSpec(kind=kind), shape, 4, 1)(torch.randn(2, 4)).shape == (
        2,
        1,
        *shape[1:],
    )


@pytest.mark.parametrize("kind", list(BACKBONES))
def test_default_specs_build_at_sane_sizes(kind: str) -> None:
    net = NetSpec(kind=kind)
    enc = build_encoder(net, (1, 28, 28), 32)
    dec = build_decoder(net, (1, 28, 28), 16, 1)
    total = sum(p.numel() for m in (enc, dec) for p in m.parameters())
    assert 100_000 < total < 2_000_000
    assert dec(enc(torch.rand(2, 1, 28, 28))[:, :16]).shape == (2, 1, 28, 28)


@pytest.mark.parametrize("kind", list(BACKBONES))
def test_batchnorm_flag(kind: str) -> None:
    for batchnorm in (True, False):
        net = NetSpec(kind=kind, batchnorm=batchnorm)
        modules = [*build_encoder(net, (1, 28, 28), 4).modules()]
        modules += [*build_decoder(net, (1, 28, 28), 4, 1).modules()]
        has_bn = any(isinstance(m, nn.BatchNorm2d | nn.BatchNorm1d) for m in modules)
        assert has_bn == (batchnorm and kind != "mlp")  # the MLP is plain Linear+ReLU


@pytest.mark.parametrize("kind", list(BACKBONES))
def test_condition_reaches_the_output(kind: str) -> None:
    enc = build_encoder(NetSpec(kind=kind), (1, 28, 28), 4, cond_dim=10).eval()
    x = torch.rand(1, 1, 28, 28).expand(2, -1, -1, -1)
    cond = torch.eye(10)[:2]
    out = enc(x, cond)
    assert not torch.allclose(out[0], out[1])


def test_condition_must_match_how_the_encoder_was_built() -> None:
    x = torch.rand(2, 1, 28, 28)
    with pytest.raises(ValueError, match="cond_dim=10"):
        build_encoder(NetSpec(kind="conv"), (1, 28, 28), 4, cond_dim=10)(x)
    with pytest.raises(ValueError, match="cond_dim=0"):
        build_encoder(NetSpec(kind="mlp"), (1, 28, 28), 4)(x, torch.zeros(2, 10))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"kind": "transformer"}, "mlp, conv, resnet"),
        ({"hidden": (64, 0)}, "hidden"),
        ({"channels": (32, -1)}, "channels"),
        ({"kind": "conv", "channels": ()}, "channels"),
        ({"res_blocks": 0}, "res_blocks"),
    ],
)
def test_bad_specs_raise_config_error(kwargs: dict, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        NetSpec(**kwargs)


@pytest.mark.parametrize("kind", ["conv", "resnet"])
def test_images_too_small_for_the_stages_raise_config_error(kind: str) -> None:
    net = NetSpec(kind=kind)  # three stride-2 stages need at least 8 pixels per side
    build_decoder(net, (1, 8, 8), 4, 1)
    with pytest.raises(ConfigError, match="too small"):
        build_encoder(net, (1, 7, 28), 4)
    with pytest.raises(ConfigError, match="too small"):
        build_decoder(net, (1, 28, 4), 4, 1)


@pytest.mark.parametrize("shape", [(28, 28), (1, 0, 28), (1, 28.0, 28)])
def test_bad_shapes_raise_config_error(shape: tuple) -> None:
    with pytest.raises(ConfigError, match="shape"):
        build_encoder(NetSpec(), shape, 4)


def test_registry_describes_every_kind() -> None:
    assert set(BACKBONES) == {"mlp", "conv", "resnet"}
    assert all(isinstance(d, str) and d for d in BACKBONES.values())
