"""A model's likelihood estimated: dequantisation, the 8-bit scale, chunking, and the
importance-sampled bound of Burda et al. (2016) that every encoder family uses:
log (1/k) sum_i p(x, z_i) / q(z_i | x), z_i ~ q(z|x), a lower bound in expectation that tightens
as k grows and equals the ELBO in expectation at k = 1. What a likelihood is *of* is its scale
(``models.core.scale``).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor
from torch.distributions import Distribution

from genlab.errors import ConfigError

Proposal = Callable[[Tensor, Tensor | None], Distribution]
IW_SAMPLES = 1000
IMAGE_CHUNK = 100
SAMPLE_CHUNK = 100


def dequantise(x: Tensor, generator: torch.Generator | None = None) -> Tensor:
    """8-bit pixels k / 255 as (k + u) / 256, u ~ U[0, 1): the uniform dequantisation that
    turns a density on [0, 1]^D into a bound on the integer pixels' likelihood."""
    u = torch.rand(x.shape, generator=generator, device="cpu").to(x)
    return ((x * 255).round() + u) / 256


def eight_bit_nats(nats: Tensor | float, dims: int) -> Tensor | float:
    """-log p on [0, 1]^D -> -log p on [0, 256)^D: + D log 256 nats."""
    return nats + dims * math.log(256)


def chunked(log_p: Callable[[Tensor, Tensor | None], Tensor], x: Tensor,
            y: Tensor | None = None, size: int = IMAGE_CHUNK) -> Tensor:
    """``log_p(x, y)`` per image, computed ``size`` images at a time: an exact likelihood of
    a whole test split in one pass would not fit in memory."""
    return torch.cat([log_p(x[idx], None if y is None else y[idx])
                      for idx in torch.arange(len(x), device=x.device).split(size)])


def encoder_proposal(model: object) -> Proposal:
    """q(z|x) from the model's encoder; a deterministic encoder is no proposal."""

    def proposal(x: Tensor, y: Tensor | None) -> Distribution:
        q = model.encode(x, y)  # type: ignore[attr-defined]
        if not isinstance(q, Distribution):
            raise ConfigError(
                f"the {model.config.name!r} encoder is deterministic: importance sampling "  # type: ignore[attr-defined]
                "needs a distribution q(z|x) (pass a proposal)"
            )
        return q

    return proposal


def log_importance_weights(
    model: object, x: Tensor, y: Tensor | None, k: int, proposal: Proposal
) -> Tensor:
    """log p(x | z_i) + log p(z_i) - log q(z_i | x) for k draws z_i ~ q(z|x), shape (k, N)."""
    q = proposal(x, y)
    z = q.sample((k,))  # (k, N, latent)
    n = x.shape[0]
    labels = None if y is None else y.repeat(k)
    decode, prior = model.decode, model.prior  # type: ignore[attr-defined]
    log_px = decode(z.flatten(0, 1).to(x.dtype), labels).log_prob(x.repeat(k, 1, 1, 1))
    return log_px.view(k, n).double() + prior().log_prob(z).double() - q.log_prob(z).double()


def iw_log_likelihood(
    model: object,
    x: Tensor,
    y: Tensor | None = None,
    k: int = IW_SAMPLES,
    proposal: Proposal | None = None,
    image_chunk: int = IMAGE_CHUNK,
    sample_chunk: int = SAMPLE_CHUNK,
) -> Tensor:
    """Importance-sampled log p(x) per image (N,), float64 nats (Burda et al. 2016), in chunks
    of ``image_chunk`` images times ``sample_chunk`` draws (a logsumexp of logsumexps)."""
    if k < 1:
        raise ConfigError(f"the number of importance samples must be positive, got {k}")
    proposal = proposal or encoder_proposal(model)
    out = []
    with torch.no_grad():
        for idx in torch.arange(len(x), device=x.device).split(image_chunk):
            xs, ys = x[idx], None if y is None else y[idx]
            parts = [
                log_importance_weights(model, xs, ys, len(s), proposal).logsumexp(0)
                for s in torch.arange(k).split(sample_chunk)
            ]
            out.append(torch.stack(parts).logsumexp(0) - math.log(k))
    return torch.cat(out)
