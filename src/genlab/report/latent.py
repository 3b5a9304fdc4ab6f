"""Figures and tables of latent experiments (``genlab.latent.experiments``) for any front end.

An :class:`ExperimentResult` becomes a row figure (``save_rows_figure``); a :class:`LatentMap`
becomes a scatter coloured by class and a CSV of its points. ``source`` (e.g. ``vae/mnist``)
prefixes each title, so a figure says which run it shows.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from torch import Tensor

from genlab.figures.images import TITLE_SIZE, rows_figure, wrap
from genlab.io import atomic_write
from genlab.latent.maps import Projection
from genlab.latent.results import ExperimentResult, LatentMap

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MAP_SIZE = (6.5, 5.5)
"""Inches; the axes take about 70% of the width, the legend the rest."""


def latent_map_figure(
    projection: Projection, labels: Tensor, class_names: Sequence[str], title: str
) -> Figure:
    """Scatter of 2-D coordinates coloured by label, one legend entry per class present."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    xy = projection.coords.numpy()
    labels = labels.cpu()
    fig = Figure(figsize=MAP_SIZE, dpi=100, layout="constrained")
    ax = fig.subplots()
    palette = colormaps["tab10" if len(class_names) <= 10 else "tab20"]
    for k in sorted(set(labels.tolist())):
        pick = (labels == k).numpy()
        name = class_names[k] if 0 <= k < len(class_names) else "unlabelled"
        colour = palette(k % palette.N) if k >= 0 else "grey"
        ax.scatter(xy[pick, 0], xy[pick, 1], s=6, alpha=0.8, label=name, color=colour)
    ax.set_xlabel(projection.axis_labels[0])
    ax.set_ylabel(projection.axis_labels[1])
    ax.set_title(wrap(title, 0.7 * MAP_SIZE[0], TITLE_SIZE), fontsize=TITLE_SIZE)
    ax.legend(markerscale=2.5, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    return fig


def figure(result: ExperimentResult | LatentMap, source: str) -> Figure:
    """The figure of any latent experiment: a scatter for a map, else one row of images per
    result row, captioned by its row and column labels. ``source`` prefixes the title."""
    title = f"{source}: {result.title}"
    if isinstance(result, LatentMap):
        return latent_map_figure(result.projection, result.labels, result.class_names, title)
    return rows_figure(result.rows, result.row_labels, result.col_labels, title)


def save_figure(result: ExperimentResult | LatentMap, path: str | Path, source: str) -> Path:
    """Write :func:`figure` as a PNG, atomically."""
    path = Path(path)
    with atomic_write(path) as fh:
        figure(result, source).savefig(fh, format="png", bbox_inches="tight", pad_inches=0.05)
    return path


def map_csv(result: LatentMap) -> str:
    """The map's points as CSV: dataset index, label, class name (empty if unknown), x, y."""
    names = result.class_names
    lines = ["index,label,class,x,y"]
    points = zip(result.indices, result.labels.tolist(), result.projection.coords.tolist(),
                 strict=True)
    for i, k, (u, v) in points:
        name = (names[k] if k < len(names) else "?") if k >= 0 else ""
        lines.append(f"{i},{k},{name},{u:.6g},{v:.6g}")
    return "\n".join(lines) + "\n"
