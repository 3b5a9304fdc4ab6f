"""Likelihood numbers of the evaluation suite beside the models' own ``log_likelihood``
(``models.parts.density``): the negative ELBO, bits per dimension.

Images are evaluated exactly as the model sees them (``Run.images``: binarised by the run's
data config), so these are likelihoods of the binarised data where the run binarises.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genlab.models.core.capabilities import HasELBO


def bits_per_dim(nats: float, dims: int) -> float:
    """Nats per image -> bits per dimension: nats / (D ln 2)."""
    return nats / (dims * math.log(2))


def negative_elbo(model: HasELBO, x: Tensor, y: Tensor | None = None,
                  chunk: int = 1000) -> Tensor:
    """-ELBO per image (N,), nats, the model's own (one-sample) estimate."""
    with torch.no_grad():
        return torch.cat([
            -model.elbo(x[i], None if y is None else y[i]).double()
            for i in torch.arange(len(x), device=x.device).split(chunk)
        ])
