"""Synthetic section records the report tests share (a module, so tests can import it)."""

from __future__ import annotations

from pathlib import Path

import torch

from genlab.figures.images import save_image_grid
from genlab.report.records import Figure, ModelSection
from genlab.report.table import ModelPart


def part(tmp_path: Path, label: str, summary: dict, scale: str | None = None,
         seed: int | None = None, metrics: dict | None = None) -> ModelPart:
    """A run's section with a sample grid, on the likelihood ``scale`` given."""
    folder = tmp_path / label / str(seed)
    save_image_grid(torch.rand(4, 1, 8, 8), folder / "samples.png")
    nll = {"scale": scale, "images": 8, "split": "test", "nll_method": "k = 5",
           "note": "a synthetic record"}
    metrics = {**({"nll": nll} if scale else {}), **(metrics or {})}
    section = ModelSection(label, "key", {"model": label, "dataset": "mnist-mini", "epoch": 3},
                           summary, {"metrics": metrics, "skipped": {"kid": "no"}},
                           [Figure("samples", "samples", "samples.png")],
                           {"map": "needs an encoder"}, {"seconds": 1.5}, seed=seed)
    return ModelPart(section, folder)
