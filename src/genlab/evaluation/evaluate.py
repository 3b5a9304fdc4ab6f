"""``evaluate_run``: every metric of the evaluation suite on one trained run, as one dict.

Each metric asks the model what it can do (``models.base`` capabilities) and is skipped, with
the reason in the result, when it cannot: no likelihood (``HasLikelihood``) -> no ``nll``, no
reconstruction -> no ``recon``, no classifier for the image shape -> no sample metrics.
Samples are drawn once (seeded) and shared by FID, KID, precision/recall, IS and confidence.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from genlab.devices import seeded
from genlab.errors import ConfigError
from genlab.evaluation.augmentation import AugmentationSettings, augmentation_study
from genlab.evaluation.believability import Experiments, PerturbationSettings, believability_metrics
from genlab.evaluation.classifier import Classifier, default_classifier, load_classifier
from genlab.evaluation.confidence import confidence_scores
from genlab.evaluation.inception import NAME as INCEPTION
from genlab.evaluation.inception import InceptionFeatures, load_inception
from genlab.evaluation.likelihood import bits_per_dim, negative_elbo
from genlab.evaluation.metrics import feature_stats, frechet_distance, inception_score, kid
from genlab.evaluation.neighbours import manifold_scores
from genlab.evaluation.reference import ReferenceSet, dataset_key, reference_set
from genlab.evaluation.registry import (
    CLASSIFIER_METRICS,
    DEFAULT_METRICS,
    METRICS,
    SAMPLE_METRICS,
    SUMMARY,
)
from genlab.evaluation.unavailable import MetricUnavailable
from genlab.models.base import HasELBO, HasLikelihood, Reconstructor, has
from genlab.models.density import IW_SAMPLES, dequantise, eight_bit_nats
from genlab.runs import Run

NLL_IMAGES = 1000
"""Images the likelihood is estimated on by default: k = 1000 draws each is the costly part."""
CHUNK = 1000


def _spread(run: Run, split: str, n: int, seed: int) -> tuple[Tensor, Tensor | None]:
    """n images spread over ``split`` (``Run.spread``) as model input; labels only for
    conditional models."""
    x, y = run.images(split, torch.tensor(run.spread(split, n, seed)))
    return x, (y if run.model.conditional else None)


def likelihood_metrics(run: Run, split: str = "test", n: int = NLL_IMAGES,
                       k: int = IW_SAMPLES, seed: int = 0) -> dict[str, Any]:
    """The model's own log-likelihood (exact or a bound it names: ``HasLikelihood``) and,
    where it has one, -ELBO, of n images spread over ``split``; nats per image and bits per
    dimension, on the scale the model declares. A density of 8-bit pixels is evaluated on
    dequantised pixels (seeded) and also given on the 8-bit scale (``models.density``)."""
    model = run.model
    if not has(model, HasLikelihood):
        raise MetricUnavailable(f"the {model.config.name!r} model has no likelihood to evaluate")
    x, y = _spread(run, split, n, seed)
    dims = x[0].numel()
    scale = model.likelihood_scale(run.config.data.binarize)
    out: dict[str, Any] = {"images": len(x), "split": split, "binarize": scale.binarize,
                           "likelihood": getattr(model.config, "likelihood", "gaussian")}
    if scale.dequantised:
        x = dequantise(x, torch.Generator().manual_seed(seed))
    with seeded(seed, x.device):
        if has(model, HasELBO):
            out["neg_elbo_nats"] = float(negative_elbo(model, x, y).mean())
        nll = -model.log_likelihood(x, y, k)
    out["nll_method"] = model.likelihood_method(k)
    out["nll_nats"] = float(nll.mean())
    out["nll_sem"] = float(nll.std() / math.sqrt(len(nll))) if len(nll) > 1 else 0.0
    out["nll_bpd"] = bits_per_dim(out["nll_nats"], dims)
    if "neg_elbo_nats" in out:
        out["neg_elbo_bpd"] = bits_per_dim(out["neg_elbo_nats"], dims)
    if scale.dequantised:
        out["nll_8bit_bpd"] = bits_per_dim(eight_bit_nats(out["nll_nats"], dims), dims)
    out["scale"], out["note"] = str(scale), scale.note
    return out


def reconstruction_metrics(run: Run, split: str = "test", n: int = 10_000,
                           seed: int = 0) -> dict[str, Any]:
    """Per-pixel MSE, PSNR (dB, data range 1, averaged per image) and per-image BCE (nats)
    of the model's reconstructions of n images spread over ``split``."""
    if not has(run.model, Reconstructor):
        raise MetricUnavailable(f"the {run.model.config.name!r} model does not reconstruct")
    x, y = _spread(run, split, n, seed)
    mse, bce = [], []
    with torch.no_grad():
        for i in torch.arange(len(x), device=x.device).split(CHUNK):
            xs = x[i]
            recon = run.model.reconstruct(xs, None if y is None else y[i]).clamp(1e-6, 1 - 1e-6)
            mse.append((recon - xs).pow(2).flatten(1).mean(1).double().cpu())
            loss = F.binary_cross_entropy(recon, xs.clamp(0, 1), reduction="none")
            bce.append(loss.flatten(1).sum(1).double().cpu())
    per_image = torch.cat(mse)
    psnr = -10 * per_image.clamp_min(1e-12).log10()
    return {"images": len(x), "split": split, "binarize": run.config.data.binarize,
            "mse": float(per_image.mean()), "psnr_db": float(psnr.mean()),
            "bce_nats": float(torch.cat(bce).mean())}


Judge = Classifier | InceptionFeatures
"""A network whose features and class probabilities the sample metrics use."""


def open_classifier(run: Run, classifier: str | Path | None = None,
                    inception_weights: str | Path | None = None) -> Judge:
    """The given classifier (a weights file, or ``inception`` for Inception-v3 features),
    else the one genlab ships for the run's image shape."""
    if str(classifier) == INCEPTION:
        return load_inception(inception_weights, run.model.device)
    shape = tuple(run.model.shape)
    path = classifier or default_classifier(shape)
    if path is None:
        raise MetricUnavailable(
            f"no classifier for {shape} images ships with genlab: train one with `genlab "
            "classifier train --dataset D --out PATH` and pass --classifier PATH"
        )
    clf = load_classifier(path, run.model.device)
    if clf.net.config.shape != shape:
        raise MetricUnavailable(f"classifier {clf.name} takes {clf.net.config.shape} images, "
                                f"the run makes {shape}")
    return clf


def _reference(run: Run, clf: Judge, split: str, cache: bool) -> ReferenceSet:
    images = run.dataset.split(split).images
    return reference_set(clf, images, dataset_key(run.config.data.dataset, split,
                                                  run.config.data), cache=cache)


def sample_metrics(run: Run, wanted: list[str], clf: Judge, n: int = 10_000,
                   split: str = "test", seed: int = 0,
                   cache: bool = True) -> dict[str, dict[str, Any]]:
    """FID, KID, precision/recall/density/coverage, IS and confidence of n seeded samples
    against the real images of ``split`` (not binarised), in the features of ``clf``."""
    ref = _reference(run, clf, split, cache)
    intended = torch.arange(n) % run.model.num_classes if run.model.conditional else None
    start = time.perf_counter()
    fake, probs = clf.features_and_probs(run.sample(n, labels=intended, seed=seed))
    fake, real = fake.to(clf.device), ref.features.to(clf.device)  # KID and PR where the net is
    common = {"feature_space": clf.feature_space, "classifier_sha256": clf.sha256[:12],
              "samples": n, "real": len(ref.features), "split": split,
              "sampling_seconds": round(time.perf_counter() - start, 2)}
    compute: dict[str, Callable[[], dict[str, Any]]] = {
        "fid": lambda: {"fid": frechet_distance(feature_stats(fake), ref.stats)},
        "kid": lambda: dict(zip(("kid", "kid_std"), kid(real, fake, seed=seed),
                                strict=True)),
        "pr": lambda: _manifold(ref, fake, seed),
        "is": lambda: {**dict(zip(("is", "is_std"), inception_score(probs), strict=True)),
                       "real_is": inception_score(ref.probs)[0]},
        "confidence": lambda: {
            **confidence_scores(probs, intended if clf.class_names == run.class_names else None),
            "real_mean_max_softmax": float(ref.probs.max(1).values.double().mean())},
    }
    return {m: {**common, **_timed(compute[m])} for m in wanted}


def _manifold(ref: ReferenceSet, fake: Tensor, seed: int) -> dict[str, Any]:
    """Precision/recall/density/coverage against as many real images as there are samples
    (k-NN radii shrink as a set grows): all of them, with their cached radii, when the split
    has no more than the samples, else a seeded random subset."""
    real = ref.features.to(fake.device)
    if len(fake) >= len(real):
        scores = manifold_scores(real, fake, real_radii=ref.radii)
        return {**scores.as_dict(), "real": len(real)}
    pick = torch.randperm(len(real), generator=torch.Generator().manual_seed(seed))
    return {**manifold_scores(real[pick[: len(fake)]], fake).as_dict(), "real": len(fake)}


def _timed(compute: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    start = time.perf_counter()
    values = compute()
    return {**values, "seconds": round(time.perf_counter() - start, 2)}


def evaluate_run(run: Run, metrics: tuple[str, ...] | list[str] = DEFAULT_METRICS,
                 n: int = 10_000,
                 split: str = "test", classifier: str | Path | None = None,
                 iw_samples: int = IW_SAMPLES, nll_images: int = NLL_IMAGES, seed: int = 0,
                 cache: bool = True, perturbations: PerturbationSettings | None = None,
                 experiments: Experiments | None = None,
                 augmentation: AugmentationSettings | None = None,
                 inception_weights: str | Path | None = None) -> dict[str, Any]:
    """The requested ``metrics`` of ``run``; those it cannot have go to ``skipped`` with the
    reason. ``n`` samples (and at most n real images for recon and precision/recall);
    ``nll_images`` images with ``iw_samples`` importance samples each for the likelihood;
    ``perturbations`` set the believability experiments (``experiments``: already run),
    ``augmentation`` the classifier-augmentation study; ``classifier="inception"`` measures
    in Inception-v3 features (``inception_weights``: a local weights file)."""
    unknown = [m for m in metrics if m not in METRICS]
    if unknown:
        raise ConfigError(f"unknown metric {unknown[0]!r}; choose from {', '.join(METRICS)}")
    if n < 2:
        raise ConfigError(f"evaluation needs at least 2 samples, got {n}")
    wanted = list(dict.fromkeys(metrics))
    result: dict[str, Any] = {"run": run.describe(), "n": n, "split": split, "seed": seed,
                              "metrics": {}, "skipped": {}}
    settings = perturbations or PerturbationSettings(seed=seed)
    single: dict[str, Callable[[], dict[str, Any]]] = {
        "nll": lambda: likelihood_metrics(run, split, nll_images, iw_samples, seed),
        "recon": lambda: reconstruction_metrics(run, split, n, seed),
    }
    for name in [m for m in wanted if m in single]:
        try:
            result["metrics"][name] = _timed(single[name])
        except MetricUnavailable as why:
            result["skipped"][name] = str(why)
    if "augment" in wanted:
        try:
            result["metrics"]["augment"] = _timed(
                lambda: augment_metrics(run, augmentation or AugmentationSettings(), classifier,
                                        seed))
        except MetricUnavailable as why:
            result["skipped"]["augment"] = str(why)
    judged = [m for m in wanted if m in CLASSIFIER_METRICS]
    try:
        clf = open_classifier(run, classifier, inception_weights) if judged else None
    except MetricUnavailable as why:
        result["skipped"].update(dict.fromkeys(judged, str(why)))
        return result
    sampled = [m for m in wanted if m in SAMPLE_METRICS]
    if clf and sampled:
        result["metrics"].update(sample_metrics(run, sampled, clf, n, split, seed, cache))
    if clf and "believability" in wanted:
        result["metrics"]["believability"] = _timed(
            lambda: believability_metrics(run, clf.probs, settings, split, experiments))
    return result


def augment_metrics(run: Run, s: AugmentationSettings, classifier: str | Path | None,
                    seed: int) -> dict[str, Any]:
    """The augmentation study, with its headline: the accuracy with generated images and the
    gain over real images alone at the smallest fraction (where extra data matters most)."""
    out = augmentation_study(run, s.fractions, s.generated, s.options(), classifier, seed)
    smallest = min(out["fractions"], key=lambda row: row["fraction"])
    return {**out, "augment_accuracy": smallest["accuracy_augmented"],
            "augment_gain": smallest["gain"], "augment_fraction": smallest["fraction"]}


def summary(result: dict[str, Any]) -> dict[str, float | None]:
    """The headline numbers of one ``evaluate_run`` result (None where skipped/absent)."""
    out: dict[str, float | None] = {}
    for metric, keys in SUMMARY.items():
        values = result["metrics"].get(metric)
        if values is None and metric not in result["skipped"]:
            continue
        out.update({key: (values or {}).get(key) for key in keys})
    return out
