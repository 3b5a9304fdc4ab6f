"""Believability of generated images as a classifier sees them.

* Mean max-softmax: how sure the classifier is, on average, that an image shows some class
  (real test digits score about 0.99; blurry or ambiguous samples score lower).
* Target accuracy: for class-targeted generation (conditional models), the fraction of
  samples classified as the class they were asked for.
* Class entropy: the entropy of the predicted-class histogram, in nats. A model that covers
  every mode of a balanced 10-class set reaches ln 10 = 2.303; mode collapse lowers it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor


def mean_max_softmax(probs: Tensor) -> float:
    """The average of each image's highest class probability."""
    return float(probs.double().max(1).values.mean())


def target_accuracy(probs: Tensor, intended: Tensor) -> float:
    """Fraction of images whose predicted class is the ``intended`` one."""
    return float((probs.argmax(1).cpu() == intended.cpu()).double().mean())


def class_entropy(probs: Tensor) -> float:
    """Entropy (nats) of the distribution of predicted classes over the images."""
    counts = torch.bincount(probs.argmax(1).cpu(), minlength=probs.shape[1]).double()
    p = counts[counts > 0] / counts.sum()
    return float(-(p * p.log()).sum())


def confidence_scores(probs: Tensor, intended: Tensor | None = None) -> dict[str, Any]:
    """All three (target accuracy only with ``intended``), the class histogram, and the
    largest possible entropy ln C for comparison."""
    scores: dict[str, Any] = {
        "mean_max_softmax": mean_max_softmax(probs),
        "class_entropy": class_entropy(probs),
        "max_class_entropy": math.log(probs.shape[1]),
        "class_counts": torch.bincount(probs.argmax(1).cpu(), minlength=probs.shape[1]).tolist(),
    }
    if intended is not None:
        scores["target_accuracy"] = target_accuracy(probs, intended)
    return scores
