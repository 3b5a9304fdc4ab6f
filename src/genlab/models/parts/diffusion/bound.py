"""The variational bound of a diffusion model on its 8-bit pixels (Ho et al. 2020, eq. 5):

    -log p(x_0) <= L_T + sum_{t=2..T} L_{t-1} + L_0,

L_T = KL(q(x_T | x_0) || N(0, I)) (exact, no parameters), L_{t-1} = KL(q(x_{t-1} | x_t, x_0) ||
p(x_{t-1} | x_t)) at x_t ~ q(x_t | x_0), and L_0 = -log p(x_0 | x_1), the discretised Gaussian
decoder of 3.3, a probability of each 8-bit pixel's bin. With t uniform on 1..T (t = 1 is
L_0), T E_t[L_t] is the sum of the T - 1 + 1 terms, so the mean over k timesteps drawn without
replacement per image, times T, estimates it without bias (Sohl-Dickstein et al. 2015; Nichol
& Dhariwal 2021, 3.1); its standard error per image is T s / sqrt(k) sqrt(1 - k / T) (s: the
terms' sample standard deviation; the finite-population correction). All in float64 nats.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from genlab.models.parts.diffusion.schedule import discretised_gaussian_log_prob

IMAGE_CHUNK = 250
"""Images estimated together (the memory of their k noises and terms, not the result);
the network calls within go in ``ddpm.CPU_CHUNK`` images on a CPU."""


def pixel_bins(x: Tensor) -> Tensor:
    """Pixels in [0, 1] (8-bit k / 255, or dequantised (k + u) / 256) as their 8-bit bins'
    centres in [-1, 1]: k / 255 * 2 - 1, k = min(floor(256 x), 255)."""
    k = (x.double() * 256).floor().clamp(0, 255)
    return k / 255 * 2 - 1


def bound_terms(model: Any, x0: Tensor, y: Tensor | None, t: Tensor, noise: Tensor) -> Tensor:
    """L_t of timestep index t per image (N,) at x_t = q_sample(x_0, t, noise): the
    discretised decoder's -log p(x_0 | x_1) where t = 0, else the KL L_{t} (index t = step
    t + 1 of the paper)."""
    s = model.schedule
    xt = s.q_sample(x0, t, noise)
    eps = model.eps(xt.to(next(model.net.parameters()).dtype), t, y).double()
    decoder = -discretised_gaussian_log_prob(x0, s.model_mean(xt, t, eps),
                                             0.5 * math.log(float(s.betas[0])))
    step = s.step_kl(x0, xt, t.clamp(min=1), eps)
    return torch.where(t == 0, decoder, step)


def _chunk_estimate(model: Any, x0: Tensor, y: Tensor | None, k: int,
                    generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    total = model.schedule.steps
    n = len(x0)
    if k >= total:
        ts = torch.arange(total).expand(n, total)
    else:
        ts = torch.rand(n, total, generator=generator).argsort(1)[:, :k]
    terms = []
    for j in range(ts.shape[1]):
        noise = torch.randn(x0.shape, generator=generator, dtype=torch.float64).to(x0.device)
        terms.append(bound_terms(model, x0, y, ts[:, j].to(x0.device), noise))
    stacked = torch.stack(terms, 1)
    used = stacked.shape[1]
    estimate = model.schedule.prior_kl(x0) + total * stacked.mean(1)
    if used >= total:
        return estimate, torch.zeros_like(estimate)
    fpc = math.sqrt((total - used) / total)  # sampling without replacement (Cochran 1977)
    sem = total * stacked.std(1) / math.sqrt(used) * fpc if used > 1 else torch.full_like(
        estimate, math.nan)
    return estimate, sem


@torch.no_grad()
def vlb_estimate(model: Any, x: Tensor, y: Tensor | None = None, k: int = 1000,
                 generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """The bound on -log P(x) of 8-bit pixels x (in [0, 1], or dequantised), nats per image,
    from k timesteps per image (all T when k >= T), and its standard error per image (0 when
    exact over timesteps, NaN for k = 1). Draws come from ``generator`` (else the global RNG)."""
    x0 = pixel_bins(x)
    out = [
        _chunk_estimate(model, x0[i:i + IMAGE_CHUNK],
                        None if y is None else y[i:i + IMAGE_CHUNK], k, generator)
        for i in range(0, len(x0), IMAGE_CHUNK)
    ]
    return torch.cat([e for e, _ in out]), torch.cat([s for _, s in out])
