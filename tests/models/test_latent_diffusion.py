"""Latent diffusion (``latent-diffusion``) over a KL-autoencoder's code grid: the paper's scale
factor from the first batch, samples that decode the drawn codes, guidance, the two-stage
likelihood against a direct loop on the same draws, the prior's bound against the closed-form
density of Gaussian codes (its scale's log-Jacobian included), the first stage's codes for the
latent tools, and first stages refused in one line."""

from __future__ import annotations

import copy
import math
import shutil
from pathlib import Path

import pytest
import torch
from torch import Tensor
from torch.distributions import Normal, kl_divergence

import genlab
from genlab.errors import ConfigError
from genlab.latent import ops
from genlab.models.families.two_stage.latent_diffusion import LatentDiffusionConfig
from genlab.models.parts.diffusion.continuous_bound import strata
from genlab.models.registry import build_model

DATA = {"dataset": "mnist-mini", "binarize": "dynamic", "val_size": 9000, "size": 8}
TRAIN = {"epochs": 1, "batch_size": 100, "progress": False, "seed": 0, "device": "cpu",
         "epoch_samples": 0}
STAGE = {"name": "kl-ae", "channels": [4, 8], "latent_channels": 2}
LDM = {"name": "latent-diffusion", "timesteps": 30, "channels": [8, 16], "res_blocks": 1,
       "attention": False, "bound_timesteps": 4}
GRID = (2, 4, 4)


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("ldm")
    out = {"ae": genlab.train({"model": STAGE, "data": DATA, "train": TRAIN},
                              out=root / "ae").run_dir}
    out["vae"] = genlab.train({"model": {"name": "vae", "hidden": [16], "latent_dim": 2},
                               "data": DATA, "train": TRAIN}, out=root / "vae").run_dir
    out["ldm"] = genlab.train({"model": {**LDM, "first_stage": str(out["ae"])}, "data": DATA,
                               "train": {**TRAIN, "epochs": 2}}, out=root / "ldm").run_dir
    return out


def _ldm_on(stage: Path, **data) -> dict:
    return {"model": {**LDM, "first_stage": str(stage)}, "data": {**DATA, **data},
            "train": TRAIN}


def test_the_scale_factor_is_one_over_the_sd_of_the_first_batch_codes(
        runs: dict[str, Path]) -> None:
    stage = genlab.load(runs["ae"]).model
    config = LatentDiffusionConfig(**{**LDM, "first_stage": str(runs["ae"])})
    model = build_model(config, (1, 8, 8), 10, {"first_stage": stage})
    x = genlab.load(runs["ae"]).select(split="train", n=50).x
    torch.manual_seed(0)
    model.standardise_by(x)
    torch.manual_seed(0)
    with torch.no_grad():
        codes = stage.encode(x).sample()
    assert model.code_sd.shape == GRID and torch.equal(model.code_mean, torch.zeros(GRID))
    torch.testing.assert_close(model.code_sd, codes.std().expand(GRID))
    assert model.scale_factor == pytest.approx(1 / float(codes.std()), rel=1e-6)
    trained = genlab.load(runs["ldm"]).model  # set from its first batch, kept after
    assert float(trained.code_count) == TRAIN["batch_size"]
    torch.testing.assert_close(trained.scale_factor, model.scale_factor, rtol=0.2, atol=0)


def test_samples_decode_the_drawn_codes_and_guidance_changes_them(
        runs: dict[str, Path]) -> None:
    run, stage = genlab.load(runs["ldm"]), genlab.load(runs["ae"]).model
    model = run.model
    assert model.latent_space.shape == GRID and model.latent_space == stage.latent_space
    options = {"sampler": "dpm-solver++", "steps": 6}
    images = run.sample(4, seed=1, options=options)
    z4 = model.draw_codes(4, model.labels_for(4, None), torch.Generator().manual_seed(1),
                          model.sample_options(**options))
    assert z4.shape == (4, *GRID)
    with torch.no_grad():
        torch.testing.assert_close(images, stage.decode(z4).mean.clamp(0, 1))
    guided = run.sample(4, seed=1, options={**options, "guidance": 2.0})
    assert guided.shape == images.shape and not torch.equal(guided, images)


def _direct_log_weights(model, x: Tensor, y: Tensor, z: Tensor, kl_t: Tensor,
                        noise: Tensor) -> Tensor:
    """log p(x | z) + bound(z) - log q(z | x) per draw and image, looped over draws, images
    and timesteps with the closed forms written out (Ho et al. 2020, eqs. 4-13) on the code
    grid, u = z / s."""
    betas = model.schedule.betas
    abar = torch.cumprod(1 - betas, 0)
    sizes = strata(model.config.bound_timesteps, model.schedule.steps).diff().double()
    q = model.stage.encode(x)
    s = float(model.code_sd.flatten()[0])
    k, n, dims = z.shape
    out = torch.empty(k, n, dtype=torch.float64)
    for i in range(k):
        for j in range(n):
            u = z[i, j].double().view(GRID) / s
            bound = kl_divergence(Normal(abar[-1].sqrt() * u, (1 - abar[-1]).sqrt()),
                                  Normal(0.0, 1.0)).sum()
            row = i * n + j
            for col in range(noise.shape[1]):
                t = 0 if col == 0 else int(kl_t[row, col - 1])
                weight = 1.0 if col == 0 else float(sizes[col - 1])
                xt = abar[t].sqrt() * u + (1 - abar[t]).sqrt() * noise[row, col]
                v = model.net(xt.float()[None], torch.tensor([t]), y[j].view(1))[0].double()
                eps = abar[t].sqrt() * v + (1 - abar[t]).sqrt() * xt  # v-prediction
                mean = (xt - betas[t] / (1 - abar[t]).sqrt() * eps) / (1 - betas[t]).sqrt()
                if t == 0:
                    term = -Normal(mean, betas[0].sqrt()).log_prob(u).sum()
                else:
                    post = (abar[t - 1].sqrt() * betas[t] * u + (1 - betas[t]).sqrt()
                            * (1 - abar[t - 1]) * xt) / (1 - abar[t])
                    post_sd = ((1 - abar[t - 1]) / (1 - abar[t]) * betas[t]).sqrt()
                    term = kl_divergence(Normal(post, post_sd),
                                         Normal(mean, betas[t].sqrt())).sum()
                bound = bound + weight * term
            log_pz = -bound - dims * math.log(s)
            log_px = model.stage.decode(z[i, j][None]).log_prob(x[j][None]).double()[0]
            log_q = Normal(q.mean[j], q.stddev[j]).log_prob(z[i, j]).sum().double()
            out[i, j] = log_px + log_pz - log_q
    return out


def test_the_likelihood_is_the_direct_loop_on_the_same_draws(runs: dict[str, Path]) -> None:
    run = genlab.load(runs["ldm"])
    model, sel = run.model, run.select(split="test", n=3)
    k, m = 3, model.config.bound_timesteps
    torch.manual_seed(3)
    estimate = model.log_likelihood(sel.x, sel.y, k=k)
    torch.manual_seed(3)  # the draws in their documented order
    with torch.no_grad():
        z = model.stage.encode(sel.x).sample((k,))
        uniform = torch.rand(k * len(sel.x), m, dtype=torch.float64)  # stratified_timesteps'
        edges = strata(m, model.schedule.steps)
        widths = edges.diff()
        kl_t = edges[:-1] + torch.minimum((uniform * widths).floor().long(), widths - 1)
        noise = torch.randn(k * len(sel.x), m + 1, *GRID, dtype=torch.float64)
        direct = _direct_log_weights(model, sel.x, sel.y, z, kl_t, noise)
    torch.testing.assert_close(estimate, direct.mean(0), rtol=1e-6, atol=1e-4)
    assert "ELBO averaged over k = 3" in model.likelihood_method(3)


def test_the_prior_bound_is_a_density_of_the_unscaled_code_grid(runs: dict[str, Path]) -> None:
    """With the exact denoiser of N(mu, sd^2) scaled codes, the bound of z = s u is the
    log-density of N(s mu, (s sd)^2), its -D log s included (D = 32: -22 nats at s = 2)."""
    model = copy.deepcopy(genlab.load(runs["ldm"]).model)
    model.code_sd.fill_(2.0)
    gen = torch.Generator().manual_seed(2)
    mu = torch.randn(GRID, generator=gen, dtype=torch.float64)
    sd = 0.5 + torch.rand(GRID, generator=gen, dtype=torch.float64)
    abar = model.schedule.abar

    def exact(xt: Tensor, t: Tensor, y: Tensor | None) -> Tensor:
        a = abar[t].view(-1, 1, 1, 1)
        eps = (1 - a).sqrt() * (xt.double() - a.sqrt() * mu) / (a * sd ** 2 + 1 - a)
        x0 = (xt.double() - (1 - a).sqrt() * eps) / a.sqrt()
        return (a.sqrt() * eps - (1 - a).sqrt() * x0).float()  # v

    model.denoiser = exact
    model.config.bound_timesteps = model.schedule.steps
    u = mu + sd * torch.randn(2000, *GRID, generator=gen, dtype=torch.float64)
    truth = Normal(2 * mu, 2 * sd).log_prob(2 * u).flatten(1).sum(1)
    gap = model.log_prior_bound(2 * u, None, gen) - truth
    # T = 30 leaves a small fixed-variance gap (bound below the density); a missing
    # log-Jacobian would be off by 32 log 2 = 22 nats.
    assert -2.0 < gap.mean() < 3 * gap.std() / math.sqrt(len(gap)), gap.mean()


def test_the_latent_tools_move_through_the_first_stage_codes(runs: dict[str, Path]) -> None:
    run, stage = genlab.load(runs["ldm"]), genlab.load(runs["ae"]).model
    sel = run.select(split="test", n=2)  # a conditional model's images need their labels
    codes = ops.encode(run.model, sel.x, sel.y)
    assert codes.shape == (2, *GRID)
    with torch.no_grad():
        assert torch.equal(codes, stage.encode_mean(sel.x).view(2, *GRID))
        torch.testing.assert_close(ops.decode(run.model, codes, sel.y),
                                   stage.decode(codes).mean.clamp(0, 1))


def test_refine_brings_code_grids_back_in_their_shape(runs: dict[str, Path]) -> None:
    """SDEdit over the code grid (``CodeDiffusion.refine``): t* -> 0 nearly keeps the grid
    (one step of 30 of a barely trained denoiser), t* = 1 is nearly the prior draw from the
    same noise, each in the grid's shape."""
    model = genlab.load(runs["ldm"]).model
    z, y = torch.randn(3, *GRID, generator=torch.Generator().manual_seed(1)), torch.arange(3)
    kept = model.refine(z, 1e-3, y, torch.Generator().manual_seed(0))
    fresh = model.refine(z, 1.0, y, torch.Generator().manual_seed(0))
    assert kept.shape == fresh.shape == z.shape
    assert (kept - z).abs().mean() < 0.2 * (fresh - z).abs().mean()
    drawn = model.draw_codes(3, y, torch.Generator().manual_seed(0))
    # x_T still holds sqrt(abar_T) of the code (T = 30): near the draw, far from the code
    assert (fresh - drawn).abs().mean() < 0.2 * (fresh - z).abs().mean()


def test_first_stages_it_cannot_use_are_refused_in_one_line(runs: dict[str, Path],
                                                            tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"latent-diffusion needs a first stage with \(c, h, "
                                          r"w\) code grids, but the 'vae' model's are "
                                          r"continuous \(2,\)"):
        genlab.train(_ldm_on(runs["vae"]), out=tmp_path / "on-vae")
    prior = {"name": "diffusion-prior", "first_stage": str(runs["ae"]), "width": 8,
             "blocks": 1}
    with pytest.raises(ConfigError, match=r"needs a first stage with flat codes, but the "
                                          r"'kl-ae' model's are continuous \(2, 4, 4\)"):
        genlab.train({"model": prior, "data": DATA, "train": TRAIN}, out=tmp_path / "prior")
    unfinished = tmp_path / "unfinished"
    shutil.copytree(runs["ae"], unfinished)
    (unfinished / "summary.json").unlink()
    with pytest.raises(ConfigError, match="has not finished training"):
        genlab.train(_ldm_on(unfinished), out=tmp_path / "on-unfinished")
    with pytest.raises(ConfigError, match="data.size"):
        genlab.train(_ldm_on(runs["ae"], size=16), out=tmp_path / "other-size")


@pytest.mark.parametrize("values, key", [
    ({"channels": []}, "channels"),
    ({"label_dropout": 1.0}, "label_dropout"),
    ({"res_blocks": 0}, "res_blocks"),
    ({"bound_timesteps": 0}, "bound_timesteps"),
    ({"beta_end": 0.05}, "beta_start and model.beta_end set the linear"),
])
def test_bad_options_are_refused_naming_them(values: dict, key: str) -> None:
    with pytest.raises(ConfigError, match=key):
        LatentDiffusionConfig(name="latent-diffusion", first_stage="runs/ae", **values).validate()
