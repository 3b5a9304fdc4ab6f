"""Believability of reconstructed and perturbed images, as a fixed classifier sees them.

A comparative study of encoder-decoder models (PCA, autoencoders, VAEs) asks whether images
decoded from moved codes still look like digits (or objects): encode real images, move their
codes three ways and ask the classifier how sure it is about the decodes.

1. Gaussian noise on the codes, z + sigma * eps (smoothness of the decoder around the data);
2. toward a random training code of another class, z + alpha (z_t - z) (does the image turn
   into the target class: the fraction classified as the target is the number);
3. toward the centroid of the image's own class (does the class mean decode to a prototype);
4. a blend w z_a + (1 - w) z_b of source-class and target-class codes (the pegasus of a study
   that blends horses with birds: the classifier's call on each blend, source, target or
   another class, is the number).

With ``refine`` (noise levels t*), a model with a diffusion prior over its codes also brings
each moved code back to that prior (SDEdit, ``latent.refine``), and the refined decodes are
scored beside the plain ones (``refined`` in each move's numbers).

The experiments are the latent toolkit's own (``genlab.latent.moves``), so the study's
figures and these numbers come from the same code; scoring is :func:`score_experiments`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.evaluation.classifier import open_classifier
from genlab.evaluation.confidence import mean_max_softmax, target_accuracy
from genlab.evaluation.unavailable import MetricUnavailable
from genlab.latent.moves import (
    BLEND_ROW,
    CENTROID_IMAGES,
    TrainingCodes,
    blend,
    centroid,
    perturb,
    toward_class,
    training_codes,
)
from genlab.latent.noise import CodeNoise, Scale
from genlab.latent.requirements import check
from genlab.latent.results import ExperimentResult
from genlab.models.core.capabilities import Decoder, Encoder, Reconstructor, Refiner, has
from genlab.runs import Run


@dataclass
class PerturbationSettings:
    """The perturbations: how many test images, the noise scales, the step sizes toward the
    targets, the source and target classes of the move toward another class and of the blend
    (names or numbers), the jitter of that target and the blend's weight of the source;
    ``centroid_images``: the training images whose codes give the class centroids and target
    pools (fewer for a model whose codes are dear, e.g. a DDPM's, 50 DDIM steps each); the
    noise's ``sigma_scale`` (absolute, or relative to those codes' spread, as
    ``genlab latent perturb --sigma-scale``) and ``noise_mean``; ``refine``: noise levels t*
    (one or a list) at which a model with a diffusion prior over its codes also brings every
    moved code back to it (``latent.refine``, SDEdit), scored beside the plain moves; models
    without one move plainly."""

    images: int = 256
    sigmas: list[float] = field(default_factory=lambda: [0.5, 1.0, 2.0])
    alphas: list[float] = field(default_factory=lambda: [0.25, 0.5, 0.75, 1.0])
    source_class: str = "0"
    target_class: str = "1"
    noise: float = 0.1
    blend_weight: float = 0.6
    seed: int = 0
    centroid_images: int = CENTROID_IMAGES
    sigma_scale: Scale = "absolute"
    noise_mean: float = 0.0
    refine: float | list[float] = field(default_factory=list)

    @property
    def code_noise(self) -> CodeNoise:
        """The noise's scale and mean (``latent.noise``); relative noise takes its unit from
        the spread of the ``centroid_images`` training codes the class moves use."""
        return CodeNoise(self.sigma_scale, self.noise_mean, self.centroid_images)

    def __post_init__(self) -> None:
        if not isinstance(self.refine, list):
            self.refine = [self.refine]
        bad = [t for t in self.refine if not 0 < t <= 1]
        if bad:
            raise ConfigError("perturbations.refine takes noise levels t* in (0, 1] (one or a "
                              f"list; 1: a fresh prior draw), got {bad[0]}")
        if self.centroid_images < 1:
            raise ConfigError("perturbations.centroid_images must be a positive number of "
                              f"training images, got {self.centroid_images}")
        if not 0 <= self.blend_weight <= 1:
            raise ConfigError("perturbations.blend_weight must lie in [0, 1] (the weight of the "
                              f"source class's codes), got {self.blend_weight}")
        try:
            self.code_noise  # noqa: B018 - building it checks sigma_scale and noise_mean
        except ConfigError as why:
            raise ConfigError(f"perturbations.{why}") from None


class Experiments(dict[str, ExperimentResult]):
    """The experiments that ran, by name, and ``skipped``: name -> why it could not run."""

    def __init__(self) -> None:
        super().__init__()
        self.skipped: dict[str, str] = {}


def run_experiments(run: Run, s: PerturbationSettings, split: str = "test") -> Experiments:
    """The perturbations of ``s.images`` images spread over ``split`` (for the move toward
    another class and the blend, the first of ``s.source_class``, blended with as many of
    ``s.target_class``). Each needs what it needs (codes, an encoder, labels); one that cannot
    run is skipped with the reason."""
    out = Experiments()
    gen = torch.Generator().manual_seed(s.seed)
    first = run.select(split, index=run.spread(split, s.images, s.seed))
    encoded: list[TrainingCodes] = []
    refine = s.refine if has(run.model, Refiner) else []
    if s.refine and not refine:
        out.skipped["refine"] = (f"the {run.model.config.name!r} model has no diffusion prior "
                                 "over its codes: its moves are not refined")

    def pool(op: str) -> TrainingCodes:
        """The training codes of both class moves, encoded once, where the move applies."""
        check(run.model, op)
        if not encoded:
            encoded.append(training_codes(run, s.centroid_images))
        return encoded[0]

    def perturb_pool() -> Tensor | None:
        """The pool's codes as relative noise's spread, where there is an encoder to code it."""
        relative = s.sigma_scale == "relative" and has(run.model, Encoder)
        return pool("perturb").codes if relative else None

    steps = {
        "perturb": lambda: perturb(run, first, s.sigmas, gen, noise=s.code_noise,
                                   pool=perturb_pool(), refine=refine),
        "toward_class": lambda: toward_class(
            run, run.select(split, n=s.images, cls=s.source_class), s.target_class,
            s.alphas, s.noise, generator=gen, pool=pool("toward-class"), refine=refine),
        "centroid": lambda: centroid(run, first, s.alphas, pool("centroid"), refine, gen),
        "blend": lambda: class_blend(run, s, split, refine, gen),
    }
    if not has(run.model, Decoder):
        out.skipped.update(dict.fromkeys(
            steps, f"the {run.model.config.name!r} model has no latent space to move in"))
        return out
    for name, step in steps.items():
        try:
            out[name] = step()
        except ConfigError as why:
            out.skipped[name] = str(why)
    return out


def class_blend(run: Run, s: PerturbationSettings, split: str, refine: list[float] | None = None,
                generator: torch.Generator | None = None) -> ExperimentResult:
    """Blends of the first ``s.images`` source-class images of ``split`` with as many
    target-class ones, pairwise (fewer where a class has fewer), refined at ``refine``."""
    a = run.select(split, n=s.images, cls=s.source_class)
    b = run.select(split, n=len(a), cls=s.target_class)
    if len(b) < len(a):
        a = run.select(split, n=len(b), cls=s.source_class)
    return blend(run, a, b, s.blend_weight, refine=refine, generator=generator)


def _confidences(probs: list[Tensor]) -> list[float]:
    return [mean_max_softmax(p) for p in probs]


Score = Callable[[list[Tensor]], dict[str, Any]]
"""The numbers of a move's decoded rows (one per sigma or alpha, or the blends)."""


def scored(r: ExperimentResult, first: int, count: int, score: Score) -> dict[str, Any]:
    """``score`` of the plain rows ``first .. first + count - 1`` and, where the move was
    refined (``latent.refine``), ``refined``: the same numbers of each level's rows."""
    out = score(r.rows[first:first + count])
    levels = zip(r.numbers.get("refine", []), r.numbers.get("refined_rows", []), strict=True)
    refined = [{"t_star": t, **score([r.rows[i] for i in rows])} for t, rows in levels]
    return {**out, "refined": refined} if refined else out


def score_experiments(run: Run, probs_of: Any, results: Experiments) -> dict[str, Any]:
    """Classifier scores of each experiment's decoded images, plain and refined.
    ``probs_of(images)`` gives the classifier's class probabilities. Headline numbers (of the
    plain moves): ``perturb_confidence`` (mean max-softmax over every sigma),
    ``toward_accuracy`` (fraction classified as the target at the last alpha) and
    ``centroid_confidence`` (mean max-softmax at the last alpha)."""
    out: dict[str, Any] = {"skipped": dict(results.skipped)}

    def confidence(rows: list[Tensor]) -> dict[str, Any]:
        return {"mean_max_softmax": _confidences([probs_of(im) for im in rows])}

    if "perturb" in results:
        r = results["perturb"]
        sigmas = r.numbers["sigmas"]
        out["perturb"] = {"sigmas": sigmas, **scored(r, 2, len(sigmas), confidence),
                          "images": len(r.rows[0]), "codes_from": r.numbers["codes_from"]}
        out["perturb_confidence"] = sum(out["perturb"]["mean_max_softmax"]) / len(sigmas)
    if "toward_class" in results:
        r = results["toward_class"]
        goal = torch.full((len(r.rows[0]),), int(r.numbers["target_class"]))

        def toward(rows: list[Tensor]) -> dict[str, Any]:
            probs = [probs_of(im) for im in rows]
            return {"target_accuracy": [target_accuracy(p, goal) for p in probs],
                    "mean_max_softmax": _confidences(probs)}

        out["toward_class"] = {"alphas": r.numbers["alphas"], "target": r.numbers["target_name"],
                               "source": run.class_name(int(r.numbers["labels"][0])),
                               **scored(r, 2, len(r.numbers["alphas"]), toward),
                               "images": len(goal)}
        out["toward_accuracy"] = out["toward_class"]["target_accuracy"][-1]
    if "centroid" in results:
        r = results["centroid"]
        own = r.numbers["labels"]

        def to_centroid(rows: list[Tensor]) -> dict[str, Any]:
            probs = [probs_of(im) for im in rows]
            return {"mean_max_softmax": _confidences(probs),
                    "own_class_accuracy": [target_accuracy(p, own) for p in probs]}

        out["centroid"] = {"alphas": r.numbers["alphas"], "images": len(own),
                           **scored(r, 1, len(r.numbers["alphas"]), to_centroid)}
        out["centroid_confidence"] = out["centroid"]["mean_max_softmax"][-1]
    if "blend" in results:
        out["blend"] = scored_blend(run, probs_of, results["blend"])
        out["blend_parent_share"] = out["blend"]["share_source"] + out["blend"]["share_target"]
    return out


def scored_blend(run: Run, probs_of: Any, r: ExperimentResult) -> dict[str, Any]:
    """:func:`blend_calls` of the plain blends of a ``latent.moves.blend`` result and of each
    refinement level's."""
    return scored(r, BLEND_ROW, 1,
                  lambda rows: blend_calls(run, probs_of(rows[0]), r.numbers))


def blend_calls(run: Run, probs: Tensor, numbers: dict[str, Any]) -> dict[str, Any]:
    """How the classifier calls each blend of ``latent.moves.blend``: the class of its A image
    (source), of its B image (target) or another class, as shares and counts."""
    called = probs.argmax(1).cpu()
    source, target = numbers["a_labels"].cpu(), numbers["b_labels"].cpu()
    is_source, is_target = called == source, (called == target) & (called != source)
    n = len(called)
    counts = {"source": int(is_source.sum()), "target": int(is_target.sum())}
    counts["other"] = n - counts["source"] - counts["target"]
    return {"weight": numbers["w"], "source": run.class_name(int(source[0])),
            "target": run.class_name(int(target[0])), "images": n, "counts": counts,
            **{f"share_{k}": v / n for k, v in counts.items()},
            "mean_max_softmax": mean_max_softmax(probs)}


def classify_blend(run: Run, result: ExperimentResult,
                   classifier: str | Path | None = None) -> dict[str, Any]:
    """:func:`blend_calls` of a ``latent.moves.blend`` result by ``classifier`` (default: the
    one genlab ships for the run's images), or ``{"skipped": why}`` where there is none."""
    try:
        clf = open_classifier(run, classifier)
    except MetricUnavailable as why:
        return {"skipped": str(why)}
    return {"classifier": clf.name, **scored_blend(run, clf.probs, result)}


def reconstruction_confidence(run: Run, probs_of: Any, split: str, n: int,
                              seed: int = 0) -> dict[str, Any]:
    """Mean max-softmax of the reconstructions of n images spread over ``split``, and the
    fraction classified as the image's own class."""
    if not has(run.model, Reconstructor):
        return {"skipped": f"the {run.model.config.name!r} model does not reconstruct"}
    sel = run.select(split, index=run.spread(split, n, seed))
    probs = probs_of(run.reconstruct(sel.x, sel.y))
    return {"recon_confidence": mean_max_softmax(probs),
            "recon_class_accuracy": target_accuracy(probs, sel.y), "images": len(sel)}


def believability_metrics(run: Run, probs_of: Any, s: PerturbationSettings, split: str = "test",
                          experiments: Experiments | None = None) -> dict[str, Any]:
    """Reconstruction confidence and the scored perturbations (run here unless given)."""
    recon = reconstruction_confidence(run, probs_of, split, s.images, s.seed)
    out = score_experiments(run, probs_of, experiments or run_experiments(run, s, split))
    if "skipped" in recon:
        out["skipped"]["reconstruction"] = recon.pop("skipped")
    return {**recon, **out, "split": split,
            "settings": {k: getattr(s, k) for k in s.__dataclass_fields__}}
