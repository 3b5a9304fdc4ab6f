"""Inference without the encoder and image completion by fitting q(z) through a frozen decoder.

Both fit a diagonal Gaussian q(z) = N(mu, diag(exp(logvar))) per image by maximising the ELBO

    E_q[log p(x_obs | z)] + E_q[log p(z) - log q(z)]

with the decoder frozen, reparameterised Monte Carlo and Adam or SGD. Only decoder and prior are
used, so any model with ``decode`` and ``prior`` qualifies, encoder or not (a GAN: inversion).
q(z) is over the code's coordinates, flattened (a (C, H, W) code's C H W values; the decoder
is given codes of its latent space's shape), so it needs a continuous space. All images are
fitted at once, each with its own parameters, its own Adam state (per-row step counts, so the
bias correction is that of a single-image fit) and its own early stopping. A
stopped image leaves the batch: later steps decode only the images still improving. The result
for one image is thus the same computation as fitting it alone (a per-image loop), but one
decoder call serves all images per step.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor
from torch.distributions import Distribution, Independent, Normal, kl_divergence

from genlab import progress
from genlab.errors import ConfigError
from genlab.latent.choices import FIT_INITS, FIT_OPTIMIZERS
from genlab.latent.masks import check_mask
from genlab.latent.ops import decode
from genlab.models.core.base import GenerativeModel, constant_parameters
from genlab.models.core.capabilities import Encoder, has
from genlab.models.core.latent_space import CONTINUOUS, require_space
from genlab.runs import condition

ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8
SMOOTHING = 0.9
"""Weight of the past in the per-image running ELBO that early stopping watches: a one-sample
ELBO is noisy (several nats on MNIST), so its raw maximum would mostly track lucky draws."""
EVAL_DECODES = 16384
"""Decodes per call when re-estimating ELBOs with many samples (memory bound, not speed)."""
FITTING = "fitting codes"
"""The name :func:`fit_posterior` reports its optimiser steps under (``genlab.progress``)."""


def fit_progress(report: Callable[[int, int], None]) -> contextlib.AbstractContextManager[None]:
    """Call ``report(step, steps)`` after every optimiser step of the fits run inside (this
    thread only): a front end's progress, without a callback through every experiment."""
    def fits_only(what: str, done: int, total: int) -> None:
        if what == FITTING:
            report(done, total)

    return progress.reporting(fits_only)


INIT_LOGVAR = -2.0
"""Start q at the prior mean with exp(-2) ~ 0.14 of the prior variance: narrow enough that the
first gradients see a sharp decoder, wide enough to move out of a flat region."""


@dataclass
class FitOptions:
    """The per-image optimiser's settings (:func:`fit_posterior`), for every experiment that
    fits codes: inference, completion and the generator inversion behind GAN codes."""

    steps: int = 1000
    lr: float = 0.05
    patience: int = 50
    tol: float = 0.01
    n_samples: int = 1
    seed: int = 0
    optimizer: str = "adam"
    init: str = "mean"

    def record(self) -> dict[str, Any]:
        """The settings as ``fit_<name>`` numbers, so a JSON record says how it was fitted."""
        return {f"fit_{k}": v for k, v in asdict(self).items()}


@dataclass
class FitResult:
    """Per-image fitted posteriors: ``mu``/``logvar`` (N, D) over the flattened code's D
    coordinates (``latent_space.shaped`` gives codes their shape), the ``elbo`` (N,) of that q,
    re-estimated with ``eval_samples`` draws, ``steps`` (N,) updates each image took, and
    ``stopped`` (N,) whether it stopped early (else it ran out of steps)."""

    mu: Tensor
    logvar: Tensor
    elbo: Tensor
    steps: Tensor
    stopped: Tensor


@contextlib.contextmanager
def frozen(model: GenerativeModel) -> Iterator[None]:
    """Eval mode and constant parameters for the duration, then restore both."""
    was_training = model.training
    model.eval()
    try:
        with constant_parameters(model):
            yield
    finally:
        model.train(was_training)


def prior_frame(prior: Distribution, dim: int) -> tuple[Tensor, Tensor]:
    """(loc, scale) of a factorised Normal prior, else (0, 1).

    The optimiser works in these whitened coordinates, so one learning rate suits a VAE's unit
    prior and PCA's prior, whose scales span two orders of magnitude."""
    base = prior.base_dist if isinstance(prior, Independent) else prior
    if isinstance(base, Normal):
        return base.loc.expand(dim), base.scale.expand(dim)
    zeros = prior.mean.new_zeros(dim)
    return zeros, torch.ones_like(zeros)


def fit_objective(model: GenerativeModel) -> str:
    """What :func:`fit_posterior` maximises for this model (its family declares it), in words
    for JSON records."""
    return model.fit_objective  # type: ignore[attr-defined]


def _tile(t: Tensor, k: int) -> Tensor:
    """(N, ...) -> (k * N, ...), sample-major, to evaluate k codes per image in one call."""
    return t.unsqueeze(0).expand(k, *t.shape).reshape(k * t.shape[0], *t.shape[1:])


def elbo_estimate(
    model: GenerativeModel,
    x: Tensor,
    mu: Tensor,
    logvar: Tensor,
    y: Tensor | None = None,
    mask: Tensor | None = None,
    n_samples: int = 1,
    generator: torch.Generator | None = None,
) -> Tensor:
    """Per-image ELBO (N,) of q = N(mu, exp(logvar)) for the observed pixels of x.

    Reparameterised, so it is differentiable in mu and logvar. The KL to the prior is analytic
    where torch knows it (diagonal Normal priors: VAE, PCA, AE) and Monte Carlo otherwise."""
    n = x.shape[0]
    std = torch.exp(0.5 * logvar)
    eps = torch.randn((n_samples, *mu.shape), generator=generator).to(mu)
    z = mu + std * eps  # (S, N, D)
    labels = None if y is None else _tile(y, n_samples)
    if mask is not None and mask.shape[0] != 1:
        mask = _tile(mask, n_samples)
    out = model.decode(model.latent_space.shaped(z.reshape(n_samples * n, -1)), labels)
    log_px = out.log_prob(_tile(x, n_samples), mask)
    q = Independent(Normal(mu, std), 1)
    prior = model.prior()
    try:
        kl = kl_divergence(q, prior)
    except NotImplementedError:
        kl = (q.log_prob(z) - prior.log_prob(z)).mean(0)
    return log_px.view(n_samples, n).mean(0) - kl


class _Rows:
    """Per-image optimiser state of :func:`fit_posterior`: each row is one image's (mu, logvar)
    parameters with its own Adam moments, step count, running ELBO and early stopping."""

    def __init__(self, x: Tensor, d: int, opt: str, init: str, gen: torch.Generator) -> None:
        for key, value, valid in (("optimizer", opt, FIT_OPTIMIZERS), ("init", init, FIT_INITS)):
            if value not in valid:
                raise ConfigError(f"fit {key} {value!r}; choose one of {', '.join(valid)}")
        n, self.optimizer = x.shape[0], opt
        self.params = (torch.randn((n, 2 * d), generator=gen).to(x) if init == "normal" else
                       torch.cat([x.new_zeros(n, d), x.new_full((n, d), INIT_LOGVAR)], dim=1))
        self.best_params = self.params.clone()
        self.m1, self.m2 = torch.zeros_like(self.params), torch.zeros_like(self.params)
        self.used = torch.zeros(n, dtype=torch.long, device=x.device)
        self.running = x.new_full((n,), math.nan)
        self.best = x.new_full((n,), -math.inf)
        self.bad = torch.zeros_like(self.used)
        self.active = torch.ones(n, dtype=torch.bool, device=x.device)

    def track(self, idx: Tensor, p: Tensor, elbo: Tensor, tol: float) -> None:
        """Smooth the rows' ELBOs and keep the parameters that produced the best, before any
        step moves them."""
        prev = self.running[idx]
        smooth = torch.where(prev.isnan(), elbo, SMOOTHING * prev + (1 - SMOOTHING) * elbo)
        self.running[idx] = smooth
        improved = smooth > self.best[idx] + tol
        self.best[idx] = torch.where(improved, smooth, self.best[idx])
        self.best_params[idx] = torch.where(improved.unsqueeze(1), p, self.best_params[idx])
        self.bad[idx] = torch.where(improved, 0, self.bad[idx] + 1)

    def step(self, idx: Tensor, p: Tensor, grad: Tensor, lr: float, patience: int) -> None:
        """One step per row: Adam's or plain SGD's, p - lr * grad."""
        self.used[idx] += 1
        adam = self.optimizer == "adam"
        self.params[idx] = p - (self._adam(idx, grad, lr) if adam else lr * grad)
        self.active[idx] = self.bad[idx] < patience

    def _adam(self, idx: Tensor, grad: Tensor, lr: float) -> Tensor:
        """Adam's step (Kingma & Ba 2015) per row, with each row's own bias correction."""
        b1, b2 = ADAM_BETAS
        self.m1[idx] = b1 * self.m1[idx] + (1 - b1) * grad
        self.m2[idx] = b2 * self.m2[idx] + (1 - b2) * grad.square()
        t = self.used[idx].unsqueeze(1).to(self.params.dtype)
        return lr * (self.m1[idx] / (1 - b1**t)) / ((self.m2[idx] / (1 - b2**t)).sqrt() + ADAM_EPS)


def fit_posterior(
    model: GenerativeModel,
    x: Tensor,
    y: Tensor | None = None,
    mask: Tensor | None = None,
    *,
    steps: int = 1000,
    lr: float = 0.05,
    patience: int = 50,
    tol: float = 0.01,
    n_samples: int = 1,
    eval_samples: int = 64,
    seed: int = 0,
    optimizer: str = "adam", init: str = "mean",
) -> FitResult:
    """Fit q(z | mu, logvar) to each image by ELBO ascent with the decoder frozen.

    ``mask`` (observed = 1) restricts the likelihood to observed pixels (completion). An image
    stops after ``patience`` steps in which its running ELBO did not beat its best by more than
    ``tol`` nats; the fit ends when every image has stopped or after ``steps``. Each image keeps
    the parameters of its best running ELBO. Seed 004's fit: ``optimizer="sgd", init="normal"``."""
    require_space(model, "inference without the encoder", CONTINUOUS)
    y = condition(model, y)
    x = x.to(model.device)
    if mask is not None:
        mask = check_mask(mask.to(model.device), x)
    d = model.latent_dim
    gen = torch.Generator().manual_seed(seed)
    with frozen(model):
        loc, scale = prior_frame(model.prior(), d)
        log_var0 = 2 * torch.log(scale)

        def to_posterior(p: Tensor) -> tuple[Tensor, Tensor]:
            u, s = p.chunk(2, dim=1)
            return loc + scale * u, log_var0 + s

        rows = _Rows(x, d, optimizer, init, gen)
        with progress.steps(FITTING, steps) as advance:
            for _ in range(steps):
                idx = rows.active.nonzero().squeeze(1)
                if idx.numel() == 0:
                    break
                p = rows.params[idx].requires_grad_(True)
                rows_mask = mask if mask is None or mask.shape[0] == 1 else mask[idx]
                elbo = elbo_estimate(
                    model, x[idx], *to_posterior(p), None if y is None else y[idx], rows_mask,
                    n_samples, gen,
                )
                (grad,) = torch.autograd.grad(-elbo.sum(), p)
                if not bool(torch.isfinite(grad).all()):
                    raise ConfigError(
                        f"the posterior fit diverged (non-finite gradient) with lr {lr}; "
                        "use a smaller learning rate"
                    )
                rows.track(idx, p.detach(), elbo.detach(), tol)
                rows.step(idx, p.detach(), grad, lr, patience)
                advance(1)
        mu, logvar = to_posterior(rows.best_params)
    final = evaluate_elbo(model, x, mu, logvar, y, mask, eval_samples, seed + 1)
    return FitResult(mu, logvar, final, rows.used, ~rows.active)


def encoder_posterior(
    model: GenerativeModel, x: Tensor, y: Tensor | None = None
) -> tuple[Tensor, Tensor] | None:
    """(mu, logvar) of the encoder's q(z|x) when it is a diagonal Gaussian, else None (the
    point codes of AE and PCA have no ELBO)."""
    if not has(model, Encoder):
        return None
    with torch.no_grad():
        q = model.encode(x.to(model.device), condition(model, y))
    if isinstance(q, Independent) and isinstance(q.base_dist, Normal):
        return q.base_dist.loc, 2 * torch.log(q.base_dist.scale)
    return None


@torch.no_grad()
def evaluate_elbo(
    model: GenerativeModel,
    x: Tensor,
    mu: Tensor,
    logvar: Tensor,
    y: Tensor | None = None,
    mask: Tensor | None = None,
    samples: int = 64,
    seed: int = 1,
) -> Tensor:
    """A low-noise ELBO (N,) of given posteriors, e.g. the encoder's, to compare with a fit.

    Evaluated in chunks of images so that ``samples`` decodes per image stay within memory."""
    x = x.to(model.device)
    y = condition(model, y)
    if mask is not None:
        mask = check_mask(mask.to(model.device), x)
    gen = torch.Generator().manual_seed(seed)
    rows = max(1, EVAL_DECODES // samples)
    out = []
    with frozen(model):
        for i in range(0, x.shape[0], rows):
            s = slice(i, i + rows)
            part_mask = mask if mask is None or mask.shape[0] == 1 else mask[s]
            out.append(elbo_estimate(
                model, x[s], mu[s], logvar[s], None if y is None else y[s], part_mask, samples, gen
            ))
    return torch.cat(out)


@dataclass
class Completion:
    """``images``: x with its hidden pixels filled in (observed pixels untouched); ``filled``:
    the decoder mean everywhere; ``hidden_mse`` (N,): mean squared error of the filled-in pixels
    against x's own (hidden) pixels; ``fit``: the posteriors of the observed parts."""

    images: Tensor
    filled: Tensor
    hidden_mse: Tensor
    fit: FitResult


def complete(
    model: GenerativeModel, x: Tensor, mask: Tensor, y: Tensor | None = None, **fit_options
) -> Completion:
    """Complete images from their observed pixels.

    The ELBO of the observed pixels alone is maximised, then the hidden pixels are the decoder
    mean at the fitted posterior mean (not one posterior draw: the mean is the point estimate
    and is reproducible). x's hidden pixels are never used for fitting, only for scoring."""
    x = x.to(model.device)
    mask = check_mask(mask.to(model.device), x)
    fit = fit_posterior(model, x, y, mask, **fit_options)
    filled = decode(model, fit.mu, y)
    images = torch.where(mask.bool(), x, filled)
    hidden = (1 - mask).expand_as(x)
    sq = ((filled - x).square() * hidden).flatten(1).sum(1)
    mse = sq / hidden.flatten(1).sum(1).clamp_min(1)
    return Completion(images, filled, mse, fit)
