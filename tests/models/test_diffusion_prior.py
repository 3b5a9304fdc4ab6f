"""The diffusion prior over a trained encoder family's codes (``diffusion-prior``): its bound
against closed forms, its importance-sampled likelihood against a direct loop on the same
draws, the standardisation and what it does to sampling, on VAE, AE and CVAE first stages.

For N(mu, s^2) data the optimal eps-predictor is linear in x_t, E[eps | x_t] = sqrt(1 - abar)
(x_t - sqrt(abar) mu) / (abar s^2 + 1 - abar); with it injected as the denoiser the variational
bound must be close to (and in expectation not above) the true log-density."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
from torch import Tensor
from torch.distributions import Normal, kl_divergence

import genlab
from genlab.errors import ConfigError
from genlab.models.families.two_stage.diffusion_prior import DiffusionPriorConfig
from genlab.models.parts.diffusion.continuous_bound import negative_bound, strata
from genlab.models.parts.diffusion.process import GaussianDiffusion
from genlab.models.parts.diffusion.schedule import Schedule, betas_for

DATA = {"dataset": "mnist-mini", "binarize": "dynamic", "val_size": 9000, "size": 7}
TRAIN = {"epochs": 1, "batch_size": 100, "progress": False, "seed": 0, "device": "cpu",
         "epoch_samples": 0}
PRIOR = {"name": "diffusion-prior", "timesteps": 50, "width": 64, "blocks": 1,
         "bound_timesteps": 6}
MU = torch.tensor([0.5, -1.0], dtype=torch.float64)
SD = torch.tensor([0.7, 1.3], dtype=torch.float64)


def gaussian_denoiser(schedule: Schedule, mu: Tensor, sd: Tensor, prediction: str = "eps"):
    """The exact E[eps | x_t] (or the v it implies) of N(mu, sd^2) data."""

    def predict(xt: Tensor, t: Tensor, y: Tensor | None) -> Tensor:
        a = schedule.abar[t.cpu()].unsqueeze(1)
        xt = xt.double()
        eps = (1 - a).sqrt() * (xt - a.sqrt() * mu) / (a * sd ** 2 + 1 - a)
        if prediction == "eps":
            return eps.float()
        x0 = (xt - (1 - a).sqrt() * eps) / a.sqrt()
        return (a.sqrt() * eps - (1 - a).sqrt() * x0).float()

    return predict



@pytest.mark.parametrize("schedule_name", ["cosine", "linear"])
def test_the_bound_of_a_gaussian_is_its_log_density_with_the_exact_denoiser(
        schedule_name: str) -> None:
    schedule = Schedule(betas_for(schedule_name, 1000, 1e-4, 0.02))
    process = GaussianDiffusion(schedule, "eps")
    gen = torch.Generator().manual_seed(0)
    u = MU + SD * torch.randn(2000, 2, generator=gen, dtype=torch.float64)
    true = Normal(MU, SD).log_prob(u).sum(1)
    gap = -negative_bound(process, gaussian_denoiser(schedule, MU, SD), u, None, 1000, gen) - true
    sem = gap.std() / math.sqrt(len(gap))
    # E[bound] <= E[log p] (the bound of p_theta, itself no better than the data's density on
    # average); the exact reverse mean leaves only the fixed-variance gap, measured -0.01.
    assert -0.1 < gap.mean() < 3 * sem, (gap.mean(), sem)


def test_the_stratified_estimate_is_unbiased_for_the_exact_sum() -> None:
    schedule = Schedule(betas_for("cosine", 200, 1e-4, 0.02))
    process = GaussianDiffusion(schedule, "v")
    denoiser = gaussian_denoiser(schedule, MU, SD, "v")
    gen = torch.Generator().manual_seed(1)
    u = (MU + SD * torch.randn(4, 2, generator=gen, dtype=torch.float64)).repeat(3000, 1)
    exact = -negative_bound(process, denoiser, u, None, 199, gen).view(3000, 4)
    strat = -negative_bound(process, denoiser, u, None, 8, gen).view(3000, 4)
    sem = (exact.var(0) / 3000 + strat.var(0) / 3000).sqrt()
    assert ((strat.mean(0) - exact.mean(0)).abs() < 4 * sem).all()
    # geometric in t: round(200^(j/8))
    assert strata(8, 200).tolist() == [1, 2, 4, 7, 14, 27, 53, 103, 200]
    assert len(strata(500, 20)) == 20  # at most the T - 1 KL indices, one each


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("prior")
    out = {}
    for name, first in [("vae", {"name": "vae", "latent_dim": 2}), ("ae", {"name": "ae"}),
                        ("cvae", {"name": "cvae", "latent_dim": 2})]:
        stage = {"net": "mlp", "hidden": [64], **first}
        if name == "ae":
            stage["latent_dim"] = 2
        out[name] = genlab.train({"model": stage, "data": DATA, "train": TRAIN},
                                 out=root / name).run_dir
        prior = {**PRIOR, "first_stage": str(out[name])}
        out[f"{name}-prior"] = genlab.train(
            {"model": prior, "data": DATA, "train": {**TRAIN, "epochs": 3}},
            out=root / f"{name}-prior").run_dir
    return out


def _direct_log_weights(model, x: Tensor, z: Tensor, kl_t: Tensor, noise: Tensor) -> Tensor:
    """log p(x | z) + bound(z) - log q(z | x) per image and draw, a loop over images, draws
    and timesteps with the closed forms written out (Ho et al. 2020, eqs. 4-13)."""
    s = model.schedule
    betas, total = s.betas, s.steps
    abar = torch.cumprod(1 - betas, 0)
    sizes = (strata(model.config.bound_timesteps, total)).diff().double()
    q = model.stage.encode(x)
    k, n, _ = z.shape
    out = torch.empty(k, n, dtype=torch.float64)
    for i in range(k):
        for j in range(n):
            code = z[i, j].double()
            u = (code - model.code_mean.double()) / model.code_sd.double()
            bound = kl_divergence(Normal(abar[-1].sqrt() * u, (1 - abar[-1]).sqrt()),
                                  Normal(0.0, 1.0)).sum()  # -L_T
            row = i * n + j
            for col in range(noise.shape[1]):
                t = 0 if col == 0 else int(kl_t[row, col - 1])
                weight = 1.0 if col == 0 else float(sizes[col - 1])
                xt = abar[t].sqrt() * u + (1 - abar[t]).sqrt() * noise[row, col]
                eps = model.process.eps(model.denoiser, xt.float()[None],
                                        torch.tensor([t]), None)[0].double()
                mean = (xt - betas[t] / (1 - abar[t]).sqrt() * eps) / (1 - betas[t]).sqrt()
                if t == 0:
                    term = -Normal(mean, betas[0].sqrt()).log_prob(u).sum()
                else:
                    post = (abar[t - 1].sqrt() * betas[t] * u + (1 - betas[t]).sqrt()
                            * (1 - abar[t - 1]) * xt) / (1 - abar[t])
                    post_sd = ((1 - abar[t - 1]) / (1 - abar[t]) * betas[t]).sqrt()
                    term = kl_divergence(Normal(post, post_sd), Normal(mean, betas[t].sqrt()))
                    term = term.sum()
                bound = bound + weight * term
            log_pz = -bound - model.code_sd.double().log().sum()
            log_px = model.decode(z[i, j][None]).log_prob(x[j][None]).double()[0]
            log_q = Normal(q.mean[j], q.stddev[j]).log_prob(z[i, j]).sum().double()
            out[i, j] = log_px + log_pz - log_q
    return out


@pytest.mark.slow
def test_the_vectorised_likelihood_is_the_direct_loop_on_the_same_draws(
        runs: dict[str, Path]) -> None:
    model = genlab.load(runs["vae-prior"]).model
    x = genlab.load(runs["vae-prior"]).select(split="test", n=3).x
    k, m = 4, model.config.bound_timesteps
    torch.manual_seed(3)
    estimate = model.log_likelihood(x, k=k)
    torch.manual_seed(3)  # the draws in their documented order
    z = model.stage.encode(x).sample((k,))
    uniform = torch.rand(k * len(x), m, dtype=torch.float64)  # stratified_timesteps'
    edges = strata(m, model.schedule.steps)
    sizes = edges.diff()
    kl_t = edges[:-1] + torch.minimum((uniform * sizes).floor().long(), sizes - 1)
    noise = torch.randn(k * len(x), m + 1, 2, dtype=torch.float64)
    direct = _direct_log_weights(model, x, z, kl_t, noise)
    # float32 networks, batched there and one row at a time here: agreement to ~1e-7 relative
    torch.testing.assert_close(estimate, direct.mean(0), rtol=1e-6, atol=1e-5)


@pytest.mark.slow
def test_the_prior_bound_is_a_density_of_the_unstandardised_code(
        runs: dict[str, Path]) -> None:
    """The exact denoiser of N(mu, SD^2) standardised codes: the bound of z = m + s u must be
    the log-density of N(m + s mu, (s SD)^2), the log-Jacobian included."""
    model = copy.deepcopy(genlab.load(runs["vae-prior"]).model)
    model.code_mean.copy_(torch.tensor([2.0, -3.0]))
    model.code_sd.copy_(torch.tensor([0.25, 2.0]))  # log-Jacobian -log 0.5
    model.denoiser = gaussian_denoiser(model.schedule, MU, SD, model.config.prediction)
    model.config.bound_timesteps = model.schedule.steps
    gen = torch.Generator().manual_seed(2)
    u = MU + SD * torch.randn(4000, 2, generator=gen, dtype=torch.float64)
    z = model.unstandardise(u.float()).double()
    truth = Normal(2.0 + 0.25 * MU[0], 0.25 * SD[0]).log_prob(z[:, 0]) + Normal(
        -3.0 + 2.0 * MU[1], 2.0 * SD[1]).log_prob(z[:, 1])
    gap = model.log_prior_bound(z, None, gen) - truth
    # T = 50 leaves a larger fixed-variance gap than T = 1000 (measured: -0.03 +- 0.02
    # nats); a missing log-Jacobian would be off by log 0.5 = -0.69.
    assert -0.3 < gap.mean() < 3 * gap.std() / math.sqrt(len(gap)), gap.mean()


@pytest.mark.slow
def test_standardised_on_the_first_batch_and_samples_decode_its_draws(
        runs: dict[str, Path]) -> None:
    run, vae = genlab.load(runs["vae-prior"]), genlab.load(runs["vae"])
    model = run.model
    assert float(model.code_count) == TRAIN["batch_size"]
    x = run.select(split="train", n=1000).x
    with torch.no_grad():
        codes = vae.model.encode(x).sample()
    torch.testing.assert_close(model.code_mean, codes.mean(0), atol=0.4, rtol=0)
    torch.testing.assert_close(model.code_sd, codes.std(0), atol=0.0, rtol=0.3)
    options = {"sampler": "dpm-solver++", "steps": 10}
    images = run.sample(4, seed=1, options=options)
    opts = model.sample_options(**options)
    z4 = model.draw_codes(4, None, torch.Generator().manual_seed(1), opts)
    with torch.no_grad():
        torch.testing.assert_close(images, vae.model.decode(z4).mean.clamp(0, 1))
    assert torch.equal(model.encode_mean(x[:3]), vae.model.encode_mean(x[:3]))  # its codes
    with pytest.raises(ConfigError, match="guidance"):
        run.sample(2, options={"guidance": 1.0})


@pytest.mark.slow
def test_an_ae_first_stage_is_importance_sampled_around_its_code(
        runs: dict[str, Path]) -> None:
    run = genlab.load(runs["ae-prior"])
    x = run.select(split="test", n=4).x
    torch.manual_seed(0)
    ll = run.model.log_likelihood(x, k=8)
    assert ll.shape == (4,) and torch.isfinite(ll).all()
    assert "a Gaussian around the code" in run.model.likelihood_method(8)
    assert run.model.likelihood_scale("dynamic") == genlab.load(
        runs["ae"]).model.likelihood_scale("dynamic")


@pytest.mark.slow
def test_a_cvae_first_stage_gets_a_conditional_prior(runs: dict[str, Path]) -> None:
    run = genlab.load(runs["cvae-prior"])
    assert run.model.conditional and run.model.net.labels is not None
    sevens = run.sample(3, labels=torch.tensor(7), seed=0, options={"guidance": 1.0})
    assert sevens.shape == (3, 1, 7, 7)
    x = run.select(split="test", n=2)
    ll = run.model.log_likelihood(x.x, x.y, k=4)
    assert torch.isfinite(ll).all()


@pytest.mark.parametrize("values, key", [
    ({"noise_schedule": "sigmoid"}, "noise_schedule"),
    ({"prediction": "x0"}, "prediction"),
    ({"bound_timesteps": 0}, "bound_timesteps"),
    ({"beta_end": 0.05}, "beta_start and model.beta_end set the linear"),
])
def test_bad_options_are_refused_naming_them(values: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        DiffusionPriorConfig(name="diffusion-prior", first_stage="runs/vae", **values).validate()
