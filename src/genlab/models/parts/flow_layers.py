"""The invertible layers of genlab's flow (``models.families.flows.realnvp``). Each maps
(N, C, H, W) images to (N, C, H, W) (a squeeze to (N, 4C, H/2, W/2)) and returns, from
``forward``, the log |det| of its Jacobian per image; ``inverse`` undoes ``forward``
exactly, up to float rounding.

- affine couplings (Dinh et al. 2017, 3.3-3.4): the pixels a mask keeps pass through and give
  the log-scale s and shift t of the others, y = x * exp(s) + t, so the Jacobian is
  triangular and log |det| = sum s. The mask is a checkerboard over pixels or a split of the
  channels; s = scale * tanh(raw) bounds it (RealNVP's tanh with a learnt scale).
- squeeze (Dinh et al. 2017, 3.6): each 2 x 2 block of pixels becomes 4 channels.
- actnorm (Kingma & Dhariwal 2018, 3.1): a per-channel scale and bias, initialised from the
  first training batch so that its outputs have zero mean and unit variance per channel.
- invertible 1 x 1 convolution (Kingma & Dhariwal 2018, 3.2): a learnt C x C rotation of the
  channels, log |det| = H W log |det W|, generalising RealNVP's fixed channel permutation.

``VariationalDequantiser`` is not a layer of the flow but the noise model q(u | x) that
variational dequantisation trains beside it (Ho et al. 2019, 3.1).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F

LogDet = tuple[Tensor, Tensor]
ACTNORM_EPS = 1e-6
"""Added to the first batch's standard deviation, for channels that are constant in it."""


def squeeze(x: Tensor) -> Tensor:
    """(N, C, H, W) -> (N, 4C, H/2, W/2): channel 4c + 2a + b holds pixel (2i + a, 2j + b)."""
    n, c, h, w = x.shape
    x = x.view(n, c, h // 2, 2, w // 2, 2).permute(0, 1, 3, 5, 2, 4)
    return x.reshape(n, 4 * c, h // 2, w // 2)


def unsqueeze(x: Tensor) -> Tensor:
    """The inverse of :func:`squeeze`."""
    n, c, h, w = x.shape
    x = x.view(n, c // 4, 2, 2, h, w).permute(0, 1, 4, 2, 5, 3)
    return x.reshape(n, c // 4, 2 * h, 2 * w)


class Squeeze(nn.Module):
    def forward(self, x: Tensor) -> LogDet:
        return squeeze(x), x.new_zeros(len(x))

    def inverse(self, y: Tensor) -> Tensor:
        return unsqueeze(y)


class CouplingNet(nn.Module):
    """s and t from the kept part: a 3 x 3 convolution, ``blocks`` residual blocks of
    ``width`` maps, and a zero-initialised 3 x 3 output, so each coupling starts as the
    identity (RealNVP's ResNet couplings, small)."""

    def __init__(self, inputs: int, outputs: int, width: int, blocks: int):
        super().__init__()
        self.inp = nn.Conv2d(inputs, width, 3, padding=1)
        self.blocks = nn.ModuleList(nn.Sequential(
            nn.ReLU(), nn.Conv2d(width, width, 3, padding=1), nn.ReLU(),
            nn.Conv2d(width, width, 3, padding=1)) for _ in range(blocks))
        self.out = nn.Conv2d(width, 2 * outputs, 3, padding=1)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)
        self.scale = nn.Parameter(torch.ones(outputs, 1, 1))

    def forward(self, kept: Tensor) -> tuple[Tensor, Tensor]:
        h = self.inp(kept)
        for block in self.blocks:
            h = h + block(h)
        s, t = self.out(F.relu(h)).chunk(2, dim=1)
        return self.scale * torch.tanh(s), t


class CheckerboardCoupling(nn.Module):
    """An affine coupling whose kept pixels are one colour of a checkerboard (``parity``);
    the network also sees the mask, so it knows which pixels it is given."""

    def __init__(self, channels: int, parity: int, width: int, blocks: int):
        super().__init__()
        self.parity = parity
        self.net = CouplingNet(channels + 1, channels, width, blocks)

    def _mask(self, x: Tensor) -> Tensor:
        h, w = x.shape[-2:]
        rows = torch.arange(h, device=x.device).view(-1, 1)
        board = (rows + torch.arange(w, device=x.device) + self.parity) % 2
        return board.to(x.dtype).expand(len(x), 1, h, w)

    def _scale_shift(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        mask = self._mask(x)
        s, t = self.net(torch.cat([x * mask, mask], dim=1))
        return s * (1 - mask), t * (1 - mask), mask

    def forward(self, x: Tensor) -> LogDet:
        s, t, _ = self._scale_shift(x)
        return x * torch.exp(s) + t, s.flatten(1).sum(1)

    def inverse(self, y: Tensor) -> Tensor:
        s, t, _ = self._scale_shift(y)  # the kept pixels are unchanged, so s and t are too
        return (y - t) * torch.exp(-s)


class ChannelCoupling(nn.Module):
    """An affine coupling that keeps half the channels (the first half, or the second when
    ``flip``) and transforms the other half."""

    def __init__(self, channels: int, flip: bool, width: int, blocks: int):
        super().__init__()
        self.flip = flip
        self.net = CouplingNet(channels // 2, channels - channels // 2, width, blocks)

    def _halves(self, x: Tensor) -> tuple[Tensor, Tensor]:
        a, b = x.split([x.shape[1] // 2, x.shape[1] - x.shape[1] // 2], dim=1)
        return (b, a) if self.flip else (a, b)

    def _join(self, kept: Tensor, changed: Tensor) -> Tensor:
        return torch.cat([changed, kept] if self.flip else [kept, changed], dim=1)

    def forward(self, x: Tensor) -> LogDet:
        kept, other = self._halves(x)
        s, t = self.net(kept)
        return self._join(kept, other * torch.exp(s) + t), s.flatten(1).sum(1)

    def inverse(self, y: Tensor) -> Tensor:
        kept, other = self._halves(y)
        s, t = self.net(kept)
        return self._join(kept, (other - t) * torch.exp(-s))


class ActNorm(nn.Module):
    """y = (x + bias) * exp(log_scale) per channel; the first forward pass in training mode
    sets bias and log_scale from its batch (a data-dependent initialisation)."""

    def __init__(self, channels: int):
        super().__init__()
        self.bias = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.log_scale = nn.Parameter(torch.zeros(1, channels, 1, 1))
        self.register_buffer("initialised", torch.tensor(False))

    def forward(self, x: Tensor) -> LogDet:
        if self.training and not bool(self.initialised):
            with torch.no_grad():
                self.bias.copy_(-x.mean((0, 2, 3), keepdim=True))
                std = x.std((0, 2, 3), keepdim=True)
                self.log_scale.copy_(-torch.log(std + ACTNORM_EPS))
                self.initialised.fill_(True)
        logdet = self.log_scale.sum() * x.shape[2] * x.shape[3]
        return (x + self.bias) * torch.exp(self.log_scale), logdet.expand(len(x))

    def inverse(self, y: Tensor) -> Tensor:
        return y * torch.exp(-self.log_scale) - self.bias


class InvConv(nn.Module):
    """y = W x at every pixel, W a learnt C x C matrix initialised as a random rotation."""

    def __init__(self, channels: int):
        super().__init__()
        q, _ = torch.linalg.qr(torch.randn(channels, channels))
        self.weight = nn.Parameter(q)

    def forward(self, x: Tensor) -> LogDet:
        logdet = torch.linalg.slogdet(self.weight)[1] * x.shape[2] * x.shape[3]
        return F.conv2d(x, self.weight[:, :, None, None]), logdet.expand(len(x))

    def inverse(self, y: Tensor) -> Tensor:
        return F.conv2d(y, torch.linalg.inv(self.weight)[:, :, None, None])


class VariationalDequantiser(nn.Module):
    """q(u | x) on (0, 1)^D for 8-bit pixels x (Ho et al. 2019, 3.1): u = sigmoid(mu + sigma
    eps), eps ~ N(0, I), with mu and log sigma per pixel from a small network of x. A
    conditional logistic-normal, the simplest flow q can be (Flow++ stacks conditional
    couplings); its network starts at zero, so q starts as sigmoid(N(0, 1)) in every pixel."""

    def __init__(self, channels: int, width: int):
        super().__init__()
        self.net = CouplingNet(channels, channels, width, 1)

    def forward(self, x: Tensor, eps: Tensor) -> tuple[Tensor, Tensor]:
        """u for the noise ``eps`` and log q(u | x) per image."""
        log_sigma, mu = self.net(2 * x - 1)
        h = mu + torch.exp(log_sigma) * eps
        log_q = (-0.5 * eps ** 2 - 0.5 * math.log(2 * math.pi) - log_sigma
                 - F.logsigmoid(h) - F.logsigmoid(-h))
        return torch.sigmoid(h), log_q.flatten(1).sum(1)
