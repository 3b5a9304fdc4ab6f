"""Perturbation noise: absolute or relative to each model's code spread, with a mean.

The unit of relative noise is checked against an independent encoding of the same training
images; the point of it, that models coding on different scales get comparable image changes
from one sigma, is checked on the AE and PCA of the shared fixtures.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genlab.errors import ConfigError
from genlab.evaluation.believability import PerturbationSettings, run_experiments
from genlab.latent import encode, ops
from genlab.latent import experiments as ex
from genlab.latent.noise import CodeNoise, noise_unit
from genlab.study.config import load_study, settings_of

CONFIGS = Path(__file__).parents[2] / "configs"


def gen(seed: int = 0) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def image_change(trained, scale: str, sigma: float = 1.0) -> float:
    """Mean pixel MSE between the decodes of noisy codes and the reconstructions."""
    sel = trained.run.select("test", n=64)
    result = ex.perturb(trained.run, sel, [sigma], gen(), noise=CodeNoise(scale))
    return float(result.numbers["pixel_mse_vs_reconstruction"][0].mean())


def test_ops_perturb_is_z_plus_unit_times_mean_plus_sigma_eps():
    z = torch.randn(5, 3, generator=gen(1))
    unit = torch.tensor([0.5, 2.0, 0.0])
    moved = ops.perturb(z, [0.0, 1.5], gen(2), mean=0.25, unit=unit)
    eps = torch.randn(5, 3, generator=gen(2))  # the same draw, made independently
    torch.testing.assert_close(moved[0], z + unit * 0.25)
    torch.testing.assert_close(moved[1], z + unit * (0.25 + 1.5 * eps))
    assert torch.equal(moved[:, :, 2], z[:, 2].expand(2, 5))  # a dimension of sd 0 stays put
    # the defaults are the old absolute noise, bit for bit
    assert torch.equal(ops.perturb(z, [1.5], gen(2))[0], z + 1.5 * eps)


def test_relative_unit_is_the_sd_of_the_training_codes(ae):
    run, noise = ae.run, CodeNoise("relative", spread_images=300)
    unit, numbers = noise_unit(run, noise)
    split = run.config.data.train_split
    x, y = run.images(split, torch.tensor(run.spread(split, 300)))
    expected = encode(run.model, x, y).std(0)
    torch.testing.assert_close(unit, expected)
    assert numbers["spread_from"] == "training codes" and numbers["spread_codes"] == 300
    assert noise_unit(run, CodeNoise())[0] == 1.0


def test_relative_sigma_gives_ae_and_pca_comparable_image_change(ae, pca):
    """Absolute sigma = 1 changes PCA's images several times more than the AE's (their codes
    have different spreads); in units of each model's code sd the change is about equal."""
    absolute = image_change(pca, "absolute") / image_change(ae, "absolute")
    relative = image_change(pca, "relative") / image_change(ae, "relative")
    assert absolute > 3
    assert 1 / 1.5 < relative < 1.5


def test_a_noise_mean_shifts_every_code_value(ae):
    sel = ae.run.select("test", n=4)
    d = ae.model.latent_dim
    shifted = ex.perturb(ae.run, sel, [0.0], gen(), noise=CodeNoise(mean=0.5))
    torch.testing.assert_close(shifted.numbers["code_shift_norm"][0],
                               torch.full((4,), 0.5 * d ** 0.5))
    relative = ex.perturb(ae.run, sel, [0.0], gen(),
                          noise=CodeNoise("relative", mean=-2.0, spread_images=200))
    sd, _ = noise_unit(ae.run, CodeNoise("relative", spread_images=200))
    torch.testing.assert_close(relative.numbers["code_shift_norm"][0],
                               (2.0 * sd).norm().expand(4))
    assert relative.title == "z + sd ⊙ N(-2, σ²I)" and relative.row_labels[2] == "σ = 0 sd"
    assert relative.numbers["noise_mean"] == -2.0


@pytest.mark.parametrize("kwargs, key", [
    ({"scale": "log"}, "sigma_scale"),
    ({"mean": float("nan")}, "noise_mean"),
    ({"scale": "relative", "spread_images": 1}, "centroid_images"),
])
def test_bad_noise_is_refused_naming_the_key(kwargs, key):
    with pytest.raises(ConfigError, match=key):
        CodeNoise(**kwargs)


def test_study_settings_take_the_scale_and_the_mean(ae):
    with pytest.raises(ConfigError, match="perturbations.sigma_scale"):
        PerturbationSettings(sigma_scale="bogus")
    s = PerturbationSettings(images=4, sigmas=[1.0], sigma_scale="relative", noise_mean=0.5,
                             centroid_images=200, source_class="0", target_class="1")
    result = run_experiments(ae.run, s)["perturb"]
    assert result.numbers["noise_scale"] == "relative" and result.numbers["noise_mean"] == 0.5
    # the unit is the spread of the pool the class moves encode
    torch.testing.assert_close(result.numbers["mean_code_sd"],
                               noise_unit(ae.run, s.code_noise)[0].mean())


@pytest.mark.parametrize("path", sorted(CONFIGS.glob("study_*.yaml")), ids=lambda p: p.name)
def test_shipped_studies_perturb_with_relative_noise(path):
    study, _ = load_study(path)
    assert {settings_of(study, m).perturbations.sigma_scale for m in study.models} == {
        "relative"}
