"""Generators and discriminators of the adversarial families, sized from the image shape.

A discriminator is built as a trunk phi(x) -> features of a known width plus a head, so the
same trunk serves an unconditional score (a linear head) and a projection discriminator
(Miyato & Koyama 2018). Generators end in tanh: images in [-1, 1].
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import pairwise

import torch
from torch import Tensor, nn
from torch.nn.utils.parametrizations import spectral_norm

from genlab.errors import ConfigError

FC_GENERATOR_WIDTHS = (1024, 1024)
FC_DISCRIMINATOR_WIDTHS = (256, 256)
NORMS: dict[str, Callable[[int], nn.Module]] = {
    "batch": nn.BatchNorm2d,
    "layer": lambda c: nn.GroupNorm(1, c),  # one group: layer normalisation over (C, H, W)
}
"""The normalisation layers a discriminator trunk can put after its convolutions."""
DISCRIMINATOR_NORMS = (*NORMS, "spectral")
"""A discriminator's normalisation: a layer of :data:`NORMS`, or "spectral", which adds no
layer and normalises the weights instead (:func:`spectral_normalised`)."""

Trunk = tuple[nn.Module, int]
"""A discriminator trunk and the width of the features it outputs."""


def fc_generator(latent_dim: int, shape: tuple[int, int, int]) -> nn.Sequential:
    """Noise -> 1024 -> 1024 -> C*H*W, ReLU between, tanh out: the fully connected
    generator of the original GAN exercise."""
    widths = [latent_dim, *FC_GENERATOR_WIDTHS]
    layers: list[nn.Module] = []
    for a, b in pairwise(widths):
        layers += [nn.Linear(a, b), nn.ReLU()]
    return nn.Sequential(
        *layers, nn.Linear(widths[-1], math.prod(shape)), nn.Tanh(), nn.Unflatten(1, shape)
    )


def fc_trunk(shape: tuple[int, int, int]) -> Trunk:
    """C*H*W -> 256 -> 256 with LeakyReLU(0.01): the matching fully connected discriminator."""
    widths = [math.prod(shape), *FC_DISCRIMINATOR_WIDTHS]
    layers: list[nn.Module] = [nn.Flatten()]
    for a, b in pairwise(widths):
        layers += [nn.Linear(a, b), nn.LeakyReLU(0.01)]
    return nn.Sequential(*layers), widths[-1]


def halvings(shape: tuple[int, int, int], channels: list[int]) -> list[tuple[int, int]]:
    """Spatial size of the image and after each stride-2 stage (floor: 28 -> 14 -> 7 -> 3)."""
    if not channels or not all(isinstance(c, int) and c > 0 for c in channels):
        raise ConfigError(f"model.channels must be positive integers, got {channels!r}")
    sizes = [(shape[1], shape[2])]
    for _ in channels:
        sizes.append((sizes[-1][0] // 2, sizes[-1][1] // 2))
    if min(sizes[-1]) < 1:
        raise ConfigError(
            f"images of {shape[1]}x{shape[2]} are too small for {len(channels)} stride-2 "
            f"stages (model.channels={channels}); give fewer channels entries"
        )
    return sizes


def conv_trunk(shape: tuple[int, int, int], channels: list[int], norm: str) -> Trunk:
    """4x4 stride-2 convolutions of widths ``channels`` with LeakyReLU(0.2), normalised after
    every layer but the first (Radford et al. 2016); ``norm`` is one of
    :data:`DISCRIMINATOR_NORMS` (a convolution keeps its bias where no layer follows it)."""
    if norm not in DISCRIMINATOR_NORMS:
        raise ConfigError(
            f"model.norm={norm!r} is not a discriminator normalisation; "
            f"choose one of {', '.join(DISCRIMINATOR_NORMS)}"
        )
    final = halvings(shape, channels)[-1]
    layers: list[nn.Module] = []
    for i, (a, b) in enumerate(pairwise([shape[0], *channels])):
        normed = i > 0 and norm in NORMS
        layers.append(nn.Conv2d(a, b, 4, stride=2, padding=1, bias=not normed))
        layers += [NORMS[norm](b), nn.LeakyReLU(0.2)] if normed else [nn.LeakyReLU(0.2)]
    return nn.Sequential(*layers, nn.Flatten()), channels[-1] * math.prod(final)


def conv_generator(in_dim: int, shape: tuple[int, int, int], channels: list[int]) -> nn.Sequential:
    """Project and reshape to the trunk's last map, then 4x4 stride-2 transposed convolutions
    with BatchNorm and ReLU back to the image size, tanh out (Radford et al. 2016). Output
    padding restores what the trunk's floor dropped (3 -> 7 on MNIST)."""
    sizes = halvings(shape, channels)[::-1]
    widths = [*reversed(channels), shape[0]]
    layers: list[nn.Module] = [
        nn.Linear(in_dim, widths[0] * math.prod(sizes[0]), bias=False),
        nn.Unflatten(1, (widths[0], *sizes[0])),
        nn.BatchNorm2d(widths[0]),
        nn.ReLU(),
    ]
    stages = zip(pairwise(widths), pairwise(sizes), strict=True)
    for i, ((a, b), (src, dst)) in enumerate(stages):
        extra = (dst[0] - 2 * src[0], dst[1] - 2 * src[1])
        last = i == len(channels) - 1
        layers.append(nn.ConvTranspose2d(a, b, 4, 2, padding=1, output_padding=extra, bias=last))
        layers += [nn.Tanh()] if last else [nn.BatchNorm2d(b), nn.ReLU()]
    return nn.Sequential(*layers)


def scored(trunk: nn.Module, width: int) -> nn.Sequential:
    """An unconditional discriminator: the trunk and a linear head to one output."""
    return nn.Sequential(trunk, nn.Linear(width, 1))


def spectral_normalised(net: nn.Module) -> nn.Module:
    """Every convolution, linear layer and embedding of ``net`` divided by its largest singular
    value, estimated by one power iteration per training forward pass (Miyato et al. 2018):
    a discriminator that is 1-Lipschitz layer by layer, without coupling a batch's images."""
    for m in list(net.modules()):
        if isinstance(m, nn.Conv2d | nn.Linear | nn.Embedding):
            spectral_norm(m)
    return net


def radford_init(net: nn.Module) -> nn.Module:
    """Weights ~ N(0, 0.02), BatchNorm scales ~ N(1, 0.02), biases 0 (Radford et al. 2016)."""
    for m in net.modules():
        if isinstance(m, nn.Conv2d | nn.ConvTranspose2d | nn.Linear | nn.Embedding):
            nn.init.normal_(m.weight, 0.0, 0.02)
        elif isinstance(m, nn.BatchNorm2d):
            nn.init.normal_(m.weight, 1.0, 0.02)
        if isinstance(getattr(m, "bias", None), Tensor):
            nn.init.zeros_(m.bias)
    return net


class ProjectionDiscriminator(nn.Module):
    """D(x, y) = psi(phi(x)) + <embed(y), phi(x)> (Miyato & Koyama 2018): the label enters as
    an inner product with the features rather than as an input channel."""

    def __init__(self, trunk: nn.Module, width: int, num_classes: int) -> None:
        super().__init__()
        self.trunk = trunk
        self.head = nn.Linear(width, 1)
        self.embed = nn.Embedding(num_classes, width)

    def forward(self, x: Tensor, y: Tensor) -> Tensor:
        phi = self.trunk(x)
        return self.head(phi).squeeze(1) + (self.embed(y) * phi).sum(1)


class LabelledGenerator(nn.Module):
    """G(z, y) = body([z, embed(y)]): a learned label embedding joined to the noise
    (Mirza & Osindero 2014, with an embedding in place of the one-hot label)."""

    def __init__(self, body: nn.Module, num_classes: int, embed_dim: int) -> None:
        super().__init__()
        self.embed = nn.Embedding(num_classes, embed_dim)
        self.body = body

    def forward(self, z: Tensor, y: Tensor) -> Tensor:
        return self.body(torch.cat([z, self.embed(y)], dim=1))
