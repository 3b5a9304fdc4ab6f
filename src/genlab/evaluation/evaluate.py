"""``evaluate_run``: every metric of the evaluation suite on one trained run, as one dict.

Each metric's declared needs (``registry.Needs``: capabilities of ``models.core.capabilities``
and a classifier) are checked before it is measured; one a model lacks is skipped, with the
reason the declaration gives: no likelihood (``HasLikelihood``) -> no ``nll``, no
reconstruction -> no ``recon``, no classifier for the image shape -> no sample metrics.
Samples are drawn once (seeded) and shared by FID, KID, precision/recall, IS and confidence.
"""

from __future__ import annotations

import dataclasses
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from genlab.devices import seeded
from genlab.errors import ConfigError
from genlab.evaluation.augmentation import AugmentationSettings, augmentation_study
from genlab.evaluation.believability import Experiments, PerturbationSettings, believability_metrics
from genlab.evaluation.classifier import Judge, open_classifier
from genlab.evaluation.confidence import confidence_scores
from genlab.evaluation.likelihood import bits_per_dim, negative_elbo
from genlab.evaluation.metrics import (
    FID_BOOTSTRAPS,
    feature_stats,
    fid_bootstrap_sd,
    frechet_distance,
    inception_score,
    kid,
    kid_blank,
)
from genlab.evaluation.neighbours import manifold_scores
from genlab.evaluation.reference import ReferenceSet, dataset_key, reference_set
from genlab.evaluation.registry import METRICS, REGISTRY, SUMMARY
from genlab.evaluation.settings import NLL_IMAGES, EvaluationSettings
from genlab.evaluation.unavailable import MetricUnavailable
from genlab.models.core.capabilities import HasELBO, has
from genlab.models.parts.density import IW_SAMPLES, dequantise, eight_bit_nats
from genlab.progress import steps
from genlab.runs import Run, condition

CHUNK = 1000


def _spread(run: Run, split: str, n: int, seed: int) -> tuple[Tensor, Tensor | None]:
    """n images spread over ``split`` (``Run.spread``) as model input; labels only for
    conditional models."""
    x, y = run.images(split, torch.tensor(run.spread(split, n, seed)))
    return x, condition(run.model, y)


NLL_CHUNK = 50
"""Images per ``log_likelihood`` call, each chunk counted on ``genlab.progress`` (1,000 images
of k = 1000 draws take minutes). The estimators are per image: a chunk changes which random
draws an image gets, not their distribution."""


def _log_likelihood(model: Any, x: Tensor, y: Tensor | None, k: int) -> Tensor:
    parts = []
    with steps("likelihood", len(x), "img") as advance:
        for i in torch.arange(len(x), device=x.device).split(NLL_CHUNK):
            parts.append(model.log_likelihood(x[i], None if y is None else y[i], k))
            advance(len(i))
    return torch.cat(parts)


def likelihood_metrics(run: Run, split: str = "test", n: int = NLL_IMAGES,
                       k: int = IW_SAMPLES, seed: int = 0) -> dict[str, Any]:
    """The model's own log-likelihood (exact or a bound it names: ``HasLikelihood``) and,
    where it has one, -ELBO, of n images spread over ``split``; nats per image and bits per
    dimension (with their standard errors over images), on the scale the model declares. A
    density of 8-bit pixels is evaluated on dequantised pixels (seeded) and also given on the
    8-bit scale (``models.core.scale``); ``likelihood`` is the model's name for it."""
    model = run.model
    x, y = _spread(run, split, n, seed)
    dims = x[0].numel()
    scale = model.likelihood_scale(run.config.data.binarize)
    out: dict[str, Any] = {"images": len(x), "split": split, "binarize": scale.binarize,
                           "likelihood": model.likelihood_name(), "levels": scale.levels}
    if scale.dequantised:
        x = dequantise(x, torch.Generator().manual_seed(seed))
    with seeded(seed, x.device), torch.no_grad():
        if has(model, HasELBO):
            out["neg_elbo_nats"] = float(negative_elbo(model, x, y).mean())
        nll = -_log_likelihood(model, x, y, k)
    out["nll_method"] = model.likelihood_method(k)
    out["nll_nats"] = float(nll.mean())
    out["nll_sem"] = float(nll.std() / math.sqrt(len(nll))) if len(nll) > 1 else 0.0
    out["nll_bpd"] = bits_per_dim(out["nll_nats"], dims)
    out["nll_bpd_sem"] = bits_per_dim(out["nll_sem"], dims)  # bits/dim: nats over D ln 2
    if scale.dequantised or scale.eight_bit:  # the 8-bit scale: a density's + D log 256 nats
        for name in [k for k in ("nll", "neg_elbo") if f"{k}_nats" in out]:
            nats = out[f"{name}_nats"]
            out[f"{name}_8bit_bpd"] = bits_per_dim(
                eight_bit_nats(nats, dims) if scale.dequantised else nats, dims)
    if "neg_elbo_nats" in out:
        out["neg_elbo_bpd"] = bits_per_dim(out["neg_elbo_nats"], dims)
    out["scale"], out["note"] = str(scale), scale.note
    return out


def reconstruction_metrics(run: Run, split: str = "test", n: int = 10_000,
                           seed: int = 0) -> dict[str, Any]:
    """Per-pixel MSE, PSNR (dB, data range 1, averaged per image) and per-image BCE (nats)
    of the model's reconstructions (``Reconstructor``) of n images spread over ``split``."""
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


def _reference(run: Run, clf: Judge, split: str, cache: bool) -> ReferenceSet:
    images = run.dataset.split(split).images
    return reference_set(clf, images, dataset_key(run.config.data.dataset, split,
                                                  run.config.data), cache=cache)


def sample_metrics(run: Run, wanted: list[str], clf: Judge, n: int = 10_000,
                   split: str = "test", seed: int = 0, cache: bool = True,
                   sampling: dict[str, Any] | None = None) -> dict[str, dict[str, Any]]:
    """FID, KID, precision/recall/density/coverage, IS and confidence of n seeded samples
    (drawn with the ``sampling`` options the family has) against the real images of
    ``split`` (not binarised), in the features of ``clf``."""
    ref = _reference(run, clf, split, cache)
    intended = run.model.labels_for(n, None)
    intended = None if intended is None else intended.cpu()
    options = run.sample_options(sampling, strict=False)
    start = time.perf_counter()
    fake, probs = clf.features_and_probs(run.sample(n, labels=intended, seed=seed,
                                                    options=options))
    fake = fake.to(clf.device)  # KID and PR where the net is
    common = {"feature_space": clf.feature_space, "classifier_sha256": clf.sha256[:12],
              "samples": n, "real": len(ref.features), "split": split,
              "sampling": dataclasses.asdict(options),
              "sampling_seconds": round(time.perf_counter() - start, 2)}
    samples = Samples(fake, probs, ref, intended if clf.class_names == run.class_names else None,
                      seed)
    out = {m: {**common, **_timed(lambda m=m: SAMPLED[m](samples))} for m in wanted}
    floors = [m for m in wanted if REGISTRY[m].floor]
    if floors:  # the declared floor: real training images in place of samples (``real_*``)
        train = _floor(run, clf, n, seed, cache)
        real = Samples(train.features.to(clf.device), train.probs, ref, None, seed)
        for m in floors:
            out[m].update({f"real_{k}": v for k, v in SAMPLED[m](real).items()
                           if k in REGISTRY[m].floor})
    return out


def _floor(run: Run, clf: Judge, n: int, seed: int, cache: bool) -> ReferenceSet:
    """Features of n training images spread over the split (``Run.spread``), cached."""
    pick = torch.tensor(run.spread("train", n, seed))
    key = {**dataset_key(run.config.data.dataset, "train", run.config.data), "spread_seed": seed}
    return reference_set(clf, run.dataset.split("train").images[pick], key, cache=cache)


@dataclass
class Samples:
    """The shared seeded samples in the classifier's features and class probabilities, the
    real images' reference set and the classes the samples were asked for (if they were)."""

    features: Tensor
    probs: Tensor
    ref: ReferenceSet
    intended: Tensor | None
    seed: int


SAMPLED: dict[str, Callable[[Samples], dict[str, Any]]] = {
    "fid": lambda s: {"fid": frechet_distance(feature_stats(s.features), s.ref.stats),
                      "fid_bootstrap_sd": fid_bootstrap_sd(s.features, s.ref.stats,
                                                           seed=s.seed),
                      "fid_bootstraps": FID_BOOTSTRAPS},
    "kid": lambda s: {**dict(zip(("kid", "kid_std"),
                                 kid(s.ref.features.to(s.features.device), s.features,
                                     seed=s.seed), strict=True)),
                      "kid_blank": kid_blank(s.ref.features.to(s.features.device), seed=s.seed)},
    "pr": lambda s: _manifold(s.ref, s.features, s.seed),
    "is": lambda s: {**dict(zip(("is", "is_std"), inception_score(s.probs), strict=True)),
                     "real_is": inception_score(s.ref.probs)[0]},
    "confidence": lambda s: {
        **confidence_scores(s.probs, s.intended),
        "real_mean_max_softmax": float(s.ref.probs.max(1).values.double().mean())},
}
"""The metrics of the shared samples (drawn once, seeded), in the classifier's features."""


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


def evaluate_run(run: Run, settings: EvaluationSettings | None = None, *,
                 perturbations: PerturbationSettings | None = None,
                 augmentation: AugmentationSettings | None = None,
                 experiments: Experiments | None = None, cache: bool = True,
                 **overrides: Any) -> dict[str, Any]:
    """The ``settings.metrics`` of ``run`` (``overrides``: fields of the settings, e.g.
    ``metrics=["fid"], n=500``); those it cannot have go to ``skipped`` with the reason. Each
    metric is declared in ``evaluation.registry`` and measured by its function in
    :data:`SINGLE`, :data:`SAMPLED` or :data:`JUDGED`. ``perturbations`` set the
    believability experiments (``experiments``: already run), ``augmentation`` the
    classifier-augmentation study; ``cache``: reuse the real images' cached features."""
    s = _settings(settings, overrides)
    wanted = list(dict.fromkeys(s.metrics))
    result: dict[str, Any] = {"run": run.describe(), "n": s.n, "split": s.split,
                              "seed": s.seed, "metrics": {}, "skipped": {}}
    context = Context(run, s, perturbations or PerturbationSettings(seed=s.seed),
                      augmentation or AugmentationSettings(), experiments, cache)
    unmet = {m: why for m in wanted if (why := REGISTRY[m].unmet(run.model))}
    result["skipped"].update(unmet)
    wanted = [m for m in wanted if m not in unmet]
    for name in [m for m in wanted if m in SINGLE]:
        try:
            result["metrics"][name] = _timed(lambda n=name: SINGLE[n](context))
        except MetricUnavailable as why:
            result["skipped"][name] = str(why)
    judged = [m for m in wanted if REGISTRY[m].judged]
    if not judged:
        return result
    try:
        clf = open_classifier(run, s.classifier, s.inception_weights)
    except MetricUnavailable as why:
        result["skipped"].update(dict.fromkeys(judged, str(why)))
        return result
    sampled = [m for m in judged if m in SAMPLED]
    if sampled:
        result["metrics"].update(sample_metrics(run, sampled, clf, s.n, s.split, s.seed, cache,
                                                   s.sampling))
    for name in [m for m in judged if m in JUDGED]:
        result["metrics"][name] = _timed(lambda n=name: JUDGED[n](context, clf))
    return result


def _settings(settings: EvaluationSettings | None, overrides: dict[str, Any]
              ) -> EvaluationSettings:
    """``settings`` with ``overrides`` applied, every metric and value checked."""
    names = {f.name for f in dataclasses.fields(EvaluationSettings)}
    unknown = sorted(set(overrides) - names)
    if unknown:
        raise ConfigError(f"unknown evaluation setting {unknown[0]!r}; valid: {', '.join(names)}")
    s = dataclasses.replace(settings or EvaluationSettings(), **overrides)
    bad = [m for m in s.metrics if m not in METRICS]
    if bad:
        raise ConfigError(f"unknown metric {bad[0]!r}; choose from {', '.join(METRICS)}")
    if s.n < 2:
        raise ConfigError(f"evaluation needs at least 2 samples, got {s.n}")
    return s


@dataclass
class Context:
    """What a metric's function gets: the run, the settings and the experiments' settings."""

    run: Run
    settings: EvaluationSettings
    perturbations: PerturbationSettings
    augmentation: AugmentationSettings
    experiments: Experiments | None
    cache: bool


def augment_metrics(run: Run, s: AugmentationSettings, classifier: str | Path | None,
                    seed: int, sampling: dict[str, Any] | None = None) -> dict[str, Any]:
    """The augmentation study, with its headline: the accuracy with generated images and the
    gain over real images alone at the smallest fraction (where extra data matters most)."""
    out = augmentation_study(run, s.fractions, s.generated, s.options(), classifier, seed,
                             sampling=sampling)
    smallest = min(out["fractions"], key=lambda row: row["fraction"])
    return {**out, "augment_accuracy": smallest["accuracy_augmented"],
            "augment_gain": smallest["gain"], "augment_fraction": smallest["fraction"]}


SINGLE: dict[str, Callable[[Context], dict[str, Any]]] = {
    "nll": lambda c: likelihood_metrics(
        c.run, c.settings.split, c.settings.nll_images,
        c.settings.iw_samples or type(c.run.model).likelihood_samples, c.settings.seed),
    "recon": lambda c: reconstruction_metrics(c.run, c.settings.split, c.settings.n,
                                              c.settings.seed),
    "augment": lambda c: augment_metrics(c.run, c.augmentation, c.settings.classifier,
                                         c.settings.seed, c.settings.sampling),
}
"""The metrics measured on their own (a likelihood, reconstructions, trained classifiers)."""
JUDGED: dict[str, Callable[[Context, Judge], dict[str, Any]]] = {
    "believability": lambda c, clf: believability_metrics(
        c.run, clf.probs, c.perturbations, c.settings.split, c.experiments),
}
"""The metrics of the opened classifier on something other than the shared samples."""


def summary(result: dict[str, Any]) -> dict[str, float | None]:
    """The headline numbers of one ``evaluate_run`` result (None where skipped/absent)."""
    out: dict[str, float | None] = {}
    for metric, keys in SUMMARY.items():
        values = result["metrics"].get(metric)
        if values is None and metric not in result["skipped"]:
            continue
        out.update({key: (values or {}).get(key) for key in keys})
    return out
