"""Log-likelihood estimates in nats per image and bits per dimension.

* The negative ELBO, as the model defines it (a one-sample reconstruction term plus its KL).
* The importance-sampled log-likelihood of Burda et al. (2016): log (1/k) sum_i
  p(x, z_i) / q(z_i | x), z_i ~ q(z|x), a lower bound in expectation that tightens as k grows
  and equals the ELBO in expectation at k = 1. The proposal q defaults to the model's encoder
  when that is a distribution; any ``proposal(x, y) -> Distribution`` may replace it.
* The exact log-likelihood of probabilistic PCA (Tipping & Bishop 1999), in closed form.

Images are evaluated exactly as the model sees them (``Run.images``: binarised by the run's
data config), so these are likelihoods of the binarised data where the run binarises.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor
from torch.distributions import Distribution, MultivariateNormal

from genlab.errors import ConfigError
from genlab.models.base import Decoder, Encoder, HasELBO, require

Proposal = Callable[[Tensor, Tensor | None], Distribution]
IW_SAMPLES = 1000
IMAGE_CHUNK = 100
SAMPLE_CHUNK = 100


@runtime_checkable
class LinearGaussian(Protocol):
    """Probabilistic PCA's parameters: x ~ N(center, W^T diag(variances) W + noise_var I),
    W = components (k, D). Checked by capability, like the protocols of ``models.base``."""

    components: Tensor
    center: Tensor
    variances: Tensor
    noise_var: Tensor


def bits_per_dim(nats: float, dims: int) -> float:
    """Nats per image -> bits per dimension: nats / (D ln 2)."""
    return nats / (dims * math.log(2))


def encoder_proposal(model: object) -> Proposal:
    """q(z|x) from the model's encoder; a deterministic encoder is no proposal."""
    require(model, Encoder, "importance sampling")  # type: ignore[arg-type]

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
    model: Decoder, x: Tensor, y: Tensor | None, k: int, proposal: Proposal
) -> Tensor:
    """log p(x | z_i) + log p(z_i) - log q(z_i | x) for k draws z_i ~ q(z|x), shape (k, N)."""
    q = proposal(x, y)
    z = q.sample((k,))  # (k, N, latent)
    n = x.shape[0]
    labels = None if y is None else y.repeat(k)
    log_px = model.decode(z.flatten(0, 1).to(x.dtype), labels).log_prob(x.repeat(k, 1, 1, 1))
    return log_px.view(k, n).double() + model.prior().log_prob(z).double() - q.log_prob(z).double()


def iw_log_likelihood(
    model: Decoder,
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


def negative_elbo(model: HasELBO, x: Tensor, y: Tensor | None = None,
                  chunk: int = 1000) -> Tensor:
    """-ELBO per image (N,), nats, the model's own (one-sample) estimate."""
    with torch.no_grad():
        return torch.cat([
            -model.elbo(x[i], None if y is None else y[i]).double()
            for i in torch.arange(len(x), device=x.device).split(chunk)
        ])


def _ppca_precision(model: LinearGaussian) -> tuple[Tensor, Tensor, Tensor]:
    """W (k, D), noise variance and M = diag(1 / variances) + W W^T / noise_var in float64."""
    w = model.components.double()
    s2 = model.noise_var.double()
    m = torch.diag(1 / model.variances.double()) + w @ w.T / s2
    return w, s2, m


def pca_exact_log_likelihood(model: LinearGaussian, x: Tensor) -> Tensor:
    """log N(x; center, W^T L W + s2 I) per image (N,), float64 nats, through the Woodbury
    identity and the matrix determinant lemma: only k x k matrices are factorised."""
    w, s2, m = _ppca_precision(model)
    r = x.flatten(1).double() - model.center.double()
    d = r.shape[1]
    chol = torch.linalg.cholesky(m)
    proj = torch.cholesky_solve((r @ w.T).T, chol).T  # M^-1 W r, (N, k)
    quad = (r * r).sum(1) / s2 - ((r @ w.T) * proj).sum(1) / s2**2
    logdet = 2 * chol.diagonal().log().sum() + model.variances.double().log().sum() + d * s2.log()
    return -0.5 * (d * math.log(2 * math.pi) + logdet + quad)


def ppca_posterior(model: LinearGaussian, scale: float = 1.0, shift: float = 0.0) -> Proposal:
    """The exact posterior p(z|x) = N(M^-1 W (x - center) / s2, M^-1) of probabilistic PCA
    (importance sampling with it is exact at any k), or, with ``scale`` != 1 (covariance times
    scale^2) or ``shift`` (added to every mean coordinate), a deliberately mismatched one."""
    w, s2, m = _ppca_precision(model)
    cov = torch.linalg.inv(m) * scale**2

    def proposal(x: Tensor, y: Tensor | None) -> Distribution:
        r = x.flatten(1).double() - model.center.double()
        mean = torch.linalg.solve(m, (r @ w.T).T).T / s2 + shift
        return MultivariateNormal(mean, covariance_matrix=cov)

    return proposal
