"""The gated PixelCNN network (van den Oord et al. 2016, "Conditional Image Generation with
PixelCNN Decoders", section 2).

Two stacks replace the masked 3x3 convolutions of the first PixelCNN, whose receptive field
has a blind spot to the upper right: a vertical stack that sees every row above a pixel (all
columns within reach) and a horizontal stack that sees the pixels to its left in its own row
and, through a 1x1 connection, the vertical stack's view. Together they see exactly the
pixels before it in raster order. The masks are shapes and shifts rather than zeroed
weights: the vertical convolution is (k//2 + 1) x k over the rows up to its own, the first
layer's input shifted down one row, so vertical features of row i depend on input rows < i;
the horizontal convolution is 1 x (k//2 + 1) over the columns up to its own, the first
layer's input shifted right one column (the paper's mask A: a pixel never sees itself).
Each layer gates, tanh(W_f * x + V_f h) * sigmoid(W_g * x + V_g h), with h a class
embedding when the model is conditional, and the horizontal stack is residual after the
first layer.

The vertical stack never reads the horizontal one, so ``vertical`` runs all its layers first
and ``horizontal`` runs after. A sampler caches both (as in Ramachandran et al. 2017's fast
PixelCNN generation): a layer's vertical output of row i is final once the rows above are
drawn and its horizontal output at column j once the pixels to the left are, so
``vertical_row`` computes one row of every layer per image row and ``horizontal_pixel`` one
pixel of every layer per pixel, each from the few cached rows or columns its kernel reads.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def shift_down(x: Tensor) -> Tensor:
    """Row i holds row i - 1 (zeros in row 0)."""
    return F.pad(x, (0, 0, 1, 0))[:, :, :-1]


def shift_right(x: Tensor) -> Tensor:
    """Column j holds column j - 1 (zeros in column 0)."""
    return F.pad(x, (1, 0, 0, 0))[..., :-1]


def gate(pre: Tensor) -> Tensor:
    """tanh(a) * sigmoid(b) of the two halves of the channels (the gated activation)."""
    a, b = pre.chunk(2, dim=1)
    return torch.tanh(a) * torch.sigmoid(b)


Bias = tuple[Tensor, Tensor] | tuple[int, int]
"""A layer's class-embedding biases for the vertical and horizontal gates (0 if none)."""


class GatedLayer(nn.Module):
    """One gated layer of both stacks; ``first``: the masked (mask A) input layer."""

    def __init__(self, inputs: int, features: int, kernel: int, first: bool, classes: int):
        super().__init__()
        self.half, self.first = kernel // 2, first
        self.v_conv = nn.Conv2d(inputs, 2 * features, (self.half + 1, kernel))
        self.v_to_h = nn.Conv2d(2 * features, 2 * features, 1)
        self.h_conv = nn.Conv2d(inputs, 2 * features, (1, self.half + 1))
        self.h_out = nn.Conv2d(features, features, 1)
        self.label = nn.Embedding(classes, 4 * features) if classes else None

    def bias(self, y: Tensor | None) -> Bias:
        if self.label is None or y is None:
            return 0, 0
        v, h = self.label(y)[:, :, None, None].chunk(2, dim=1)
        return v, h

    def vertical(self, v: Tensor, bias: Bias) -> tuple[Tensor, Tensor]:
        """The vertical output and the vertical stack's input to the horizontal one."""
        if self.first:
            v = shift_down(v)
        pre = self.v_conv(F.pad(v, (self.half, self.half, self.half, 0)))
        return gate(pre + bias[0]), self.v_to_h(pre)

    def horizontal(self, h: Tensor, from_v: Tensor, bias: Bias) -> Tensor:
        x = shift_right(h) if self.first else h
        out = self.h_out(gate(self.h_conv(F.pad(x, (self.half, 0, 0, 0))) + from_v + bias[1]))
        return out if self.first else h + out


class ChannelHead(nn.Module):
    """Each pixel's output parameters, channel c from the context features and the pixel's
    own channels before c: R, then G given R, then B given R and G (van den Oord et al.
    2016a, section 3.4). Output (N, C * params, H, W), channel c's parameters together."""

    def __init__(self, features: int, channels: int, params: int):
        super().__init__()
        self.context = nn.Conv2d(features, channels * features, 1)
        self.earlier = nn.Conv2d(channels, channels * features, 1)
        groups = torch.arange(channels * features) // features
        mask = (torch.arange(channels)[None, :] < groups[:, None]).float()
        self.register_buffer("mask", mask[:, :, None, None], persistent=False)
        self.out = nn.Conv2d(channels * features, channels * params, 1, groups=channels)

    def forward(self, context: Tensor, x: Tensor) -> Tensor:
        earlier = F.conv2d(x, self.earlier.weight * self.mask, self.earlier.bias)
        return self.out(F.relu(self.context(F.relu(context)) + earlier))


class GatedStacks(nn.Module):
    """``layers`` gated layers of ``features`` maps and kernel ``kernel`` over ``inputs``
    input maps: the context features of every position given those before it."""

    def __init__(self, inputs: int, features: int, layers: int, kernel: int, classes: int = 0):
        super().__init__()
        self.layers = nn.ModuleList(
            GatedLayer(inputs if i == 0 else features, features, kernel, i == 0, classes)
            for i in range(layers))
        self.features = features

    def biases(self, y: Tensor | None) -> list[Bias]:
        return [layer.bias(y) for layer in self.layers]

    def vertical(self, x: Tensor, biases: list[Bias]) -> list[Tensor]:
        """Each layer's vertical input to the horizontal stack, for the rows of ``x``."""
        v, out = x, []
        for layer, bias in zip(self.layers, biases, strict=True):
            v, from_v = layer.vertical(v, bias)
            out.append(from_v)
        return out

    def horizontal(self, x: Tensor, from_v: list[Tensor], biases: list[Bias]) -> Tensor:
        """Context features of the pixels of ``x`` (rows of it, or a window of one row)."""
        h = x
        for layer, fv, bias in zip(self.layers, from_v, biases, strict=True):
            h = layer.horizontal(h, fv, bias)
        return h

    def vertical_row(self, stores: list[Tensor], i: int, biases: list[Bias]) -> list[Tensor]:
        """Row i of each layer's vertical input to the horizontal stack. ``stores``: the
        input (``stores[0]``) and each layer's vertical output, final for the rows above i;
        this fills in their row i."""
        out = []
        for k, (layer, bias) in enumerate(zip(self.layers, biases, strict=True)):
            top = max(0, i - layer.half - int(layer.first))
            v, from_v = layer.vertical(stores[k][:, :, top:i + 1], bias)
            stores[k + 1][:, :, i] = v[:, :, -1]
            out.append(from_v[:, :, -1:])
        return out

    def horizontal_pixel(self, stores: list[Tensor], from_v: list[Tensor], j: int,
                         biases: list[Bias]) -> Tensor:
        """Context features (N, F, 1, 1) of pixel j of the row held in ``stores``: the input
        row (``stores[0]``) and each layer's horizontal output, final left of j; this fills
        in their column j. ``from_v``: the row's :meth:`vertical_row`."""
        for k, (layer, bias) in enumerate(zip(self.layers, biases, strict=True)):
            left = max(0, j - layer.half - int(layer.first))
            h = layer.horizontal(stores[k][..., left:j + 1], from_v[k][..., left:j + 1], bias)
            stores[k + 1][..., j] = h[..., -1]
        return stores[-1][..., j:j + 1]

    def context(self, x: Tensor, y: Tensor | None) -> Tensor:
        """Context features of every position of ``x`` given the positions before it."""
        biases = self.biases(y)
        return self.horizontal(x, self.vertical(x, biases), biases)


class GatedPixelCNN(GatedStacks):
    """The gated stacks over the image, then the per-pixel channel head with ``params``
    outputs per channel; input pixels centred to [-1, 1]."""

    def __init__(self, channels: int, features: int, layers: int, kernel: int, params: int,
                 classes: int = 0):
        super().__init__(channels, features, layers, kernel, classes)
        self.head = ChannelHead(features, channels, params)

    def forward(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """Every pixel's parameters given the pixels before it, x in [-1, 1]."""
        return self.head(self.context(x, y), x)


class CodePixelCNN(GatedStacks):
    """A gated PixelCNN over a grid of indices into ``codes`` codes (the prior of a VQ-VAE's
    code grid, van den Oord et al. 2017, 4): each index embedded in ``embedding`` maps, the
    gated stacks, then K logits per position from a 1x1 head (one channel: no channel
    ordering within a position)."""

    def __init__(self, codes: int, embedding: int, features: int, layers: int, kernel: int,
                 classes: int = 0):
        super().__init__(embedding, features, layers, kernel, classes)
        self.embed = nn.Embedding(codes, embedding)
        self.head = nn.Sequential(nn.ReLU(), nn.Conv2d(features, features, 1), nn.ReLU(),
                                  nn.Conv2d(features, codes, 1))

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        """Logits (N, K, h, w) of every position's code given the codes before it in raster
        order, of index grids ``z`` (N, h, w)."""
        return self.head(self.context(self.embed(z.long()).permute(0, 3, 1, 2), y))
