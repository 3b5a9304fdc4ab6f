"""The one declaration of each metric of the evaluation suite and of how it is presented.

A :class:`Metric` declares what a model must offer (typed :class:`Needs`, from which the check
and the words of ``--help`` and of a skip reason both come), the table of a page it belongs
to (``group``), its headline numbers (:class:`Headline`: heading, unit, direction, a single
run's evaluation noise, and for a likelihood the scales it is shown on), the numbers it also
measures on real images in place of samples (``floor``), the figures it is plotted in
(:class:`Plot`), the small tables behind its headline (``details``) and its method note.
``evaluate_run``, ``genlab evaluate``'s table, the study page, the Markdown results page and
``results.csv``/``results.json`` read only this module.

Adding a metric: an entry here and its function, dispatched by ``evaluate.evaluate_run``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from genlab.evaluation.details import augment_details, believability_details, kid_details
from genlab.models.core.capabilities import (
    CAPABILITY_WORDS,
    Decoder,
    HasLikelihood,
    Reconstructor,
    has,
)

EIGHT_BIT = "8-bit pixels"
"""The scale of every likelihood of 8-bit pixels: a dequantised density given in 8-bit
bits/dim, or a probability of the 256 levels (Theis et al. 2016)."""


class Scaled(Enum):
    """Which likelihood scales a headline number is shown on."""

    EIGHT_BIT = "the 8-bit scale only"
    OWN = "each model's own scale, other than the 8-bit one (binarised pixels, cross-entropy)"


@dataclass(frozen=True)
class Headline:
    """One headline number: its key in the metric's record, column heading, unit, whether
    lower is better, the record key of one run's standard error of it (``noise``), and for a
    likelihood, the scales it compares on (None: every model compares with every other)."""

    key: str
    heading: str
    unit: str = ""
    lower_is_better: bool = False
    noise: str | None = None
    scaled: Scaled | None = None

    def shown_on(self, scale: str | None) -> bool:
        """Whether a model on likelihood ``scale`` has this number in a table."""
        if self.scaled is None:
            return True
        return scale is not None and (scale == EIGHT_BIT) == (self.scaled is Scaled.EIGHT_BIT)


class Classifier(Enum):
    """The classifiers a metric is measured with."""

    JUDGE = "the evaluation classifier"
    """Opened once by ``evaluate_run`` (``--classifier``): its features and class calls."""
    TRAINED = "classifiers trained on real and generated images"


def _noun(capability: type) -> str:
    article, word = CAPABILITY_WORDS[capability]
    return f"{article} {word}"


@dataclass(frozen=True)
class Needs:
    """What a model must offer: every capability of ``all_of`` and one of ``any_of``
    (protocols of ``models.core.capabilities``), the shared seeded ``samples``, a
    ``classifier``. Capabilities are checked here; a classifier when it is opened."""

    all_of: tuple[type, ...] = ()
    any_of: tuple[type, ...] = ()
    samples: bool = False
    classifier: Classifier | None = None

    def words(self) -> str:
        """``a likelihood``, ``samples and the evaluation classifier``, ..."""
        parts = [_noun(c) for c in self.all_of]
        parts += [" or ".join(_noun(c) for c in self.any_of)] if self.any_of else []
        parts += ["samples"] if self.samples else []
        parts += [self.classifier.value] if self.classifier else []
        return " and ".join(parts)

    def unmet(self, model: Any) -> str | None:
        """Why ``model`` lacks a capability this needs, or None."""
        name = model.config.name
        for capability in self.all_of:
            if not has(model, capability):
                return f"the {name!r} model has no {CAPABILITY_WORDS[capability][1]}"
        if self.any_of and not any(has(model, c) for c in self.any_of):
            return f"the {name!r} model has neither " + " nor ".join(
                _noun(c) for c in self.any_of)
        return None


@dataclass(frozen=True)
class Plot:
    """A figure of the page's first screen: ``y`` against the first of ``x`` a model has on
    its scale (for a likelihood, the scale most models share)."""

    x: tuple[str, ...]
    y: str
    title: str


Details = Callable[[Mapping[str, Any]], list[tuple[str, list[str], list[tuple[Any, ...]]]]]
"""A metric's record -> the small tables behind its headline: (caption, header, rows)."""


@dataclass(frozen=True)
class Metric:
    """A metric, its needs and its presentation; ``default``: measured unless a user picks
    metrics; ``floor``: keys of its record also measured with real training images in place
    of samples (``real_<key>``), the value a perfect model would reach with as many images."""

    name: str
    help: str
    needs: Needs
    group: str
    method: str
    headlines: tuple[Headline, ...]
    floor: tuple[str, ...] = ()
    plots: tuple[Plot, ...] = ()
    details: Details | None = None
    default: bool = True

    @property
    def judged(self) -> bool:
        """Measured with the one classifier ``evaluate_run`` opens (samples or codes)."""
        return self.needs.classifier is Classifier.JUDGE

    @property
    def sampled(self) -> bool:
        """Measured on the shared seeded samples."""
        return self.needs.samples

    def help_line(self) -> str:
        """``nll (-ELBO and ...; needs a likelihood)`` for ``--metrics``."""
        return f"{self.name} ({self.help}; needs {self.needs.words()})"

    def unmet(self, model: Any) -> str | None:
        """The skip reason of a model that lacks what this needs, or None."""
        why = self.needs.unmet(model)
        return None if why is None else f"{self.name} needs {self.needs.words()}: {why}"


SAMPLES = Needs(samples=True, classifier=Classifier.JUDGE)
_NLL = (Headline("nll_8bit_bpd", "NLL (bits/dim)", "bits/dim", True, "nll_bpd_sem",
                 Scaled.EIGHT_BIT),
        Headline("neg_elbo_8bit_bpd", "−ELBO (bits/dim)", "bits/dim", True,
                 scaled=Scaled.EIGHT_BIT),
        Headline("nll_nats", "NLL (nats)", "nats", True, "nll_sem", Scaled.OWN),
        Headline("neg_elbo_nats", "−ELBO (nats)", "nats", True, scaled=Scaled.OWN))
_MOVED = "classifier confidence of moved codes"

REGISTRY: dict[str, Metric] = {m.name: m for m in (
    Metric("nll", "-ELBO and the model's log-likelihood", Needs((HasLikelihood,)), "likelihood",
           "Each model's own log-likelihood, by the estimator the model names (above), in "
           "nats per image and bits per dimension, on the scale the model declares; a density "
           "of 8-bit pixels is evaluated on uniformly dequantised pixels and given on the "
           "8-bit scale (+ D log 256 nats; Theis et al. 2016), as a probability of the 256 "
           "levels of 8-bit pixels is; models compare only on one scale.", _NLL),
    Metric("recon", "reconstruction MSE, PSNR and BCE", Needs((Reconstructor,)),
           "reconstruction", "Per-pixel MSE, PSNR (dB, data range 1) and per-image BCE of the "
           "model's reconstructions of real images.",
           (Headline("mse", "recon MSE", "", True), Headline("psnr_db", "PSNR (dB)", "dB"))),
    Metric("fid", "Fréchet distance", SAMPLES, "samples",
           "Fréchet distance between Gaussians fitted to classifier features of samples and "
           "of real images (Heusel et al. 2017); real_fid: as many training images in place "
           "of the samples, the floor of the same estimate.",
           (Headline("fid", "FID", "", True, "fid_bootstrap_sd"),),
           floor=("fid", "fid_bootstrap_sd"),
           plots=(Plot(("nll_8bit_bpd", "nll_nats"), "fid", "sample quality against "
                       "likelihood"),)),
    Metric("kid", "kernel inception distance", SAMPLES, "samples",
           "Unbiased MMD with a cubic polynomial kernel on the same features (Bińkowski et "
           "al. 2018), averaged over subsets, not scaled by 1000; real_kid: training images "
           "in place of samples; kid_blank: samples whose features are all 0. The kernel "
           "(x.y/d + 1)^3 is dominated by the real images' strongest features, so models that "
           "miss them all score just below kid_blank and KID cannot rank them: on CIFAR-10's "
           "cifarnet features kid_blank is 13.4 and class-mean images (FID 267) and PCA samples "
           "(FID 200) both score 11.2-11.5; compare such models by FID.",
           (Headline("kid", "KID", "", True),), floor=("kid", "kid_std"),
           details=kid_details),
    Metric("pr", "precision/recall/density/coverage", SAMPLES, "samples",
           "k-NN manifold precision and recall (Kynkäänniemi et al. 2019) and density and "
           "coverage (Naeem et al. 2020), against as many real images as samples.",
           tuple(Headline(k, k) for k in ("precision", "recall", "density", "coverage")),
           floor=("precision", "recall", "density", "coverage"),
           plots=(Plot(("recall",), "precision", "higher is better on both"),)),
    Metric("is", "Inception Score", SAMPLES, "samples",
           "exp E KL(p(y|x) || p(y)) of the classifier's class probabilities on samples "
           "(Salimans et al. 2016).", (Headline("is", "IS"),)),
    Metric("confidence", "classifier confidence on samples", SAMPLES, "samples",
           "The classifier's mean top probability on samples, its accuracy on the intended "
           "class (conditional models) and the entropy of the predicted classes (ln C: every "
           "class equally often).",
           (Headline("mean_max_softmax", "sample confidence"),
            Headline("target_accuracy", "class-targeted accuracy"),
            Headline("class_entropy", "class entropy (nats)", "nats"))),
    Metric("believability", "confidence on reconstructions and perturbed codes",
           Needs(any_of=(Reconstructor, Decoder), classifier=Classifier.JUDGE), _MOVED,
           "The classifier's confidence on reconstructions, on decodes of noise-perturbed "
           "codes, and on codes moved toward another class or the class centroid; and its "
           "call on blends w·z_source + (1 − w)·z_target of the two classes' codes (source, "
           "target or another class).",
           (Headline("recon_confidence", "recon confidence"),
            Headline("perturb_confidence", "noise-perturbed confidence"),
            Headline("toward_accuracy", "toward-class accuracy"),
            Headline("centroid_confidence", "centroid confidence"),
            Headline("blend_parent_share", "blend called a parent class")),
           details=believability_details),
    Metric("augment", "classifiers trained with generated images; not in the default set",
           Needs(samples=True, classifier=Classifier.TRAINED), "classifier augmentation",
           "Classifiers trained on fractions of the real training images, with and without "
           "generated ones, tested on real test images; the gain is at the smallest fraction.",
           (Headline("augment_accuracy", "augmented accuracy"),
            Headline("augment_gain", "augmentation gain")),
           details=augment_details, default=False),
)}

METRICS = tuple(REGISTRY)
DEFAULT_METRICS = tuple(m.name for m in REGISTRY.values() if m.default)
SUMMARY = {m.name: tuple(h.key for h in m.headlines) for m in REGISTRY.values()}
"""The headline numbers of each metric, in the order a summary table shows them."""
HEADLINES = {h.key: h for m in REGISTRY.values() for h in m.headlines}
METRIC_OF = {h.key: m for m in REGISTRY.values() for h in m.headlines}
"""Headline key -> the metric whose record holds it."""


def likelihood_scale(metrics: Mapping[str, Any]) -> str | None:
    """The scale a model's likelihood compares on, from its evaluation's ``metrics``: the
    8-bit scale where it has 8-bit bits/dim, else the scale its record names (and the levels
    of a k-level discrete one); None without a likelihood."""
    nll = metrics.get("nll")
    if not nll or not nll.get("scale"):
        return None
    if "nll_8bit_bpd" in nll:
        return EIGHT_BIT
    levels = nll.get("levels", 0)
    return str(nll["scale"]) + (f", {levels} levels" if levels > 2 else "")


def noise(metrics: Mapping[str, Any], key: str) -> float | None:
    """One run's standard error of headline ``key``, from its metric's record."""
    headline = HEADLINES[key]
    if headline.noise is None:
        return None
    return metrics.get(METRIC_OF[key].name, {}).get(headline.noise)


def floor(metrics: Mapping[str, Any], key: str) -> float | None:
    """Headline ``key`` measured on real training images in place of samples, if declared."""
    metric = METRIC_OF[key]
    return metrics.get(metric.name, {}).get(f"real_{key}") if key in metric.floor else None


def metric_help() -> str:
    """``nll (-ELBO and ...; needs a likelihood), recon (...), ...`` for ``--metrics``."""
    return ", ".join(m.help_line() for m in REGISTRY.values())
