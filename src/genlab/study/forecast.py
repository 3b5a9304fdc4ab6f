"""How long a study will take on this machine, before it starts (``genlab study FILE --plan``).

:func:`genlab.study.schedule.training_flops` ranks runs by their forward operations; seconds
need this machine's speed on each run's own networks: each run still to train is probed, with
the torch threads a worker will have, by :mod:`genlab.training.estimate` (a few timed training
steps and a validation batch of its own model and images), the estimate its trainer prints
before its first epoch. Evaluation is timed the same way from its parts: the shipped
classifier on the images it scores, the model's own passes for the NLL's importance samples
and the samples scored, and the figures. The measurement is of the machine as it is now: on a
shared, loaded machine it holds while the load does. The wall time is the pool's schedule
replayed: the runs start longest first on :func:`genlab.study.pool.layout`'s workers, each
after the runs it is built on.
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import torch

from genlab.data.prepare import eval_seed, fixed_draw
from genlab.errors import GenlabError
from genlab.evaluation.classifier import BATCH, default_classifier, load_classifier
from genlab.evaluation.metrics import (
    KID_SUBSET_CHUNK,
    KID_SUBSET_SIZE,
    KID_SUBSETS,
    polynomial_mmd2,
)
from genlab.figures.images import save_rows_figure
from genlab.study.config import StudySettings
from genlab.study.runner import Job, built_first
from genlab.study.schedule import (
    dataset_of,
    longest_first,
    planned_model,
    planned_stages,
    training_flops,
)
from genlab.study.sections import FIGURES
from genlab.training.config import RunConfig
from genlab.training.estimate import Probe, Split, epochs_within, probe_model, timed

CLASSIFIED = {"fid", "kid", "pr", "is", "confidence", "believability"}
"""The metrics that score images with the classifier."""
FEATURES = 128
"""Feature width KID's kernel sums are timed at (the cost grows with it)."""
FIT_STEPS = 500
"""Gradient steps a code fit takes (at most 1,000, ``genlab.latent.fit``'s default; it stops
once its bound no longer improves): about 500, from the demo's DCGAN, whose perturbations'
fits took 78 s where its epochs took 34 s."""


@dataclass
class JobForecast:
    """One job of the plan: what is done of it and what is left, in operations and seconds
    (``train_s`` None where the probe could not build the model: its error says why)."""

    job: Job
    status: str
    epochs_done: int
    flops: float
    train_s: float | None
    eval_s: float
    note: str = ""

    @property
    def seconds(self) -> float:
        return (self.train_s or 0.0) + self.eval_s


def progress_of(job: Job) -> tuple[str, int]:
    """(``done``, ``partial`` or ``new``, epochs done) of a job's run directory, read only."""
    if (job.run_dir / "summary.json").is_file():
        return "done", json.loads((job.run_dir / "summary.json").read_text())["epochs_run"]
    path = job.run_dir / "metrics.jsonl"
    rows = path.read_text().splitlines() if path.is_file() else []
    epochs = sum(1 for line in rows if line.strip().endswith("}"))
    checkpoint = (job.run_dir / "checkpoints" / "last.safetensors").is_file()
    return ("partial", epochs) if checkpoint and epochs else ("new", 0)


def probe(config: RunConfig, data_dir: str | None = None,
          stages: Mapping[str, RunConfig] | None = None) -> Probe:
    """The :class:`~genlab.training.estimate.Probe` of ``config`` on this machine: the
    estimate the trainer prints before its first epoch, of a model built here (a two-stage
    model on its first stages, ``stages``: the configs of the study's runs by directory)."""
    ds = dataset_of(config.data, data_dir)
    name = config.train.device  # "auto": the GPU where there is one, as the trainer does
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu")
                          if name == "auto" else name)
    model = planned_model(config, ds.shape, ds.num_classes, stages or {}).to(device)
    train = ds.split(config.data.train_split)
    val = ds.split("val" if "val" in ds.splits else "test")
    b, seed = config.data.binarize, config.data.split_seed
    return probe_model(model, config,
                       Split(fixed_draw(train.images, b, seed, training=True), train.labels),
                       Split(fixed_draw(val.images, b, eval_seed(seed)), val.labels), device)


def forecast_job(job: Job, data_dir: str | None = None,
                 stages: Mapping[str, RunConfig] | None = None) -> JobForecast:
    """A job's status and what is left of it: the epochs not done, timed by the probe (on
    the study's ``stages`` where it is built on them), and its evaluation unless its section
    is written."""
    status, done = progress_of(job)
    evaluated = (job.folder / "section.json").is_file()
    try:
        shape = tuple(dataset_of(job.config.data, data_dir).shape)
        base = 0.0 if evaluated else _common_evaluation(job.settings, shape)
        if status == "done":
            return JobForecast(job, status, done, 0.0, 0.0, base)
        measured = probe(job.config, data_dir, stages)
        epochs = epochs_within(job.config, measured.epoch_s)
        left = max(0, epochs - done)
        flops = (training_flops(job.config, data_dir, stages) * left / job.config.train.epochs
                 if left else 0.0)
    except GenlabError as why:  # e.g. built on a run still to train: not built yet
        return JobForecast(job, status, done, 0.0, None, 0.0, f"not estimated: {why}")
    own = 0.0 if evaluated else model_evaluation_seconds(job.settings, measured)
    if job.budget is not None and not evaluated:  # FID along the run: its samples' passes
        own += measured.image_s * job.budget.samples * (
            math.ceil(job.config.train.time_limit / job.config.train.checkpoint_every) + 1)
    return JobForecast(job, status, done, flops, left * measured.epoch_s, base + own)



_COMMON: dict[str, float] = {}


def _common_evaluation(settings: StudySettings, shape: tuple[int, ...]) -> float:
    """:func:`evaluation_seconds`, measured once per settings and image shape."""
    key = json.dumps([asdict(settings), shape], sort_keys=True, default=str)
    if key not in _COMMON:
        _COMMON[key] = evaluation_seconds(settings, shape)
    return _COMMON[key]


def wall_seconds(forecasts: Sequence[JobForecast], order: Sequence[int], workers: int,
                 start: float = 0.0) -> float:
    """The study's wall time with ``workers`` taking the jobs in ``order`` (each after the
    jobs it is built on; Graham's list schedule, as the pool runs it), each worker first
    paying ``start`` seconds (a spawned process importing torch and loading the data)."""
    free = [start] * workers
    ends: dict[int, float] = {}
    for i in order:
        w = min(range(workers), key=free.__getitem__)
        begin = max([free[w], *(ends.get(d, 0.0) for d in forecasts[i].job.after)])
        ends[i] = free[w] = begin + forecasts[i].seconds
    return max(free)


@dataclass
class StudyForecast:
    """The plan of a study: its jobs' forecasts, the worker layout, the order the pool
    starts them in, the seconds before the first job starts, and the estimated wall time."""

    jobs: list[JobForecast]
    workers: int
    threads: int
    order: list[int]
    start_s: float
    wall_s: float


def worker_start_seconds() -> float:
    """Seconds a spawned worker takes to start: a fresh interpreter importing what a study's
    worker imports (torch, the trainer, the evaluation), timed."""
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", "import genlab.study.pool, genlab.study.sections"],
                   check=True)
    return time.perf_counter() - start


def forecast_jobs(jobs: Sequence[Job], data_dir: str | None, workers: int,
                  threads: int) -> StudyForecast:
    """Every job's forecast, probed with the torch threads each worker will have, and the
    study's wall time: the study process's start (its imports, as a worker's, and the
    operation counts that order the pool), each worker's, then the pool's schedule."""
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        stages = planned_stages(jobs)
        forecasts = [forecast_job(job, data_dir, stages) for job in jobs]
        if workers == 1:  # in this process, in the config's order
            order, start, ranked = built_first(range(len(jobs)), jobs), 0.0, 0.0
        else:
            ranked = time.perf_counter()
            order = longest_first(jobs, data_dir)
            start = worker_start_seconds()
            ranked = time.perf_counter() - ranked
    finally:
        torch.set_num_threads(before)
    return StudyForecast(forecasts, workers, threads, order, ranked + start,
                         ranked + wall_seconds(forecasts, order, workers, start))


def evaluation_seconds(settings: StudySettings, shape: tuple[int, ...]) -> float:
    """Seconds of the part of one model's evaluation that every model pays alike: the
    shipped classifier on the images scored (the samples and the real images they are
    compared with, the perturbed decodes), KID's kernel sums (timed on one chunk of
    subsets), and the figures (one rows figure timed). A model's own passes are added by
    :func:`model_evaluation_seconds`."""
    e, p = settings.evaluation, settings.perturbations
    seconds = 0.0
    path = e.classifier or default_classifier(shape)
    if path is not None and str(path) != "inception" and set(e.metrics) & CLASSIFIED:
        clf = load_classifier(path)
        images = torch.rand(min(BATCH, e.n), *shape)
        per_image = timed(lambda: clf.features_and_probs(images), torch.device("cpu"))
        scored = 2 * e.n + p.images * (len(p.sigmas) + 2 * len(p.alphas) + 2)
        seconds += per_image * scored / len(images)
    if "kid" in e.metrics:
        m = min(KID_SUBSET_SIZE, e.n)
        a = torch.rand(min(KID_SUBSET_CHUNK, KID_SUBSETS), m, FEATURES)
        chunk = timed(lambda: polynomial_mmd2(a, a), torch.device("cpu"))
        seconds += 3 * chunk * KID_SUBSETS / len(a)  # the samples', the floor's, kid_blank
    with tempfile.TemporaryDirectory(prefix="genlab-plan-") as tmp:
        rows = [torch.rand(8, *shape)] * 2
        figure = timed(lambda: save_rows_figure(rows, Path(tmp) / "f.png", ["a", "b"]),
                        torch.device("cpu"))
    return seconds + figure * len(FIGURES)


def model_evaluation_seconds(settings: StudySettings, measured: Probe) -> float:
    """A model's own passes in its evaluation, at its probe's seconds per image: the NLL's
    importance samples, the samples scored and drawn, the latent map's and the perturbations'
    images, and a decoder without an encoder fitting codes to the perturbed images
    (:data:`FIT_STEPS` passes each), and a diffusion prior refining the moved codes at each
    level (one prior draw's pass each, a sample's at t* = 1: an upper bound)."""
    e, f, p = settings.evaluation, settings.figures, settings.perturbations
    nll = e.nll_images * e.iw_samples if "nll" in e.metrics and measured.likelihood else 0
    moved = p.images * (len(p.sigmas) + len(p.alphas))
    refined = moved * len(p.refine) if measured.refines else 0
    images = nll + e.n + f.samples + f.map_images + moved + refined
    fits = FIT_STEPS * p.images if measured.inverts else 0
    return measured.image_s * (images + fits)
