"""The classifier-confidence study of the original experiments, one figure and one table for
all models: how sure the classifier is of each model's images as its codes are moved.

Three moves (``evaluation.believability``): Gaussian noise of scale sigma added to the codes
(the classifier's mean top-class probability), a move of a fraction alpha toward another
class's codes (the share called the target class) and toward the centroid of all codes (the
mean top-class probability). Each model is a line, the mean over its seeds; a model that
reconstructs but has no latent space (its run record says ``latent_space: None``: the class-mean
baseline, whose images are the class means) has no codes to move and is a dashed line at the
confidence of its reconstructions, and the real test images' confidence a dotted one where
known.
A fourth panel gives the classifier's calls on the blends of the two classes' codes (the
pegasus experiment): the share of each model's blends called the source class, the target
class or another class. Where the moves were refined (a diffusion prior's SDEdit at noise
levels t*, ``perturbations.refine``), each level is a dashed line of the model's colour, a bar
and a table row beside the plain moves.
"""

from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from genlab.report.table import ModelRow, fmt

if TYPE_CHECKING:
    from matplotlib.figure import Figure

MOVES = (  # (record key, x values, y values, title)
    ("perturb", "sigmas", "mean_max_softmax", "noise on the codes: confidence"),
    ("toward_class", "alphas", "target_accuracy", "toward {target}: share called {target}"),
    ("centroid", "alphas", "mean_max_softmax", "toward the centroid: confidence"),
)
COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]


def _records(model: ModelRow) -> list[dict[str, Any]]:
    return [p.section.metrics.get("believability", {}) for p in model.parts]


def refined(record: dict[str, Any], t_star: float | None) -> dict[str, Any] | None:
    """A move's numbers, plain (``t_star`` None) or refined at ``t_star`` (None if not)."""
    if t_star is None:
        return record
    return next((r for r in record.get("refined", []) if r["t_star"] == t_star), None)


def levels(models: Sequence[ModelRow]) -> list[float]:
    """Every refinement level t* any model's moves were refined at, in order."""
    return sorted({r["t_star"] for m in models for record in _records(m)
                   for move in record.values() if isinstance(move, dict)
                   for r in move.get("refined", [])})


def curve(model: ModelRow, move: str, xs: str, ys: str,
          t_star: float | None = None) -> tuple[list[float], list[float]]:
    """A model's mean curve of one move over its seeds, plain or refined at ``t_star`` (empty
    where it has none)."""
    moves = [r[move] for r in _records(model) if isinstance(r.get(move), dict)]
    found = [(m, f) for m in moves if (f := refined(m, t_star)) is not None]
    if not found:
        return [], []
    values = [f[ys] for _, f in found]
    return list(found[0][0][xs]), [sum(v) / len(v) for v in zip(*values, strict=True)]


def baseline(models: Sequence[ModelRow]) -> tuple[str, float] | None:
    """The label and the mean confidence on its reconstructions of the first model that has no
    codes to move (it reconstructs, but its record declares no latent space), if any."""
    for m in models:
        if "latent_space" in m.first.run and m.first.run["latent_space"] is None:
            values = [r.get("recon_confidence") for r in _records(m)]
            values = [v for v in values if isinstance(v, float)]
            if values:
                return m.label, sum(values) / len(values)
    return None


def target_name(models: Sequence[ModelRow]) -> str:
    for m in models:
        for r in _records(m):
            if isinstance(r.get("toward_class"), dict):
                return str(r["toward_class"].get("target"))
    return "the target class"


BLEND_CALLS = ("source", "target", "other")


def blend_shares(model: ModelRow, t_star: float | None = None) -> dict[str, Any] | None:
    """A model's blend calls, plain or refined at ``t_star``, the shares averaged over its
    seeds (None where it has none)."""
    blends = [r["blend"] for r in _records(model) if isinstance(r.get("blend"), dict)]
    found = [f for b in blends if (f := refined(b, t_star)) is not None]
    if not found:
        return None
    return {**found[0], **{f"share_{k}": sum(b[f"share_{k}"] for b in found) / len(found)
                           for k in BLEND_CALLS}}


def _blend_panel(ax: Any, models: Sequence[ModelRow]) -> None:
    """Stacked bars: each model's blends called source, target or another class."""
    rows = [(label, b) for m, t, label in variants(models)
            if (b := blend_shares(m, t)) is not None]
    if not rows:
        ax.set_axis_off()
        return
    bottom = [0.0] * len(rows)
    first = rows[0][1]
    names = {"source": first["source"], "target": first["target"], "other": "other"}
    for call, colour in zip(BLEND_CALLS, ("#8c564b", "#17becf", "#c7c7c7"), strict=True):
        heights = [b[f"share_{call}"] for _, b in rows]
        ax.bar([label for label, _ in rows], heights, bottom=bottom, color=colour,
               label=names[call])
        bottom = [x + h for x, h in zip(bottom, heights, strict=True)]
    ax.set_title(f"blends w={first['weight']:g}·{first['source']} + "
                 f"{1 - first['weight']:g}·{first['target']}: called", fontsize=9)
    ax.set_ylim(0, 1.02)
    ax.tick_params(axis="x", labelsize=7, rotation=30)
    ax.legend(fontsize=7)


def variants(models: Sequence[ModelRow]) -> list[tuple[ModelRow, float | None, str]]:
    """Each model plain, then refined at each level: (model, t* or None, label)."""
    return [(m, t, m.label if t is None else f"{m.label} refined t*={t:g}")
            for m in models for t in [None, *levels(models)]]


def confidence_figure(models: Sequence[ModelRow]) -> Figure | None:
    """One panel per move, a line per model that has it, and the blend panel; None when no
    model moves codes."""
    from matplotlib.figure import Figure

    moved = [(i, m) for i, m in enumerate(models) if any(curve(m, k, x, y)[0]
                                                         for k, x, y, _ in MOVES)]
    if not moved:
        return None
    fig = Figure(figsize=(15, 3.4), dpi=100, layout="constrained")
    base, target = baseline(models), target_name(models)
    axes = fig.subplots(1, 4)
    _blend_panel(axes[3], models)
    for ax, (key, xs, ys, title) in zip(axes[:3], MOVES, strict=True):
        for i, m in moved:
            for t_star in [None, *levels(models)]:
                x, y = curve(m, key, xs, ys, t_star)
                if x:
                    ax.plot(x, y, "o-" if t_star is None else "s--",
                            color=COLOURS[i % len(COLOURS)],
                            label=m.label if t_star is None else f"{m.label} t*={t_star:g}")
        if base is not None and key != "toward_class":
            ax.axhline(base[1], color="k", ls="--", lw=1, label=f"{base[0]} (no codes)")
        ax.set_title(title.format(target=target), fontsize=9)
        ax.set_xlabel("σ" if xs == "sigmas" else "α")
        ax.set_ylim(0, 1.02)
        ax.grid(alpha=0.3)
    fig.axes[0].legend(fontsize=7)
    fig.suptitle("classifier confidence as codes move (mean over seeds)", fontsize=10)
    return fig


def png_bytes(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", pad_inches=0.05)
    return buffer.getvalue()


def confidence_table(models: Sequence[ModelRow]) -> tuple[list[str], list[list[str]]]:
    """Header and rows of the same numbers: each model's confidence on its reconstructions,
    then one column per move and value, then the shares of its blends per call."""
    header, columns = ["model", "recon"], []
    short = {"perturb": "noise", "toward_class": f"share {target_name(models)} at",
             "centroid": "→centroid"}
    for key, xs, ys, _ in MOVES:
        for m in models:
            x, _ = curve(m, key, xs, ys)
            if x:
                sym = "σ" if xs == "sigmas" else "α"
                columns += [(key, xs, ys, j) for j in range(len(x))]
                header += [f"{short[key]} {sym}={v:g}" for v in x]
                break
    named = next((b for m in models if (b := blend_shares(m)) is not None), None)
    if named is not None:
        header += [f"blend called {named.get(k, 'other')}" for k in BLEND_CALLS]
    lines = []
    for m, t_star, label in variants(models):
        recon = [r.get("recon_confidence") for r in _records(m)]
        recon = [v for v in recon if isinstance(v, float)]
        line = [label, fmt(sum(recon) / len(recon)) if recon and t_star is None else "–"]
        curves = [curve(m, key, xs, ys, t_star)[1] for key, xs, ys, _ in columns]
        if t_star is not None and not any(curves) and blend_shares(m, t_star) is None:
            continue  # a model without a refined move: no row for that level
        for (_, _, _, j), y in zip(columns, curves, strict=True):
            line.append(fmt(y[j]) if len(y) > j else "–")
        if named is not None:
            shares = blend_shares(m, t_star)
            line += [fmt(shares[f"share_{k}"]) if shares else "–" for k in BLEND_CALLS]
        lines.append(line)
    return header, lines


def confidence_html(models: Sequence[ModelRow]) -> str:
    """The figure and its table as a block of the study page (empty when nothing moved)."""
    fig = confidence_figure(models)
    if fig is None:
        return ""
    uri = "data:image/png;base64," + base64.b64encode(png_bytes(fig)).decode()
    header, lines = confidence_table(models)
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = "".join("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in line) + "</tr>"
                   for line in lines)
    return (f"<h2>classifier confidence as codes move</h2><img src='{uri}' "
            f"alt='classifier confidence' style='max-width:100%'>"
            f"<div class='wide'><table><tr>{head}</tr>{body}</table></div>")
