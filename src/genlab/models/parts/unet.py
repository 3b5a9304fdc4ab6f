"""The noise-prediction U-Net of the diffusion family (Ho et al. 2020, appendix B; after
PixelCNN++'s backbone): a sinusoidal timestep embedding (Vaswani et al. 2017) through an MLP,
plus a label embedding for classifier-free guidance (Ho & Salimans 2022: one extra "no label"
entry), added to every residual block; group-normalised residual blocks at each resolution,
halving it between levels; optional self-attention at the lowest resolution; skip connections
from each down block to its up block. Images whose side does not divide by 2^(levels - 1)
are padded (edge pixels repeated) and the prediction cropped back.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn
from torch.nn import functional as F


def norm(channels: int) -> nn.GroupNorm:
    """Group norm with up to 32 groups (Wu & He 2018), as many as divide the channels."""
    return nn.GroupNorm(math.gcd(32, channels), channels)


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal features of (float) timesteps t, (N,) -> (N, dim)."""
    half = dim // 2
    freqs = torch.exp(-math.log(10_000) * torch.arange(half, device=t.device) / max(half - 1, 1))
    angles = t.float()[:, None] * freqs[None]
    emb = torch.cat([angles.sin(), angles.cos()], dim=1)
    return F.pad(emb, (0, dim % 2))


class ResBlock(nn.Module):
    """GroupNorm-SiLU-conv twice, a 1x1 skip on a width change; the embedding scales and
    shifts the second group norm's output (AdaGN, Dhariwal & Nichol 2021): added before the
    norm, as in Ho et al., a per-channel shift is removed by a group of one channel. The
    second conv starts at zero so that each block starts as the identity."""

    def __init__(self, c_in: int, c_out: int, emb_dim: int, dropout: float) -> None:
        super().__init__()
        self.in_layers = nn.Sequential(norm(c_in), nn.SiLU(), nn.Conv2d(c_in, c_out, 3, padding=1))
        self.emb = nn.Sequential(nn.SiLU(), nn.Linear(emb_dim, 2 * c_out))
        self.out_norm = norm(c_out)
        self.out_layers = nn.Sequential(nn.SiLU(), nn.Dropout(dropout),
                                        nn.Conv2d(c_out, c_out, 3, padding=1))
        nn.init.zeros_(self.out_layers[-1].weight)
        nn.init.zeros_(self.out_layers[-1].bias)
        self.skip = nn.Conv2d(c_in, c_out, 1) if c_in != c_out else nn.Identity()

    def forward(self, x: Tensor, emb: Tensor) -> Tensor:
        scale, shift = self.emb(emb)[:, :, None, None].chunk(2, dim=1)
        h = self.out_norm(self.in_layers(x)) * (1 + scale) + shift
        return self.skip(x) + self.out_layers(h)


class Attention(nn.Module):
    """Single-head self-attention over the pixels of a feature map, residual, output zeroed."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.norm = norm(channels)
        self.qkv = nn.Conv2d(channels, 3 * channels, 1)
        self.proj = nn.Conv2d(channels, channels, 1)
        nn.init.zeros_(self.proj.weight)
        nn.init.zeros_(self.proj.bias)

    def forward(self, x: Tensor, emb: Tensor | None = None) -> Tensor:
        n, c, h, w = x.shape
        q, k, v = self.qkv(self.norm(x)).reshape(n, 3, c, h * w).transpose(2, 3).unbind(1)
        out = F.scaled_dot_product_attention(q, k, v)  # (n, hw, c)
        return x + self.proj(out.transpose(1, 2).reshape(n, c, h, w))


class UNet(nn.Module):
    """eps_theta(x_t, t, y): ``widths`` channels per resolution level, ``res_blocks`` residual
    blocks per level, attention at the lowest level when ``attention``; ``num_classes`` labels
    plus the "no label" index ``num_classes``."""

    def __init__(self, channels: int, widths: list[int], res_blocks: int, attention: bool,
                 dropout: float, num_classes: int) -> None:
        super().__init__()
        base, emb_dim = widths[0], 4 * widths[0]
        self.levels = len(widths)
        self.time = nn.Sequential(nn.Linear(base, emb_dim), nn.SiLU(), nn.Linear(emb_dim, emb_dim))
        self.label = nn.Embedding(num_classes + 1, emb_dim)
        self.conv_in = nn.Conv2d(channels, base, 3, padding=1)
        self.down, skips, c = nn.ModuleList(), [base], base
        for i, w in enumerate(widths):
            for _ in range(res_blocks):
                self.down.append(ResBlock(c, w, emb_dim, dropout))
                c = w
                skips.append(c)
            if i < self.levels - 1:
                self.down.append(nn.Conv2d(c, c, 3, stride=2, padding=1))
                skips.append(c)
        mid = [ResBlock(c, c, emb_dim, dropout), ResBlock(c, c, emb_dim, dropout)]
        self.mid = nn.ModuleList(mid[:1] + ([Attention(c)] if attention else []) + mid[1:])
        self.up = nn.ModuleList()
        for i, w in reversed(list(enumerate(widths))):
            for _ in range(res_blocks + 1):
                self.up.append(ResBlock(c + skips.pop(), w, emb_dim, dropout))
                c = w
            if i > 0:
                self.up.append(nn.Upsample(scale_factor=2, mode="nearest"))
                self.up.append(nn.Conv2d(c, c, 3, padding=1))
        self.out = nn.Sequential(norm(c), nn.SiLU(), nn.Conv2d(c, channels, 3, padding=1))
        nn.init.zeros_(self.out[-1].weight)
        nn.init.zeros_(self.out[-1].bias)

    def label_index(self, y: Tensor | None, n: int) -> Tensor:
        """Labels (N,) as the embedding takes them: unknown (None or -1) -> "no label"."""
        device = self.label.weight.device
        null = torch.full((n,), self.label.num_embeddings - 1, dtype=torch.long, device=device)
        if y is None:
            return null
        y = torch.as_tensor(y, device=device).long().expand(n)
        return torch.where(y < 0, null, y)

    def forward(self, x: Tensor, t: Tensor, y: Tensor) -> Tensor:
        """Predicted noise for x_t at timestep indices t (N,) with labels y (N,)."""
        height, width = x.shape[-2:]
        factor = 2 ** (self.levels - 1)
        x = F.pad(x, (0, -width % factor, 0, -height % factor), mode="replicate")
        emb = self.time(timestep_embedding(t, self.conv_in.out_channels).to(x.dtype))
        emb = emb + self.label(y)
        h = self.conv_in(x)
        skips = [h]
        for layer in self.down:
            h = layer(h, emb) if isinstance(layer, ResBlock) else layer(h)
            skips.append(h)
        for layer in self.mid:
            h = layer(h, emb)
        for layer in self.up:
            if isinstance(layer, ResBlock):
                h = layer(torch.cat([h, skips.pop()], dim=1), emb)
            else:
                h = layer(h)
        return self.out(h)[..., :height, :width]
