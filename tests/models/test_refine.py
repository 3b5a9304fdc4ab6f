"""SDEdit from an intermediate noise level (``GaussianDiffusion.refine``, Meng et al. 2022) with
the exact denoiser of Gaussian data, where the typical set is known in closed form, and the
diffusion prior's ``refine`` (the ``Refiner`` capability) on a tiny model.

For N(mu, sd^2) data the optimal eps-predictor is linear in x_t, E[eps | x_t] = sqrt(1 - abar)
(x_t - sqrt(abar) mu) / (abar sd^2 + 1 - abar) (as in ``test_diffusion_prior``)."""

from __future__ import annotations

import math

import pytest
import torch
from torch import Tensor
from torch.distributions import Normal

from genlab.errors import ConfigError
from genlab.models.core.capabilities import Refiner, family_has, has
from genlab.models.parts.diffusion.process import GaussianDiffusion
from genlab.models.parts.diffusion.samplers import DiffusionSampleOptions
from genlab.models.parts.diffusion.schedule import Schedule, betas_for
from genlab.models.registry import MODELS

MU = torch.tensor([0.5, -1.0])
SD = torch.tensor([0.7, 1.3])


def exact_eps(schedule: Schedule):
    """E[eps | x_t] of N(MU, SD^2) data."""

    def predict(xt: Tensor, t: Tensor, y: Tensor | None) -> Tensor:
        a = schedule.abar[t.cpu()].unsqueeze(1).float()
        return (1 - a).sqrt() * (xt - a.sqrt() * MU) / (a * SD ** 2 + 1 - a)

    return predict


@pytest.fixture(params=["linear", "cosine"])
def process(request: pytest.FixtureRequest) -> GaussianDiffusion:
    return GaussianDiffusion(Schedule(betas_for(request.param, 1000, 1e-4, 0.02)), "eps")


def test_level_index_is_the_timestep_ceil_of_t_star_times_T(process: GaussianDiffusion) -> None:
    assert process.level_index(1.0) == 999
    assert process.level_index(0.3) == 299
    assert process.level_index(1e-9) == 0
    for bad in (0.0, -0.1, 1.5):
        with pytest.raises(ConfigError, match=r"\(0, 1\]"):
            process.level_index(bad)


def test_a_small_level_returns_nearly_the_input(process: GaussianDiffusion) -> None:
    x0 = torch.randn(200, 2, generator=torch.Generator().manual_seed(0)) * 3  # far off too
    out = process.refine(exact_eps(process.schedule), x0, None, 1e-3, DiffusionSampleOptions(),
                         torch.Generator().manual_seed(1))
    # one DDIM step from abar_0 (1 - beta_1, beta_1 at most 4e-5 here): moves by O(sqrt(beta_1))
    tol = 3 * math.sqrt(1 - float(process.schedule.abar[0])) * 4
    torch.testing.assert_close(out, x0, atol=tol, rtol=0)
    assert (out - x0).abs().max() > 0  # it did run a step


def test_level_one_is_a_sample_from_the_same_noise(process: GaussianDiffusion) -> None:
    denoiser, opts = exact_eps(process.schedule), DiffusionSampleOptions(steps=40)
    x0 = torch.randn(64, 2, generator=torch.Generator().manual_seed(2))
    refined = process.refine(denoiser, x0, None, 1.0, opts, torch.Generator().manual_seed(3))
    drawn = process.sample(denoiser, (64, 2), None, opts, torch.Generator().manual_seed(3))
    # x_T = sqrt(abar_T) x0 + sqrt(1 - abar_T) eps against eps: the deterministic sampler's
    # map is Lipschitz (about 1 / sd_min ... sd_max here), so the gap is of order sqrt(abar_T)
    gap = float(process.schedule.abar[-1].sqrt()) * (x0.abs().max() + 1) * 3
    torch.testing.assert_close(refined, drawn, atol=max(gap, 1e-5), rtol=0)


def test_refined_far_points_come_back_to_the_typical_set(process: GaussianDiffusion) -> None:
    """Points 4 sd off the mean, refined at t* = 0.5, gain log-density under N(MU, SD^2); a
    larger t* forgets more of the start (closer to the prior's own log-density on average)."""
    gen = torch.Generator().manual_seed(4)
    far = MU + SD * 4 * torch.sign(torch.randn(500, 2, generator=gen))
    density = Normal(MU, SD)
    denoiser = exact_eps(process.schedule)
    gains = []
    for t_star in (0.3, 0.6, 0.9):
        out = process.refine(denoiser, far, None, t_star, DiffusionSampleOptions(steps=50),
                             torch.Generator().manual_seed(5))
        gains.append(float((density.log_prob(out) - density.log_prob(far)).sum(1).mean()))
    assert 0 < gains[0] < gains[1] < gains[2], gains
    # at t* = 0.9 the codes are nearly the prior's: E log N = -sum(log sd) - D/2 (1 + log 2 pi)
    typical = float(-SD.log().sum() - 1 - math.log(2 * math.pi))
    final = gains[2] + float(density.log_prob(far).sum(1).mean())
    assert abs(final - typical) < 0.5, (final, typical)


def test_a_deterministic_refinement_repeats_and_a_stochastic_one_varies(
        process: GaussianDiffusion) -> None:
    denoiser, x0 = exact_eps(process.schedule), torch.full((8, 2), 3.0)

    def once(options: DiffusionSampleOptions, seed: int) -> Tensor:
        return process.refine(denoiser, x0, None, 0.5, options, torch.Generator().manual_seed(seed))

    ddim = DiffusionSampleOptions(steps=20)
    assert torch.equal(once(ddim, 0), once(ddim, 0))
    ddpm = DiffusionSampleOptions(sampler="ddpm", steps=20)
    assert torch.equal(once(ddpm, 0), once(ddpm, 0))
    assert not torch.equal(once(ddpm, 0), once(ddpm, 1))


def test_the_partial_chain_spends_the_chains_share_of_steps(process: GaussianDiffusion) -> None:
    calls: list[int] = []
    base = exact_eps(process.schedule)

    def counting(xt: Tensor, t: Tensor, y: Tensor | None) -> Tensor:
        calls.append(int(t[0]))
        return base(xt, t, y)

    process.refine(counting, torch.zeros(2, 2), None, 0.3, DiffusionSampleOptions(steps=50),
                   torch.Generator().manual_seed(0))
    assert calls[0] == 299 and calls[-1] == 0 and len(calls) == 15  # 50 steps * 0.3


def test_only_the_code_diffusions_declare_the_refiner() -> None:
    refiners = {name for name, cls in MODELS.items() if family_has(cls, Refiner)}
    assert {"diffusion-prior", "latent-diffusion"} <= refiners
    assert not {"vae", "ae", "gmm-prior", "pca"} & refiners
    assert not has(object(), Refiner)
