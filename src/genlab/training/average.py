"""``train.ema``: an exponential moving average of the weights, kept by the trainer for any
family (Polyak & Juditsky 1992; for GANs Yazici et al. 2019, Karras et al. 2018; for diffusion
models Ho et al. 2020, Appendix B).

The average is a second copy of the model. After each optimiser step of a player, the
parameters that player owns move toward the trained ones,
``avg <- decay * avg + (1 - decay) * new``, and every buffer (BatchNorm statistics, spectral
norm vectors) is copied as it is. A GAN's generator is thus averaged over its own updates, not
over the critic's. Validation, the epoch grids, the best checkpoint and everything a run is
opened for (sampling, evaluation, latent tools) use the average; the trained copy is kept only
to continue training (``live.*`` tensors of a checkpoint, see ``training.checkpoint``).
"""

from __future__ import annotations

import copy
from collections.abc import Iterable

import torch
from torch import nn

from genlab.models.core.base import GenerativeModel


class WeightAverage:
    """The averaged copy of ``model`` and the map from its trained parameters to their
    averages."""

    def __init__(self, model: GenerativeModel, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ValueError(f"an EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.model: GenerativeModel = copy.deepcopy(model).requires_grad_(False).eval()
        averaged = dict(self.model.named_parameters())
        self._pairs = {id(p): (averaged[name], p) for name, p in model.named_parameters()}
        self._buffers = list(zip(self.model.buffers(), model.buffers(), strict=True))

    @torch.no_grad()
    def update(self, parameters: Iterable[nn.Parameter]) -> None:
        """After an optimiser step of the player owning ``parameters``."""
        pairs = [self._pairs[id(p)] for p in parameters]
        if pairs:
            avg, new = zip(*pairs, strict=True)
            torch._foreach_lerp_(list(avg), [n.detach() for n in new], 1.0 - self.decay)
        for avg_buffer, buffer in self._buffers:
            avg_buffer.copy_(buffer)
