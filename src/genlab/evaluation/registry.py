"""The one declaration of each metric of the evaluation suite: what it needs, its headline
numbers (heading, unit, direction) and its method note. ``genlab evaluate --help``, the
summary table, the study page's columns, arrows, best values and method notes all read it.

Adding a metric: an entry here and its function, dispatched by ``evaluate.evaluate_run``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Headline:
    """One headline number: its key in the metric's result, column heading, unit, whether
    lower is better, and whether it compares only between models on one likelihood scale."""

    key: str
    heading: str
    unit: str = ""
    lower_is_better: bool = False
    per_scale: bool = False


@dataclass(frozen=True)
class Metric:
    """A metric: ``needs`` is what a model must offer (a likelihood, a reconstruction,
    samples and a classifier, ...); ``default``: measured unless a user picks metrics."""

    name: str
    help: str
    needs: str
    method: str
    headlines: tuple[Headline, ...]
    default: bool = True

    @property
    def judged(self) -> bool:
        """Measured with the one classifier ``evaluate_run`` opens (samples or codes)."""
        return "classifier" in self.needs and self.name != "augment"

    @property
    def sampled(self) -> bool:
        """Measured on the shared seeded samples."""
        return "samples" in self.needs


def _nll() -> tuple[Headline, ...]:
    return (Headline("nll_nats", "NLL (nats)", "nats", True, True),
            Headline("nll_bpd", "NLL (bits/dim)", "bits/dim", True, True),
            Headline("nll_8bit_bpd", "NLL (8-bit bits/dim)", "bits/dim", True, True),
            Headline("neg_elbo_nats", "−ELBO (nats)", "nats", True, True))


REGISTRY: dict[str, Metric] = {m.name: m for m in (
    Metric("nll", "-ELBO and the model's log-likelihood", "a likelihood",
           "Each model's own log-likelihood: exact (PCA) or the importance-sampled bound of "
           "Burda et al. 2016 with k draws from the encoder, in nats per image and bits per "
           "dimension, on the scale the model declares; a density of 8-bit pixels is "
           "evaluated on uniformly dequantised pixels and also given on the 8-bit scale "
           "(+ D log 256 nats; Theis et al. 2016); a probability of the 256 levels of 8-bit "
           "pixels (a discretised logistic mixture) is on that scale as it is.", _nll()),
    Metric("recon", "reconstruction MSE, PSNR and BCE", "a reconstruction",
           "Per-pixel MSE, PSNR (dB, data range 1) and per-image BCE of the model's "
           "reconstructions of real images.",
           (Headline("mse", "recon MSE", "", True), Headline("psnr_db", "PSNR (dB)", "dB"))),
    Metric("fid", "Fréchet distance", "samples and a classifier",
           "Fréchet distance between Gaussians fitted to classifier features of samples and "
           "of real images (Heusel et al. 2017); real_fid: as many training images in place "
           "of the samples, the floor of the same estimate.", (Headline("fid", "FID", "", True),)),
    Metric("kid", "kernel inception distance", "samples and a classifier",
           "Unbiased MMD with a cubic polynomial kernel on the same features (Bińkowski et "
           "al. 2018), averaged over subsets; real_kid: training images in place of samples.",
           (Headline("kid", "KID", "", True),)),
    Metric("pr", "precision/recall/density/coverage", "samples and a classifier",
           "k-NN manifold precision and recall (Kynkäänniemi et al. 2019) and density and "
           "coverage (Naeem et al. 2020), against as many real images as samples.",
           tuple(Headline(k, k) for k in ("precision", "recall", "density", "coverage"))),
    Metric("is", "Inception Score", "samples and a classifier",
           "exp E KL(p(y|x) || p(y)) of the classifier's class probabilities on samples "
           "(Salimans et al. 2016).", (Headline("is", "IS"),)),
    Metric("confidence", "classifier confidence on samples", "samples and a classifier",
           "The classifier's mean top probability on samples, its accuracy on the intended "
           "class (conditional models) and the entropy of the predicted classes (ln C: every "
           "class equally often).",
           (Headline("mean_max_softmax", "sample confidence"),
            Headline("target_accuracy", "class-targeted accuracy"),
            Headline("class_entropy", "class entropy (nats)", "nats"))),
    Metric("believability", "confidence on reconstructions and perturbed codes",
           "codes and a classifier",
           "The classifier's confidence on reconstructions, on decodes of noise-perturbed "
           "codes, and on codes moved toward another class or the class centroid; and its "
           "call on blends w·z_source + (1 − w)·z_target of the two classes' codes (source, "
           "target or another class).",
           (Headline("recon_confidence", "recon confidence"),
            Headline("perturb_confidence", "noise-perturbed confidence"),
            Headline("toward_accuracy", "toward-class accuracy"),
            Headline("centroid_confidence", "centroid confidence"),
            Headline("blend_parent_share", "blend called a parent class"))),
    Metric("augment", "classifiers trained with generated images; not in the default set",
           "samples and training classifiers",
           "Classifiers trained on fractions of the real training images, with and without "
           "generated ones, tested on real test images; the gain is at the smallest fraction.",
           (Headline("augment_accuracy", "augmented accuracy"),
            Headline("augment_gain", "augmentation gain")), default=False),
)}

METRICS = tuple(REGISTRY)
DEFAULT_METRICS = tuple(m.name for m in REGISTRY.values() if m.default)
SAMPLE_METRICS = tuple(m.name for m in REGISTRY.values() if m.sampled and m.judged)
CLASSIFIER_METRICS = tuple(m.name for m in REGISTRY.values() if m.judged)
SUMMARY = {m.name: tuple(h.key for h in m.headlines) for m in REGISTRY.values()}
"""The headline numbers of each metric, in the order a summary table shows them."""
HEADLINES = {h.key: h for m in REGISTRY.values() for h in m.headlines}
LIKELIHOOD_KEYS = frozenset(k for k, h in HEADLINES.items() if h.per_scale)
"""Headline numbers comparable only between models of the same likelihood ``scale``."""
LOWER_IS_BETTER = frozenset(k for k, h in HEADLINES.items() if h.lower_is_better)
"""Headline numbers where lower is better; higher is better for every other one."""


def metric_help() -> str:
    """``nll (-ELBO and ...), recon (...), ...`` for ``--metrics``."""
    return ", ".join(f"{m.name} ({m.help})" for m in REGISTRY.values())
