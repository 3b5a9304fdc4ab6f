"""The first screen of a study page: what a reader takes in at a glance.

Every model's samples side by side at one size (the same count and seed: the study's
``figures.samples`` drawn with ``evaluation.seed``), the figures the metrics declare
(``Metric.plots``: FID against the NLL on the scale most models share, precision against
recall) with the seed intervals as error bars, and the validation curves of all models, one
figure per objective (the mean over seeds, the band their range). The figures are drawn into
memory and embedded; one colour per model throughout.
"""

from __future__ import annotations

import base64
import html
import io
import json
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genlab.evaluation.registry import HEADLINES, REGISTRY, Plot
from genlab.report.table import Column, ModelRow, columns, fmt

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

COLOURS = ["#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf"]
GLANCE_STYLE = """
.glance{display:grid;grid-template-columns:repeat(auto-fill,minmax(140px,1fr));gap:10px;
max-width:1340px}.glance figure{max-width:none}.glance img{width:100%;aspect-ratio:1;
object-fit:contain;background:#000}.plots{display:flex;flex-wrap:wrap;gap:12px;margin-top:10px}
.plots img{height:250px;border:1px solid #ddd}
"""


def colour(i: int) -> str:
    return COLOURS[i % len(COLOURS)]


def read_history(run_dir: str | None) -> list[dict[str, Any]]:
    """A run's per-epoch rows (``metrics.jsonl``); empty when there is none."""
    path = Path(run_dir or "") / "metrics.jsonl"
    if not run_dir or not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def objectives(history: list[dict[str, Any]]) -> dict[str, str]:
    """A run's objectives -> their validation key: the negative ELBO where logged (in nats,
    comparable between likelihood models), else each player's own loss."""
    keys = {k for row in history for k in row}
    if "val/neg_elbo" in keys:
        return {"−ELBO (nats)": "val/neg_elbo"}
    players = sorted(k for k in keys if k.startswith("val/loss."))
    if players:
        return {f"{k.split('.', 1)[1]} loss": k for k in players}
    return {"loss": "val/loss"} if "val/loss" in keys else {}


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100, bbox_inches="tight", pad_inches=0.05)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _label(column: Column) -> str:
    return column.headline.heading + (f", {column.scale}" if column.scale else "")


def _errorbar(ax: Axes, models: Sequence[ModelRow], x: Column, y: Column,
              colours: list[str]) -> None:
    """One point per model at its means, bars spanning its seed intervals."""
    for m, c in zip(models, colours, strict=True):
        sx, sy = m.value(x), m.value(y)
        if sx is None or sy is None:
            continue
        (xl, xh), (yl, yh) = sx.bounds(), sy.bounds()
        ax.errorbar([sx.mean], [sy.mean], xerr=[[sx.mean - xl], [xh - sx.mean]],
                    yerr=[[sy.mean - yl], [yh - sy.mean]], fmt="o", color=c, capsize=3,
                    label=m.label)
    ax.set_xlabel(_label(x))
    ax.set_ylabel(_label(y))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7)


def plotted(models: Sequence[ModelRow], plot: Plot) -> tuple[Column, Column, str] | None:
    """The declared ``plot``'s axes: ``y`` against the column of ``x`` (for a likelihood,
    the scale) that most models have both numbers in, where two or more do; and its title."""
    y = Column(HEADLINES[plot.y])
    both = [(c, sum(1 for m in models if m.value(c) and m.value(y)))
            for c in columns(models) if c.key in plot.x]
    if not both or max(n for _, n in both) < 2:
        return None
    x = max(both, key=lambda found: found[1])[0]
    return x, y, plot.title + (f" (likelihood scale: {x.scale})" if x.scale else "")


def quality_figure(models: Sequence[ModelRow]) -> str | None:
    """The plots the metrics declare (``Metric.plots``: sample quality against likelihood,
    precision against recall), each where two or more models have both numbers; None
    without any."""
    from matplotlib.figure import Figure

    colours = [colour(i) for i in range(len(models))]
    pairs = [found for m in REGISTRY.values() for p in m.plots if (found := plotted(models, p))]
    if not pairs:
        return None
    fig = Figure(figsize=(4.2 * len(pairs), 3.4), dpi=100, layout="constrained")
    for ax, (x, y, title) in zip(fig.subplots(1, len(pairs), squeeze=False)[0], pairs,
                                 strict=True):
        _errorbar(ax, models, x, y, colours)
        ax.set_title(title, fontsize=8)
    fig.suptitle("the metrics against each other (bars: 95% seed intervals)", fontsize=10)
    return _png(fig)


def curve_figures(models: Sequence[ModelRow]) -> list[tuple[str, str]]:
    """(objective, PNG URI) per objective any model has: every model that has it drawn in
    one figure, the mean over its seeds by epoch and, with seeds, their range as a band."""
    from matplotlib.figure import Figure

    found: dict[str, list[tuple[int, list[list[dict[str, Any]]], str]]] = {}
    for i, m in enumerate(models):
        histories = [h for p in m.parts if len(h := read_history(p.section.run_dir)) > 1]
        for name, key in objectives(histories[0] if histories else []).items():
            found.setdefault(name, []).append((i, histories, key))
    out = []
    for name, entries in found.items():
        fig = Figure(figsize=(4.2, 3.4), dpi=100, layout="constrained")
        ax = fig.subplots()
        for i, histories, key in entries:
            by_epoch: dict[int, list[float]] = {}
            for h in histories:
                for row in h:
                    if key in row:
                        by_epoch.setdefault(row["epoch"], []).append(row[key])
            epochs = sorted(by_epoch)
            means = [sum(by_epoch[e]) / len(by_epoch[e]) for e in epochs]
            ax.plot(epochs, means, color=colour(i), label=models[i].label)
            if len(histories) > 1:
                ax.fill_between(epochs, [min(by_epoch[e]) for e in epochs],
                                [max(by_epoch[e]) for e in epochs], color=colour(i), alpha=0.2)
        ax.set_xlabel("epoch")
        ax.set_ylabel(name)
        ax.set_title(f"validation {name}", fontsize=10)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        out.append((name, _png(fig)))
    return out


def glance(models: Sequence[ModelRow], image_uri: Any) -> str:
    """The first screen's HTML: the sample strip, then the quality figure and the curves.
    ``image_uri(path)`` embeds a PNG file."""
    tiles = []
    for i, m in enumerate(models):
        sample = next((f for f in m.first.figures if f.key == "samples"), None)
        img = (f"<img alt='samples of {html.escape(m.label)}' class='grid' "
               f"src='{image_uri(m.parts[0].folder / sample.file)}'>" if sample else
               "<p class='note'>no samples</p>")
        fid = m.spread("fid")
        extra = f", FID {fmt(fid.mean)}" if fid else ""
        tiles.append(f"<figure>{img}<figcaption><b style='color:{colour(i)}'>"
                     f"{html.escape(m.label)}</b>{extra}</figcaption></figure>")
    plots = [f"<img alt='sample quality against likelihood' src='{uri}'>"
             for uri in [quality_figure(models)] if uri]
    plots += [f"<img alt='validation {html.escape(name)}' src='{uri}'>"
              for name, uri in curve_figures(models)]
    return (f"<div class='glance' id='glance'>{''.join(tiles)}</div>"
            f"<div class='plots'>{''.join(plots)}</div>")
