"""The order a study's worker pool starts its runs: longest first.

A pool of w workers that takes runs in the config's order can start the longest run last, and
the study then waits for it alone: the demo's DCGAN, listed last, trained on one core while
the other idled. Starting the runs in decreasing cost (Graham 1969's longest-processing-time
rule) keeps the study within 4/3 of the best schedule. The cost of a run is estimated without
training it: the floating-point operations of one forward pass of each player's objective on
two training images (``torch.utils.flop_counter``), times the training images and epochs. A
closed-form family (mean, PCA) or a finished run costs nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from functools import cache
from pathlib import Path

import torch
from torch.utils.flop_counter import FlopCounterMode

from genlab.data import ImageDataset, load_dataset
from genlab.errors import GenlabError
from genlab.models.core.base import Batch, GenerativeModel
from genlab.models.registry import build_model, model_class
from genlab.study.runner import Job
from genlab.training.components import open_component
from genlab.training.config import DataConfig, RunConfig

PROBE_IMAGES = 2
"""Images of the forward pass whose operations are counted (the count scales with the batch)."""


def dataset_of(data: DataConfig, data_dir: str | None) -> ImageDataset:
    """A run's dataset, loaded once per data config for all the runs that share it."""
    return _loaded(json.dumps(asdict(data), sort_keys=True), data_dir)


@cache
def _loaded(data_json: str, data_dir: str | None) -> ImageDataset:
    d = json.loads(data_json)
    return load_dataset(d["dataset"], data_dir=data_dir or d["data_dir"], val_size=d["val_size"],
                        split_seed=d["split_seed"], size=d["size"], classes=d["classes"])


def planned_model(config: RunConfig, shape: tuple[int, int, int], num_classes: int,
                  stages: Mapping[str, RunConfig]) -> GenerativeModel:
    """``config``'s model, each component a finished run where there is one, else a fresh
    build of the study run that will train it (its cost per step is that of a trained one)."""
    components = {}
    for spec in model_class(config.model.name).component_specs:
        where = str(getattr(config.model, spec.field) or "")
        if (Path(where) / "summary.json").is_file():
            components[spec.field] = open_component(Path(where), spec.field, spec.role,
                                                    Path(where))
        elif where in stages:
            components[spec.field] = planned_model(stages[where], shape, num_classes, stages).eval()
    return build_model(config.model, shape, num_classes, components or None)


def training_flops(config: RunConfig, data_dir: str | None = None,
                   stages: Mapping[str, RunConfig] | None = None) -> float:
    """Estimated floating-point operations of training ``config``: forward passes only (a
    backward pass costs about twice its forward, alike for every family), so a ranking, not
    a time (``stages``: as :func:`planned_model`'s)."""
    if config.train.epochs == 0:
        return 0.0
    ds = dataset_of(config.data, data_dir)
    model = planned_model(config, ds.shape, ds.num_classes, stages or {})
    if model.closed_form:
        return 0.0
    train = ds.split(config.data.train_split)
    batch = Batch(train.images[:PROBE_IMAGES].float() / 255, train.labels[:PROBE_IMAGES])
    # The objectives draw noise: from a forked RNG, leaving the caller's untouched.
    with torch.random.fork_rng(devices=[]), FlopCounterMode(display=False) as counter:
        for player in model.players():
            player.objective(batch)
    per_image = counter.get_total_flops() / PROBE_IMAGES
    return per_image * len(train.images) * config.train.epochs


def planned_stages(jobs: Sequence[Job]) -> dict[str, RunConfig]:
    """The configs of a study's runs by run directory, as a later job names its stages."""
    return {str(job.run_dir.resolve()): job.config for job in jobs}


def longest_first(jobs: Sequence[Job], data_dir: str | None = None) -> list[int]:
    """The indices of ``jobs`` by decreasing estimated cost, finished runs last; ties keep
    the config's order. A run whose estimate fails (its data missing, its config wrong) is
    ranked as costless: its worker then reports the error as training would."""
    stages = planned_stages(jobs)

    def cost(i: int) -> float:
        if (jobs[i].run_dir / "summary.json").is_file():
            return 0.0
        try:
            return training_flops(jobs[i].config, data_dir, stages)
        except GenlabError:
            return 0.0

    costs = {i: cost(i) for i in range(len(jobs))}
    return sorted(costs, key=lambda i: -costs[i])
