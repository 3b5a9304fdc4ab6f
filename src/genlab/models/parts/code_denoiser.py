"""A residual-MLP denoiser f(x_t, t, y) of flat codes (N, D), for a diffusion over a first
stage's latent space (latent diffusion without a spatial code: the prior of a VAE, an AE).

Codes have no spatial structure for a U-Net to exploit, so the network is a stack of
pre-norm residual MLP blocks (the denoiser of DALL-E 2's prior is a transformer over a few
tokens; for one flat vector an MLP is the usual choice, e.g. Vahdat et al. 2021 use residual
blocks). The timestep's sinusoidal features (Vaswani et al. 2017, as in Ho et al. 2020) and,
for a conditional prior, a learned label embedding (index ``num_classes``: no label, for
classifier-free guidance) are added inside every block; each block's last layer starts at
zero, so every block starts as the identity.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from genlab.models.parts.unet import timestep_embedding


class ResidualMLPBlock(nn.Module):
    """h + W2 SiLU(W1 SiLU(LayerNorm(h)) + emb): a pre-norm residual block whose embedding
    shifts its hidden layer; W2 starts at zero, so the block starts as the identity."""

    def __init__(self, width: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.inner = nn.Linear(width, 2 * width)
        self.emb = nn.Linear(width, 2 * width)
        self.outer = nn.Linear(2 * width, width)
        nn.init.zeros_(self.outer.weight)
        nn.init.zeros_(self.outer.bias)

    def forward(self, h: Tensor, emb: Tensor) -> Tensor:
        hidden = self.inner(nn.functional.silu(self.norm(h))) + self.emb(emb)
        return h + self.outer(nn.functional.silu(hidden))


class CodeDenoiser(nn.Module):
    """f(x_t, t, y): codes (N, ``dim``), timestep indices t (N,), labels y (N,) (-1: none) or
    None -> a prediction of shape (N, ``dim``) (eps or v, as the diffusion says)."""

    def __init__(self, dim: int, width: int, blocks: int, num_classes: int = 0) -> None:
        super().__init__()
        self.width, self.num_classes = width, num_classes
        self.time = nn.Sequential(nn.Linear(width, width), nn.SiLU(), nn.Linear(width, width))
        self.labels = nn.Embedding(num_classes + 1, width) if num_classes else None
        self.inp = nn.Linear(dim, width)
        self.blocks = nn.ModuleList(ResidualMLPBlock(width) for _ in range(blocks))
        self.out = nn.Sequential(nn.LayerNorm(width), nn.SiLU(), nn.Linear(width, dim))

    def forward(self, x: Tensor, t: Tensor, y: Tensor | None) -> Tensor:
        emb = nn.functional.silu(self.time(timestep_embedding(t, self.width)))
        if self.labels is not None:
            null = torch.full((len(x),), self.num_classes, dtype=torch.long, device=x.device)
            labels = null if y is None else torch.as_tensor(y, device=x.device).long()
            emb = emb + self.labels(torch.where(labels < 0, null, labels.expand(len(x))))
        h = self.inp(x)
        for block in self.blocks:
            h = block(h, emb)
        return self.out(h)
