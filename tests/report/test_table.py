"""The comparison table and results.csv: columns, best values and scales for single runs;
mean ± sd, intervals, evaluation noise and aggregate rows for models over seeds."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import scipy.stats
from reportdata import part

from genlab.report.table import (
    ModelPart,
    aggregates,
    best_rows,
    columns,
    comparison_table,
    results_csv,
    rows,
)


def test_columns_follow_the_suite_order_and_skip_empty_ones(parts) -> None:
    parts[0].section.summary["kid"] = None
    assert columns(parts) == ["nll_nats", "fid", "mean_max_softmax"]


def test_best_follows_the_direction_ties_and_likelihood_scales(parts) -> None:
    models = rows(parts)
    assert best_rows(models, "fid") == ({1}, set())  # lower is better
    assert best_rows(models, "mean_max_softmax") == ({0, 2}, set())  # higher, ties both bold
    # -600 nats of a density is not better than 80 nats of discrete pixels: it is alone on
    # its scale, so only the discrete group has a best
    assert best_rows(models, "nll_nats") == ({2}, set())


def test_the_csv_has_a_row_per_model_and_blank_cells_for_missing_numbers(parts) -> None:
    table = list(csv.DictReader(io.StringIO(results_csv(parts))))
    assert [r["model"] for r in table] == ["a", "b", "c"]
    assert table[2]["fid"] == "" and float(table[1]["fid"]) == 5.0
    assert table[0]["train_seconds"] == "1.5"
    assert "fid_sd" not in table[0]  # no seeds, no seed statistics


FID = {"vae": [20.0, 22.0, 21.0], "gan": [30.0, 31.0, 30.5], "ae": [21.5, 23.0, 22.0]}


@pytest.fixture
def seeded(tmp_path: Path) -> list[ModelPart]:
    """Three models over seeds 0-2: vae and ae tied on FID, gan clearly worse."""
    return [part(tmp_path, label, {"fid": fid, "mean_max_softmax": 0.5 + 0.1 * i + 0.01 * s},
                 seed=s, metrics={"fid": {"fid_bootstrap_sd": 0.3}})
            for i, (label, values) in enumerate(FID.items()) for s, fid in enumerate(values)]


def test_a_model_over_seeds_has_mean_sd_and_the_t_interval(seeded) -> None:
    stats = aggregates(seeded)["gan"]["fid"]
    low, high = scipy.stats.t.interval(0.95, 2, loc=30.5, scale=scipy.stats.sem(FID["gan"]))
    assert stats["n"] == 3 and stats["mean"] == pytest.approx(30.5, rel=1e-12)
    assert stats["sd"] == pytest.approx(scipy.stats.tstd(FID["gan"]), rel=1e-12)
    assert stats["ci95_low"] == pytest.approx(low, rel=1e-9)
    assert stats["ci95_high"] == pytest.approx(high, rel=1e-9)
    assert stats["eval_se"] == pytest.approx(0.3, rel=1e-12)


def test_overlapping_intervals_mark_ties_and_separate_ones_bold(seeded) -> None:
    models = rows(seeded)
    assert [m.label for m in models] == ["vae", "gan", "ae"]
    assert best_rows(models, "fid") == (set(), {0, 2})  # vae and ae overlap: tied
    assert best_rows(models, "mean_max_softmax") == ({2}, set())  # 0.71 ± 0.01 clears 0.61
    html = comparison_table(seeded)
    assert "<th>seeds</th>" in html and "21 ± 1" in html and "eval ±0.3" in html
    assert html.count("title='tied with the best'") == 2


def test_the_csv_has_a_row_per_model_and_seed_and_an_aggregate_row_per_model(seeded) -> None:
    table = list(csv.DictReader(io.StringIO(results_csv(seeded))))
    assert [(r["model"], r["seed"]) for r in table] == [
        *((m, str(s)) for m in FID for s in range(3)), ("vae", "all"), ("gan", "all"),
        ("ae", "all")]
    assert float(table[4]["fid"]) == 31.0 and table[4]["fid_sd"] == ""
    assert float(table[4]["fid_eval_se"]) == pytest.approx(0.3, rel=1e-12)
    gan = table[10]
    assert gan["runs"] == "3" and float(gan["fid"]) == pytest.approx(30.5, rel=1e-12)
    assert float(gan["fid_sd"]) == pytest.approx(scipy.stats.tstd(FID["gan"]), rel=1e-12)
    assert float(gan["fid_ci95_low"]) < 30.5 < float(gan["fid_ci95_high"])
