"""Learning curves: train against validation for every logged term (Kingma & Welling 2014, fig. 2
style: one panel per term, epochs on the x axis)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from genlab.io import atomic_write


def plot_curves(history: list[dict[str, Any]], path: Path, title: str = "") -> Path:
    """One panel per term; train solid, validation dashed. Written atomically.

    Uses matplotlib's object API (``Figure``), so no global backend is chosen or touched."""
    from matplotlib.figure import Figure

    terms = sorted(
        {k.split("/", 1)[1] for row in history for k in row if k.startswith(("train/", "val/"))}
    )
    panels = max(len(terms), 1)
    fig = Figure(figsize=(4 * panels, 3.2), dpi=100, layout="tight")
    axes = fig.subplots(1, panels, squeeze=False)[0]
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
    with atomic_write(path) as fh:
        fig.savefig(fh, format="png")
    return Path(path)
