"""The comparison table of a study page and ``results.csv``: a row per model, over its seeds.

A model trained over several seeds has one section per seed; its row gives each headline
number as mean ± sd over the seeds with the 95% Student-t interval of the mean
(``report.stats``) and a single run's evaluation noise beside it (FID's bootstrap sd, the
NLL's standard error over images), so a reader sees which of the two dominates. The best of
a column is bold only when its interval clears the runner-up's; otherwise the models tied
with it are marked. One run per model gives the plain numbers, the best in bold.
"""

from __future__ import annotations

import csv
import html
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genlab.evaluation.registry import HEADLINES, REGISTRY, Headline, noise
from genlab.report.records import ModelSection
from genlab.report.stats import Spread, best_and_tied, spread


@dataclass(frozen=True)
class Column:
    """A column of the comparison: a headline number (``evaluation.registry``) and, for a
    likelihood, the one scale whose models it holds, so that its best is the best on that
    scale (8-bit bits/dim, binarised nats and a cross-entropy never share a column)."""

    headline: Headline
    scale: str | None = None

    @property
    def key(self) -> str:
        return self.headline.key


@dataclass
class ModelPart:
    """One run's section record (``genlab.study.sections``) and the folder of its PNGs."""

    section: ModelSection
    folder: Path

    @property
    def label(self) -> str:
        return self.section.label


@dataclass
class ModelRow:
    """One model of the table: its runs, one part per seed, in the study's seed order."""

    parts: list[ModelPart]

    @property
    def label(self) -> str:
        return self.parts[0].label

    @property
    def first(self) -> ModelSection:
        return self.parts[0].section

    @property
    def scale(self) -> str | None:
        """The scale of the model's likelihood (its first seed's)."""
        return self.first.likelihood_scale

    def spread(self, key: str) -> Spread | None:
        """``key`` over the seeds (None where no run has a number for it, or the model's
        likelihood is on a scale the number is not shown on), with one run's declared
        evaluation noise."""
        if not HEADLINES[key].shown_on(self.scale):
            return None
        values = [v for p in self.parts if _number(v := p.section.summary.get(key))]
        if not values:
            return None
        errors = [e for p in self.parts if _number(e := noise(p.section.metrics, key))]
        return spread(values, errors)

    def value(self, column: Column) -> Spread | None:
        """The model's number in ``column``: none in a likelihood column of another scale."""
        if column.scale is not None and column.scale != self.scale:
            return None
        return self.spread(column.key)


def rows(parts: Sequence[ModelPart]) -> list[ModelRow]:
    """The parts grouped by model label, in the order the labels first appear."""
    grouped: dict[str, list[ModelPart]] = {}
    for p in parts:
        grouped.setdefault(p.label, []).append(p)
    return [ModelRow(g) for g in grouped.values()]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def columns(models: Sequence[ModelRow]) -> list[Column]:
    """The columns some model has a number in, in the evaluation suite's order; a likelihood
    headline once per scale it is shown on, the scales in the order the models have them."""
    scales = list(dict.fromkeys(s for m in models if (s := m.scale)))
    out = []
    for metric in REGISTRY.values():
        scaled = [h for h in metric.headlines if h.scaled]
        found = [Column(h) for h in metric.headlines if not h.scaled]
        found += [Column(h, s) for s in scales for h in scaled if h.shown_on(s)]
        out += [c for c in found if any(m.value(c) for m in models)]
    return out


def seeded(models: Sequence[ModelRow]) -> bool:
    """Whether any model was trained over two or more seeds."""
    return any(len(m.parts) > 1 for m in models)


def best_rows(models: Sequence[ModelRow], column: Column) -> tuple[set[int], set[int]]:
    """(bold, tied) model indices of ``column`` (``stats.best_and_tied``): a likelihood's
    only among the models on its scale."""
    spreads = {i: s for i, m in enumerate(models) if (s := m.value(column))}
    return best_and_tied(spreads, column.headline.lower_is_better)


def arrow(key: str) -> str:
    return "↓" if HEADLINES[key].lower_is_better else "↑"


def fmt(value: Any) -> str:
    if not _number(value):
        return "–"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _facts(section: ModelSection) -> dict[str, Any]:
    run, training = section.run, section.training
    return {"model": section.label, "seed": section.seed, "family": run.get("model"),
            "dataset": run.get("dataset"), "epoch": run.get("epoch"),
            "train_seconds": training.get("seconds"),
            "likelihood_scale": section.likelihood_scale or ""}


def _stat_columns(keys: Sequence[str], many: bool) -> list[str]:
    spread_cols = ("sd", "ci95_low", "ci95_high") if many else ()
    return [f"{k}_{c}" for k in keys
            for c in (*spread_cols, *(("eval_se",) if HEADLINES[k].noise else ()))]


def results_csv(parts: Sequence[ModelPart]) -> str:
    """The table as CSV: one row per run (model, seed), then, when a model has several seeds,
    one aggregate row per model (seed ``all``: means, sds, intervals, evaluation noise). A
    likelihood headline has one column, each row's number on the scale its
    ``likelihood_scale`` names, blank where the number is not shown on that scale."""
    models = rows(parts)
    keys, many = list(dict.fromkeys(c.key for c in columns(models))), seeded(models)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    facts = list(_facts(parts[0].section)) if parts else []
    stat_columns = _stat_columns(keys, many)
    writer.writerow([*facts, "runs", *keys, *stat_columns])
    for p in parts:
        one = ModelRow([p])
        stats = {f"{k}_eval_se": noise(p.section.metrics, k) for k in keys if one.spread(k)}
        writer.writerow([*_facts(p.section).values(), 1,
                         *(_csv(s.mean if (s := one.spread(k)) else None) for k in keys),
                         *(_csv(stats.get(c)) for c in stat_columns)])
    for m in models if many else []:
        spreads = {k: s for k in keys if (s := m.spread(k))}
        stats = {f"{k}_{name}": value for k, s in spreads.items()
                 for name, value in zip(("sd", "ci95_low", "ci95_high", "eval_se"),
                                        (s.sd, s.low, s.high, s.eval_se), strict=True)}
        seconds = [t for p in m.parts if _number(t := p.section.training.get("seconds"))]
        row = {**_facts(m.first), "seed": "all", "epoch": "",
               "train_seconds": sum(seconds) / len(seconds) if seconds else ""}
        writer.writerow([*row.values(), len(m.parts),
                         *(_csv(s.mean if (s := spreads.get(k)) else None) for k in keys),
                         *(_csv(stats.get(c)) for c in stat_columns)])
    return out.getvalue()


def _csv(value: Any) -> Any:
    """A CSV cell: the number, or empty."""
    return value if _number(value) else ""


def aggregates(parts: Sequence[ModelPart]) -> dict[str, dict[str, Any]]:
    """Per model label, every headline number's seed statistics (``results.json``), on the
    model's likelihood scale (``likelihood_scale``)."""
    models = rows(parts)
    keys = list(dict.fromkeys(c.key for c in columns(models)))
    return {m.label: {"likelihood_scale": m.scale,
                      **{k: s.as_dict() for k in keys if (s := m.spread(k))}} for m in models}


def heading(column: Column) -> str:
    """The column's heading and arrow; a likelihood's scale is the table's or under it."""
    return f"{column.headline.heading} {arrow(column.key)}"


def _cell(model: ModelRow, column: Column, mark: str) -> str:
    """A number (mean ± sd over seeds, the interval and the evaluation noise below)."""
    s = model.value(column)
    if s is None:
        return "<td class='num'>–</td>"
    text, below = fmt(s.mean), []
    if s.sd is not None:
        text += f" ± {s.sd:.2g}"
        below.append(f"[{fmt(s.low)}, {fmt(s.high)}]")
    if s.eval_se is not None:
        below.append(f"eval ±{s.eval_se:.2g}")
    tie = "<span class='tie' title='tied with the best'>≈</span>" if mark == "tied" else ""
    small = f"<br><small>{' · '.join(below)}</small>" if below else ""
    return f"<td class='num {mark}'>{text}{tie}{small}</td>"


def _head(column: Column) -> str:
    scale = (f"<br><small class='scale'>{html.escape(column.scale)}</small>"
             if column.scale else "")
    return f"<th title='{html.escape(column.key)}'>{html.escape(heading(column))}{scale}</th>"


def comparison_table(parts: Sequence[ModelPart]) -> str:
    """The HTML table: a row per model, a column per headline number (a likelihood's per
    scale, its scale under the heading), and its legend."""
    models = rows(parts)
    cols, many = columns(models), seeded(models)
    marks = [best_rows(models, c) for c in cols]
    body = []
    for i, m in enumerate(models):
        facts = _facts(m.first)
        cells = "".join(_cell(m, c, "best" if i in bold else "tied" if i in tied else "")
                        for c, (bold, tied) in zip(cols, marks, strict=True))
        seeds = f"<td class='num'>{len(m.parts)}</td>" if many else ""
        body.append(f"<tr><td><a href='#{html.escape(m.label)}'>{html.escape(m.label)}</a>"
                    f"</td><td>{html.escape(str(facts['family']))}</td>{seeds}"
                    f"<td class='num'>{fmt(facts['epoch'])}</td>"
                    f"<td class='num'>{fmt(facts['train_seconds'])}</td>{cells}</tr>")
    note = ("<p class='note'>A likelihood has a column per scale (named under its heading): "
            "it compares, and its best is marked, only among the models on that scale.</p>"
            if any(c.scale for c in cols) else "")
    seeds_head = "<th>seeds</th>" if many else ""
    return (f"<div class='wide'><table><tr><th>model</th><th>family</th>{seeds_head}"
            f"<th>epoch</th><th>train s</th>{''.join(_head(c) for c in cols)}</tr>"
            f"{''.join(body)}</table></div>{note}")
