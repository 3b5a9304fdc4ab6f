"""The study report: one self-contained HTML page (images embedded) and the results table.

The page has the comparison table first (a row per model, a column per headline number, an
arrow saying which way is better, the best value in bold), then one section per model with its
figures side by side. It needs no network and no other file: every PNG is a ``data:`` URI.
The same rows make ``results.csv`` (:func:`results_csv`).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from genlab.evaluation.registry import (
    HEADLINES,
    LIKELIHOOD_KEYS,
    LOWER_IS_BETTER,
    REGISTRY,
    SUMMARY,
)
from genlab.report.records import Figure, ModelSection
from genlab.version import __version__

HEADINGS = {key: h.heading for key, h in HEADLINES.items()}
"""Column headings of the headline numbers (``evaluation.registry``)."""
ORDER = [key for keys in SUMMARY.values() for key in keys]

STYLE = """
body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1400px}
table{border-collapse:collapse;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px}
th{background:#f3f3f3;vertical-align:bottom}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.best{font-weight:bold;background:#eef7ee}.figs{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0;max-width:440px}.wide{overflow-x:auto}
figure img{max-width:100%;border:1px solid #ddd}img.grid{image-rendering:pixelated}
figcaption,caption{font-size:13px;color:#555}.note{color:#666;font-size:13px}section{margin-top:2.5em}
"""


@dataclass
class ModelPart:
    """One model's section record (``genlab.study.sections``) and the folder of its PNGs."""

    section: ModelSection
    folder: Path

    @property
    def label(self) -> str:
        return self.section.label


def columns(parts: Sequence[ModelPart]) -> list[str]:
    """The headline numbers any model has, in the evaluation suite's order."""
    present = {k for p in parts for k, v in p.section.summary.items() if _number(v)}
    return [k for k in ORDER if k in present]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def scale(part: ModelPart) -> str | None:
    """The likelihood's scale (kind and binarisation): NLLs compare only within one."""
    return part.section.likelihood_scale


def best_rows(parts: Sequence[ModelPart], key: str) -> set[int]:
    """Indices of the models holding the best value of ``key`` (ties all count); for a
    likelihood, the best of each group of two or more models on the same scale."""
    groups: dict[str | None, list[tuple[int, float]]] = {}
    for i, p in enumerate(parts):
        value = p.section.summary.get(key)
        if _number(value):
            groups.setdefault(scale(p) if key in LIKELIHOOD_KEYS else None, []).append((i, value))
    pick = min if key in LOWER_IS_BETTER else max
    best = set()
    for numbers in groups.values():
        if len(numbers) >= 2:
            top = pick(v for _, v in numbers)
            best |= {i for i, v in numbers if v == top}
    return best


def arrow(key: str) -> str:
    return "↓" if key in LOWER_IS_BETTER else "↑"


def fmt(value: Any) -> str:
    if not _number(value):
        return "–"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _row_facts(part: ModelPart) -> dict[str, Any]:
    run, training = part.section.run, part.section.training
    return {"model": part.label, "family": run.get("model"), "dataset": run.get("dataset"),
            "epoch": run.get("epoch"), "train_seconds": training.get("seconds")}


def results_csv(parts: Sequence[ModelPart]) -> str:
    """The comparison table as CSV: the facts of each run, then every headline number."""
    keys = columns(parts)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow([*_row_facts(parts[0]), *keys] if parts else [])
    for p in parts:
        writer.writerow([*_row_facts(p).values(),
                         *("" if not _number(v := p.section.summary.get(k)) else v
                           for k in keys)])
    return out.getvalue()


def _scales(parts: Sequence[ModelPart]) -> dict[str, str]:
    """A footnote letter per likelihood scale present."""
    found = dict.fromkeys(s for p in parts if (s := scale(p)))
    return {s: "abcdefghij"[i % 10] for i, s in enumerate(found)}


def _cell(part: ModelPart, key: str, best: bool, letters: dict[str, str]) -> str:
    value = part.section.summary.get(key)
    mark = ""
    if key in LIKELIHOOD_KEYS and _number(value) and scale(part) in letters:
        mark = f"<sup title='{html.escape(str(scale(part)))}'>{letters[str(scale(part))]}</sup>"
    return f"<td class='num{' best' if best else ''}'>{fmt(value)}{mark}</td>"


def _table(parts: Sequence[ModelPart]) -> str:
    keys = columns(parts)
    best = {k: best_rows(parts, k) for k in keys}
    letters = _scales(parts)
    legend = "; ".join(f"{letter}: {html.escape(s)}" for s, letter in letters.items())
    head = "".join(f"<th title='{html.escape(k)}'>{html.escape(HEADINGS.get(k, k))} "
                   f"{arrow(k)}</th>" for k in keys)
    rows = []
    for i, p in enumerate(parts):
        facts = _row_facts(p)
        cells = "".join(_cell(p, k, i in best[k], letters) for k in keys)
        rows.append(f"<tr><td><a href='#{html.escape(p.label)}'>{html.escape(p.label)}</a></td>"
                    f"<td>{html.escape(str(facts['family']))}</td>"
                    f"<td class='num'>{fmt(facts['epoch'])}</td>"
                    f"<td class='num'>{fmt(facts['train_seconds'])}</td>{cells}</tr>")
    note = (f"<p class='note'>Likelihoods compare only on the same scale ({legend}).</p>"
            if letters else "")
    return ("<div class='wide'><table><tr><th>model</th><th>family</th><th>epoch</th>"
            f"<th>train s</th>{head}</tr>{''.join(rows)}</table></div>{note}")


def image_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def grid_class(figure: Figure) -> str:
    """Plain sample grids scale without smoothing; matplotlib figures scale smoothly."""
    return " class='grid'" if figure.key == "samples" else ""


def _small_table(caption: str, header: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td class='num'>{fmt(v)}</td>" for v in row) + "</tr>"
                   for row in rows)
    return f"<figure><table><caption>{html.escape(caption)}</caption><tr>{head}</tr>{body}" \
           "</table></figure>"


def details(metrics: dict[str, Any]) -> str:
    """The numbers behind the headline of the perturbations and the augmentation study."""
    out = []
    b = metrics.get("believability", {})
    if "perturb" in b:
        p = b["perturb"]
        out.append(_small_table("noise on the codes: classifier confidence", ["σ", "confidence"],
                                list(zip(p["sigmas"], p["mean_max_softmax"], strict=True))))
    if "toward_class" in b:
        t = b["toward_class"]
        out.append(_small_table(f"class {t['source']} toward class {t['target']}",
                                ["α", "classified as target", "confidence"],
                                list(zip(t["alphas"], t["target_accuracy"],
                                         t["mean_max_softmax"], strict=True))))
    if "centroid" in b:
        c = b["centroid"]
        out.append(_small_table("toward the class centroid", ["α", "own class", "confidence"],
                                list(zip(c["alphas"], c["own_class_accuracy"],
                                         c["mean_max_softmax"], strict=True))))
    if "augment" in metrics:
        a = metrics["augment"]
        out.append(_small_table(
            f"augmentation (labels: {a['label_source']}): test accuracy",
            ["fraction", "real images", "real only", "+ generated", "gain"],
            [(r["fraction"], r["real_images"], r["accuracy_real"], r["accuracy_augmented"],
              r["gain"]) for r in a["fractions"]]))
    return f"<div class='figs'>{''.join(out)}</div>" if out else ""


def _section(part: ModelPart) -> str:
    s = part.section
    run = s.run
    figures = "".join(
        f"<figure><img alt='{html.escape(f.title)}'{grid_class(f)} "
        f"src='{image_uri(part.folder / f.file)}'>"
        f"<figcaption>{html.escape(f.title)}</figcaption></figure>" for f in s.figures)
    skipped = {**s.skipped, **{f"figure {k}": v for k, v in s.skipped_figures.items()}}
    notes = "".join(f"<li><b>{html.escape(k)}</b>: {html.escape(v)}</li>"
                    for k, v in skipped.items())
    facts = (f"{html.escape(str(run.get('model')))} on {html.escape(str(run.get('dataset')))}, "
             f"epoch {fmt(run.get('epoch'))}, latent dimension {fmt(run.get('latent_dim'))}")
    return (f"<section id='{html.escape(part.label)}'><h2>{html.escape(part.label)}</h2>"
            f"<p class='note'>{facts}</p>{details(s.metrics)}"
            f"<div class='figs'>{figures}</div>"
            f"{'<p>Not available:</p><ul class=note>' + notes + '</ul>' if notes else ''}"
            "</section>")


def render_report(title: str, parts: Sequence[ModelPart], notes: Sequence[str] = ()) -> str:
    """The whole page. ``notes``: lines under the title saying how the numbers were made."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    intro = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1><p class='note'>genlab {__version__}, {when}. "
        "Arrows say which way is better; the best value of each column is in bold.</p>"
        f"<ul class='note'>{intro}</ul>{_table(parts)}"
        f"{''.join(_section(p) for p in parts)}</body></html>"
    )


def method_notes(parts: Sequence[ModelPart]) -> list[str]:
    """How the numbers were made, from the evaluation records: samples, feature space, the
    likelihood's binarisation and estimator, the perturbations."""
    notes: list[str] = []
    for p in parts:
        metrics = p.section.metrics
        if "fid" in metrics and not any("feature space" in n for n in notes):
            m = metrics["fid"]
            notes.append(f"FID, KID, precision/recall, IS and confidence: {m['samples']} samples "
                         f"against {m['real']} real {m['split']} images, feature space "
                         f"{m['feature_space']} (classifier {m['classifier_sha256']}).")
        if "nll" in metrics:
            m = metrics["nll"]
            notes.append(f"{p.label}: likelihood on {m['images']} {m['split']} images, "
                         f"{m['nll_method']}, scale {m.get('scale', m['binarize'])}: {m['note']}.")
        if "believability" in metrics and not any(n.startswith("Perturbations") for n in notes):
            s = metrics["believability"]["settings"]
            notes.append(f"Perturbations on {s['images']} test images: noise σ in {s['sigmas']} "
                         "(confidence averaged over σ), class "
                         f"{s['source_class']} toward class {s['target_class']} and toward the "
                         f"class centroid with α in {s['alphas']} (scores at the largest α).")
    present = dict.fromkeys(k for p in parts for k in p.section.metrics)
    return notes + [f"{k}: {REGISTRY[k].method}" for k in present if k in REGISTRY]
