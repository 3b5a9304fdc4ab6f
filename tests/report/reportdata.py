"""Synthetic section records the report tests share (a module, so tests can import it)."""

from __future__ import annotations

from pathlib import Path

import torch

from genlab.figures.images import save_image_grid
from genlab.report.records import Figure, ModelSection
from genlab.report.table import ModelPart

BINARISED = "discrete, binarisation dynamic"
DENSITY = "density, binarisation none, 8-bit dequantised"
CROSS_ENTROPY = "cross-entropy, binarisation none"
"""The likelihood scales as ``evaluate_run`` records them (``str(LikelihoodScale)``)."""


def part(tmp_path: Path, label: str, summary: dict, scale: str | None = None,
         seed: int | None = None, metrics: dict | None = None) -> ModelPart:
    """A run's section with a sample grid, on the likelihood ``scale`` given (its record
    holds the summary's likelihood numbers: with 8-bit bits/dim, on the 8-bit scale)."""
    folder = tmp_path / label / str(seed)
    save_image_grid(torch.rand(4, 1, 8, 8), folder / "samples.png")
    nll = {"scale": scale, "images": 8, "split": "test", "nll_method": "k = 5",
           "note": "a synthetic record",
           **{k: v for k, v in summary.items() if k.startswith(("nll", "neg_elbo"))}}
    metrics = {**({"nll": nll} if scale else {}), **(metrics or {})}
    section = ModelSection(label, "key", {"model": label, "dataset": "mnist-mini", "epoch": 3},
                           summary, {"metrics": metrics, "skipped": {"kid": "no"}},
                           [Figure("samples", "samples", "samples.png")],
                           {"map": "needs an encoder"}, {"seconds": 1.5}, seed=seed)
    return ModelPart(section, folder)


SCALED = {  # label: (scale, summary); MNIST's page once had the first four in one NLL column
    "flow": (DENSITY, {"nll_nats": -3441.0, "nll_8bit_bpd": 1.668}),
    "ddpm": (DENSITY, {"nll_nats": -3030.0, "nll_8bit_bpd": 2.425}),
    "vae": (BINARISED, {"nll_nats": 94.11, "neg_elbo_nats": 98.91}),
    "cvae": (BINARISED, {"nll_nats": 88.03, "neg_elbo_nats": 93.5}),
    "bernoulli": (CROSS_ENTROPY, {"nll_nats": -20.5}),
    "bernoulli-wide": (CROSS_ENTROPY, {"nll_nats": -40.25}),
}


def scaled_parts(tmp_path: Path) -> list[ModelPart]:
    """A flow-like density, binarised nats and cross-entropies, two models on each scale."""
    return [part(tmp_path, label, dict(summary), scale)  # a copy: tests add numbers
            for label, (scale, summary) in SCALED.items()]
