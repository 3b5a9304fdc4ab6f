"""A study's results as a Markdown page for the repository (``docs/results/*.md``): what a
reader of the project sees without running it. Made from the study folder by
``genlab results DIR --out FILE`` (never by hand): the comparison table with directions,
best values and the real-vs-real floor of the sample metrics, the classifier-confidence
figure and table, every model's samples side by side, the blends of the two classes' codes
(the pegasus experiment) of every model that has them, and how the numbers were made (the
exact commands, genlab version, hardware, wall time, the method notes of the HTML page). Its
small PNGs go in a folder beside the page, named after it.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from genlab.evaluation.registry import METRIC_OF, floor
from genlab.io import write_text
from genlab.report.html import method_notes
from genlab.report.perturbations import confidence_figure, confidence_table, png_bytes
from genlab.report.table import (
    Column,
    ModelPart,
    ModelRow,
    best_rows,
    columns,
    fmt,
    heading,
    rows,
    seeded,
)


def _cell(model: ModelRow, column: Column, best: bool) -> str:
    s = model.value(column)
    if s is None:
        return "–"
    text = fmt(s.mean) + (f" ± {s.sd:.2g}" if s.sd is not None else "")
    return f"**{text}**" if best else text


def floor_row(models: Sequence[ModelRow], cols: Sequence[Column]) -> list[str] | None:
    """The declared floors (``Metric.floor``): the sample metrics of real training images
    against the test images."""
    cells, found = [], False
    for column in cols:
        value = next((v for m in models if isinstance(v := floor(m.first.metrics, column.key),
                                                       float)), None)
        found |= value is not None
        cells.append(fmt(value) if value is not None else "")
    return cells if found else None


def tables(models: Sequence[ModelRow]) -> list[str]:
    """The comparison as Markdown tables, one per group the metrics declare
    (``Metric.group``) and, for a likelihood, per scale: a row per model with a number in
    it, so that each table's best is the best on one scale."""
    grouped: dict[tuple[str, str | None], list[Column]] = {}
    for column in columns(models):
        grouped.setdefault((METRIC_OF[column.key].group, column.scale), []).append(column)
    lines = []
    for (group, scale), cols in grouped.items():
        shown = [m for m in models if any(m.value(c) for c in cols)]
        title = f"{group}: {scale}" if scale else group
        lines += [f"### {title}", "", *_table(shown, cols), ""]
    return lines


def _table(models: Sequence[ModelRow], cols: Sequence[Column]) -> list[str]:
    bold = [best_rows(models, c)[0] for c in cols]
    head = ["model", "family", "epochs", "train s", *(heading(c) for c in cols)]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for i, m in enumerate(models):
        facts = m.first.training
        cells = [m.label, str(m.first.run.get("model", "")), fmt(facts.get("epochs_run")),
                 fmt(facts.get("seconds")),
                 *(_cell(m, c, i in best) for c, best in zip(cols, bold, strict=True))]
        lines.append("| " + " | ".join(cells) + " |")
    found = floor_row(models, cols)
    if found:
        lines.append("| *real train images* | reference | | | " + " | ".join(found) + " |")
    return lines


def provenance(sessions: Sequence[dict[str, Any]], models: Sequence[ModelRow]) -> list[str]:
    """How the numbers were made: commands, versions, hardware, wall time."""
    train = sum(p.section.training.get("seconds") or 0 for m in models for p in m.parts)
    if not sessions:
        return [f"- Training time of the runs (sum): {train / 3600:.2f} h; the study's "
                "sessions were not recorded."]
    last = sessions[-1]
    wall, together = wall_time(sessions)
    commands = list(dict.fromkeys(s["command"] for s in sessions))
    parallel = f", up to {together} at once on one study folder" if together > 1 else ""
    return [*(f"- Command: `{c}`" for c in commands),
            f"- genlab {last['genlab']}, torch {last['torch']}, Python {last['python']}",
            f"- Hardware: {last['cpu']}, {last['cpus']} CPUs ({last['torch_threads']} torch "
            f"threads){', GPU ' + last['gpu'] if last.get('gpu') else ', no GPU'}",
            f"- Wall time of the recorded sessions: {wall / 3600:.2f} h over {len(sessions)} "
            f"session(s){parallel}, {min(s['started'] for s in sessions)} to "
            f"{max(s['ended'] for s in sessions)} (training of the runs, summed over "
            f"them: {train / 3600:.2f} h)"]


def wall_time(sessions: Sequence[dict[str, Any]]) -> tuple[float, int]:
    """Seconds during which at least one session ran (sessions that overlap, two processes
    on one study folder, count once), and the most that ran at the same time."""
    spans = sorted((_time(s["started"]), _time(s["ended"])) for s in sessions)
    total, end, most = 0.0, float("-inf"), 0
    for start, stop in spans:
        total += max(0.0, stop - max(start, end))
        end = max(end, stop)
        most = max(most, sum(1 for a, b in spans if a <= start < b))
    return total, most


def _time(stamp: str) -> float:
    """A session's ``YYYY-MM-DD HH:MM:SS UTC`` as seconds."""
    return datetime.strptime(stamp, "%Y-%m-%d %H:%M:%S UTC").replace(tzinfo=UTC).timestamp()


def render_markdown(title: str, parts: Sequence[ModelPart], out: Path,
                    sessions: Sequence[dict[str, Any]], source: str,
                    complete: bool = True) -> Path:
    """Write the page ``out`` and its PNGs into ``out.stem``/ beside it."""
    models = rows(parts)
    assets = out.parent / out.stem
    if assets.exists():
        shutil.rmtree(assets)
    assets.mkdir(parents=True)
    lines = [f"# {title}", ""]
    if not complete:
        lines += ["*The study has not finished: the models below are those done so far.*", ""]
    lines += ["## Comparison", "", *tables(models), "",
              "Arrows say which way is better; the best of each column is in bold"
              + (" (mean ± sd over seeds)." if seeded(models) else ".")
              + " A likelihood has a table per scale and compares only within it. The last "
              "row of the samples scores real training images in place of samples: the floor "
              "of each sample metric with as many images.", ""]
    fig = confidence_figure(models)
    if fig is not None:
        (assets / "confidence.png").write_bytes(png_bytes(fig))
        header, body = confidence_table(models)
        lines += ["## Classifier confidence as codes move", "",
                  f"![classifier confidence]({assets.name}/confidence.png)", "",
                  "| " + " | ".join(header) + " |", "|" + "---|" * len(header),
                  *("| " + " | ".join(r) + " |" for r in body), ""]
    lines += ["## Samples", "", "| " + " | ".join(m.label for m in models) + " |",
              "|" + "---|" * len(models),
              "| " + " | ".join(_figure(m, assets, "samples") for m in models) + " |", ""]
    lines += blends(models, assets)
    lines += ["## How these numbers were made", "", *provenance(sessions, models),
              f"- This page: `genlab results {source} --out {out}`",
              *(f"- {note}" for note in method_notes(parts)), ""]
    return write_text(out, "\n".join(lines))


def blends(models: Sequence[ModelRow], assets: Path) -> list[str]:
    """Each model's blend figure (its first seed's) under the classifier's calls on all of its
    blends; nothing when no model has one."""
    lines = []
    for m in models:
        found = m.first.metrics.get("believability", {}).get("blend")
        image = _figure(m, assets, "blend")
        if not isinstance(found, dict) or image == "–":
            continue
        counts = found["counts"]
        lines += [f"**{m.label}**: of {found['images']} blends w = {found['weight']:g} of "
                  f"{found['source']} and {found['target']}, the classifier calls "
                  f"{counts['source']} {found['source']}, {counts['target']} {found['target']} "
                  f"and {counts['other']} another class{_refined_calls(found)}.", "", image, ""]
    return ["## Blends of the two classes' codes", "", *lines] if lines else []


def _refined_calls(found: dict) -> str:
    """The same calls of the blends refined by a diffusion prior at each level t*, if any."""
    return "".join(f"; refined at t* = {r['t_star']:g}: {r['counts']['source']}, "
                   f"{r['counts']['target']} and {r['counts']['other']}"
                   for r in found.get("refined", []))


def _figure(model: ModelRow, assets: Path, key: str) -> str:
    """The model's (first seed's) figure ``key`` copied beside the page, as Markdown."""
    part = model.parts[0]
    figure = next((f for f in part.section.figures if f.key == key), None)
    if figure is None or not (part.folder / figure.file).is_file():
        return "–"
    name = f"{model.label}-{key}.png"
    shutil.copyfile(part.folder / figure.file, assets / name)
    return f"![{model.label} {key}]({assets.name}/{name})"
