"""The stratified estimate of the diffusion bound (``parts.diffusion.bound``) against the
all-timestep sum: its plan covers every timestep once with k calls, it is the sum itself
when k >= T, it is unbiased, its per-image standard error matches its spread, and the 95%
interval of a dataset mean (across-image SE, as ``genlab evaluate`` reports it) covers the
all-timestep value in >= 90% of repeats on an untrained tiny DDPM with T = 100.

The model is the registry's tiny DDPM with T = 100, untrained as built: its zero-initialised
output layer predicts eps = 0, so its terms fall about as 1/t and L_0 is over a third of the
bound, the heavy-tailed case of a uniform timestep subset."""

from __future__ import annotations

import math

import pytest
import torch

from genlab.models.families.diffusion.ddpm import DDPM, DDPMConfig
from genlab.models.parts.diffusion import bound
from genlab.models.parts.diffusion.bound import (
    bound_terms,
    pixel_bins,
    timestep_plan,
    vlb_estimate,
)

SHAPE = (1, 8, 8)
T = 100


def _model(timesteps: int = T) -> DDPM:
    config = DDPMConfig(name="ddpm", **{**DDPM.tiny, "timesteps": timesteps})
    return DDPM(config, SHAPE, 3).eval()


def _pixels(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 256, (n, *SHAPE), generator=torch.Generator().manual_seed(seed)
                         ).double() / 255


def _estimates(model: DDPM, x: torch.Tensor, k: int, repeats: int,
               seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(repeats, images) estimates and per-image standard errors: the images repeated in one
    batch, each copy drawing its own timesteps and noise, i.e. independent repeats."""
    est, sem = vlb_estimate(model, x.repeat(repeats, 1, 1, 1), None, k,
                            torch.Generator().manual_seed(seed))
    return est.view(repeats, len(x)), sem.view(repeats, len(x))


@pytest.mark.parametrize("total,k", [(100, 1), (100, 2), (100, 3), (100, 10), (100, 99),
                                     (1000, 50), (1000, 51), (1000, 999), (6, 5)])
def test_the_plan_spends_k_calls_and_covers_every_timestep_once(total: int, k: int) -> None:
    head, strata = timestep_plan(total, k)
    assert head == min(bound.HEAD, max(k - 2, 0))
    starts = [head] + [start + size for start, size, _ in strata]
    assert [start for start, _, _ in strata] == starts[:-1] and starts[-1] == total
    assert head + sum(draws for _, _, draws in strata) == k
    assert all(size >= draws >= min(k, 2) for _, size, draws in strata)
    sizes = [size for _, size, _ in strata]
    assert sizes == sorted(sizes)  # geometric: wider toward t = T
    assert timestep_plan(total, total) == (total, []) == timestep_plan(total, 5 * total)


def test_with_k_at_least_t_it_is_the_all_timestep_sum() -> None:
    """Every timestep at the noise drawn in order, plus L_T: the sum of ``bound_terms``."""
    steps = 20
    model, x = _model(steps), _pixels(3)
    got, sem = vlb_estimate(model, x, None, steps, torch.Generator().manual_seed(4))
    gen, x0 = torch.Generator().manual_seed(4), pixel_bins(x)
    with torch.no_grad():
        terms = [bound_terms(model, x0, None, torch.full((3,), t),
                             torch.randn(x0.shape, generator=gen, dtype=torch.float64))
                 for t in range(steps)]
    torch.testing.assert_close(got, model.schedule.prior_kl(x0) + torch.stack(terms).sum(0),
                               rtol=1e-12, atol=1e-9)
    assert torch.equal(sem, torch.zeros(3, dtype=torch.float64))
    again, _ = vlb_estimate(model, x, None, 3 * steps, torch.Generator().manual_seed(4))
    assert torch.equal(again, got)


@pytest.mark.slow
def test_the_stratified_estimate_is_unbiased_and_its_standard_error_is_its_spread() -> None:
    """Over 300 repeats at k = 10 of 100: the mean estimate matches the mean of 40
    all-timestep sums within 4 standard errors, per image; the mean reported variance matches
    the estimates' variance less the all-timestep sums' (noise) variance, within 30%: in
    expectation the two are equal (Cochran 5.9 with the noise in the draws' spread)."""
    model, x = _model(), _pixels(4)
    subset, sems = _estimates(model, x, 10, 300, seed=0)
    exact, _ = _estimates(model, x, T, 40, seed=1)
    se = (subset.var(0) / 300 + exact.var(0) / 40).sqrt()
    assert ((subset.mean(0) - exact.mean(0)).abs() < 4 * se).all()
    ratio = sems.pow(2).mean(0) / (subset.var(0) - exact.var(0))
    assert ((ratio > 0.7) & (ratio < 1.3)).all(), ratio


@pytest.mark.slow
def test_the_dataset_interval_covers_the_all_timestep_value() -> None:
    """200 repeats of the mean of 24 images at k = 6 of 100 timesteps: mean +- 1.96 SE across
    images covers the mean of 4 all-timestep sums per image in >= 90% of them (93.4% over
    1,000 repeats; the uniform 6-of-100 subset this replaced: 85.3%, as it includes L_0 in
    1.4 of the 24 images on average)."""
    model, x = _model(), _pixels(24)
    estimates, _ = _estimates(model, x, 6, 200, seed=0)
    exact, _ = _estimates(model, x, T, 4, seed=1)
    mean, se = estimates.mean(1), estimates.std(1) / math.sqrt(24)
    covered = ((mean - exact.mean()).abs() < 1.959964 * se).double().mean()
    assert covered >= 0.9, covered
