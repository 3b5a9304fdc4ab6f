"""Believability of reconstructions and of the three latent perturbations."""

from __future__ import annotations

import pytest
import torch

from genlab.evaluation.believability import (
    Experiments,
    PerturbationSettings,
    believability_metrics,
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


def test_a_vae_runs_all_three_on_the_chosen_images(runs, tiny_classifier) -> None:
    run = open_run(runs["vae"])
    experiments = run_experiments(run, SMALL)
    assert set(experiments) == {"perturb", "toward_class", "centroid"}
    assert experiments.skipped == {}
    toward = experiments["toward_class"]
    assert bool((toward.numbers["labels"] == 4).all()) and len(toward.rows) == 2 + 2
    assert len(experiments["perturb"].rows) == 2 + 2 and len(experiments["centroid"].rows[0]) == 10
    clf = load_classifier(tiny_classifier)
    out = believability_metrics(run, clf.probs, SMALL, experiments=experiments)
    for key in ("recon_confidence", "perturb_confidence", "toward_accuracy",
                "centroid_confidence", "recon_class_accuracy"):
        assert 0 <= out[key] <= 1, key
    assert out["settings"]["sigmas"] == [0.5, 2.0] and out["images"] == 10
    assert len(out["centroid"]["own_class_accuracy"]) == 2


def test_the_same_seed_gives_the_same_perturbations(runs) -> None:
    run = open_run(runs["vae"])
    a, b = run_experiments(run, SMALL), run_experiments(run, SMALL)
    assert torch.equal(a["toward_class"].rows[-1], b["toward_class"].rows[-1])
    assert torch.equal(a["perturb"].rows[-1], b["perturb"].rows[-1])


def test_the_class_mean_has_no_latent_space_to_move_in(runs, tiny_classifier) -> None:
    run = open_run(runs["mean"])
    out = believability_metrics(run, load_classifier(tiny_classifier).probs, SMALL)
    assert set(out["skipped"]) == {"perturb", "toward_class", "centroid"}
    assert "no latent space" in out["skipped"]["perturb"]
    assert 0 <= out["recon_confidence"] <= 1  # it does reconstruct (the class mean)


@pytest.mark.slow
def test_a_gan_is_perturbed_around_inverted_codes(gan_run, tiny_classifier) -> None:
    settings = PerturbationSettings(images=3, sigmas=[1.0], alphas=[1.0])
    out = believability_metrics(gan_run, load_classifier(tiny_classifier).probs, settings)
    assert out["perturb"]["codes_from"] != "encoder" and out["perturb"]["images"] == 3
    assert "encoder" in out["skipped"]["centroid"] and "encoder" in out["skipped"]["toward_class"]
    assert "reconstruct" in out["skipped"]["reconstruction"]
