"""Learning curves: train against validation for every logged term (seed 004 figs 1, 4, 7, 10)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import matplotlib

from genlab.data.atomic import atomic_write

matplotlib.use("Agg")
import matplotlib.pyplot as plt


def plot_curves(history: list[dict[str, Any]], path: Path, title: str = "") -> Path:
    """One panel per term; train solid, validation dashed. Written atomically."""
    terms = sorted(
        {k.split("/", 1)[1] for row in history for k in row if k.startswith(("train/", "val/"))}
    )
    fig, axes = plt.subplots(1, max(len(terms), 1), figsize=(4 * max(len(terms), 1), 3.2))
    axes = [axes] if len(terms) <= 1 else list(axes)
    for ax, term in zip(axes, terms, strict=False):
        for split, style in (("train", "-"), ("val", "--")):
            pts = [(r["epoch"], r[f"{split}/{term}"]) for r in history if f"{split}/{term}" in r]
            if pts:
                xs, ys = zip(*pts, strict=True)
                ax.plot(xs, ys, style, marker="o", markersize=3, label=split)
        ax.set_xlabel("epoch")
        ax.set_title(term)
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_write(path) as fh:
        fig.savefig(fh, dpi=100, format="png")
    plt.close(fig)
    return path
