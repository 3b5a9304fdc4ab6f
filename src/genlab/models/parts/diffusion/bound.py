"""The variational bound of a diffusion model on its 8-bit pixels (Ho et al. 2020, eq. 5):

    -log p(x_0) <= L_T + sum_{t=2..T} L_{t-1} + L_0,

L_T = KL(q(x_T | x_0) || N(0, I)) (exact, no parameters), L_{t-1} = KL(q(x_{t-1} | x_t, x_0) ||
p(x_{t-1} | x_t)) at x_t ~ q(x_t | x_0), and L_0 = -log p(x_0 | x_1), the discretised Gaussian
decoder of 3.3, a probability of each 8-bit pixel's bin. All in float64 nats.

With k < T network calls per image the sum is estimated by stratified sampling (Cochran 1977,
ch. 5): the terms fall steeply with t (about as 1/t, L_0 alone a sixth to a third of the
bound), so a uniform subset is heavy-tailed: it is unbiased only through the rare draws that
include L_0. Here the first ``HEAD`` timesteps (L_0 first) are always evaluated, and the
rest is split into strata whose widths grow geometrically with t (equal ratios t_end / t_start:
for terms ~ 1/t every stratum's size times its spread is alike, which makes equal draws
Neyman-optimal), two draws per stratum without replacement, each weighted by its stratum's
size. Two draws identify each stratum's variance: the square of the per-image standard error
(Cochran's 5.9, with the finite-population correction) is unbiased for the variance the subset
adds to the all-timestep sum's (the draws' spread has their noise, which the correction then
takes back to the noise the all-timestep sum has too). It leaves that shared noise at x_t out:
on a tiny DDPM it covers an image's expected bound in 86% of repeats at k = 10 or 20 of 100,
in 44% at k = 50, where noise is most of the spread.

The standard error of a dataset mean is best taken across images, std / sqrt(n): the per-image
estimates are independent and each is unbiased for its image's bound, so their sample
variance / n covers the timestep choice, the noise and the choice of images alike (``genlab
evaluate``'s ``nll_sem``; conservative for the all-timestep value of the same images).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor
from tqdm import tqdm

from genlab.models.parts.diffusion.schedule import discretised_gaussian_log_prob

IMAGE_CHUNK = 250
"""Images estimated together (the memory of their k noises and terms, not the result);
the network calls within go in ``ddpm.CPU_CHUNK`` images on a CPU."""
HEAD = 2
"""Timesteps always evaluated when k allows: L_0 and L_1, the two largest terms (28% of the
bound of the two trained DDPMs measured). A longer head takes draws from the tail's strata,
and the geometric strata already cover the first timesteps exhaustively when k is large
enough (strata of two timesteps with two draws). On a 2-epoch MNIST DDPM (T = 1000, 16 test
images; simulated from their 1,000 terms each), the per-image sd at k = 10 with a head of 1,
2, 3, 5 timesteps: 597, 487, 677, 1,086 nats; at k = 50: 31-32 for all."""
DRAWS = 2
"""Draws per stratum: the fewest that identify its variance."""


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


def timestep_plan(total: int, k: int) -> tuple[int, list[tuple[int, int, int]]]:
    """How k network calls per image cover T = ``total`` timesteps: the head (timesteps
    0..head-1, each evaluated) and the strata (start, size, draws) of the rest, with sizes
    growing geometrically from the head to T, each at least its draws. k >= T: every
    timestep, no strata; k = 1: one draw from one stratum (its variance unidentified)."""
    if k >= total:
        return total, []
    head = min(HEAD, max(k - DRAWS, 0))
    draws = k - head
    count = max(draws // DRAWS, 1)
    per = [DRAWS] * (count - 1) + [draws - DRAWS * (count - 1)]  # the odd draw: last stratum
    low = head + 1  # the geometric scale counts timesteps from 1 (index 0 is t = 1)
    ends, start = [], head
    for j in range(count):
        still = sum(per[j + 1:])  # draws the later strata need room for
        target = round(low * ((total + 1) / low) ** ((j + 1) / count)) - 1  # the last: T
        end = min(max(target, start + per[j]), total - still)
        ends.append(end)
        start = end
    starts = [head, *ends[:-1]]
    return head, [(a, b - a, n) for a, b, n in zip(starts, ends, per, strict=True)]


def _stratum_draws(n: int, start: int, size: int, draws: int,
                   generator: torch.Generator | None) -> Tensor:
    """``draws`` distinct timesteps per image, uniform in [start, start + size): (n, draws)."""
    return torch.rand(n, size, generator=generator).argsort(1)[:, :draws] + start


def _chunk_estimate(model: Any, x0: Tensor, y: Tensor | None, k: int,
                    generator: torch.Generator | None, bar: tqdm) -> tuple[Tensor, Tensor]:
    """The stratified estimate and its standard error for the images of one chunk."""
    n = len(x0)
    head, strata = timestep_plan(model.schedule.steps, k)
    columns = [torch.full((n,), t, dtype=torch.long) for t in range(head)]
    for start, size, draws in strata:
        columns.extend(_stratum_draws(n, start, size, draws, generator).unbind(1))
    terms = []
    for t in columns:
        noise = torch.randn(x0.shape, generator=generator, dtype=torch.float64).to(x0.device)
        terms.append(bound_terms(model, x0, y, t.to(x0.device), noise))
        bar.update(n)
    estimate = model.schedule.prior_kl(x0) + sum(terms[:head], torch.zeros(n).to(x0))
    variance = torch.zeros_like(estimate)
    used = head
    for _, size, draws in strata:
        drawn = torch.stack(terms[used:used + draws], 1)
        used += draws
        estimate = estimate + size * drawn.mean(1)
        spread = drawn.var(1) if draws > 1 else torch.full_like(estimate, math.nan)
        variance = variance + size ** 2 * (1 - draws / size) * spread / draws  # Cochran 5.9
    return estimate, variance.sqrt()


@torch.no_grad()
def vlb_estimate(model: Any, x: Tensor, y: Tensor | None = None, k: int = 1000,
                 generator: torch.Generator | None = None) -> tuple[Tensor, Tensor]:
    """The bound on -log P(x) of 8-bit pixels x (in [0, 1], or dequantised), nats per image,
    from k network calls per image (every timestep when k >= T; else the stratified estimate
    of the module docstring), and its standard error per image over the timesteps drawn (0
    when every timestep is evaluated, NaN for k = 1). Draws come from ``generator`` (else
    the global RNG); a progress bar counts image-timesteps where stderr is a terminal."""
    x0 = pixel_bins(x)
    calls = len(x0) * min(k, model.schedule.steps)
    with tqdm(total=calls, desc="diffusion bound", unit="call", unit_scale=True,
              leave=False, disable=None) as bar:
        out = [_chunk_estimate(model, x0[i:i + IMAGE_CHUNK],
                               None if y is None else y[i:i + IMAGE_CHUNK], k, generator, bar)
               for i in range(0, len(x0), IMAGE_CHUNK)]
    return torch.cat([e for e, _ in out]), torch.cat([s for _, s in out])

