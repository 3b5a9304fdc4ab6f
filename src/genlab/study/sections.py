"""One model's part of a study or report: its evaluation and its figures, written to a folder.

:func:`write_model_section` opens nothing itself: it takes an opened :class:`~genlab.runs.Run`,
evaluates it (``genlab.evaluation.evaluate_run``, the numbers ``genlab evaluate`` prints), runs
the perturbations and the blend once (their decodes are both scored and drawn), the
interpolations and the latent map (``genlab.latent``), and writes each figure as a PNG plus
``section.json``: the record the HTML page and the results table are made from. A figure
a model cannot have (a map without an encoder) is skipped with the reason, never an error.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

from genlab.data.locate import cache_dir
from genlab.errors import ConfigError
from genlab.evaluation.believability import Experiments, run_experiments
from genlab.evaluation.evaluate import evaluate_run, summary
from genlab.figures.curves import plot_curves
from genlab.figures.images import save_image_grid, save_rows_figure
from genlab.io import write_json
from genlab.latent.experiments import interpolate, interpolation_partners, latent_map
from genlab.latent.moves import CENTROID_IMAGES
from genlab.latent.results import ExperimentResult, LatentMap
from genlab.report import latent as latent_figures
from genlab.report.records import Figure, ModelSection
from genlab.runs import Run
from genlab.study.config import (
    EvaluationSettings,
    FigureSettings,
    StudySettings,
    without_unset,
)
from genlab.training.checkpoint import DIGEST
from genlab.training.components import weights_digest
from genlab.version import __version__

SECTION_FILE = "section.json"
Log = Callable[[str], None]

FIGURES = {
    "samples": "samples",
    "reconstructions": "reconstructions (top: test images)",
    "perturb": "Gaussian noise on the codes",
    "toward_class": "toward another class",
    "centroid": "toward the class centroid",
    "blend": "blends of the two classes' codes",
    "interpolation": "interpolations",
    "map": "latent map",
    "curves": "learning curves",
}
"""Figure keys, in page order, and their captions."""


UNSET_SETTINGS = {"centroid_images": CENTROID_IMAGES, "refine": []}
"""Settings added after studies were run, left out of the key while at their default, so that
the sections a study wrote before (with this genlab version) keep their key and are reused."""


def run_digest(run: Run) -> str:
    """The SHA-256 of the run's checkpoint tensors: the one its file carries (``DIGEST``),
    else (a checkpoint written before the digest) that of the model's weights."""
    return run.meta.get(DIGEST) or weights_digest(run.model.state_dict())


def settings_key(run: Run, *settings: Any) -> str:
    """What a section depends on: the checkpoint (its path, training state and the digest of
    its tensors, so a run retrained in place is evaluated anew), every setting, and the
    genlab version that evaluated it (a release may change how a metric or figure is made,
    so a study run again after an upgrade evaluates anew rather than mix numbers)."""
    state = {"checkpoint": str(run.checkpoint), "epoch": run.meta.get("epoch"),
             "step": run.meta.get("step"), "weights": run_digest(run), "genlab": __version__,
             "settings": [without_unset(asdict(s), UNSET_SETTINGS) for s in settings]}
    return hashlib.sha256(json.dumps(state, sort_keys=True, default=str).encode()).hexdigest()


def report_folder(run: Run) -> Path:
    """Where ``genlab report`` keeps a run's section between calls, so that a second report of
    unchanged runs under the same settings evaluates nothing: one folder per checkpoint file
    under ``$GENLAB_CACHE/report``, its section reused only while its key matches."""
    where = str(Path(run.checkpoint).resolve())
    return cache_dir() / "report" / hashlib.sha256(where.encode()).hexdigest()[:16]


def cached_section(folder: Path, key: str) -> ModelSection | None:
    """The section written earlier under the same key, if all its figures are still there."""
    path = folder / SECTION_FILE
    if not path.is_file():
        return None
    try:
        section = ModelSection.from_json(json.loads(path.read_text()))
    except (json.JSONDecodeError, KeyError, TypeError, AttributeError):
        return None  # unreadable, or written by an older genlab: made anew
    if section.key != key:
        return None
    return section if all((folder / f.file).is_file() for f in section.figures) else None


def write_model_section(label: str, run: Run, folder: Path, settings: StudySettings,
                  log: Log = print) -> ModelSection:
    """Evaluate ``run``, draw its figures into ``folder`` and write ``section.json`` last (so
    a section is reused only once complete); returns the section record."""
    evaluation, perturbations = settings.evaluation, settings.perturbations
    key = settings_key(run, evaluation, perturbations, settings.augmentation, settings.figures)
    cached = cached_section(folder, key)
    if cached is not None:
        log(f"evaluation and figures reused from {folder}")
        return cached
    log("perturbation experiments")
    experiments = run_experiments(run, perturbations, evaluation.split)
    log(f"evaluating {', '.join(evaluation.metrics)} (n = {evaluation.n})")
    result = evaluate_run(run, evaluation, perturbations=perturbations, experiments=experiments,
                          augmentation=settings.augmentation)
    log("figures")
    drawn, skipped = draw_figures(run, folder, settings.figures, experiments, evaluation)
    section = ModelSection(label, key, run.describe(), summary(result), result, drawn, skipped,
                           training_record(run))
    write_json(folder / SECTION_FILE, section.to_json())
    return section


def training_record(run: Run) -> dict[str, Any]:
    """Epochs, seconds and parameters from the run's ``summary.json`` (empty for a loose
    checkpoint file)."""
    path = run.directory / "summary.json"
    if not path.is_file():
        return {}
    done = json.loads(path.read_text())
    return {k: done.get(k) for k in ("epochs_run", "best_epoch", "seconds", "parameters")}


def draw_figures(run: Run, folder: Path, s: FigureSettings, experiments: Experiments,
                 evaluation: EvaluationSettings) -> tuple[list[Figure], dict[str, str]]:
    """Each figure of :data:`FIGURES` as ``folder/<key>.png``; those that cannot be drawn go
    to the second dict with the reason."""
    source = f"{run.config.model.name}/{run.config.data.dataset}"
    makers: dict[str, Callable[[Path], Any]] = {
        "samples": lambda p: _samples(run, p, s.samples, evaluation),
        "reconstructions": lambda p: _reconstructions(run, p, s.images, evaluation),
        "interpolation": lambda p: _interpolation(run, p, s, evaluation.split, source),
        "map": lambda p: _map(run, p, s, evaluation, source),
        "curves": lambda p: _curves(run, p, source),
    }
    for name in ("perturb", "toward_class", "centroid", "blend"):
        makers[name] = _experiment_figure(experiments, name, s.images, source)
    drawn, skipped = [], {}
    for key in FIGURES:
        path = folder / f"{key}.png"
        try:
            makers[key](path)
        except ConfigError as why:
            skipped[key] = str(why)
            continue
        drawn.append(Figure(key, FIGURES[key], path.name))
    return drawn, skipped


def _samples(run: Run, path: Path, n: int, e: EvaluationSettings) -> None:
    """Seeded samples (with the evaluation's sampling options); a conditional model's in class
    order, one class per column."""
    conditional = run.model.conditional
    labels = run.model.labels_for(n, None)
    images = run.sample(n, labels=labels, seed=e.seed, options=e.sampling, strict=False)
    save_image_grid(images, path, nrow=run.model.num_classes if conditional else None,
                    scale=max(1, 64 // images.shape[-1]))


def _reconstructions(run: Run, path: Path, n: int, e: EvaluationSettings) -> None:
    """Images spread over the split above their reconstructions (``Run.reconstruct`` refuses a model
    that has none, and the figure is then skipped with its message)."""
    sel = run.select(e.split, index=run.spread(e.split, n, e.seed))
    save_rows_figure([sel.x, run.reconstruct(sel.x, sel.y)], path,
                     ["original", "reconstruction"], sel.captions)


def _experiment_figure(experiments: Experiments, name: str, k: int,
                       source: str) -> Callable[[Path], Any]:
    """The figure of an experiment that already ran, cut to its first k images."""
    def draw(path: Path) -> None:
        if name not in experiments:
            raise ConfigError(experiments.skipped.get(name, f"{name} did not run"))
        r = experiments[name]
        cut = ExperimentResult([row[:k] for row in r.rows], r.row_labels,
                               r.col_labels[:k] if r.col_labels else None, r.title)
        latent_figures.save_figure(cut, path, source)
    return draw


def _interpolation(run: Run, path: Path, s: FigureSettings, split: str, source: str) -> None:
    """From the first image of ``split`` to the first image of every other class."""
    anchor = run.select(split, index=[0])
    others = interpolation_partners(run, split, int(anchor.y[0]))
    result = interpolate(run, anchor, others, s.interpolation_steps, s.interpolation_method)
    latent_figures.save_figure(result, path, source)


def _map(run: Run, path: Path, s: FigureSettings, e: EvaluationSettings, source: str) -> None:
    sel = run.select(e.split, index=run.spread(e.split, s.map_images, e.seed))
    result: LatentMap = latent_map(run, sel, s.map_method, e.seed)
    latent_figures.save_figure(result, path, source)


def _curves(run: Run, path: Path, source: str) -> None:
    history = run.meta.get("history") or []
    if len(history) < 2:
        raise ConfigError(f"{source} was fitted in closed form: it has no learning curve")
    plot_curves(history, path, title=source)
