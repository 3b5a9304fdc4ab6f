"""The runs an explorer serves and what it derives from each once: slider directions, metrics.

Runs are named on the command line, opened once, and referred to by their position in that
list (``/api/runs/0/...``): no path in a request ever reaches the file system.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.evaluation.evaluate import summary
from genlab.explore.jobs import Jobs, NotFound
from genlab.latent.fit import prior_frame
from genlab.latent.moves import training_codes
from genlab.latent.requirements import check
from genlab.models.core.capabilities import Decoder, Encoder, Refiner, has
from genlab.runs import Run, Selection

MAX_SLIDERS = 12
"""More sliders than this cannot be held in view or in mind: larger latent spaces get their
leading principal directions instead of their raw coordinates."""
AXES_IMAGES = 5000
"""Training images whose codes define the principal directions: stable leading directions for
a few hundred milliseconds of encoding on a CPU."""


@dataclass
class Axes:
    """Slider directions: moving slider i by one step adds ``scale[i] * basis[i]`` to the code,
    so a slider reads in standard deviations of the codes (or the prior) along its direction.
    The part of a code outside the directions is kept as it is."""

    center: Tensor  # (D,)
    basis: Tensor  # (K, D), orthonormal rows
    scale: Tensor  # (K,)
    labels: list[str]
    variance_ratio: list[float] | None
    source: str

    def view(self) -> dict[str, Any]:
        return {
            "center": self.center.tolist(), "basis": self.basis.tolist(),
            "scale": self.scale.tolist(), "labels": self.labels,
            "variance_ratio": self.variance_ratio, "source": self.source,
        }


def principal_axes(codes: Tensor, k: int = MAX_SLIDERS) -> Axes:
    """The leading ``k`` principal directions of codes (N, D) with their variance, by an SVD of
    the centred codes (Pearson 1901; Hotelling 1933)."""
    z = codes.detach().cpu().double()
    center = z.mean(0)
    _, s, vh = torch.linalg.svd(z - center, full_matrices=False)
    var = s.square() / max(len(z) - 1, 1)
    ratio = (var / var.sum().clamp_min(1e-12)).tolist()
    k = min(k, len(var))
    return Axes(
        center.float(), vh[:k].float(), var[:k].sqrt().float().clamp_min(1e-6),
        [f"PC {i + 1}" for i in range(k)], [round(r, 6) for r in ratio[:k]],
        f"leading principal directions of {len(z)} encoded training codes",
    )


def coordinate_axes(run: Run, why: str) -> Axes:
    """The first (up to) 12 latent coordinates, scaled by the prior's standard deviation."""
    m = run.model
    d = m.latent_dim
    loc, scale = prior_frame(m.prior(), d)
    k = min(d, MAX_SLIDERS)
    return Axes(
        loc.detach().cpu().float(), torch.eye(d)[:k], scale.detach().cpu().float()[:k],
        [f"z{i + 1}" for i in range(k)], None, why,
    )


def read_evaluation(run_dir: Path) -> dict[str, Any] | None:
    """The headline numbers of ``RUN/evaluation.json`` (written by ``genlab evaluate``), or None
    when there is none; a file that cannot be read says so instead of stopping the explorer."""
    path = run_dir / "evaluation.json"
    if not path.is_file():
        return None
    try:
        result = json.loads(path.read_text())
        return {k: v for k, v in summary(result).items() if v is not None}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        return {"error": f"cannot read evaluation.json: {exc}"}


@dataclass
class Served:
    """One run as the explorer serves it."""

    id: int
    name: str
    run: Run
    evaluation: dict[str, Any] | None = None
    _axes: Axes | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def has_encoder(self) -> bool:
        return has(self.run.model, Encoder)

    def axes(self) -> Axes:
        """The slider directions, computed on first use (encoding training images)."""
        with self._lock:
            if self._axes is None:
                self._axes = self._compute_axes()
            return self._axes

    def _compute_axes(self) -> Axes:
        m = self.run.model
        check(m, "the sliders")
        if m.latent_dim <= MAX_SLIDERS:
            return coordinate_axes(self.run, "latent dimensions, in prior standard deviations")
        if not self.has_encoder:
            return coordinate_axes(self.run, f"the first {MAX_SLIDERS} latent coordinates (the "
                                   "model has no encoder to find principal directions with)")
        return principal_axes(training_codes(self.run, AXES_IMAGES).codes.flatten(1))

    def info(self) -> dict[str, Any]:
        """What the page shows about the run: model, dataset, shape, classes, metrics."""
        run, m = self.run, self.run.model
        return {
            "id": self.id, "name": self.name,
            **{k: v for k, v in run.describe().items() if k != "checkpoint"},
            "shape": list(m.shape), "latent_dim": m.latent_dim,
            "latent_space": m.latent_space.describe(), "conditional": m.conditional,
            "has_encoder": self.has_encoder, "classes": run.class_names,
            "refines": has(m, Refiner),  # a diffusion prior that refines moved codes
            "splits": list(run.dataset.splits), "split_sizes": {
                k: len(v) for k, v in run.dataset.splits.items()},
            # default images of each split, of different classes (Run.spanning)
            "examples": {k: run.spanning(k, 2) for k in run.dataset.splits},
            "evaluation": self.evaluation,
            # the family's sampling options with their defaults and accepted values
            "sampling": asdict(run.sample_options()),
            "sampling_choices": {k: list(v) for k, v in type(m).sample_options.choices.items()},
        }

    def pick(self, split: str, index: int | None, cls: str | None, nth: int = 0) -> Selection:
        """One dataset image by index, or the ``nth`` image of a class (wrapping around)."""
        if (index is None) == (cls is None):
            raise ConfigError("choose an image by index or by class (one of them)")
        if cls is not None:
            labels = self.run.dataset.split(split).labels
            of_class = (labels == self.run.class_index(cls)).nonzero().squeeze(1)
            if of_class.numel() == 0:
                raise ConfigError(f"split {split!r} has no images of class {cls!r}")
            index = int(of_class[nth % len(of_class)])
        return self.run.select(split, index=[index])


class Explorer:
    """The opened runs and the background jobs of one explorer process."""

    def __init__(self, runs: list[tuple[str, Run]]) -> None:
        if not runs:
            raise ConfigError("the explorer needs at least one run")
        for name, run in runs:
            if not has(run.model, Decoder):
                raise ConfigError(f"{name}: the {run.config.model.name!r} model has no latent "
                                  "space to explore (no decoder)")
        self.runs = [Served(i, name, run, read_evaluation(run.directory))
                     for i, (name, run) in enumerate(runs)]
        self.jobs = Jobs()

    def get(self, rid: int) -> Served:
        if not 0 <= rid < len(self.runs):
            raise NotFound(f"no run {rid}: this explorer serves runs 0..{len(self.runs) - 1}")
        return self.runs[rid]

    def close(self) -> None:
        self.jobs.shutdown()
