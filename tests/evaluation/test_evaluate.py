"""evaluate_run on small runs of each kind: what each can do is measured, the rest skipped."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from genlab.errors import ConfigError
from genlab.evaluation import classifier as classifier_module
from genlab.evaluation import evaluate as ev
from genlab.evaluation.classifier import ClassifierConfig, ClassifierNet, save_classifier
from genlab.evaluation.registry import DEFAULT_METRICS, EIGHT_BIT, REGISTRY, likelihood_scale
from genlab.io import write_json
from genlab.models.registry import MODELS, build_model
from genlab.runs import Run, open_run
from genlab.training.config import config_from_dict

SMALL = {"n": 120, "nll_images": 16, "iw_samples": 40}


def test_a_vae_gets_every_metric(runs, tiny_classifier: Path, tmp_path: Path) -> None:
    result = ev.evaluate_run(open_run(runs["vae"]), classifier=tiny_classifier, **SMALL)
    m = result["metrics"]
    assert set(m) == set(DEFAULT_METRICS) and result["skipped"] == {}
    nll = m["nll"]
    assert nll["images"] == 16 and nll["binarize"] == "dynamic" and "k = 40" in nll["nll_method"]
    assert 0 < nll["nll_nats"] < nll["neg_elbo_nats"] + 1.0  # IS bound >= ELBO, up to noise
    assert nll["nll_bpd"] == pytest.approx(nll["nll_nats"] / (784 * math.log(2)))
    assert 0 < m["recon"]["mse"] < 1 and m["recon"]["psnr_db"] > 0 and m["recon"]["images"] == 120
    assert m["fid"]["fid"] > 0 and m["fid"]["feature_space"] == "fid-tiny"
    assert m["fid"]["samples"] == 120 and m["fid"]["real"] == 2000
    assert all(0 <= m["pr"][key] <= 1 for key in ("precision", "recall", "coverage"))
    assert m["pr"]["real"] == 120
    assert 1 <= m["is"]["is"] <= 10
    assert "target_accuracy" not in m["confidence"]  # unconditional
    write_json(tmp_path / "e.json", result)  # every value is JSON-able
    assert json.loads((tmp_path / "e.json").read_text())["metrics"]["kid"]["kid_std"] >= 0


def test_pca_likelihood_is_exact(runs) -> None:
    result = ev.evaluate_run(open_run(runs["pca"]), metrics=["nll", "recon"], **SMALL)
    nll = result["metrics"]["nll"]
    assert nll["nll_method"] == "exact (probabilistic PCA)"
    assert nll["likelihood"] == "gaussian (probabilistic PCA)"
    assert "neg_elbo_nats" not in nll and "density" in nll["note"]
    assert nll["scale"] == "density, binarisation none, 8-bit dequantised"
    assert likelihood_scale(result["metrics"]) == EIGHT_BIT
    assert nll["nll_8bit_bpd"] == pytest.approx(nll["nll_bpd"] + 8)  # + D log 256 nats
    assert nll["nll_bpd_sem"] == pytest.approx(nll["nll_sem"] / (784 * math.log(2)))
    assert result["metrics"]["recon"]["mse"] < 0.05


def test_the_class_mean_has_no_likelihood_but_targets_classes(runs, tiny_classifier) -> None:
    result = ev.evaluate_run(open_run(runs["mean"]), metrics=["nll", "confidence", "recon"],
                             classifier=tiny_classifier, **SMALL)
    run = open_run(runs["mean"])
    assert result["skipped"]["nll"] == REGISTRY["nll"].unmet(run.model)  # the declaration's
    assert result["skipped"]["nll"].endswith("the 'mean' model has no likelihood")
    assert set(result["metrics"]) == {"confidence", "recon"}
    assert 0 <= result["metrics"]["confidence"]["target_accuracy"] <= 1


def test_a_conditional_vae_is_scored_per_class(runs, tiny_classifier) -> None:
    result = ev.evaluate_run(open_run(runs["cvae"]), metrics=["nll", "confidence"],
                             classifier=tiny_classifier, **SMALL)
    assert "target_accuracy" in result["metrics"]["confidence"]
    assert result["metrics"]["nll"]["nll_nats"] > 0


def test_a_gan_only_gets_sample_metrics(gan_run, tiny_classifier) -> None:
    result = ev.evaluate_run(gan_run, metrics=["nll", "recon", "fid", "kid"],
                             classifier=tiny_classifier, **SMALL)
    assert result["skipped"] == {m: REGISTRY[m].unmet(gan_run.model) for m in ("nll", "recon")}
    assert result["skipped"]["recon"].endswith("the 'gan' model has no reconstruction")
    assert set(result["metrics"]) == {"fid", "kid"}
    assert ev.summary(result) == {"nll_8bit_bpd": None, "neg_elbo_8bit_bpd": None,
                                  "nll_nats": None, "neg_elbo_nats": None,
                                  "mse": None, "psnr_db": None,
                                  "fid": result["metrics"]["fid"]["fid"],
                                  "kid": result["metrics"]["kid"]["kid"]}


def test_sample_metrics_need_a_classifier_of_the_right_shape(runs, tmp_path, monkeypatch) -> None:
    colour = save_classifier(ClassifierNet(ClassifierConfig(3, 32, widths=[4], convs=[1])),
                             tmp_path / "colour.safetensors", {})
    run = open_run(runs["vae"])
    result = ev.evaluate_run(run, metrics=["fid", "pr"], classifier=colour, **SMALL)
    assert result["metrics"] == {} and "takes (3, 32, 32) images" in result["skipped"]["fid"]
    monkeypatch.setattr(classifier_module, "default_classifier", lambda shape: None)
    result = ev.evaluate_run(run, metrics=["kid"], **SMALL)
    assert "genlab classifier train" in result["skipped"]["kid"]


def test_seeded_and_cached(runs, tiny_classifier, stats_cache: Path) -> None:
    run = open_run(runs["vae"])
    a = ev.evaluate_run(run, metrics=["fid", "kid"], classifier=tiny_classifier, **SMALL)
    b = ev.evaluate_run(run, metrics=["fid", "kid"], classifier=tiny_classifier, **SMALL)
    assert len(list(stats_cache.iterdir())) == 2  # the test images and the training floor
    assert ev.summary(a) == ev.summary(b)


def test_unknown_metrics_are_refused(runs) -> None:
    with pytest.raises(ConfigError, match="unknown metric 'fidd'"):
        ev.evaluate_run(open_run(runs["vae"]), metrics=["fidd"])


def test_fid_kid_and_pr_come_with_their_real_vs_real_floor(gan_run, tiny_classifier) -> None:
    """Training images in place of samples: far closer to the test images than an untrained
    generator's, measured with the same estimator and count."""
    result = ev.evaluate_run(gan_run, metrics=["fid", "kid", "pr"], classifier=tiny_classifier,
                             **SMALL)
    m = result["metrics"]
    assert 0 <= m["fid"]["real_fid"] < m["fid"]["fid"] and m["fid"]["real_fid_bootstrap_sd"] > 0
    assert m["kid"]["real_kid"] < m["kid"]["kid"]
    assert m["pr"]["real_precision"] > m["pr"]["precision"]
    again = ev.evaluate_run(gan_run, metrics=["fid"], classifier=tiny_classifier, **SMALL)
    assert again["metrics"]["fid"]["real_fid"] == m["fid"]["real_fid"]  # seeded and cached


@pytest.mark.parametrize(("family", "likelihood"), [
    ("realnvp", "flow density (RealNVP)"),
    ("ddpm", "diffusion bound, discretised gaussian decoder (Ho et al. 2020)")])
def test_the_record_names_the_models_own_likelihood(family, likelihood, tmp_path) -> None:
    """Neither a flow nor a diffusion model has a Gaussian likelihood (records said so)."""
    config = config_from_dict({"model": {"name": family, **MODELS[family].tiny},
                               "data": {"dataset": "mnist-mini", "binarize": "none"}})
    model = build_model(config.model, (1, 28, 28), 10).eval()
    nll = ev.likelihood_metrics(Run(model, config, tmp_path / "untrained.safetensors", {}),
                                n=4, k=2)
    assert nll["likelihood"] == likelihood == model.likelihood_name()
    assert likelihood_scale({"nll": nll}) == EIGHT_BIT and math.isfinite(nll["nll_8bit_bpd"])


def test_a_vae_on_8_bit_pixels_has_its_elbo_on_the_8_bit_scale(tmp_path) -> None:
    """-ELBO of a dequantised density: + D log 256 nats, like its NLL, and above it."""
    config = config_from_dict({"model": {"name": "vae", "likelihood": "gaussian",
                                         **MODELS["vae"].tiny},
                               "data": {"dataset": "mnist-mini", "binarize": "none"}})
    model = build_model(config.model, (1, 28, 28), 10).eval()
    nll = ev.likelihood_metrics(Run(model, config, tmp_path / "untrained.safetensors", {}),
                                n=4, k=8)
    dims = 784
    assert nll["neg_elbo_8bit_bpd"] == pytest.approx(
        (nll["neg_elbo_nats"] + dims * math.log(256)) / (dims * math.log(2)), rel=1e-12)
    assert nll["neg_elbo_8bit_bpd"] >= nll["nll_8bit_bpd"] - 1e-6  # the bound, up to noise


@pytest.mark.parametrize(("family", "options", "words"), [
    ("ddpm", {"timesteps": 200}, "50 of 200 timesteps per image"),
    ("vae", {}, "importance sampling, k = 1000")])
def test_an_evaluation_takes_each_familys_own_likelihood_samples(family, options, words,
                                                                  tmp_path) -> None:
    """Unless told, k is the family's: a DDPM's bound on 50 of its timesteps (every one of
    1,000 took 20 CPU-minutes on a small MNIST DDPM), 1,000 importance samples elsewhere."""
    config = config_from_dict({"model": {"name": family, **MODELS[family].tiny, **options},
                               "data": {"dataset": "mnist-mini", "binarize": "none"}})
    model = build_model(config.model, (1, 28, 28), 10).eval()
    run = Run(model, config, tmp_path / "untrained.safetensors", {})
    result = ev.evaluate_run(run, metrics=["nll"], nll_images=2, cache=False)
    assert words in result["metrics"]["nll"]["nll_method"]
    told = ev.evaluate_run(run, metrics=["nll"], nll_images=2, iw_samples=3, cache=False)
    assert " 3 " in told["metrics"]["nll"]["nll_method"]  # k = 3, or 3 of 200 timesteps
