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
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genlab.evaluation.registry import HEADLINES, LIKELIHOOD_KEYS, LOWER_IS_BETTER, SUMMARY
from genlab.report.records import ModelSection
from genlab.report.stats import Spread, best_and_tied, spread

HEADINGS = {key: h.heading for key, h in HEADLINES.items()}
"""Column headings of the headline numbers (``evaluation.registry``)."""
ORDER = [key for keys in SUMMARY.values() for key in keys]


def _nll_bpd_se(nll: dict[str, Any]) -> float | None:
    """The NLL's standard error in bits/dim (bits/dim is nats scaled by one constant)."""
    sem, nats, bpd = nll.get("nll_sem"), nll.get("nll_nats"), nll.get("nll_bpd")
    return sem * bpd / nats if None not in (sem, nats, bpd) and nats else None


EVAL_NOISE: dict[str, Callable[[dict[str, Any]], float | None]] = {
    "nll_nats": lambda m: m.get("nll", {}).get("nll_sem"),
    "nll_bpd": lambda m: _nll_bpd_se(m.get("nll", {})),
    "fid": lambda m: m.get("fid", {}).get("fid_bootstrap_sd"),
}
"""Headline -> the standard error of one run's evaluation, from its metric record."""


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

    def spread(self, key: str) -> Spread | None:
        """``key`` over the seeds (None where no run has a number for it)."""
        values = [v for p in self.parts if _number(v := p.section.summary.get(key))]
        if not values:
            return None
        noise = [e for p in self.parts if key in EVAL_NOISE
                 and _number(e := EVAL_NOISE[key](p.section.metrics))]
        return spread(values, noise)


def rows(parts: Sequence[ModelPart]) -> list[ModelRow]:
    """The parts grouped by model label, in the order the labels first appear."""
    grouped: dict[str, list[ModelPart]] = {}
    for p in parts:
        grouped.setdefault(p.label, []).append(p)
    return [ModelRow(g) for g in grouped.values()]


def _number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def columns(parts: Sequence[ModelPart]) -> list[str]:
    """The headline numbers any run has, in the evaluation suite's order."""
    present = {k for p in parts for k, v in p.section.summary.items() if _number(v)}
    return [k for k in ORDER if k in present]


def seeded(models: Sequence[ModelRow]) -> bool:
    """Whether any model was trained over two or more seeds."""
    return any(len(m.parts) > 1 for m in models)


def best_rows(models: Sequence[ModelRow], key: str) -> tuple[set[int], set[int]]:
    """(bold, tied) model indices for ``key`` (``stats.best_and_tied``); for a likelihood,
    within each group of two or more models on the same scale."""
    groups: dict[str | None, dict[int, Spread]] = {}
    for i, m in enumerate(models):
        s = m.spread(key)
        if s is not None:
            scale = m.first.likelihood_scale if key in LIKELIHOOD_KEYS else None
            groups.setdefault(scale, {})[i] = s
    bold: set[int] = set()
    tied: set[int] = set()
    for spreads in groups.values():
        b, t = best_and_tied(spreads, key in LOWER_IS_BETTER)
        bold |= b
        tied |= t
    return bold, tied


def arrow(key: str) -> str:
    return "↓" if key in LOWER_IS_BETTER else "↑"


def fmt(value: Any) -> str:
    if not _number(value):
        return "–"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _facts(section: ModelSection) -> dict[str, Any]:
    run, training = section.run, section.training
    return {"model": section.label, "seed": section.seed, "family": run.get("model"),
            "dataset": run.get("dataset"), "epoch": run.get("epoch"),
            "train_seconds": training.get("seconds")}


def _stat_columns(keys: Sequence[str], many: bool) -> list[str]:
    spread_cols = ("sd", "ci95_low", "ci95_high") if many else ()
    return [f"{k}_{c}" for k in keys
            for c in (*spread_cols, *(("eval_se",) if k in EVAL_NOISE else ()))]


def results_csv(parts: Sequence[ModelPart]) -> str:
    """The table as CSV: one row per run (model, seed), then, when a model has several seeds,
    one aggregate row per model (seed ``all``: means, sds, intervals, evaluation noise)."""
    keys, models = columns(parts), rows(parts)
    many = seeded(models)
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    facts = list(_facts(parts[0].section)) if parts else []
    writer.writerow([*facts, "runs", *keys, *_stat_columns(keys, many)])
    stat_columns = _stat_columns(keys, many)
    for p in parts:
        stats = {f"{k}_eval_se": EVAL_NOISE[k](p.section.metrics) for k in keys
                 if k in EVAL_NOISE}
        writer.writerow([*_facts(p.section).values(), 1,
                         *(_csv(p.section.summary.get(k)) for k in keys),
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
    """Per model label, every headline number's seed statistics (``results.json``)."""
    keys = columns(parts)
    return {m.label: {k: s.as_dict() for k in keys if (s := m.spread(k))} for m in rows(parts)}


def _scales(models: Sequence[ModelRow]) -> dict[str, str]:
    """A footnote letter per likelihood scale present."""
    found = dict.fromkeys(s for m in models if (s := m.first.likelihood_scale))
    return {s: "abcdefghij"[i % 10] for i, s in enumerate(found)}


def _cell(model: ModelRow, key: str, mark: str, letters: dict[str, str]) -> str:
    """A number (mean ± sd over seeds, the interval and the evaluation noise below)."""
    s, scale = model.spread(key), model.first.likelihood_scale
    sup = ""
    if key in LIKELIHOOD_KEYS and s is not None and scale in letters:
        sup = f"<sup title='{html.escape(str(scale))}'>{letters[str(scale)]}</sup>"
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
    return f"<td class='num {mark}'>{text}{sup}{tie}{small}</td>"


def comparison_table(parts: Sequence[ModelPart]) -> str:
    """The HTML table: a row per model, a column per headline number, and its legend."""
    keys, models = columns(parts), rows(parts)
    many = seeded(models)
    marks = {k: best_rows(models, k) for k in keys}
    letters = _scales(models)
    head = "".join(f"<th title='{html.escape(k)}'>{html.escape(HEADINGS.get(k, k))} "
                   f"{arrow(k)}</th>" for k in keys)
    body = []
    for i, m in enumerate(models):
        facts = _facts(m.first)
        cells = "".join(_cell(m, k, "best" if i in marks[k][0] else
                              "tied" if i in marks[k][1] else "", letters) for k in keys)
        seeds = f"<td class='num'>{len(m.parts)}</td>" if many else ""
        body.append(f"<tr><td><a href='#{html.escape(m.label)}'>{html.escape(m.label)}</a>"
                    f"</td><td>{html.escape(str(facts['family']))}</td>{seeds}"
                    f"<td class='num'>{fmt(facts['epoch'])}</td>"
                    f"<td class='num'>{fmt(facts['train_seconds'])}</td>{cells}</tr>")
    legend = "; ".join(f"{letter}: {html.escape(s)}" for s, letter in letters.items())
    note = (f"<p class='note'>Likelihoods compare only on the same scale ({legend}).</p>"
            if letters else "")
    seeds_head = "<th>seeds</th>" if many else ""
    return (f"<div class='wide'><table><tr><th>model</th><th>family</th>{seeds_head}"
            f"<th>epoch</th><th>train s</th>{head}</tr>{''.join(body)}</table></div>{note}")
