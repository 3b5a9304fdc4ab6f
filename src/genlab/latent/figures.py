"""Figures the image-grid helpers do not cover: the latent-map scatter and masked views."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import torch
from torch import Tensor

from genlab.io import atomic_write
from genlab.latent.maps import Projection

HIDDEN_GREY = 0.5
"""Fill of hidden pixels in the "observed part" column: mid-grey reads as missing on black
MNIST backgrounds and on natural images alike."""


def observed_view(x: Tensor, mask: Tensor) -> Tensor:
    """x with its hidden pixels (mask 0) painted grey, for the completion figure."""
    return torch.where(mask.bool(), x, torch.full_like(x, HIDDEN_GREY))


def save_latent_map(
    projection: Projection,
    labels: Tensor,
    class_names: Sequence[str],
    path: str | Path,
    title: str,
) -> Path:
    """Scatter of 2-D coordinates coloured by label, one legend entry per class present."""
    from matplotlib import colormaps
    from matplotlib.figure import Figure

    xy = projection.coords.numpy()
    labels = labels.cpu()
    fig = Figure(figsize=(6.5, 5.5), dpi=100, layout="constrained")
    ax = fig.subplots()
    palette = colormaps["tab10" if len(class_names) <= 10 else "tab20"]
    for k in sorted(set(labels.tolist())):
        pick = (labels == k).numpy()
        name = class_names[k] if 0 <= k < len(class_names) else "unlabelled"
        colour = palette(k % palette.N) if k >= 0 else "grey"
        ax.scatter(xy[pick, 0], xy[pick, 1], s=6, alpha=0.8, label=name, color=colour)
    ax.set_xlabel(projection.axis_labels[0])
    ax.set_ylabel(projection.axis_labels[1])
    ax.set_title(title, fontsize=10)
    ax.legend(markerscale=2.5, fontsize=8, loc="center left", bbox_to_anchor=(1.0, 0.5))
    path = Path(path)
    with atomic_write(path) as fh:
        fig.savefig(fh, format="png")
    return path

