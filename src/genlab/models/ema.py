"""Exponential moving average of a network's weights (Karras et al. 2018; Yazici et al. 2019).

A GAN samples from the averaged generator: it is smoother than the last iterate. The average is
a sub-module, so it lives in the model's ``state_dict`` and every checkpoint holds it.
"""

from __future__ import annotations

import copy

import torch
from torch import nn


class EMA(nn.Module):
    """``shadow`` follows ``decay * shadow + (1 - decay) * source`` after every update; buffers
    (BatchNorm statistics) are copied as they are."""

    def __init__(self, source: nn.Module, decay: float = 0.999) -> None:
        super().__init__()
        if not 0.0 <= decay < 1.0:
            raise ValueError(f"an EMA decay must be in [0, 1), got {decay}")
        self.decay = decay
        self.shadow = copy.deepcopy(source).requires_grad_(False).eval()

    def train(self, mode: bool = True) -> EMA:
        """The average is only ever evaluated: it stays in eval mode."""
        super().train(mode)
        self.shadow.eval()
        return self

    @torch.no_grad()
    def update(self, source: nn.Module) -> None:
        for avg, new in zip(self.shadow.parameters(), source.parameters(), strict=True):
            avg.lerp_(new.detach(), 1.0 - self.decay)
        for avg, new in zip(self.shadow.buffers(), source.buffers(), strict=True):
            avg.copy_(new)

    def forward(self, *args, **kwargs):
        return self.shadow(*args, **kwargs)
