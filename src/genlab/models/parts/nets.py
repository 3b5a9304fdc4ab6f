"""Backbones shared by the model families: encoders map an image (and an optional one-hot label)
to features, decoders map features to a raw image-shaped output for a likelihood head.

Three kinds: ``mlp`` (Linear+ReLU), ``conv`` (4x4 stride-2 convolutions with BatchNorm, as in
DCGAN, Radford et al. 2016) and ``resnet`` (residual blocks, He et al. 2016, with nearest-neighbour
upsampling). Each decoder mirrors its encoder and restores the exact image size, odd
intermediate sizes included (MNIST: 28 -> 14 -> 7 -> 3 and back). Dropout (Srivastava et al.
2014), where a family's config asks for it, follows every hidden activation of the MLP and conv
backbones, in the encoder or in both halves; never the input or the output layer.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from itertools import pairwise
from numbers import Integral
from typing import ClassVar

import torch
from torch import Tensor, nn

from genlab.errors import ConfigError

BACKBONES: dict[str, str] = {
    "mlp": "Linear+ReLU layers of widths `hidden` on the flattened image; decoder mirrors",
    "conv": "4x4 stride-2 convolutions of widths `channels`; transposed-convolution decoder",
    "resnet": "residual blocks per `channels` stage after average pooling; nearest upsampling",
}
DROPOUT_IN = ("encoder", "both")
DROPOUT_NETS = ("mlp", "conv")


@dataclass
class BackboneConfig:
    """The backbone part of a family's config: ``net`` (one of :data:`BACKBONES`), the MLP's
    ``hidden`` widths, the conv/resnet ``channels`` per stage, ``res_blocks`` per stage,
    ``batchnorm`` (conv and resnet) and ``dropout``, the probability of dropping a hidden unit
    (mlp and conv; 0 = off), in the halves ``dropout_in`` names: the ``encoder`` or ``both``
    (seed 001 tried each). Composed into the configs of the families built on it."""

    net: str = "mlp"
    hidden: list[int] = field(default_factory=lambda: [512, 256])
    channels: list[int] = field(default_factory=lambda: [32, 64, 128])
    res_blocks: int = 2
    batchnorm: bool = True
    dropout: float = 0.0
    dropout_in: str = "encoder"

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"net": tuple(BACKBONES),
                                                     "dropout_in": DROPOUT_IN}

    def net_spec(self) -> NetSpec:
        return NetSpec(kind=self.net, hidden=tuple(self.hidden), channels=tuple(self.channels),
                       res_blocks=self.res_blocks, batchnorm=self.batchnorm)

    def dropout_rates(self) -> tuple[float, float]:
        """(encoder, decoder) dropout probabilities."""
        return self.dropout, self.dropout if self.dropout_in == "both" else 0.0

    def validate(self) -> None:
        """A dropout probability in [0, 1), on a backbone that has it; ``dropout_in`` only
        with a dropout to place."""
        super().validate()  # type: ignore[misc]
        if not 0.0 <= self.dropout < 1.0:
            raise ConfigError(f"model.dropout must be in [0, 1) (0 = off), got {self.dropout}")
        if self.dropout and self.net not in DROPOUT_NETS:
            raise ConfigError(f"model.dropout applies to the {' and '.join(DROPOUT_NETS)} "
                              f"backbones, not net={self.net}")
        if not self.dropout and self.dropout_in != "encoder":
            raise ConfigError(f"model.dropout_in={self.dropout_in} has no dropout to place: "
                              "set model.dropout too")


@dataclass(frozen=True)
class NetSpec:
    """Which backbone to build. ``batchnorm`` applies to conv and resnet; the MLP stays plain
    Linear+ReLU."""

    kind: str = "mlp"
    hidden: tuple[int, ...] = (512, 256)
    channels: tuple[int, ...] = (32, 64, 128)
    res_blocks: int = 2
    batchnorm: bool = True

    def __post_init__(self) -> None:
        if self.kind not in BACKBONES:
            raise ConfigError(
                f"unknown net kind {self.kind!r}; choose one of: {', '.join(BACKBONES)}"
            )
        for name, widths in (("hidden", self.hidden), ("channels", self.channels)):
            if not all(isinstance(w, int) and w > 0 for w in widths):
                raise ConfigError(f"net {name} must be positive integers, got {widths!r}")
        if self.kind != "mlp" and not self.channels:
            raise ConfigError(f"a {self.kind} net needs at least one entry in channels")
        if not isinstance(self.res_blocks, int) or self.res_blocks < 1:
            raise ConfigError(f"res_blocks must be a positive integer, got {self.res_blocks!r}")


class EncoderNet(nn.Module):
    """Image (N, C, H, W) plus an optional condition (N, cond_dim) -> features (N, out).

    The condition is concatenated to the flattened image (mlp) or appended as constant
    feature planes (conv, resnet), so the very first layer sees it.
    """

    def __init__(self, body: nn.Module, cond_dim: int, planes: bool) -> None:
        super().__init__()
        self.body = body
        self.cond_dim = cond_dim
        self.planes = planes

    def forward(self, x: Tensor, cond: Tensor | None = None) -> Tensor:
        if (cond is None) != (self.cond_dim == 0):
            got = None if cond is None else tuple(cond.shape)
            raise ValueError(f"encoder built with cond_dim={self.cond_dim} got cond {got}")
        if not self.planes:
            x = x.flatten(1)
        if cond is None:
            return self.body(x)
        cond = cond.to(x.dtype)
        if self.planes:
            cond = cond[:, :, None, None].expand(-1, -1, *x.shape[2:])
        return self.body(torch.cat([x, cond], dim=1))


class ResBlock(nn.Module):
    """conv3x3-BN-ReLU-conv3x3-BN plus a skip (a 1x1 conv when the width changes), then ReLU."""

    def __init__(self, c_in: int, c_out: int, batchnorm: bool) -> None:
        super().__init__()
        second = [_conv3(c_out, c_out, batchnorm)]
        if batchnorm:
            second.append(nn.BatchNorm2d(c_out))
        self.body = nn.Sequential(
            *_unit(_conv3(c_in, c_out, batchnorm), c_out, batchnorm, nn.ReLU()), *second
        )
        self.skip = nn.Identity() if c_in == c_out else nn.Conv2d(c_in, c_out, 1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        return torch.relu(self.body(x) + self.skip(x))


def build_encoder(
    spec: NetSpec, shape: tuple[int, int, int], out_features: int, cond_dim: int = 0,
    dropout: float = 0.0,
) -> EncoderNet:
    """Encoder for images of ``shape``; forward(x, cond=None) -> (N, out_features), with
    ``dropout`` after each hidden activation (mlp and conv)."""
    c, h, w = _check_shape(shape)
    _check_dropout(spec, dropout)
    if spec.kind == "mlp":
        widths = [c * h * w + cond_dim, *spec.hidden]
        layers = [*_mlp(widths, dropout), nn.Linear(widths[-1], out_features)]
    else:
        final = _stage_sizes(spec, h, w)[-1]
        flat = spec.channels[-1] * math.prod(final)
        body = (_conv_encoder(spec, c + cond_dim, dropout) if spec.kind == "conv"
                else _resnet_encoder(spec, c + cond_dim))
        layers = [*body, nn.Flatten(), nn.Linear(flat, out_features)]
    return EncoderNet(nn.Sequential(*layers), cond_dim, planes=spec.kind != "mlp")


def build_decoder(
    spec: NetSpec, shape: tuple[int, int, int], in_features: int, out_channels: int,
    dropout: float = 0.0,
) -> nn.Sequential:
    """Decoder to images of ``shape``: (N, in_features) -> raw (N, out_channels, H, W), with
    ``dropout`` after each hidden activation (mlp and conv)."""
    _, h, w = _check_shape(shape)
    _check_dropout(spec, dropout)
    if spec.kind == "mlp":
        widths = [in_features, *reversed(spec.hidden)]
        return nn.Sequential(
            *_mlp(widths, dropout),
            nn.Linear(widths[-1], out_channels * h * w),
            nn.Unflatten(1, (out_channels, h, w)),
        )
    sizes = _stage_sizes(spec, h, w)
    c_last = spec.channels[-1]
    body = (_conv_decoder(spec, sizes, out_channels, dropout) if spec.kind == "conv"
            else _resnet_decoder(spec, sizes, out_channels))
    return nn.Sequential(
        nn.Linear(in_features, c_last * math.prod(sizes[-1])),
        nn.Unflatten(1, (c_last, *sizes[-1])),
        *body,
    )


def _check_dropout(spec: NetSpec, p: float) -> None:
    if not 0.0 <= p < 1.0 or (p and spec.kind not in DROPOUT_NETS):
        raise ConfigError(f"dropout {p} needs a probability in [0, 1) and a "
                          f"{' or '.join(DROPOUT_NETS)} net, got net {spec.kind}")


def _dropped(p: float) -> list[nn.Module]:
    """The dropout after a hidden activation; none at all when off, so a run without dropout
    keeps the module indices, and the checkpoints, of the backbones before it."""
    return [nn.Dropout(p)] if p else []


def _check_shape(shape: tuple[int, int, int]) -> tuple[int, int, int]:
    if len(shape) != 3 or not all(isinstance(s, Integral) and s > 0 for s in shape):
        raise ConfigError(f"image shape must be three positive integers (C, H, W), got {shape!r}")
    return int(shape[0]), int(shape[1]), int(shape[2])


def _stage_sizes(spec: NetSpec, h: int, w: int) -> list[tuple[int, int]]:
    """Spatial size entering each stage, then after the last one. A 4x4 stride-2 conv with
    padding 1 and a 2x2 average pool both halve with floor, so conv and resnet share this."""
    sizes = [(h, w)]
    for _ in spec.channels:
        sizes.append((sizes[-1][0] // 2, sizes[-1][1] // 2))
    if min(sizes[-1]) < 1:
        raise ConfigError(
            f"images of {h}x{w} are too small for a {spec.kind} net with "
            f"{len(spec.channels)} downsampling stages (channels={spec.channels}); "
            f"need at least {2 ** len(spec.channels)} pixels per side or fewer channels entries"
        )
    return sizes


def _mlp(widths: list[int], dropout: float = 0.0) -> list[nn.Module]:
    layers: list[nn.Module] = []
    for a, b in pairwise(widths):
        layers += [nn.Linear(a, b), nn.ReLU(), *_dropped(dropout)]
    return layers


def _unit(layer: nn.Module, width: int, batchnorm: bool, act: nn.Module) -> list[nn.Module]:
    """layer -> [BatchNorm] -> activation (callers drop the layer's bias under BatchNorm)."""
    return [layer, nn.BatchNorm2d(width), act] if batchnorm else [layer, act]


def _conv3(c_in: int, c_out: int, batchnorm: bool) -> nn.Conv2d:
    return nn.Conv2d(c_in, c_out, 3, padding=1, bias=not batchnorm)


def _res_stage(c_in: int, c_out: int, blocks: int, batchnorm: bool) -> list[nn.Module]:
    return [ResBlock(c_in if i == 0 else c_out, c_out, batchnorm) for i in range(blocks)]


def _conv_encoder(spec: NetSpec, c_in: int, dropout: float = 0.0) -> list[nn.Module]:
    # LeakyReLU as in DCGAN discriminators: the same encoder may serve as a GAN critic.
    layers: list[nn.Module] = []
    for a, b in pairwise([c_in, *spec.channels]):
        conv = nn.Conv2d(a, b, 4, stride=2, padding=1, bias=not spec.batchnorm)
        layers += [*_unit(conv, b, spec.batchnorm, nn.LeakyReLU(0.2)), *_dropped(dropout)]
    return layers


def _conv_decoder(
    spec: NetSpec, sizes: list[tuple[int, int]], out_channels: int, dropout: float = 0.0
) -> list[nn.Module]:
    """Transposed 4x4 stride-2 convs; output_padding restores what the encoder's floor dropped."""
    layers: list[nn.Module] = [nn.ReLU(), *_dropped(dropout)]
    widths = [*reversed(spec.channels), out_channels]
    steps = list(zip(pairwise(widths), pairwise(sizes[::-1]), strict=True))
    for i, ((a, b), (src, dst)) in enumerate(steps):
        pad = (dst[0] - 2 * src[0], dst[1] - 2 * src[1])
        last = i == len(steps) - 1
        conv = nn.ConvTranspose2d(
            a, b, 4, stride=2, padding=1, output_padding=pad, bias=last or not spec.batchnorm
        )
        layers += [conv] if last else [*_unit(conv, b, spec.batchnorm, nn.ReLU()),
                                       *_dropped(dropout)]
    return layers


def _resnet_encoder(spec: NetSpec, c_in: int) -> list[nn.Module]:
    # Pool before each stage's blocks so they run at reduced resolution: 4x cheaper on CPU.
    c0 = spec.channels[0]
    layers = _unit(_conv3(c_in, c0, spec.batchnorm), c0, spec.batchnorm, nn.ReLU())
    for a, b in pairwise([c0, *spec.channels]):
        layers += [nn.AvgPool2d(2), *_res_stage(a, b, spec.res_blocks, spec.batchnorm)]
    return layers


def _resnet_decoder(
    spec: NetSpec, sizes: list[tuple[int, int]], out_channels: int
) -> list[nn.Module]:
    """Mirror of the encoder: each stage's blocks, then nearest upsampling to the size it had."""
    layers: list[nn.Module] = []
    widths = [*reversed(spec.channels), spec.channels[0]]
    for (a, b), size in zip(pairwise(widths), reversed(sizes[:-1]), strict=True):
        layers += [
            *_res_stage(a, b, spec.res_blocks, spec.batchnorm),
            nn.Upsample(size=size, mode="nearest"),
        ]
    layers.append(nn.Conv2d(spec.channels[0], out_channels, 3, padding=1))
    return layers


def grid_size(spec: NetSpec, shape: tuple[int, int, int]) -> tuple[int, int]:
    """The (h, w) of the feature grid a conv or resnet encoder of ``spec`` leaves of images
    of ``shape``: each stage halves with floor (MNIST, two stages: 28 -> 14 -> 7)."""
    if spec.kind == "mlp":
        raise ConfigError("a grid of codes needs a convolutional backbone: net must be conv or "
                          "resnet, got mlp")
    _, h, w = _check_shape(shape)
    return _stage_sizes(spec, h, w)[-1]


def build_grid_encoder(spec: NetSpec, shape: tuple[int, int, int],
                       out_channels: int) -> nn.Sequential:
    """Images (N, C, H, W) -> a grid of ``out_channels``-D vectors (N, D, h, w): the conv or
    resnet stages, then a 1x1 convolution instead of the flat encoders' Linear head."""
    grid_size(spec, shape)
    stages = _conv_encoder if spec.kind == "conv" else _resnet_encoder
    return nn.Sequential(*stages(spec, shape[0]), nn.Conv2d(spec.channels[-1], out_channels, 1))


def build_grid_decoder(spec: NetSpec, shape: tuple[int, int, int], in_channels: int,
                       out_channels: int) -> nn.Sequential:
    """A grid (N, in_channels, h, w) -> raw (N, out_channels, H, W): a 1x1 convolution to the
    last stage's width, then the mirrored stages of :func:`build_grid_encoder`."""
    grid_size(spec, shape)
    stages = _conv_decoder if spec.kind == "conv" else _resnet_decoder
    sizes = _stage_sizes(spec, shape[1], shape[2])
    return nn.Sequential(nn.Conv2d(in_channels, spec.channels[-1], 1),
                         *stages(spec, sizes, out_channels))
