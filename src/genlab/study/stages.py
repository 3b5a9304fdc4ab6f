"""Models of a study built on other models of it: ``first_stage: vae`` names a label.

A component of a two-stage family (``models.core.components``) is a run directory; in a study
it may instead name another model's label, and that model is then trained first and its run
(of the same seed) becomes the component. Checked when the study is planned, before anything
trains: the label exists, its family can do what the component needs, the two share their
images, and no model is built, through others, on itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from genlab.errors import ConfigError
from genlab.models.core.capabilities import family_has
from genlab.models.registry import model_class
from genlab.training.components import other_images
from genlab.training.config import RunConfig


def stages_of(label: str, config: RunConfig,
              resolved: Mapping[str, tuple[RunConfig, Any]], root: Path) -> dict[str, str]:
    """Each component field of ``label``'s model: another model's label, or a run directory
    (relative to the study file's folder ``root``) as an absolute path."""
    stages = {}
    for spec in model_class(config.model.name).component_specs:
        value = str(getattr(config.model, spec.field) or "")
        where = f"model {label!r}: model.{spec.field}"
        if value in resolved:
            other = resolved[value][0]
            cls = model_class(other.model.name)
            for need in spec.needs:
                if not family_has(cls, need):
                    raise ConfigError(f"{where} names {value!r}, a {other.model.name} model, "
                                      f"which has no {need.__name__.lower()}")
            key = other_images(other.data, config.data)
            if key:
                raise ConfigError(f"{where} names {value!r}, trained with data.{key}="
                                  f"{getattr(other.data, key)!r}, not "
                                  f"{getattr(config.data, key)!r}")
            stages[spec.field] = value
        elif value and (root / value).is_dir():
            stages[spec.field] = str((root / value).resolve())
        else:
            raise ConfigError(f"{where} is {value!r}: neither a model of this study "
                              f"({', '.join(resolved)}) nor a run directory")
    return stages


def dependency_order(built_on: Mapping[str, Mapping[str, str]]) -> list[str]:
    """The labels, each after the models it is built on, otherwise in the study's order."""
    order: list[str] = []

    def visit(label: str, path: tuple[str, ...]) -> None:
        if label in order:
            return
        if label in path:
            raise ConfigError("models built on each other: "
                              + " -> ".join((*path[path.index(label):], label)))
        for stage in built_on[label].values():
            if stage in built_on:
                visit(stage, (*path, label))
        order.append(label)

    for label in built_on:
        visit(label, ())
    return order
