"""``run_study``: train (or reuse) every model of a study, evaluate and draw each, write the page.

Layout of a study folder::

    DIR/runs/<label>-<hash>/     the run directories (hash of the resolved run config)
    DIR/models/<label>/          figures and section.json of each model
    DIR/report.html, results.json, results.csv, study.yaml

Every step is resumable: a run with ``summary.json`` is reused, one with a checkpoint is
resumed, a section whose settings and checkpoint are unchanged is reused, so a study stopped
at any point continues where it stopped when started again. :func:`report_runs` makes the same
page from run directories that already exist (``genlab report``).
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import yaml

from genlab.io import write_json, write_text
from genlab.report.html import ModelPart, method_notes, render_report, results_csv
from genlab.runs import open_run
from genlab.study.config import StudyConfig, StudySettings, config_hash, resolve_model
from genlab.study.sections import write_model_section
from genlab.training.config import RunConfig
from genlab.training.trainer import train

Log = Callable[[str], None]


@dataclass
class StudyResult:
    """Where the page and tables are, and each model's section record."""

    report: Path
    results_json: Path
    results_csv: Path
    parts: list[ModelPart]


def train_or_reuse(config: RunConfig, run_dir: Path, log: Log) -> str:
    """Train the run into ``run_dir`` unless it is done; resume it if it was stopped."""
    if (run_dir / "summary.json").is_file():
        return "reused"
    resume = (run_dir / "checkpoints" / "last.safetensors").is_file()
    log(f"{'resuming' if resume else 'training'} {config.model.name} into {run_dir}")
    train(config, out=run_dir, resume=resume)
    return "resumed" if resume else "trained"


def run_study(study: StudyConfig, root: Path, out: Path, device: str | None = None,
              data_dir: str | None = None, log: Log = print) -> StudyResult:
    """Every model of ``study`` (config paths relative to ``root``) into ``out``. Every run
    config is resolved and checked before any training starts."""
    resolved = [(m.label, resolve_model(study, m, root)) for m in study.models]
    for _, config in resolved:
        if device:
            config.train.device = device
        if data_dir:
            config.data.data_dir = data_dir
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "study.yaml", yaml.safe_dump(asdict(study), sort_keys=False))
    parts = []
    for i, (label, config) in enumerate(resolved, 1):
        tag = f"[{i}/{len(resolved)}] {label}"
        run_dir = out / "runs" / f"{label}-{config_hash(config)}"
        log(f"{tag}: {train_or_reuse(config, run_dir, lambda m, t=tag: log(f'{t}: {m}'))} "
            f"({run_dir})")
        run = open_run(run_dir, device=device or config.train.device, data_dir=data_dir)
        section = write_model_section(label, run, out / "models" / label, study,
                                lambda m, t=tag: log(f"{t}: {m}"))
        section.run_dir = str(run_dir)
        write_json(run_dir / "evaluation.json", section.evaluation)
        parts.append(ModelPart(section, out / "models" / label))
    return write_outputs(study.name, parts, out, {"study": asdict(study)})


def write_outputs(title: str, parts: Sequence[ModelPart], out: Path,
                  extra: dict[str, Any]) -> StudyResult:
    """report.html, results.json and results.csv of ``parts`` into ``out``."""
    page = write_text(out / "report.html",
                      render_report(title, parts, method_notes(parts)))
    table = write_text(out / "results.csv", results_csv(parts))
    record = write_json(out / "results.json",
                        {**extra, "models": [p.section.to_json() for p in parts]})
    return StudyResult(page, record, table, list(parts))


def report_runs(runs: Sequence[str], out: Path, settings: StudySettings,
                title: str = "genlab report", which: str = "best", device: str = "cpu",
                data_dir: str | None = None, log: Log = print) -> Path:
    """The study page of existing run directories, written to the file ``out`` (figures are
    drawn in a temporary folder and embedded, so nothing but the page is left behind)."""
    opened = [open_run(r, which=which, device=device, data_dir=data_dir) for r in runs]
    labels = _labels(runs)
    with tempfile.TemporaryDirectory(prefix="genlab-report-") as tmp:
        parts = []
        for i, (label, run) in enumerate(zip(labels, opened, strict=True), 1):
            tag = f"[{i}/{len(opened)}] {label}"
            section = write_model_section(label, run, Path(tmp) / label, settings,
                                    lambda m, t=tag: log(f"{t}: {m}"))
            parts.append(ModelPart(section, Path(tmp) / label))
        return write_text(out, render_report(title, parts, method_notes(parts)))


def _labels(runs: Sequence[str]) -> list[str]:
    """Row labels of run paths: the folder names, numbered where two are the same."""
    names = [Path(r).resolve().name if Path(r).is_dir() else Path(r).resolve().parent.parent.name
             for r in runs]
    return [f"{n}-{names[:i].count(n) + 1}" if names.count(n) > 1 else n
            for i, n in enumerate(names)]
