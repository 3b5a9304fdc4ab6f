"""Believability of reconstructions, of the three latent perturbations and of the blend."""

from __future__ import annotations

import pytest
import torch

from genlab.errors import ConfigError
from genlab.evaluation.believability import (
    Experiments,
    PerturbationSettings,
    believability_metrics,
    class_blend,
    run_experiments,
    score_experiments,
)
from genlab.evaluation.classifier import load_classifier
from genlab.latent.results import ExperimentResult
from genlab.runs import open_run

SMALL = PerturbationSettings(images=10, sigmas=[0.5, 2.0], alphas=[0.5, 1.0],
                             source_class="4", target_class="9")


def brightness_probs(images: torch.Tensor) -> torch.Tensor:
    """A fake classifier: class 9 for bright images, class 0 for dark ones, always sure."""
    bright = images.flatten(1).mean(1) > 0.5
    return torch.nn.functional.one_hot(torch.where(bright, 9, 0), 10).double()


def test_scores_follow_the_definitions_exactly() -> None:
    dark, bright = torch.zeros(4, 1, 2, 2), torch.ones(4, 1, 2, 2)
    half = torch.cat([dark[:2], bright[:2]])
    results = Experiments()
    results["toward_class"] = ExperimentResult(
        [dark, bright, half, bright], None, None, "t",
        {"alphas": [0.5, 1.0], "target_class": 9, "target_name": "9",
         "labels": torch.full((4,), 4)})
    results["perturb"] = ExperimentResult(
        [dark, dark, half, bright], None, None, "p",
        {"sigmas": [1.0, 2.0], "codes_from": "encoder"})
    results.skipped["centroid"] = "why not"

    class FakeRun:
        def class_name(self, k: int) -> str:
            return str(k)

    out = score_experiments(FakeRun(), brightness_probs, results)  # type: ignore[arg-type]
    assert out["toward_class"]["target_accuracy"] == [0.5, 1.0]
    assert out["toward_accuracy"] == 1.0 and out["toward_class"]["source"] == "4"
    assert out["perturb"]["mean_max_softmax"] == [1.0, 1.0] and out["perturb_confidence"] == 1.0
    assert out["skipped"] == {"centroid": "why not"} and "centroid_confidence" not in out


def test_blends_are_called_source_target_or_other_by_the_classifier() -> None:
    """Four blends of class-4 (A) and class-9 (B) images: the fake classifier calls bright ones
    9 and dark ones 0, so two are called the target, none the source, two another class."""
    dark, bright = torch.zeros(4, 1, 2, 2), torch.ones(4, 1, 2, 2)
    results = Experiments()
    results["blend"] = ExperimentResult(
        [dark, dark, bright, bright, torch.cat([dark[:2], bright[:2]])], None, None, "b",
        {"w": 0.6, "a_labels": torch.full((4,), 4), "b_labels": torch.full((4,), 9)})

    class FakeRun:
        def class_name(self, k: int) -> str:
            return f"c{k}"

    out = score_experiments(FakeRun(), brightness_probs, results)  # type: ignore[arg-type]
    blend = out["blend"]
    assert blend["counts"] == {"source": 0, "target": 2, "other": 2}
    assert (blend["source"], blend["target"], blend["weight"]) == ("c4", "c9", 0.6)
    assert blend["share_target"] == 0.5 and blend["share_other"] == 0.5
    assert out["blend_parent_share"] == 0.5


def test_a_blend_weight_outside_the_unit_interval_is_refused() -> None:
    with pytest.raises(ConfigError, match="blend_weight must lie in"):
        PerturbationSettings(blend_weight=1.5)


def test_a_vae_runs_all_four_on_the_chosen_images(runs, tiny_classifier) -> None:
    run = open_run(runs["vae"])
    experiments = run_experiments(run, SMALL)
    assert set(experiments) == {"perturb", "toward_class", "centroid", "blend"}
    blend = experiments["blend"]
    assert bool((blend.numbers["a_labels"] == 4).all())
    assert bool((blend.numbers["b_labels"] == 9).all()) and len(blend.rows[-1]) == 10
    assert experiments.skipped == {}
    toward = experiments["toward_class"]
    assert bool((toward.numbers["labels"] == 4).all()) and len(toward.rows) == 2 + 2
    assert len(experiments["perturb"].rows) == 2 + 2 and len(experiments["centroid"].rows[0]) == 10
    clf = load_classifier(tiny_classifier)
    out = believability_metrics(run, clf.probs, SMALL, experiments=experiments)
    for key in ("recon_confidence", "perturb_confidence", "toward_accuracy",
                "centroid_confidence", "recon_class_accuracy", "blend_parent_share"):
        assert 0 <= out[key] <= 1, key
    assert out["settings"]["sigmas"] == [0.5, 2.0] and out["images"] == 10
    assert len(out["centroid"]["own_class_accuracy"]) == 2
    assert sum(out["blend"]["counts"].values()) == out["blend"]["images"] == 10


def test_both_class_moves_share_one_pool_of_centroid_images_training_codes(runs, monkeypatch):
    import genlab.evaluation.believability as believability

    run, calls = open_run(runs["vae"]), []

    def counted(run, limit):
        calls.append(limit)
        return real(run, limit)

    real = believability.training_codes
    monkeypatch.setattr(believability, "training_codes", counted)
    settings = PerturbationSettings(images=10, sigmas=[1.0], alphas=[1.0], source_class="4",
                                    target_class="9", centroid_images=120)
    experiments = run_experiments(run, settings)
    assert calls == [120]  # encoded once, for the centroid and the move toward a class
    assert int(experiments["centroid"].numbers["centroid_images_per_class"].sum()) == 120


def test_a_centroid_pool_of_no_images_is_refused() -> None:
    with pytest.raises(ConfigError, match="centroid_images must be a positive"):
        PerturbationSettings(centroid_images=0)


def test_the_same_seed_gives_the_same_perturbations(runs) -> None:
    run = open_run(runs["vae"])
    a, b = run_experiments(run, SMALL), run_experiments(run, SMALL)
    assert torch.equal(a["toward_class"].rows[-1], b["toward_class"].rows[-1])
    assert torch.equal(a["perturb"].rows[-1], b["perturb"].rows[-1])


def test_the_class_mean_has_no_latent_space_to_move_in(runs, tiny_classifier) -> None:
    run = open_run(runs["mean"])
    out = believability_metrics(run, load_classifier(tiny_classifier).probs, SMALL)
    assert set(out["skipped"]) == {"perturb", "toward_class", "centroid", "blend"}
    assert "no latent space" in out["skipped"]["perturb"]
    assert 0 <= out["recon_confidence"] <= 1  # it does reconstruct (the class mean)


@pytest.mark.slow
def test_a_gan_is_perturbed_around_inverted_codes(gan_run, tiny_classifier) -> None:
    settings = PerturbationSettings(images=3, sigmas=[1.0], alphas=[1.0])
    out = believability_metrics(gan_run, load_classifier(tiny_classifier).probs, settings)
    assert out["perturb"]["codes_from"] != "encoder" and out["perturb"]["images"] == 3
    assert "encoder" in out["skipped"]["centroid"] and "encoder" in out["skipped"]["toward_class"]
    assert "encoder" in out["skipped"]["blend"]
    assert "reconstruct" in out["skipped"]["reconstruction"]


def test_a_class_blend_pairs_as_many_images_as_the_smaller_class_has(runs) -> None:
    run = open_run(runs["vae"])
    fours = len(run.select("test", n=10_000, cls="4"))
    nines = len(run.select("test", n=10_000, cls="9"))
    result = class_blend(run, PerturbationSettings(images=10_000, source_class="4",
                                                   target_class="9"), "test")
    assert len(result.rows[-1]) == min(fours, nines) and fours != nines
