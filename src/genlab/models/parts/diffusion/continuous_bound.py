"""The variational bound of a Gaussian diffusion on continuous data x_0 in R^D (codes, flat or
a (c, h, w) grid, not 8-bit pixels): Ho et al. (2020, eq. 5) with a continuous decoder
(Kingma et al. 2021, VDM),

    -log p(x_0) <= L_T + sum_{t=2..T} L_{t-1} + L_0,

L_T = KL(q(x_T | x_0) || N(0, I)) (exact), L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} |
x_t)) at x_t ~ q(x_t | x_0), and L_0 = -log N(x_0; mu_theta(x_1, 1), sigma_1^2 I), a Gaussian
decoder with the reverse process's own variance at t = 1 (sigma_1^2 = beta_1): a density of
x_0, nats, float64.

L_T and L_0 (at one draw of x_1) are computed for every code; the T - 1 KL terms are estimated
from m timesteps per code, stratified: the indices 1..T-1 cut into m consecutive strata S_j,
one t_j uniform in each, and their sum estimated by sum_j |S_j| L_{t_j}. Each stratum's term is
|S_j| times a uniform draw of its mean, so the estimate is unbiased for any partition. The
strata are geometric in t (the first ones single timesteps): the terms fall off roughly as 1/t
from the small-t end (L_{t-1} is about beta_t / (1 - abar_t) times the denoiser's error), so
each stratum holds terms of similar size and the estimate varies far less than m uniform
draws. L_0 alone is a density of x_0 of several nats per dimension; kept out of the strata, it
does not multiply a stratum's weight. m >= T - 1 gives the exact sum.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torch.distributions import Normal

from genlab.models.parts.diffusion.process import Denoiser, GaussianDiffusion

ROW_VALUES = 2 ** 17
"""Values of x_t per denoiser call, (code, timestep) pairs of them (8,192 of a 16-D code, 512
of a 4 x 8 x 8 grid): the memory of one call, not the result."""


def strata(m: int, total: int) -> Tensor:
    """The m + 1 edges of the strata of the KL indices 1..total-1 (the last edge excluded):
    geometric in t, each stratum at least one index, min(m, total - 1) strata."""
    count = total - 1
    m = min(m, count)
    geometric = torch.logspace(0, math.log10(total), m + 1, dtype=torch.float64).round().long()
    edges = [1]
    for j in range(1, m):
        edges.append(min(max(int(geometric[j]), edges[-1] + 1), total - (m - j)))
    return torch.tensor([*edges, total])


def stratified_timesteps(n: int, m: int, total: int, generator: torch.Generator | None = None,
                         device: torch.device | str = "cpu") -> tuple[Tensor, Tensor]:
    """(t, sizes): one KL timestep index per stratum (``strata``) for each of n codes, (n,
    min(m, T - 1)), and the strata's sizes |S_j| (float64), the weights of their terms."""
    edges = strata(m, total)
    sizes = edges[1:] - edges[:-1]
    u = torch.rand(n, len(sizes), generator=generator, dtype=torch.float64)
    t = edges[:-1] + torch.minimum((u * sizes).floor().long(), sizes - 1)
    return t.to(device), sizes.double().to(device)


def bound_terms(process: GaussianDiffusion, denoiser: Denoiser, x0: Tensor, y: Tensor | None,
                t: Tensor, noise: Tensor) -> Tensor:
    """L_t per code (N,) of float64 codes x0 (N, ...) at timestep indices t (N,), x_t =
    q_sample(x_0, t, noise): the decoder's -log N(x_0; mu_theta(x_1), beta_1) where t = 0,
    else the KL of step t (index t: step t + 1 of the paper). The denoiser runs in float32."""
    s = process.schedule
    xt = s.q_sample(x0, t, noise)
    eps = process.eps(denoiser, xt.float(), t, y).double()
    mean = s.model_mean(xt, t, eps)
    decoder = -Normal(mean, s.betas[0].sqrt().to(x0)).log_prob(x0).flatten(1).sum(1)
    step = s.step_kl(x0, xt, t.clamp(min=1), eps)
    return torch.where(t == 0, decoder, step)


def negative_bound(process: GaussianDiffusion, denoiser: Denoiser, x0: Tensor,
                   y: Tensor | None, m: int,
                   generator: torch.Generator | None = None) -> Tensor:
    """The bound on -log p(x_0) per code (N,) of codes (N, ...), float64 nats: L_T, L_0 and
    the KL terms from m stratified timesteps per code (all of them when m >= T - 1). Draws,
    in order: the KL timesteps (``stratified_timesteps``), then the noises (N, 1 + m, ...)
    of index 0 and of those, from ``generator`` (else the global RNG), on the CPU."""
    x0 = x0.double()
    n = len(x0)
    kl_t, kl_sizes = stratified_timesteps(n, m, process.schedule.steps, generator, x0.device)
    t = torch.cat([torch.zeros_like(kl_t[:, :1]), kl_t], 1)
    sizes = torch.cat([torch.ones_like(kl_sizes[:1]), kl_sizes])
    used = t.shape[1]
    noise = torch.randn((n, used, *x0.shape[1:]), generator=generator, dtype=torch.float64)
    noise = noise.to(x0.device)
    rows = (x0.repeat_interleave(used, 0), t.flatten(), noise.flatten(0, 1))
    labels = None if y is None else y.repeat_interleave(used, 0)
    terms, chunk = [], max(1, ROW_VALUES // x0[0].numel())
    for start in range(0, n * used, chunk):
        part = slice(start, start + chunk)
        terms.append(bound_terms(process, denoiser, rows[0][part],
                                 None if labels is None else labels[part], rows[1][part],
                                 rows[2][part]))
    return process.schedule.prior_kl(x0) + (torch.cat(terms).view(n, used) * sizes).sum(1)
