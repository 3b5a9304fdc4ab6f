"""What a latent experiment returns: tensors and plain numbers, no figure and no file.

Front ends (the CLI, a report, a browser explorer) draw a result with ``genlab.report.latent``
and serialise ``numbers`` as JSON; the experiments themselves never touch matplotlib or disk.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from torch import Tensor

from genlab.latent.maps import Projection


@dataclass
class ExperimentResult:
    """Rows of images (each (N_i, C, H, W) in [0, 1]) with what each row and column shows, a
    one-line description of the experiment for a figure title, and the numbers behind it."""

    rows: list[Tensor]
    row_labels: list[str] | None
    col_labels: list[str] | None
    title: str
    numbers: dict[str, Any] = field(default_factory=dict)


@dataclass
class LatentMap:
    """A 2-D map of codes: the projection, each point's label (-1 unknown) and dataset index,
    the dataset's class names (for a legend), a title and the numbers behind it."""

    projection: Projection
    labels: Tensor
    indices: list[int]
    class_names: list[str]
    title: str
    numbers: dict[str, Any] = field(default_factory=dict)
