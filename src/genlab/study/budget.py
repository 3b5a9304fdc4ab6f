"""Budget-matched studies: every model trained for the same minutes, its quality read on the way.

A study's ``budget: {minutes: 10}`` gives every model the same training time instead of
epochs: each run's ``train.time_limit`` is the budget (the trainer's time limit: no epoch
starts that would end past it, summed over the sessions of a resumed run), its
``train.epochs`` a ceiling no run reaches in its minutes (:data:`CEILING`), and its
``train.checkpoint_every`` the budget's ``every`` (by default a fifth of it), so checkpoints
along the run are kept (``checkpoints/timed_NNN``). Once trained, each kept checkpoint and the
last are scored: FID on the budget's ``samples`` with the study's evaluation settings
(classifier, sampling options, seed) and the validation loss the trainer logged at that
epoch, each a point at its minutes of training. The page draws them, one line per model
(``report.budget``): which family is ahead at every budget, not only at the end. The minutes
are the epochs' own (``seconds`` of each row: the training pass, not validation), the time
the limit counts.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from genlab.evaluation.evaluate import evaluate_run, summary
from genlab.io import write_json
from genlab.runs import open_run
from genlab.study.config import BudgetSettings, StudySettings
from genlab.training.callbacks import TIMED
from genlab.training.config import RunConfig
from genlab.version import __version__

CEILING = 100_000
"""The epochs of a budgeted run: more than any run trains in its minutes (the limit ends it)."""
POINTS_FILE = "budget.json"


def apply_budget(config: RunConfig, budget: BudgetSettings) -> None:
    """``config`` trained for the budget's minutes instead of its epochs, checkpoints kept."""
    config.train.time_limit = budget.minutes
    config.train.epochs = CEILING
    config.train.checkpoint_every = budget.every or budget.minutes / 5


def scored_checkpoints(run_dir: Path) -> list[Path]:
    """The kept checkpoints in the order they were written, then the last."""
    kept = sorted((run_dir / "checkpoints").glob(f"{TIMED}*.safetensors"))
    return [*kept, run_dir / "checkpoints" / "last.safetensors"]


def _key(paths: list[Path], settings: StudySettings, budget: BudgetSettings) -> str:
    """What the points depend on: the checkpoints (name, size, time), the settings, genlab."""
    state = [[p.name, p.stat().st_size, p.stat().st_mtime_ns] for p in paths]
    raw = [state, asdict(settings.evaluation), asdict(budget), __version__]
    return hashlib.sha256(json.dumps(raw, sort_keys=True, default=str).encode()).hexdigest()


def budget_points(run_dir: Path, folder: Path, settings: StudySettings, budget: BudgetSettings,
                  device: str, data_dir: str | None,
                  log: Callable[[str], None] = print) -> list[dict[str, Any]]:
    """(checkpoint, epoch, minutes of training, FID, validation loss) of each scored
    checkpoint of ``run_dir`` (one per epoch: the last may be a kept one), reused from
    ``folder/budget.json`` while the checkpoints and settings are those it was made from."""
    paths = scored_checkpoints(run_dir)
    key = _key(paths, settings, budget)
    cached = folder / POINTS_FILE
    if cached.is_file() and (record := json.loads(cached.read_text())).get("key") == key:
        log(f"quality against training minutes reused from {cached}")
        return record["points"]
    log(f"FID (n = {budget.samples}) of {len(paths)} checkpoints along the run")
    evaluation = replace(settings.evaluation, metrics=["fid"], n=budget.samples)
    points: list[dict[str, Any]] = []
    for path in paths:
        run = open_run(path, device=device, data_dir=data_dir)
        history = run.meta.get("history") or []
        if points and points[-1]["epoch"] == run.meta["epoch"]:
            continue
        fid = summary(evaluate_run(run, evaluation)).get("fid")
        points.append({"checkpoint": path.stem, "epoch": run.meta["epoch"],
                       "minutes": sum(row.get("seconds", 0.0) for row in history) / 60,
                       "fid": fid, "val_loss": history[-1].get("val/loss") if history else None,
                       "samples": budget.samples})
    write_json(cached, {"key": key, "points": points})
    return json.loads(cached.read_text())["points"]  # as a reuse reads them (rounded)
