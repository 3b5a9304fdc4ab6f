"""DDPM against closed forms: the schedules' formulas, the bound's KL terms against
torch.distributions, the discretised decoder against Normal.cdf (a distribution over the 256
values), the timestep-subset estimate against the exact all-timestep sum, the samplers' steps
against Ho et al.'s and Song et al.'s updates, guidance, and DDIM inversion's round trip."""

from __future__ import annotations

import math

import pytest
import torch
from torch.distributions import Normal, kl_divergence

from genlab.errors import ConfigError
from genlab.models.families.diffusion import ddpm as ddpm_module
from genlab.models.families.diffusion.ddpm import DDPM, DDPMConfig, DDPMSampleOptions
from genlab.models.parts.density import eight_bit_nats
from genlab.models.parts.diffusion.bound import bound_terms, pixel_bins, vlb_estimate
from genlab.models.parts.diffusion.samplers import ancestral_step, ddim_step
from genlab.models.parts.diffusion.schedule import (
    Schedule,
    betas_for,
    discretised_gaussian_log_prob,
    timestep_sequence,
)
from genlab.models.parts.unet import ResBlock

SHAPE = (1, 4, 4)
TOL = {"rtol": 1e-9, "atol": 1e-9}
"""float64 closed forms computed two ways: equal up to rounding."""


def _model(timesteps: int = 6, seed: int = 0, **options) -> DDPM:
    """A tiny eps-predicting DDPM (unless ``options`` say otherwise) whose output layer is
    random (a zero-initialised one predicts eps = 0)."""
    torch.manual_seed(seed)
    config = DDPMConfig(name="ddpm", timesteps=timesteps, channels=[4], res_blocks=1,
                        attention=False, dropout=0.0, **{"prediction": "eps", **options})
    model = DDPM(config, SHAPE, 3).eval()
    torch.nn.init.normal_(model.net.out[-1].weight, std=0.3)
    return model.double()


def _pixels(n: int, seed: int = 1) -> torch.Tensor:
    return torch.randint(0, 256, (n, *SHAPE), generator=torch.Generator().manual_seed(seed)
                         ).double() / 255


def test_schedules() -> None:
    linear = betas_for("linear", 1000, 1e-4, 0.02)
    assert float(linear[0]) == pytest.approx(1e-4) and float(linear[-1]) == pytest.approx(0.02)
    cosine = Schedule(betas_for("cosine", 1000, 1e-4, 0.02))
    t = torch.tensor([1, 500, 900], dtype=torch.float64)
    f = torch.cos((t / 1000 + 0.008) / 1.008 * math.pi / 2) ** 2
    f0 = math.cos(0.008 / 1.008 * math.pi / 2) ** 2
    torch.testing.assert_close(cosine.abar[t.long() - 1], f / f0, **TOL)  # Nichol & Dhariwal
    with pytest.raises(ConfigError, match="noise_schedule='quadratic'"):
        DDPMConfig(name="ddpm", noise_schedule="quadratic").validate()


def test_kl_terms_are_torch_distributions_closed_forms() -> None:
    s = Schedule(betas_for("linear", 10, 1e-3, 0.2))
    gen = torch.Generator().manual_seed(0)
    x0, xt, eps = (torch.randn(3, *SHAPE, generator=gen, dtype=torch.float64) for _ in range(3))
    t = torch.tensor([1, 4, 9])
    for i, ti in enumerate(t.tolist()):
        q = Normal(s.posterior_mean(x0, xt, t)[i], s.posterior_var[ti].sqrt())
        p = Normal(s.model_mean(xt, t, eps)[i], s.betas[ti].sqrt())
        torch.testing.assert_close(s.step_kl(x0, xt, t, eps)[i], kl_divergence(q, p).sum(), **TOL)
    prior = kl_divergence(Normal(s.abar[-1].sqrt() * x0, (1 - s.abar[-1]).sqrt()), Normal(0, 1))
    torch.testing.assert_close(s.prior_kl(x0), prior.flatten(1).sum(1), **TOL)


def test_the_discretised_decoder_is_a_distribution_over_256_values() -> None:
    values = torch.arange(256, dtype=torch.float64).view(256, 1, 1, 1) / 255 * 2 - 1
    mean = torch.full_like(values, 0.3)
    logp = discretised_gaussian_log_prob(values, mean, math.log(0.05))
    torch.testing.assert_close(logp.exp().sum(), torch.tensor(1.0, dtype=torch.float64), **TOL)
    normal = Normal(torch.tensor(0.3, dtype=torch.float64), 0.05)
    inner = normal.cdf(values[128] + 1 / 255) - normal.cdf(values[128] - 1 / 255)
    torch.testing.assert_close(logp[128], inner.log().sum(), **TOL)
    for edge, mean_at, mass in [(0, -0.98, lambda n, v: n.cdf(v + 1 / 255)),
                                (255, 0.98, lambda n, v: 1 - n.cdf(v - 1 / 255))]:
        near = Normal(torch.tensor(mean_at, dtype=torch.float64), 0.05)  # open-ended end bins
        got = discretised_gaussian_log_prob(values[edge:edge + 1],
                                            torch.full((1, 1, 1, 1), mean_at, dtype=torch.float64),
                                            math.log(0.05))
        torch.testing.assert_close(got[0], mass(near, values[edge]).log().sum(), **TOL)
    # 8-bit pixels and their dequantised versions fall in the same bins
    x = _pixels(4)
    u = torch.rand(x.shape, dtype=torch.float64)
    torch.testing.assert_close(pixel_bins((x * 255 + u) / 256), pixel_bins(x), rtol=0, atol=0)
    torch.testing.assert_close(pixel_bins(x), x * 2 - 1, **TOL)


def _reference_bound(model: DDPM, x: torch.Tensor, y: torch.Tensor,
                     gen: torch.Generator) -> torch.Tensor:
    """The all-timestep sum written out: L_T + sum_t L_{t-1} (torch.distributions KLs) + L_0
    (Normal.cdf masses), with the noise drawn in the estimator's order."""
    s, x0 = model.schedule, x * 2 - 1
    total = torch.distributions.kl_divergence(
        Normal(s.abar[-1].sqrt() * x0, (1 - s.abar[-1]).sqrt()), Normal(0.0, 1.0)
    ).flatten(1).sum(1)
    for t in range(s.steps):
        noise = torch.randn(x0.shape, generator=gen, dtype=torch.float64)
        a = s.abar[t]
        xt = a.sqrt() * x0 + (1 - a).sqrt() * noise
        eps = model.net(xt, torch.full((len(x),), t), y)
        mean = (xt - s.betas[t] / (1 - a).sqrt() * eps) / (1 - s.betas[t]).sqrt()
        p = Normal(mean, s.betas[t].sqrt())
        if t == 0:
            upper = torch.where(x0 > 0.999, 1.0, p.cdf(x0 + 1 / 255))
            lower = torch.where(x0 < -0.999, 0.0, p.cdf(x0 - 1 / 255))
            total = total - (upper - lower).log().flatten(1).sum(1)
        else:
            q = Normal(s.posterior_mean(x0, xt, torch.tensor([t])), s.posterior_var[t].sqrt())
            total = total + kl_divergence(q, p).flatten(1).sum(1)
    return total


def test_with_every_timestep_the_estimate_is_the_exact_sum() -> None:
    model, x, y = _model(), _pixels(3), torch.tensor([0, 1, -1])
    with torch.no_grad():
        bound, sem = vlb_estimate(model, x, y, k=100, generator=torch.Generator().manual_seed(5))
        exact = _reference_bound(model, x, model._labels(y, 3), torch.Generator().manual_seed(5))
    torch.testing.assert_close(bound, exact, rtol=1e-9, atol=1e-6)
    assert torch.equal(sem, torch.zeros(3, dtype=torch.float64))
    ll = model.log_likelihood(x, y, k=100)
    assert ll.dtype == torch.float64 and ll.shape == (3,)


def test_the_likelihood_is_the_bins_density_whose_8_bit_scale_is_the_bound() -> None:
    """log_likelihood is log(P 256^D), the density constant on each pixel's bin; the 8-bit
    scale (+ D log 256 nats) must give back the bound on -log P (not add 2 D log 256)."""
    model, x, y = _model(), _pixels(3), torch.tensor([0, 1, -1])
    dims = x[0].numel()
    with torch.no_grad():
        torch.manual_seed(3)
        bound, _ = vlb_estimate(model, x, y, k=100)
        torch.manual_seed(3)
        density = model.log_likelihood(x, y, k=100)
    torch.testing.assert_close(density, dims * math.log(256) - bound, rtol=1e-12, atol=1e-9)
    torch.testing.assert_close(eight_bit_nats(-density, dims), bound, rtol=1e-12, atol=1e-9)


def test_a_timestep_subset_is_unbiased_and_its_standard_error_is_right() -> None:
    """Over 200 seeds, the mean of 2-of-6-timestep estimates matches the mean of the exact
    sums (each at fresh noise) within 4 standard errors, and the reported standard error
    matches the spread of the subset estimates around the exact sum (within 25 %)."""
    model, x, y = _model(), _pixels(2), torch.tensor([0, 2])
    subset, exact, sems = [], [], []
    with torch.no_grad():
        for seed in range(200):
            b, s = vlb_estimate(model, x, y, k=2, generator=torch.Generator().manual_seed(seed))
            subset.append(b)
            sems.append(s)
            gen = torch.Generator().manual_seed(10_000 + seed)
            exact.append(vlb_estimate(model, x, y, k=6, generator=gen)[0])
    subset_t, exact_t = torch.stack(subset), torch.stack(exact)
    spread = (subset_t.var(0) + exact_t.var(0)).sqrt() / math.sqrt(200)
    assert ((subset_t.mean(0) - exact_t.mean(0)).abs() < 4 * spread).all()
    ratio = torch.stack(sems).pow(2).mean(0) / (subset_t.var(0) - exact_t.var(0))
    assert ((ratio > 0.75) & (ratio < 1.25)).all(), ratio


def test_the_bound_terms_pick_the_decoder_at_the_first_timestep() -> None:
    model, x0 = _model(), _pixels(2) * 2 - 1
    noise = torch.randn(x0.shape, dtype=torch.float64)
    with torch.no_grad():
        both = bound_terms(model, x0, None, torch.tensor([0, 3]), noise)
    assert both[0] > 0 and both[1] > 0 and torch.isfinite(both).all()


def test_sampler_steps_are_ho_and_songs_updates() -> None:
    s = Schedule(betas_for("linear", 10, 1e-3, 0.2))
    gen = torch.Generator().manual_seed(0)
    x0 = torch.rand(2, *SHAPE, generator=gen, dtype=torch.float64) * 1.6 - 0.8
    eps = torch.randn(2, *SHAPE, generator=gen, dtype=torch.float64)
    z = torch.randn(2, *SHAPE, generator=gen, dtype=torch.float64)
    t = 6
    xt = s.abar[t].sqrt() * x0 + (1 - s.abar[t]).sqrt() * eps
    # ancestral, every timestep: Ho et al. 2020, Algorithm 2
    ho = s.model_mean(xt, torch.tensor([t]), eps) + s.betas[t].sqrt() * z
    torch.testing.assert_close(ancestral_step(xt, x0, s.abar[t], s.abar[t - 1], z), ho, **TOL)
    # DDIM, eta = 0: the same x0 and eps at the lower noise level (Song et al. 2021, eq. 12)
    b = s.abar[2]
    torch.testing.assert_close(ddim_step(x0, eps, s.abar[t], b, 0.0, None),
                               b.sqrt() * x0 + (1 - b).sqrt() * eps, **TOL)
    assert timestep_sequence(1000, 4) == [999, 666, 333, 0]
    assert timestep_sequence(5, 50) == [4, 3, 2, 1, 0]


def test_one_step_starts_from_the_noise_not_from_x_1() -> None:
    """``--steps 1`` is one prediction of x_0 at t = T: the sequence is [T - 1] (it was [0],
    which returned x_T rescaled as the sample)."""
    assert timestep_sequence(1000, 1) == [999] and timestep_sequence(2, 1) == [1]
    model = _model(timesteps=20).float()
    seen = []
    forward = model.net.forward
    model.net.forward = lambda xt, t, y: seen.append(t.tolist()) or forward(xt, t, y)
    with torch.no_grad():
        model.sample(2, generator=torch.Generator().manual_seed(0),
                     options=DDPMSampleOptions(steps=1))
    assert seen == [[19, 19]]


def test_sampling_is_seeded_guided_and_checks_its_options() -> None:
    model = _model(timesteps=20).float()
    with torch.no_grad():
        first = model.sample(3, generator=torch.Generator().manual_seed(0))
        again = model.sample(3, generator=torch.Generator().manual_seed(0))
        ddpm = model.sample(3, generator=torch.Generator().manual_seed(0),
                            options=DDPMSampleOptions(sampler="ddpm", steps=20))
        solver = [model.sample(3, generator=torch.Generator().manual_seed(0), options=opts)
                  for opts in [DDPMSampleOptions(sampler="dpm-solver++", steps=8)] * 2]
        xt, t, y = torch.randn(2, *SHAPE), torch.tensor([5]), torch.tensor([1, 2])
        cond, uncond = model.eps(xt, t, y), model.eps(xt, t, None)
        torch.testing.assert_close(model.eps(xt, t, y, guidance=2.0), 3 * cond - 2 * uncond,
                                   rtol=1e-5, atol=1e-6)  # one batched call vs two
    assert torch.equal(first, again) and first.shape == (3, *SHAPE)
    assert float(ddpm.min()) >= 0 and float(ddpm.max()) <= 1 and not torch.equal(ddpm, first)
    assert torch.equal(solver[0], solver[1]) and not torch.equal(solver[0], first)
    assert float(solver[0].min()) >= 0 and float(solver[0].max()) <= 1
    for bad, word in [({"steps": 0}, "steps"), ({"eta": -1.0}, "eta"),
                      ({"guidance": -0.5}, "guidance"), ({"sampler": "euler"}, "sampler"),
                      ({"sampler": "dpm-solver++", "eta": 0.5}, "eta=0.5 applies to sampler ddim")]:
        with pytest.raises(ConfigError, match=word):
            DDPMSampleOptions(**bad).validate()


def test_cpu_chunks_give_the_whole_batchs_prediction(monkeypatch: pytest.MonkeyPatch) -> None:
    """Network calls in chunks of CPU_CHUNK images (3 here: 7 images are 3 + 3 + 1, 14 when
    guided) change the speed, not the prediction: each image's output is its own."""
    model = _model(timesteps=20).float()
    xt, t, y = torch.randn(7, *SHAPE), torch.tensor([5]), torch.arange(7) % 3
    with torch.no_grad():
        def seeded() -> torch.Generator:
            return torch.Generator().manual_seed(0)

        whole = [model.eps(xt, t, y), model.eps(xt, t, y, guidance=1.5),
                 model.sample(7, generator=seeded())]
        monkeypatch.setattr(ddpm_module, "CPU_CHUNK", 3)
        calls = []
        monkeypatch.setattr(model.net, "forward", lambda *a, f=model.net.forward: calls.append(
            len(a[0])) or f(*a))
        chunked = [model.eps(xt, t, y), model.eps(xt, t, y, guidance=1.5),
                   model.sample(7, generator=seeded())]
    assert calls[:8] == [3, 3, 1, 3, 3, 3, 3, 2]  # eps, then guided eps (14 images)
    for a, b in zip(whole, chunked, strict=True):
        torch.testing.assert_close(b, a, rtol=1e-5, atol=1e-6)  # other batch shapes, same maths


def test_ddim_inversion_then_decoding_reconstructs(monkeypatch: pytest.MonkeyPatch) -> None:
    """An untrained net's ODE inverts too (trained ones: benchmarks/ddpm_mnist_quality.py):
    PSNR 44.3 dB at 10 steps, 59.0 dB at 50 (asserted: above 20 and above 30)."""
    model, x, y = _model(timesteps=100).float(), _pixels(6).float() * 0.8 + 0.1, torch.arange(6) % 3
    torch.nn.init.normal_(model.net.out[-1].weight, std=0.05)  # a smoother eps than _model's
    psnr = {}
    with torch.no_grad():
        for steps in (10, 50):
            monkeypatch.setattr(ddpm_module, "LATENT_STEPS", steps)
            z = model.encode(x, y)
            mse = (model.decode(z, y).mean - x).pow(2).flatten(1).mean(1)
            psnr[steps] = float((-10 * mse.log10()).mean())
    assert z.shape == (6, 16) and psnr[10] > 20 and psnr[50] > max(30, psnr[10] + 5), psnr


def test_the_net_runs_channels_last_and_under_bf16_autocast() -> None:
    model = DDPM(DDPMConfig(name="ddpm", timesteps=10, channels=[8, 8], res_blocks=1,
                            dropout=0.0), (3, 10, 10), 4)  # 10 x 10: padded to 10 (even)
    torch.nn.init.normal_(model.net.out[-1].weight, std=0.3)
    x, t, y = torch.randn(2, 3, 10, 10), torch.tensor([1, 7]), torch.tensor([0, 4])
    with torch.no_grad():
        plain = model.net(x, t, y)
        cl = model.net.to(memory_format=torch.channels_last)(
            x.to(memory_format=torch.channels_last), t, y)
        with torch.autocast("cpu", dtype=torch.bfloat16):
            low = model.net(x, t, y)
    torch.testing.assert_close(cl, plain, rtol=1e-4, atol=1e-5)  # other kernels, same maths
    assert low.shape == plain.shape and torch.isfinite(low).all()


def test_the_timestep_and_the_label_reach_the_prediction() -> None:
    """Through every residual block: a group norm of one channel per group would erase an
    embedding added as a per-channel shift before it."""
    model = DDPM(DDPMConfig(name="ddpm", timesteps=10, channels=[16, 32], res_blocks=1,
                            dropout=0.0), (1, 8, 8), 3)
    for block in model.net.modules():  # away from the identity the blocks start as
        if isinstance(block, ResBlock):
            torch.nn.init.normal_(block.out_layers[-1].weight, std=0.3)
    torch.nn.init.normal_(model.net.out[-1].weight, std=0.3)
    xt = torch.randn(2, 1, 8, 8)
    with torch.no_grad():
        base = model.eps(xt, torch.tensor([2]), torch.tensor([0, 0]))
        other_t = model.eps(xt, torch.tensor([8]), torch.tensor([0, 0]))
        other_y = model.eps(xt, torch.tensor([2]), torch.tensor([1, 1]))
    assert (base - other_t).abs().max() > 1e-3 and (base - other_y).abs().max() > 1e-3


def test_v_prediction_gives_the_noise_its_v_implies() -> None:
    """A net that returns the exact v = sqrt(abar) eps - sqrt(1 - abar) x_0 gives back eps."""
    model = _model(prediction="v")
    gen = torch.Generator().manual_seed(2)
    x0, noise = (torch.randn(3, *SHAPE, generator=gen, dtype=torch.float64) for _ in range(2))
    t = torch.tensor([0, 3, 5])
    a = model.schedule.abar[t].view(-1, 1, 1, 1)
    model.net.forward = lambda xt, tt, yy: a.sqrt() * noise - (1 - a).sqrt() * x0
    xt = model.schedule.q_sample(x0, t, noise)
    torch.testing.assert_close(model.eps(xt, t, None), noise, **TOL)


@pytest.mark.parametrize("options", [{"timesteps": 1}, {"channels": []}, {"beta_end": 1.0},
                                     {"label_dropout": 1.0}, {"res_blocks": 0},
                                     {"prediction": "x0"}])
def test_bad_options_are_refused(options: dict) -> None:
    with pytest.raises(ConfigError, match="model."):
        DDPMConfig(name="ddpm", **options).validate()

