"""Likelihood numbers of the evaluation suite beside the models' own ``log_likelihood``
(``models.density``): the negative ELBO, bits per dimension, and a probabilistic-PCA
posterior that makes importance sampling exact (a test of the estimator against a closed form).

Images are evaluated exactly as the model sees them (``Run.images``: binarised by the run's
data config), so these are likelihoods of the binarised data where the run binarises.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.distributions import Distribution, MultivariateNormal

from genlab.models.base import HasELBO
from genlab.models.density import Proposal
from genlab.models.pca import PCAModel


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


def ppca_posterior(model: PCAModel, scale: float = 1.0, shift: float = 0.0) -> Proposal:
    """The exact posterior p(z|x) = N(M^-1 W (x - center) / s2, M^-1) of probabilistic PCA
    (importance sampling with it is exact at any k), or, with ``scale`` != 1 (covariance times
    scale^2) or ``shift`` (added to every mean coordinate), a deliberately mismatched one."""
    w, s2, m = model.precision()
    cov = torch.linalg.inv(m) * scale**2

    def proposal(x: Tensor, y: Tensor | None) -> Distribution:
        r = x.flatten(1).double() - model.center.double()
        mean = torch.linalg.solve(m, (r @ w.T).T).T / s2 + shift
        return MultivariateNormal(mean, covariance_matrix=cov)

    return proposal
