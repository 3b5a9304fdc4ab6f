"""The study page and table from synthetic section records: columns, best values, scales."""

from __future__ import annotations

import csv
import io
from html.parser import HTMLParser
from pathlib import Path

import pytest
import torch

from genlab.figures.images import save_image_grid
from genlab.report.html import (
    ModelPart,
    best_rows,
    columns,
    details,
    method_notes,
    render_report,
    results_csv,
)
from genlab.report.records import Figure, ModelSection


def part(tmp_path: Path, label: str, summary: dict, scale: str | None = None) -> ModelPart:
    folder = tmp_path / label
    save_image_grid(torch.rand(4, 1, 8, 8), folder / "samples.png")
    metrics = {"nll": {"scale": scale}} if scale else {}
    section = ModelSection(label, "key", {"model": label, "dataset": "mnist-mini", "epoch": 3},
                           summary, {"metrics": metrics, "skipped": {"kid": "no"}},
                           [Figure("samples", "samples", "samples.png")],
                           {"map": "needs an encoder"}, {"seconds": 1.5})
    return ModelPart(section, folder)


@pytest.fixture
def parts(tmp_path: Path) -> list[ModelPart]:
    return [
        part(tmp_path, "a", {"fid": 10.0, "mean_max_softmax": 0.9, "nll_nats": 90.0},
             "discrete pixels, binarisation dynamic"),
        part(tmp_path, "b", {"fid": 5.0, "mean_max_softmax": 0.7, "nll_nats": -600.0},
             "density, binarisation none"),
        part(tmp_path, "c", {"fid": None, "mean_max_softmax": 0.9, "nll_nats": 80.0},
             "discrete pixels, binarisation dynamic"),
    ]


def test_columns_follow_the_suite_order_and_skip_empty_ones(parts) -> None:
    parts[0].section.summary["kid"] = None
    assert columns(parts) == ["nll_nats", "fid", "mean_max_softmax"]


def test_best_follows_the_direction_ties_and_likelihood_scales(parts) -> None:
    assert best_rows(parts, "fid") == {1}  # lower is better
    assert best_rows(parts, "mean_max_softmax") == {0, 2}  # higher, ties both bold
    # -600 nats of a density is not better than 80 nats of discrete pixels: it is alone on
    # its scale, so only the discrete group has a best
    assert best_rows(parts, "nll_nats") == {2}


def test_the_csv_has_a_row_per_model_and_blank_cells_for_missing_numbers(parts) -> None:
    rows = list(csv.DictReader(io.StringIO(results_csv(parts))))
    assert [r["model"] for r in rows] == ["a", "b", "c"]
    assert rows[2]["fid"] == "" and float(rows[1]["fid"]) == 5.0
    assert rows[0]["train_seconds"] == "1.5"


class Cells(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.best: list[str] = []
        self.images = 0
        self.sups: list[str] = []
        self._in_best = False

    def handle_starttag(self, tag: str, attrs: list) -> None:
        a = dict(attrs)
        self._in_best = tag == "td" and "best" in (a.get("class") or "")
        self.images += tag == "img" and a["src"].startswith("data:image/png;base64,")
        if tag == "sup":
            self.sups.append(a["title"])

    def handle_data(self, data: str) -> None:
        if self._in_best and data.strip():
            self.best.append(data.strip())
            self._in_best = False


def test_the_page_embeds_every_figure_and_bolds_the_best(parts) -> None:
    page = render_report("t <study>", parts, ["n & notes"])
    assert "t &lt;study&gt;" in page and "n &amp; notes" in page  # escaped
    cells = Cells()
    cells.feed(page)
    assert cells.images == 3 and "5" in cells.best and "80" in cells.best
    assert "-600" not in cells.best
    assert set(cells.sups) == {"discrete pixels, binarisation dynamic",
                               "density, binarisation none"}
    assert "needs an encoder" in page and "src='samples.png'" not in page


def test_method_notes_say_how_the_numbers_were_made(parts) -> None:
    parts[0].section.evaluation["metrics"] = {
        "fid": {"samples": 100, "real": 200, "split": "test", "feature_space": "fid-x",
                "classifier_sha256": "abc"},
        "nll": {"images": 8, "split": "test", "nll_method": "k = 5", "binarize": "dynamic",
                "note": "discrete"},
    }
    notes = method_notes(parts[:1])
    assert any("100 samples against 200 real test images" in n and "fid-x" in n for n in notes)
    assert any(n.startswith("a: likelihood on 8 test images, k = 5") for n in notes)


def test_the_numbers_behind_perturbations_and_augmentation_are_tabulated() -> None:
    metrics = {
        "believability": {
            "perturb": {"sigmas": [0.5, 2.0], "mean_max_softmax": [0.91, 0.42]},
            "toward_class": {"source": "4", "target": "9", "alphas": [0.5, 1.0],
                             "target_accuracy": [0.25, 0.875], "mean_max_softmax": [0.6, 0.9]},
        },
        "augment": {"label_source": "conditional model", "fractions": [
            {"fraction": 0.2, "real_images": 200, "accuracy_real": 0.81,
             "accuracy_augmented": 0.84, "gain": 0.03}]},
    }
    page = details(metrics)
    for text in ("0.42", "class 4 toward class 9", "0.875", "labels: conditional model",
                 "0.84", "0.03"):
        assert text in page, text
    assert "centroid" not in page
    assert details({}) == ""
