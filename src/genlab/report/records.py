"""The typed records the study page is built from: one :class:`ModelSection` per model.

``study.sections`` writes them (as ``section.json``, reused while unchanged) and the page and
``results.json`` read them; their fields, not string keys read back, are the contract between
the two. ``evaluation`` stays the JSON record of ``evaluation.evaluate_run``.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from genlab.evaluation.registry import likelihood_scale


@dataclass(frozen=True)
class Figure:
    """One PNG of a section: its figure key (``samples``, ``map``...), title and file name."""

    key: str
    title: str
    file: str


@dataclass
class ModelSection:
    """One model of a study: its label, the settings ``key`` it was made under, the run's
    description, headline numbers (``summary``), evaluation record, figures (and those that
    could not be drawn, with the reason), training facts, its run directory and the seed it
    was trained with (a study over seeds has one section per model and seed); in a
    budget-matched study, its quality at checkpoints along the run (``study.budget``)."""

    label: str
    key: str
    run: dict[str, Any]
    summary: dict[str, float | None]
    evaluation: dict[str, Any]
    figures: list[Figure] = field(default_factory=list)
    skipped_figures: dict[str, str] = field(default_factory=dict)
    training: dict[str, Any] = field(default_factory=dict)
    run_dir: str | None = None
    seed: int | None = None
    budget: list[dict[str, Any]] = field(default_factory=list)

    @property
    def metrics(self) -> dict[str, Any]:
        """Each measured metric's numbers (``evaluation["metrics"]``)."""
        return self.evaluation.get("metrics", {})

    @property
    def skipped(self) -> dict[str, str]:
        """Each metric that could not be measured, with the reason."""
        return self.evaluation.get("skipped", {})

    @property
    def likelihood_scale(self) -> str | None:
        """The scale of the model's likelihood (NLLs compare only within one;
        ``evaluation.registry.likelihood_scale``)."""
        return likelihood_scale(self.metrics)

    def to_json(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_json(cls, record: dict[str, Any]) -> ModelSection:
        """A record written by :meth:`to_json`; a missing or unknown field is a KeyError or
        TypeError, which a reader of cached sections treats as stale."""
        values = dict(record)
        values["figures"] = [Figure(**f) for f in values.get("figures", [])]
        return cls(**values)
