"""Prior-guided latent moves (``latent.refine``: SDEdit in code space, Meng et al. 2022) on a
tiny trained VAE and a diffusion prior learned on its codes: the refined rows are the decodes
of the prior's refined codes, refined codes are more probable under the prior and nearer the
training codes, and a model without a diffusion prior or a level outside (0, 1] is refused in
one line, through the API, ``genlab latent --refine`` and a study's ``perturbations.refine``."""

from __future__ import annotations

import json

import pytest
import torch

from genlab.cli.main import main
from genlab.errors import ConfigError
from genlab.evaluation.believability import (
    PerturbationSettings,
    believability_metrics,
    run_experiments,
)
from genlab.evaluation.confidence import mean_max_softmax
from genlab.latent import moves, ops
from genlab.latent.ops import decode, encode
from genlab.latent.refine import refine_levels
from genlab.runs import open_run
from genlab.study.config import study_from_dict
from genlab.training.config import config_dataclass
from refineruns import train_vae_and_prior


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory):
    return train_vae_and_prior(tmp_path_factory.mktemp("refine"))


@pytest.fixture(scope="module")
def prior(runs):
    return open_run(runs["prior"])


@pytest.fixture(scope="module")
def vae(runs):
    return open_run(runs["vae"])


def test_levels_are_checked_before_any_work(prior, vae) -> None:
    m = prior.model
    assert refine_levels(m, None) == [] == refine_levels(m, [])
    assert refine_levels(m, 0.3) == [0.3] and refine_levels(m, [0.2, 1]) == [0.2, 1.0]
    for bad in (1.5, 0, -0.1, True):
        with pytest.raises(ConfigError, match=r"^--refine takes noise levels t\* in \(0, 1\]"):
            refine_levels(m, bad, "--refine")
    with pytest.raises(ConfigError, match=r"^refine needs a model whose prior over its codes "
                       r"is a diffusion \(diffusion-prior, latent-diffusion\); "
                       r"the 'vae' model's is not$"):
        moves.perturb(vae, vae.select("test", 2), [1.0], refine=0.5)


def test_the_model_refines_nearly_nothing_at_small_t_and_samples_at_one(prior) -> None:
    m = prior.model
    z = encode(m, *prior.images("test", torch.arange(50)))
    kept = m.refine(z, 1e-3, None, torch.Generator().manual_seed(0))
    step = float((1 - m.schedule.abar[0]).sqrt())  # the noise of the first level
    assert ((kept - z).abs() / m.code_sd).max() < 10 * step
    fresh = m.refine(z, 1.0, None, torch.Generator().manual_seed(1))
    drawn = m.draw_codes(50, None, torch.Generator().manual_seed(1))
    tol = float(m.schedule.abar[-1].sqrt()) * 10  # x_T weighs sqrt(abar_T) of the code
    torch.testing.assert_close((fresh - drawn) / m.code_sd, torch.zeros_like(z), atol=tol, rtol=0)


def test_refined_perturbations_are_the_decodes_of_the_refined_codes(prior) -> None:
    m, sel, sigmas = prior.model, prior.select("test", 4), [0.5, 2.0]
    result = moves.perturb(prior, sel, sigmas, torch.Generator().manual_seed(0),
                           refine=[0.3, 1.0])
    assert result.numbers["refine"] == [0.3, 1.0]
    assert result.numbers["refined_rows"] == [[4, 5], [6, 7]] and len(result.rows) == 8
    assert result.row_labels[6] == "σ = 0.5\nrefined t*=1"
    gen = torch.Generator().manual_seed(0)  # the same draws, in the same order
    moved = ops.perturb(encode(m, sel.x, sel.y), sigmas, gen)
    for t_star, rows in zip([0.3, 1.0], result.numbers["refined_rows"], strict=True):
        want = decode(m, m.refine(moved.flatten(0, 1), t_star, None, gen)).unflatten(0, (2, 4))
        for i, row in enumerate(rows):
            torch.testing.assert_close(result.rows[row], want[i])
    plain = moves.perturb(prior, sel, sigmas, torch.Generator().manual_seed(0))
    assert "refine" not in plain.numbers and len(plain.rows) == 4
    assert all(torch.equal(a, b) for a, b in zip(plain.rows, result.rows[:4], strict=False))


def test_refined_codes_are_likelier_under_the_prior_and_nearer_the_training_codes(prior):
    """Codes 3 units off (a 2-D VAE's codes have sd about 1) and refined at growing t*: the
    prior's bound on log p(z) rises and the distance to the nearest training code falls."""
    m = prior.model
    z = encode(m, *prior.images("test", torch.arange(200)))
    train = encode(m, *prior.images("train", torch.arange(1000)))
    moved = z + 3 * torch.randn(z.shape, generator=torch.Generator().manual_seed(0))

    @torch.no_grad()
    def log_prior(codes):
        return float(m.log_prior_bound(codes, None, torch.Generator().manual_seed(2)).mean())

    def nearest(codes):
        return float(torch.cdist(codes, train).min(1).values.mean())

    refined = [m.refine(moved, t, None, torch.Generator().manual_seed(1)) for t in (0.3, 0.6, 1)]
    densities = [log_prior(moved), *map(log_prior, refined)]
    distances = [nearest(moved), *map(nearest, refined)]
    assert densities == sorted(densities) and densities[-1] > densities[0] + 5, densities
    assert distances == sorted(distances, reverse=True), distances
    assert distances[-1] < distances[0] / 2, distances


def test_every_move_adds_its_refined_rows(prior) -> None:
    sel, gen = prior.select("test", 3), torch.Generator().manual_seed(0)
    pool = moves.training_codes(prior, 300)
    a, b = prior.select("test", 3, cls="4"), prior.select("test", 3, cls="9")
    results = {
        "interpolate": moves.interpolate(prior, prior.select("test", 1), sel, 4, refine=0.5,
                                         generator=gen),
        "centroid": moves.centroid(prior, sel, [0.5, 1.0], pool, 0.5, gen),
        "toward": moves.toward_class(prior, sel, "7", [0.5, 1.0], generator=gen, pool=pool,
                                     refine=0.5),
        "blend": moves.blend(prior, a, b, 0.6, refine=0.5, generator=gen),
        "arithmetic": moves.arithmetic(prior, a, b, sel, 0.5, gen),
    }
    firsts = {"interpolate": 3, "centroid": 3, "toward": 4, "blend": 5, "arithmetic": 5}
    for name, r in results.items():
        (rows,) = r.numbers["refined_rows"]
        assert rows[0] == firsts[name] and rows[-1] == len(r.rows) - 1, name
        assert all(r.row_labels[i].endswith("refined t*=0.5") for i in rows), name
    assert results["blend"].row_labels[5] == "w = 0.6\nrefined t*=0.5"
    assert results["arithmetic"].row_labels[5] == "A + (B − C)\nrefined t*=0.5"
    strips = results["interpolate"].rows
    assert torch.equal(strips[3][0], strips[0][0])  # each strip starts at its image x
    assert strips[3].shape == strips[0].shape == (6, *prior.model.shape)


def _latent(*argv: str) -> int:
    return main(["latent", *argv])


def test_the_cli_refuses_refine_in_one_line(runs, tmp_path, capsys) -> None:
    out = ["--out", str(tmp_path)]
    assert _latent("perturb", str(runs["vae"]), "--index", "0", "--refine", "0.3", *out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--refine needs a model whose prior" in err[0]
    for argv, words in [(["perturb", "--refine", "1.5"], "argument --refine: expects a number "
                         "> 0 and <= 1, got '1.5'"),
                        (["grid", "--refine", "0.3"], "unrecognized arguments: --refine")]:
        with pytest.raises(SystemExit) as stop:
            _latent(argv[0], str(runs["prior"]), *argv[1:], *out)
        err = capsys.readouterr().err.strip().splitlines()
        assert stop.value.code == 2 and len(err) == 1 and words in err[0], err


@pytest.mark.slow
def test_the_cli_refines_a_blend_and_calls_both(runs, tmp_path) -> None:
    argv = ["blend", str(runs["prior"]), "--a-class", "4", "--b-class", "9", "-n", "3",
            "--refine", "0.5", "--seed", "1", "--out", str(tmp_path)]
    assert _latent(*argv) == 0
    record = json.loads((tmp_path / "blend.json").read_text())
    assert record["refine"] == [0.5] and record["refined_rows"] == [[5]]
    called = record["called"]
    (refined,) = called["refined"]
    assert refined["t_star"] == 0.5 and sum(refined["counts"].values()) == called["images"] == 3
    assert _latent("interpolate", str(runs["prior"]), "--index", "0", "--to", "1,2", "--steps",
                   "3", "--refine", "1", "--out", str(tmp_path)) == 0
    assert json.loads((tmp_path / "interpolate.json").read_text())["refined_rows"] == [[2, 3]]


def test_the_study_setting_takes_one_level_or_a_list() -> None:
    assert PerturbationSettings(refine=0.3).refine == [0.3]
    assert PerturbationSettings().refine == []
    parsed = config_dataclass(PerturbationSettings, {"refine": [0.2, 1]}, "perturbations")
    assert parsed.refine == [0.2, 1.0]
    study = study_from_dict({"models": [{"label": "vae", "config": {"model": {"name": "vae"}}}],
                            "perturbations": {"refine": 0.5}})
    assert study.perturbations.refine == [0.5]
    with pytest.raises(ConfigError, match=r"^perturbations.refine takes noise levels t\* in "
                       r"\(0, 1\].*got 0.0$"):
        config_dataclass(PerturbationSettings, {"refine": 0}, "perturbations")
    with pytest.raises(ConfigError, match="perturbations.refine"):
        config_dataclass(PerturbationSettings, {"refine": "high"}, "perturbations")


def _brightness(images: torch.Tensor) -> torch.Tensor:
    """A stand-in classifier: ten classes by mean brightness, softly."""
    logits = -((images.flatten(1).mean(1, keepdim=True) * 30 - torch.arange(10)) ** 2)
    return logits.softmax(1)


def test_a_study_refines_the_models_that_can_and_scores_both(prior, vae) -> None:
    s = PerturbationSettings(images=4, sigmas=[1.0, 2.0], alphas=[1.0], source_class="4",
                             target_class="9", centroid_images=200, refine=[0.5])
    plain = run_experiments(vae, s)
    assert "diffusion prior" in plain.skipped.pop("refine") and plain.skipped == {}
    assert all("refine" not in r.numbers for r in plain.values())
    done = run_experiments(prior, s)
    assert set(done) == {"perturb", "toward_class", "centroid", "blend"} and not done.skipped
    out = believability_metrics(prior, _brightness, s, experiments=done)
    perturb = done["perturb"]
    (level,) = out["perturb"]["refined"]
    want = [mean_max_softmax(_brightness(perturb.rows[i]))
            for i in perturb.numbers["refined_rows"][0]]
    assert level["t_star"] == 0.5 and level["mean_max_softmax"] == want
    assert out["perturb"]["mean_max_softmax"] == [
        mean_max_softmax(_brightness(row)) for row in perturb.rows[2:4]]
    for move in ("toward_class", "centroid", "blend"):
        assert out[move]["refined"][0]["t_star"] == 0.5, move
    assert sum(out["blend"]["refined"][0]["counts"].values()) == out["blend"]["images"]
