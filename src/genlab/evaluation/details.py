"""The numbers behind a metric's headline, as small tables (caption, header, rows) that the
registry's metrics declare (``Metric.details``) and the study page shows per model."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

Table = tuple[str, list[str], list[tuple[Any, ...]]]


def believability_details(b: Mapping[str, Any]) -> list[Table]:
    """Confidence per noise scale, and per step toward another class and the centroid."""
    out: list[Table] = []
    if "perturb" in b:
        p = b["perturb"]
        out.append(("noise on the codes: classifier confidence", ["σ", "confidence"],
                    list(zip(p["sigmas"], p["mean_max_softmax"], strict=True))))
    if "toward_class" in b:
        t = b["toward_class"]
        out.append((f"class {t['source']} toward class {t['target']}",
                    ["α", "classified as target", "confidence"],
                    list(zip(t["alphas"], t["target_accuracy"], t["mean_max_softmax"],
                             strict=True))))
    if "centroid" in b:
        c = b["centroid"]
        out.append(("toward the class centroid", ["α", "own class", "confidence"],
                    list(zip(c["alphas"], c["own_class_accuracy"], c["mean_max_softmax"],
                             strict=True))))
    return out


def augment_details(a: Mapping[str, Any]) -> list[Table]:
    """Test accuracy per fraction of the real training images, with and without samples."""
    return [(f"augmentation (labels: {a['label_source']}): test accuracy",
             ["fraction", "real images", "real only", "+ generated", "gain"],
             [(r["fraction"], r["real_images"], r["accuracy_real"], r["accuracy_augmented"],
               r["gain"]) for r in a["fractions"]])]


def kid_details(k: Mapping[str, Any]) -> list[Table]:
    """The samples' KID between its two reference points: real training images (the floor)
    and features all 0 (``kid_blank``, near where models that miss every strong real
    activation crowd)."""
    keys = [("kid", "samples"), ("real_kid", "training images (floor)"),
            ("kid_blank", "features all 0 (blank)")]
    present = [(key, name) for key, name in keys if key in k]
    return [("KID against its reference points", [name for _, name in present],
             [tuple(k[key] for key, _ in present)])]
