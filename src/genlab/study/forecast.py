"""How long a study will take on this machine, before it starts (``genlab study FILE --plan``).

:func:`genlab.study.schedule.training_flops` ranks runs by their forward operations; seconds
need this machine's speed on each run's own networks, which no single FLOP rate gives (a small
MLP's step is dominated by per-operation overhead, a convolution's by arithmetic). So each run
still to train is probed: a few real training steps of its model (forward, backward and the
optimiser, under its precision, with the torch threads a worker will have) on one batch of its
own images, and one validation batch, timed (the steps after a warm-up one; about
:data:`PROBE_SECONDS` each). An epoch is then its batches of steps plus its validation batches,
plus the learnt-prior fit and the epoch's sample grid where the family has them. Evaluation is
timed the same way from its parts: the shipped classifier on the images it scores, the model's
own passes for the NLL's importance samples and the samples scored, and the figures. The
measurement is of the machine as it is now: on a shared, loaded machine it holds while the
load does. The wall time is the pool's schedule replayed: the runs start longest first on
:func:`genlab.study.pool.layout`'s workers, each after the runs it is built on.
"""

from __future__ import annotations

import json
import math
import statistics
import subprocess
import sys
import tempfile
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import torch

from genlab.data.prepare import batch_input
from genlab.errors import GenlabError
from genlab.evaluation.classifier import BATCH, default_classifier, load_classifier
from genlab.evaluation.metrics import (
    KID_SUBSET_CHUNK,
    KID_SUBSET_SIZE,
    KID_SUBSETS,
    polynomial_mmd2,
)
from genlab.figures.images import save_rows_figure
from genlab.models.core.base import Batch, GenerativeModel
from genlab.models.core.capabilities import Decoder, Encoder, HasLikelihood, Refiner, has
from genlab.models.registry import build_model
from genlab.study.config import StudySettings
from genlab.study.runner import Job, built_first
from genlab.study.schedule import dataset_of, longest_first, training_flops
from genlab.study.sections import FIGURES
from genlab.training.config import RunConfig
from genlab.training.optim import build_optimizers
from genlab.training.precision import Precision

PROBE_SECONDS = 1.0
"""Seconds of timed training steps per run (at least :data:`PROBE_STEPS` steps)."""
PROBE_STEPS = 3
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


def _timed(step: Callable[[], Any], device: torch.device, least: int = 1,
           seconds: float = 0.0) -> float:
    """Median seconds of ``step`` after one untimed call: ``least`` calls, more to
    ``seconds`` (the median: a loaded machine's moments of contention count less)."""
    step()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    times: list[float] = []
    while len(times) < least or sum(times) < seconds:
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def _batch(images: torch.Tensor, labels: torch.Tensor, config: RunConfig,
           device: torch.device) -> Batch:
    x = batch_input(images, config.data.binarize, torch.Generator().manual_seed(0))
    return Batch(x.to(device), labels.to(device))


@dataclass
class Probe:
    """What a probe measured of a run's model: seconds of a training epoch and of one
    image's evaluation pass, whether its evaluation computes an NLL and fits codes by
    gradient steps through its decoder (no encoder: the perturbations invert images), and
    whether it refines moved codes with a diffusion prior (``perturbations.refine``)."""

    epoch_s: float
    image_s: float
    likelihood: bool
    inverts: bool
    refines: bool = False


def probe(config: RunConfig, data_dir: str | None = None) -> Probe:
    """The :class:`Probe` of ``config`` on this machine (closed-form: nothing to time)."""
    ds = dataset_of(config.data, data_dir)
    name = config.train.device  # "auto": the GPU where there is one, as the trainer does
    device = torch.device(("cuda" if torch.cuda.is_available() else "cpu")
                          if name == "auto" else name)
    model = build_model(config.model, ds.shape, ds.num_classes).to(device)
    likelihood = has(model, HasLikelihood)
    inverts = has(model, Decoder) and not has(model, Encoder)
    if model.closed_form:
        return Probe(0.0, 0.0, likelihood, inverts, has(model, Refiner))
    with warnings.catch_warnings():  # the fallback to fp32 is the trainer's to say
        warnings.simplefilter("ignore")
        Precision(config.train, device).attach(model)
    opts = build_optimizers(model, config.train)
    train, val = ds.split(config.data.train_split), ds.split("val" if "val" in ds.splits
                                                             else "test")
    bs, vbs = config.train.batch_size, config.train.eval_batch_size
    batch = _batch(train.images[:bs], train.labels[:bs], config, device)
    held = _batch(val.images[:vbs], val.labels[:vbs], config, device)
    steps = iter(range(1, 1 << 30))

    def update(name: str, out: Any) -> None:
        opts[name].zero_grad(set_to_none=True)
        out.total.backward()
        opts[name].step()

    with torch.random.fork_rng(devices=[]):
        model.train()
        step = _timed(lambda: model.train_step(batch, update, next(steps)), device,
                      PROBE_STEPS, PROBE_SECONDS)
        model.eval()
        with torch.enable_grad() if model.eval_with_grad else torch.no_grad():
            held_s = _timed(lambda: list(model.evaluation(held)), device)
            extra = _extras(model, config, train.images, train.labels, device)
    image_s = held_s / len(held.x)
    return Probe(math.ceil(len(train.images) / bs) * step + len(val.images) * image_s + extra,
                 image_s, likelihood, inverts, has(model, Refiner))


def _extras(model: GenerativeModel, config: RunConfig, images: torch.Tensor,
            labels: torch.Tensor, device: torch.device) -> float:
    """An epoch's work beside its steps: a learnt prior's fit, the epoch's sample grid."""
    seconds = 0.0
    if type(model).fit_prior is not GenerativeModel.fit_prior:
        n = min(10_000, len(images))
        prior = _batch(images[:n], labels[:n], config, device)
        seconds += _timed(lambda: model.fit_prior(prior.x, prior.y), device)
    n = config.train.epoch_samples
    if n > 0 and type(model).sample is not GenerativeModel.sample:
        seconds += _timed(lambda: model.sample(n, generator=torch.Generator().manual_seed(0)),
                          device)
    return seconds


def forecast_job(job: Job, data_dir: str | None = None) -> JobForecast:
    """A job's status and what is left of it: the epochs not done, timed by the probe, and
    its evaluation unless its section is written."""
    status, done = progress_of(job)
    evaluated = (job.folder / "section.json").is_file()
    try:
        shape = tuple(dataset_of(job.config.data, data_dir).shape)
        base = 0.0 if evaluated else _common_evaluation(job.settings, shape)
        if status == "done":
            return JobForecast(job, status, done, 0.0, 0.0, base)
        left = max(0, job.config.train.epochs - done)
        flops = training_flops(job.config, data_dir) * left / max(1, job.config.train.epochs)
        measured = probe(job.config, data_dir)
    except GenlabError as why:  # e.g. built on a run still to train: not built yet
        return JobForecast(job, status, done, 0.0, None, 0.0, f"not estimated: {why}")
    own = 0.0 if evaluated else model_evaluation_seconds(job.settings, measured)
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
        forecasts = [forecast_job(job, data_dir) for job in jobs]
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
        per_image = _timed(lambda: clf.features_and_probs(images), torch.device("cpu"))
        scored = 2 * e.n + p.images * (len(p.sigmas) + 2 * len(p.alphas) + 2)
        seconds += per_image * scored / len(images)
    if "kid" in e.metrics:
        m = min(KID_SUBSET_SIZE, e.n)
        a = torch.rand(min(KID_SUBSET_CHUNK, KID_SUBSETS), m, FEATURES)
        chunk = _timed(lambda: polynomial_mmd2(a, a), torch.device("cpu"))
        seconds += 2 * chunk * KID_SUBSETS / len(a)  # the samples' and the real floor's
    with tempfile.TemporaryDirectory(prefix="genlab-plan-") as tmp:
        rows = [torch.rand(8, *shape)] * 2
        figure = _timed(lambda: save_rows_figure(rows, Path(tmp) / "f.png", ["a", "b"]),
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
