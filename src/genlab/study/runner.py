"""``run_study``: train (or reuse) every model of a study, evaluate and draw each, write the page.

Layout of a study folder::

    DIR/runs/<label>-<hash>/     the run directories (hash of the resolved run config)
    DIR/models/<label>/          figures and section.json of each model
    DIR/models/<label>/seed-<s>/ ... of each of its seeds, for a study with ``seeds``
    DIR/report.html, results.json, results.csv, study.yaml

Each run is trained and evaluated by :func:`run_job` holding its run directory's lock
(``training.lock``), so two study processes on one folder share the work and never train
one run twice. Every step is resumable: a run with ``summary.json`` is reused, one with a
checkpoint is resumed, a section whose settings and checkpoint are unchanged is reused, so a
study stopped at any point continues where it stopped when started again.
:func:`report_runs` makes the same page from run directories that already exist
(``genlab report``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

import yaml

from genlab.io import write_json, write_text
from genlab.report.html import method_notes, render_report
from genlab.report.records import ModelSection
from genlab.report.table import ModelPart, aggregates, results_csv
from genlab.runs import open_run
from genlab.study.budget import apply_budget, budget_points
from genlab.study.config import (
    BudgetSettings,
    StudyConfig,
    StudySettings,
    check_data,
    config_hash,
    resolve_model,
    settings_of,
    study_record,
)
from genlab.study.progress import Watch, labelled, watch_for
from genlab.study.sections import report_folder, write_model_section
from genlab.study.stages import dependency_order, stages_of
from genlab.training.config import RunConfig
from genlab.training.lock import RunDirLocked, holder, run_lock
from genlab.training.trainer import train

Log = Callable[[str], None]


@dataclass
class StudyResult:
    """Where the page and tables are, and each model's section record."""

    report: Path
    results_json: Path
    results_csv: Path
    parts: list[ModelPart]


@dataclass
class Job:
    """One run of a study, what a worker trains and evaluates: the model's label, the seed
    it is trained with, its resolved run config, its run directory, the folder of its section,
    a log tag and the settings it is evaluated and drawn with."""

    label: str
    seed: int
    config: RunConfig
    run_dir: Path
    folder: Path
    tag: str
    settings: StudySettings = field(default_factory=StudySettings)
    after: tuple[int, ...] = ()
    """The jobs (indices) whose runs this one is built on: trained before it starts."""
    budget: BudgetSettings | None = None
    """A budget-matched study's budget: the run's quality scored along it (``study.budget``)."""


def train_or_reuse(config: RunConfig, run_dir: Path, log: Log) -> str:
    """Train the run into ``run_dir`` unless it is done; resume it if it was stopped."""
    if (run_dir / "summary.json").is_file():
        return "reused"
    resume = (run_dir / "checkpoints" / "last.safetensors").is_file()
    log(f"{'resuming' if resume else 'training'} {config.model.name} into {run_dir}")
    train(config, out=run_dir, resume=resume)
    return "resumed" if resume else "trained"


def plan(study: StudyConfig, root: Path, out: Path, device: str | None = None,
         data_dir: str | None = None) -> list[Job]:
    """Every (model, seed) run of ``study`` (config paths relative to ``root``), resolved and
    checked before any training starts, a model after those it is built on (a component such
    as ``first_stage: vae`` naming another model's label). Without ``study.seeds``, one run per
    model under its own seed, in the folders a study has always used."""
    resolved = {m.label: (resolve_model(study, m, root), settings_of(study, m))
                for m in study.models}
    built_on = {label: stages_of(label, config, resolved, root)
                for label, (config, _) in resolved.items()}
    jobs: list[Job] = []
    index: dict[tuple[str, int | None], int] = {}
    for label in dependency_order(built_on):
        config, settings = resolved[label]
        for seed in study.seeds or [None]:
            run = copy.deepcopy(config)
            if seed is not None:
                run.train.seed = seed
            if device:
                run.train.device = device
            if data_dir:
                run.data.data_dir = data_dir
            if study.budget.minutes:
                apply_budget(run, study.budget)
            after = []
            for spec_field, stage in built_on[label].items():
                if stage in resolved:  # another model of the study: its run of this seed
                    after.append(index[(stage, seed)])
                    stage = str(jobs[after[-1]].run_dir.resolve())
                setattr(run.model, spec_field, stage)
            folder = out / "models" / label
            index[(label, seed)] = len(jobs)
            jobs.append(Job(label, run.train.seed, run,
                            out / "runs" / f"{label}-{config_hash(run)}",
                            folder if seed is None else folder / f"seed-{seed}", label,
                            settings, tuple(after), study.budget if study.budget.minutes
                            else None))
    for i, job in enumerate(jobs, 1):
        seeded = f" seed {job.seed}" if study.seeds else ""
        job.tag = f"[{i}/{len(jobs)}] {job.label}{seeded}"
    return jobs


def built_first(order: Sequence[int], jobs: Sequence[Job]) -> list[int]:
    """``order`` (indices of ``jobs``) with each job moved after the jobs it is built on."""
    placed: list[int] = []

    def place(i: int) -> None:
        if i not in placed:
            for d in jobs[i].after:
                place(d)
            placed.append(i)

    for i in order:
        place(i)
    return placed


def run_job(job: Job, data_dir: str | None = None, log: Log = print,
            wait: bool = False) -> ModelSection:
    """Train (or reuse) and evaluate one run while holding its directory: a run another
    process holds is :class:`RunDirLocked` at once, or with ``wait`` once it is free (and
    then, being done, reused)."""
    def say(message: str) -> None:
        log(f"{job.tag}: {message}")

    with run_lock(job.run_dir, wait=wait):
        say(f"{train_or_reuse(job.config, job.run_dir, say)} ({job.run_dir})")
        run = open_run(job.run_dir, device=job.config.train.device, data_dir=data_dir)
        section = write_model_section(job.label, run, job.folder, job.settings, say)
        section.run_dir, section.seed = str(job.run_dir), job.seed
        if job.budget is not None:
            section.budget = budget_points(job.run_dir, job.folder, job.settings, job.budget,
                                           job.config.train.device, data_dir, say)
        write_json(job.run_dir / "evaluation.json", section.evaluation)
    return section


def run_in_process(jobs: Sequence[Job], data_dir: str | None = None,
                   log: Log = print, watch: Watch | None = None) -> list[ModelSection]:
    """Each job in turn; one that another study process holds is left for a second pass,
    which waits for it, so two processes on one study split the runs and train none twice.
    Lines go to ``watch`` (by default plain to ``log``), each labelled with its job."""
    watch = watch or Watch(jobs, log)
    done: dict[int, ModelSection] = {}
    for wait in (False, True):
        for i, job in enumerate(jobs):
            if i in done or any(d not in done for d in job.after):
                continue  # done, or built on a run another process still holds
            watch.set_state(i, "running")
            try:
                with labelled(watch.line, job.tag):
                    done[i] = run_job(job, data_dir, watch.line, wait)
                watch.set_state(i, "done")
            except RunDirLocked:
                watch.set_state(i, "waiting")
                watch.line(f"{job.tag}: {job.run_dir} is in use by {holder(job.run_dir)}: "
                           "coming back to it")
    return [done[i] for i in range(len(jobs))]


@dataclass
class Executor:
    """Where the runs go: ``process`` (``workers`` processes on this machine, by default as
    many runs at a time as it has CPUs, :mod:`genlab.study.pool`; one worker: this process)
    or ``ray`` (tasks on the Ray cluster at ``address``, a local one without it).
    ``cpus_per_run``: the CPUs (torch threads) of each run; by default the machine's CPUs
    shared out among the workers (one each on Ray)."""

    kind: str = "process"
    address: str | None = None
    cpus_per_run: int | None = None
    workers: int | None = None


def run_study(study: StudyConfig, root: Path, out: Path, device: str | None = None,
              data_dir: str | None = None, log: Log = print,
              executor: Executor | None = None, live: TextIO | None = None) -> StudyResult:
    """Every model of ``study`` (config paths relative to ``root``) into ``out``. Every run
    config is resolved and checked before any training starts. Each line a job writes goes
    to ``log`` labelled with the job, or with ``live`` (a terminal) above a live view of the
    running jobs (:mod:`genlab.study.progress`)."""
    executor = executor or Executor()
    jobs = plan(study, root, out, device, data_dir)
    if not executor.address:  # a Ray cluster's data is the cluster's
        check_data(study, root, data_dir)
    if executor.kind == "ray":
        from genlab.study.ray_executor import import_ray, run_on_ray

        import_ray()  # before anything is written
    out.mkdir(parents=True, exist_ok=True)
    write_text(out / "study.yaml", yaml.safe_dump(study_record(study), sort_keys=False))
    if executor.kind == "ray":
        sections = run_on_ray(jobs, data_dir, log, executor.address,
                              executor.cpus_per_run or 1)
    else:
        watch = watch_for(jobs, log, live)
        try:
            sections = _run_here(jobs, data_dir, watch, executor)
        finally:
            watch.close()
    parts = [ModelPart(s, job.folder) for s, job in zip(sections, jobs, strict=True)]
    return write_outputs(study.name, parts, out, {"study": study_record(study)})


def _run_here(jobs: Sequence[Job], data_dir: str | None, watch: Watch,
              executor: Executor) -> list[ModelSection]:
    """The process executor: worker processes when more than one run goes at a time, else
    this process."""
    from genlab.study.pool import layout, run_in_pool

    workers, threads = layout(jobs, executor.workers, executor.cpus_per_run)
    if workers > 1:
        return run_in_pool(jobs, data_dir, watch, workers, threads)
    if executor.cpus_per_run is None:
        return run_in_process(jobs, data_dir, watch=watch)
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(executor.cpus_per_run)
    try:
        return run_in_process(jobs, data_dir, watch=watch)
    finally:
        torch.set_num_threads(before)


def write_outputs(title: str, parts: Sequence[ModelPart], out: Path,
                  extra: dict[str, Any]) -> StudyResult:
    """report.html, results.json and results.csv of ``parts`` into ``out``."""
    page = write_text(out / "report.html",
                      render_report(title, parts, method_notes(parts)))
    table = write_text(out / "results.csv", results_csv(parts))
    record = write_json(out / "results.json",
                        {**extra, "models": [p.section.to_json() for p in parts],
                         "aggregate": aggregates(parts)})
    return StudyResult(page, record, table, list(parts))


def report_runs(runs: Sequence[str], out: Path, settings: StudySettings,
                title: str = "genlab report", which: str = "best", device: str = "cpu",
                data_dir: str | None = None, log: Log = print) -> Path:
    """The study page of existing run directories, written to the file ``out``: each run's
    section (its evaluation and figures, embedded in the page) is kept in genlab's cache
    (``sections.report_folder``) and reused while its checkpoint and the settings are."""
    opened = [open_run(r, which=which, device=device, data_dir=data_dir) for r in runs]
    parts = []
    for i, (label, run) in enumerate(zip(_labels(runs), opened, strict=True), 1):
        tag = f"[{i}/{len(opened)}] {label}"
        folder = report_folder(run)
        section = write_model_section(label, run, folder, settings,
                                      lambda m, t=tag: log(f"{t}: {m}"))
        section.label = label  # reused under the label of this call
        section.run_dir = str(run.directory)  # its learning curves
        parts.append(ModelPart(section, folder))
    return write_text(out, render_report(title, parts, method_notes(parts)))


def _labels(runs: Sequence[str]) -> list[str]:
    """Row labels of run paths: the folder names, numbered where two are the same."""
    names = [Path(r).resolve().name if Path(r).is_dir() else Path(r).resolve().parent.parent.name
             for r in runs]
    return [f"{n}-{names[:i].count(n) + 1}" if names.count(n) > 1 else n
            for i, n in enumerate(names)]
