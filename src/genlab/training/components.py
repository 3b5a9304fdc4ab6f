"""Opening the trained runs a two-stage family is built on (``models.core.components``).

At training time each declared component's run (``model.<field>: RUN_DIR``) must exist, have
finished (``summary.json``), hold a model with the capabilities the family needs, and have been
trained on the same images (dataset, split, classes, size, binarisation) as this run, else a
``ConfigError`` naming the field and the run. Its model is frozen and passed to the family;
where it came from (its run directory, absolute and relative to this run, and a digest of its
weights) is written to this run's checkpoints, so a run always reopens on the very weights it
was trained on: a component whose weights changed since is refused naming both runs.
"""

from __future__ import annotations

import hashlib
import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genlab.errors import CheckpointError, ConfigError
from genlab.models.core.base import GenerativeModel
from genlab.models.registry import build_model, model_class

SAME_DATA = ("dataset", "train_split", "val_size", "split_seed", "binarize", "size", "classes")
"""The data settings a component must share with the run built on it: the same training
images (no validation image of one seen in training by the other) as the same pixels."""


@dataclass(frozen=True)
class Origin:
    """Where a component came from: its run directory (absolute, and relative to the run built
    on it, which survives moving a study folder), its family and a digest of its weights."""

    run: str
    relative: str
    model: str
    digest: str


def weights_digest(state: dict[str, Tensor]) -> str:
    """SHA-256 of a state dict's names, dtypes, shapes and bytes, in name order."""
    h = hashlib.sha256()
    for name in sorted(state):
        t = state[name].detach().cpu().contiguous()
        h.update(f"{name}:{t.dtype}:{tuple(t.shape)};".encode())
        h.update(t.reshape(-1).view(torch.uint8).numpy())  # its buffer: no copy
    return h.hexdigest()


def build_with_components(config: Any, shape: tuple[int, int, int], num_classes: int,
                          run_dir: Path) -> GenerativeModel:
    """The run's model, its components opened from the runs its config names and checked
    against this run's data (``config``: a ``RunConfig``). Each component field of the stored
    config is set to the run's absolute path, so a resumed run finds it from any folder."""
    components = {}
    for spec in model_class(config.model.name).component_specs:
        value = getattr(config.model, spec.field)
        if not value:
            raise ConfigError(f"model.{spec.field}: name the {spec.role}'s run directory "
                              f"(--{spec.field.replace('_', '-')} RUN_DIR)")
        source = Path(value).resolve()
        component = open_component(source, spec.field, spec.role, run_dir)
        _check_data(config.data, source, spec.field)
        setattr(config.model, spec.field, str(source))
        components[spec.field] = component
    return build_model(config.model, shape, num_classes, components)


def open_component(source: Path, field: str, role: str, run_dir: Path) -> GenerativeModel:
    """A finished run's best model, frozen, its :class:`Origin` attached."""
    from genlab.training.checkpoint import load_model

    if not (source / "checkpoints").is_dir():
        raise ConfigError(f"model.{field}: {source} is not a genlab run directory")
    if not (source / "summary.json").is_file():
        raise ConfigError(f"model.{field}: {source} has not finished training (no "
                          f"summary.json); finish it first: genlab train --resume {source}")
    component = load_model(source).requires_grad_(False).eval()
    component.origin = Origin(str(source), os.path.relpath(source, run_dir.resolve()),
                              component.config.name, weights_digest(component.state_dict()))
    return component


def _check_data(data: Any, source: Path, field: str) -> None:
    from genlab.training.config import load_config

    theirs = load_config(source / "config.yaml", stored=True).data
    key = other_images(theirs, data)
    if key:
        raise ConfigError(
            f"model.{field}: {source} was trained with data.{key}={getattr(theirs, key)!r}, "
            f"this run has data.{key}={getattr(data, key)!r}: a {field.replace('_', ' ')} "
            "must be trained on the same images")


def other_images(one: Any, other: Any) -> str | None:
    """The first of :data:`SAME_DATA` in which two data configs differ, if any."""
    return next((key for key in SAME_DATA if getattr(one, key) != getattr(other, key)), None)


def component_records(model: GenerativeModel) -> dict[str, dict[str, str]]:
    """What a checkpoint records of the model's components (empty for a one-stage model)."""
    return {name: asdict(c.origin) for name, c in model.built_on.items()}


def reopen_components(model_name: str, records: dict[str, dict[str, str]],
                      checkpoint: Path) -> dict[str, GenerativeModel]:
    """The components of a saved two-stage run, each from where its record says (relative to
    the run first, then absolute), refused where its weights are not those trained on."""
    run_dir = checkpoint.parent.parent
    components = {}
    for spec in model_class(model_name).component_specs:
        if spec.field not in records:
            raise CheckpointError(f"{checkpoint} records no {spec.role} (model.{spec.field})")
        origin = Origin(**records[spec.field])
        candidates = [(run_dir / origin.relative).resolve(), Path(origin.run)]
        found = next((c for c in candidates if (c / "summary.json").is_file()), None)
        if found is None:
            raise CheckpointError(f"{checkpoint}: its {spec.role} {origin.run} (model."
                                  f"{spec.field}) is gone; it is needed to open this run")
        component = open_component(found, spec.field, spec.role, run_dir)
        if component.origin.digest != origin.digest:
            raise CheckpointError(f"{checkpoint}: its {spec.role} {found} has other weights "
                                  "than it was trained on (retrained since?); retrain this run")
        components[spec.field] = component
    return components
