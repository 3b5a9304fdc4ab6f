"""A budget-matched study's figure: each model's quality against its minutes of training.

Each run of a study with a ``budget`` is scored at checkpoints along its training
(``study.budget``): FID on the budget's samples and the validation loss of that epoch. Two
panels, one line per model (a line per seed, in the model's colour), minutes on the x-axis, so
a reader sees which family is ahead at every budget, not only at the end. FID compares models;
each family's validation loss is its own objective (an ELBO, a GAN's game), so that panel
compares a model with itself over time, not families with each other.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import TYPE_CHECKING

from genlab.report.overview import _png, colour
from genlab.report.table import ModelRow

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PANELS = {"fid": "FID", "val_loss": "validation loss (the family's own)"}
"""The point keys drawn, with their axis labels."""


def budget_figure(models: Sequence[ModelRow]) -> Figure | None:
    """The two panels, or None where no model has points (a study without a budget)."""
    from matplotlib.figure import Figure

    if not any(p.section.budget for m in models for p in m.parts):
        return None
    fig = Figure(figsize=(8.4, 3.4), dpi=100, layout="constrained")
    samples = next(q["samples"] for m in models for p in m.parts for q in p.section.budget)
    for ax, (key, name) in zip(fig.subplots(1, 2, squeeze=False)[0], PANELS.items(),
                               strict=True):
        for i, m in enumerate(models):
            for j, part in enumerate(m.parts):
                points = [(q["minutes"], q[key]) for q in part.section.budget
                          if q.get(key) is not None]
                if points:
                    minutes, values = zip(*points, strict=True)
                    ax.plot(minutes, values, marker="o", markersize=3, color=colour(i),
                            label=m.label if j == 0 else None)
        ax.set_xlabel("minutes of training")
        ax.set_ylabel(name)
        ax.set_title(f"FID ({samples:,} samples)" if key == "fid" else name, fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    return fig


def budget_html(models: Sequence[ModelRow]) -> str:
    """The page's part for the figure ("" without a budget)."""
    fig = budget_figure(models)
    if fig is None:
        return ""
    return ("<h2>quality against training minutes</h2><p class='note'>Every model was given "
            "the same minutes of training; each point is a checkpoint along its run. FID "
            "compares the models; a validation loss compares a model with itself.</p>"
            f"<img alt='{html.escape('quality against training minutes')}' "
            f"src='{_png(fig)}'>")
