"""The study page: one self-contained HTML page (images embedded).

Its first screen is the glance of ``report.overview`` (every model's samples side by side,
quality against likelihood, the validation curves); then the comparison table
(``report.table``: a row per model, mean ± sd and interval over its seeds, a column per
headline number, an arrow saying which way is better, the best value in bold), how the
numbers were made, and one section per model with its figures side by side. It needs no
network and no other file: every PNG is a ``data:`` URI.
"""

from __future__ import annotations

import base64
import html
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from genlab.evaluation.registry import REGISTRY
from genlab.report.budget import budget_html
from genlab.report.overview import GLANCE_STYLE, glance
from genlab.report.perturbations import confidence_html
from genlab.report.records import Figure
from genlab.report.table import ModelPart, ModelRow, comparison_table, fmt, rows, seeded
from genlab.version import __version__

STYLE = """
body{font-family:system-ui,sans-serif;margin:1em 2em;color:#222;max-width:1400px}
h1{margin:0 0 .4em;font-size:1.6em}
table{border-collapse:collapse;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px}
th{background:#f3f3f3;vertical-align:bottom}
td.num{text-align:right;font-variant-numeric:tabular-nums}
td.best{font-weight:bold;background:#eef7ee}td.tied{background:#fbf6e4}
.tie{color:#a07000;margin-left:2px}td small{color:#666;font-size:11px}
.figs{display:flex;flex-wrap:wrap;gap:16px}
figure{margin:0;max-width:440px}.wide{overflow-x:auto}
figure img{max-width:100%;border:1px solid #ddd}img.grid{image-rendering:pixelated}
figcaption,caption{font-size:13px;color:#555}.note{color:#666;font-size:13px}section{margin-top:2.5em}
"""


def image_uri(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode()


def grid_class(figure: Figure) -> str:
    """Plain sample grids scale without smoothing; matplotlib figures scale smoothly."""
    return " class='grid'" if figure.key == "samples" else ""


def _small_table(caption: str, header: Sequence[str], lines: Sequence[Sequence[Any]]) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td class='num'>{fmt(v)}</td>" for v in line) + "</tr>"
                   for line in lines)
    return f"<figure><table><caption>{html.escape(caption)}</caption><tr>{head}</tr>{body}" \
           "</table></figure>"


def details(metrics: dict[str, Any]) -> str:
    """The numbers behind the headlines, as the metrics declare them (``Metric.details``:
    the perturbations, the augmentation study)."""
    out = [_small_table(*table) for name, metric in REGISTRY.items()
           if metric.details and name in metrics for table in metric.details(metrics[name])]
    return f"<div class='figs'>{''.join(out)}</div>" if out else ""


def _section(model: ModelRow) -> str:
    """A model's figures (its first seed's), evaluation details and what it could not do."""
    part = model.parts[0]
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
    if len(model.parts) > 1:
        facts += (f"; trained with seeds {', '.join(str(p.section.seed) for p in model.parts)}, "
                  f"figures and details of seed {s.seed}")
    return (f"<section id='{html.escape(part.label)}'><h2>{html.escape(part.label)}</h2>"
            f"<p class='note'>{facts}</p>{details(s.metrics)}"
            f"<div class='figs'>{figures}</div>"
            f"{'<p>Not available:</p><ul class=note>' + notes + '</ul>' if notes else ''}"
            "</section>")


def render_report(title: str, parts: Sequence[ModelPart], notes: Sequence[str] = ()) -> str:
    """The whole page: the first screen (``report.overview``), the table, ``notes`` (how the
    numbers were made), then a section per model."""
    when = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    intro = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    models = rows(parts)
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{STYLE}{GLANCE_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{glance(models, image_uri)}{budget_html(models)}"
        f"<h2>comparison</h2><p class='note'>genlab {__version__}, {when}. "
        f"{SEEDED if seeded(models) else SINGLE}</p>{comparison_table(parts)}"
        f"{confidence_html(models)}"
        f"<ul class='note'>{intro}</ul>{''.join(_section(m) for m in models)}</body></html>"
    )


SINGLE = "Arrows say which way is better; the best value of each column is in bold."
SEEDED = ("Arrows say which way is better. Each number is the mean ± sd over the model's "
          "seeds, below it the 95% Student-t interval of the mean and a single run's "
          "evaluation noise (eval ±: FID's bootstrap sd over samples, the NLL's standard "
          "error over images). The best of a column is bold only when its interval does not "
          "overlap the runner-up's; otherwise ≈ marks the models tied with it.")


def _fid_note(scored: Sequence[Any]) -> str:
    """How the samples were scored: the first model's counts, and each model's that differ
    (its own ``settings``)."""
    def counts(p: Any) -> str:
        m = p.section.metrics["fid"]
        sampling = ", ".join(f"{k} {v}" for k, v in sorted((m.get("sampling") or {}).items()))
        return (f"{m['samples']} samples against {m['real']} real {m['split']} images"
                + (f" ({sampling})" if sampling else ""))

    m = scored[0].section.metrics["fid"]
    own = [f"{p.label}: {counts(p)}" for p in scored[1:] if counts(p) != counts(scored[0])]
    return (f"FID, KID, precision/recall, IS and confidence: {counts(scored[0])}, feature space "
            f"{m['feature_space']} (classifier {m['classifier_sha256']})"
            + (f"; {'; '.join(own)}" if own else "") + ".")


def _noise_words(s: dict) -> str:
    """The noise of the perturbation settings ``s``: its σ, the scale they are on, its mean.
    Records written before the scale existed were absolute."""
    scale = s.get("sigma_scale", "absolute")
    words = f"noise σ in {s['sigmas']}"
    if scale == "relative":
        words += (" in units of each code dimension's sd over "
                  f"{s['centroid_images']} training codes (the prior's sd without an encoder)")
    else:
        words += " in each model's own code units (absolute)"
    mean = s.get("noise_mean", 0.0)
    return words + (f", mean {mean:g}" if mean else "")


def method_notes(parts: Sequence[ModelPart]) -> list[str]:
    """How the numbers were made, from the evaluation records: samples, feature space, the
    likelihood's binarisation and estimator, the perturbations."""
    notes: list[str] = []
    firsts = [m.parts[0] for m in rows(parts)]
    scored = [p for p in firsts if "fid" in p.section.metrics]
    if scored:
        notes.append(_fid_note(scored))
    for p in firsts:
        metrics = p.section.metrics
        if "nll" in metrics:
            m = metrics["nll"]
            scale = m.get("scale") or m["binarize"]
            notes.append(f"{p.label}: likelihood on {m['images']} {m['split']} images, "
                         f"{m['nll_method']}, scale {scale}: {m['note']}.")
        if "believability" in metrics and not any(n.startswith("Perturbations") for n in notes):
            s = metrics["believability"]["settings"]
            notes.append(f"Perturbations on {s['images']} test images: {_noise_words(s)} "
                         "(confidence averaged over σ), class "
                         f"{s['source_class']} toward class {s['target_class']} and toward the "
                         f"class centroid with α in {s['alphas']} (scores at the largest α)"
                         + (f"; models with a diffusion prior over their codes also refine "
                            f"each move (SDEdit) at t* in {s['refine']}" if s.get("refine")
                            else "") + ".")
    present = dict.fromkeys(k for p in parts for k in p.section.metrics)
    return notes + [f"{k}: {REGISTRY[k].method}" for k in present if k in REGISTRY]
