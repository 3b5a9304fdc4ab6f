"""The comparison table and results.csv: columns, best values and scales for single runs;
mean ± sd, intervals, evaluation noise and aggregate rows for models over seeds."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
import scipy.stats
from reportdata import BINARISED, CROSS_ENTROPY, part, scaled_parts

from genlab.evaluation.registry import EIGHT_BIT, HEADLINES
from genlab.report.table import (
    Column,
    ModelPart,
    aggregates,
    best_rows,
    columns,
    comparison_table,
    results_csv,
    rows,
)


def test_columns_follow_the_suite_order_a_likelihood_per_scale(parts) -> None:
    parts[0].section.summary["kid"] = None
    assert columns(rows(parts)) == [Column(HEADLINES["nll_nats"], BINARISED),
                                    Column(HEADLINES["nll_8bit_bpd"], EIGHT_BIT),
                                    Column(HEADLINES["fid"]),
                                    Column(HEADLINES["mean_max_softmax"])]


def test_best_follows_the_direction_ties_and_likelihood_scales(parts) -> None:
    models = rows(parts)
    assert best_rows(models, Column(HEADLINES["fid"])) == ({1}, set())  # lower is better
    # higher is better, ties both bold
    assert best_rows(models, Column(HEADLINES["mean_max_softmax"])) == ({0, 2}, set())
    # -600 nats of a density is not better than 80 nats of binarised pixels: the density is
    # on the 8-bit scale, alone there, and the binarised column has its own best
    assert best_rows(models, Column(HEADLINES["nll_nats"], BINARISED)) == ({2}, set())
    assert best_rows(models, Column(HEADLINES["nll_8bit_bpd"], EIGHT_BIT)) == (set(), set())


def test_the_csv_has_a_row_per_model_and_blank_cells_for_missing_numbers(parts) -> None:
    table = list(csv.DictReader(io.StringIO(results_csv(parts))))
    assert [r["model"] for r in table] == ["a", "b", "c"]
    assert table[2]["fid"] == "" and float(table[1]["fid"]) == 5.0
    assert table[0]["train_seconds"] == "1.5"
    assert "fid_sd" not in table[0]  # no seeds, no seed statistics
    # a likelihood on the scale its row names; a density's nats are not on the 8-bit scale
    assert [r["likelihood_scale"] for r in table] == [BINARISED, EIGHT_BIT, BINARISED]
    assert table[1]["nll_nats"] == "" and float(table[1]["nll_8bit_bpd"]) == 1.5
    assert table[0]["nll_8bit_bpd"] == "" and float(table[0]["nll_nats"]) == 90.0


@pytest.fixture
def scaled(tmp_path: Path) -> list[ModelPart]:
    return scaled_parts(tmp_path)


def test_each_likelihood_column_holds_one_scale_and_its_own_best(scaled) -> None:
    models = rows(scaled)
    cols = columns(models)
    assert [(c.key, c.scale) for c in cols] == [
        ("nll_8bit_bpd", EIGHT_BIT), ("nll_nats", BINARISED), ("neg_elbo_nats", BINARISED),
        ("nll_nats", CROSS_ENTROPY)]
    bold = {(c.key, c.scale): {models[i].label for i in best_rows(models, c)[0]} for c in cols}
    assert bold == {("nll_8bit_bpd", EIGHT_BIT): {"flow"}, ("nll_nats", BINARISED): {"cvae"},
                    ("neg_elbo_nats", BINARISED): {"cvae"},
                    ("nll_nats", CROSS_ENTROPY): {"bernoulli-wide"}}
    for c in cols:  # no column has a number of a model on another scale
        assert {m.scale for m in models if m.value(c)} == {c.scale}
    page = comparison_table(scaled)
    assert page.count("class='num best'") == 4  # one per column, none for a second scale
    assert "-3441" not in page  # the density's nats: only its 8-bit bits/dim is shown
    assert f"<small class='scale'>{EIGHT_BIT}</small>" in page


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
    fid, confidence = Column(HEADLINES["fid"]), Column(HEADLINES["mean_max_softmax"])
    assert best_rows(models, fid) == (set(), {0, 2})  # vae and ae overlap: tied
    assert best_rows(models, confidence) == ({2}, set())  # 0.71 ± 0.01 clears 0.61
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
