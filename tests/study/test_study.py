"""``run_study`` end to end on a tiny study: the page, the tables, reuse and resumption."""

from __future__ import annotations

import csv
import io
import json
from html.parser import HTMLParser
from pathlib import Path

import pytest
from PIL import Image
from studydata import HERE, tiny_study

from genlab.errors import ConfigError
from genlab.study import runner, sections
from genlab.study.config import study_from_dict
from genlab.study.runner import run_study


class Page(HTMLParser):
    """The parts of report.html a test checks: the comparison table's rows (the first table;
    the later ones are each model's detail tables), images, section ids."""

    def __init__(self) -> None:
        super().__init__()
        self.rows: list[list[str]] = []
        self.images: list[str] = []
        self.sections: list[str] = []
        self.bold: list[str] = []
        self._cell: str | None = None
        self._best = False
        self._tables = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "table":
            self._tables += 1
        elif self._tables > 1 and tag in ("tr", "td", "th"):
            return
        if tag == "tr":
            self.rows.append([])
        elif tag in ("td", "th"):
            self._cell, self._best = "", "best" in (a.get("class") or "")
        elif tag == "img":
            self.images.append(a["src"] or "")
        elif tag == "section":
            self.sections.append(a["id"] or "")

    def handle_data(self, data: str) -> None:
        if self._cell is not None:
            self._cell += data

    def handle_endtag(self, tag: str) -> None:
        if tag in ("td", "th") and self._cell is not None:
            self.rows[-1].append(self._cell.strip())
            if self._best:
                self.bold.append(self._cell.strip())
            self._cell = None


def decode_png(uri: str) -> Image.Image:
    import base64

    assert uri.startswith("data:image/png;base64,")
    image = Image.open(io.BytesIO(base64.b64decode(uri.split(",", 1)[1])))
    image.load()
    return image


@pytest.fixture(scope="module")
def study_dir(tmp_path_factory: pytest.TempPathFactory, classifier: Path) -> Path:
    out = tmp_path_factory.mktemp("study")
    run_study(study_from_dict(tiny_study(classifier)), out, out, log=lambda m: None,
              executor=HERE)
    return out


@pytest.mark.slow
def test_the_page_holds_one_row_per_model_and_every_image_decodes(study_dir: Path) -> None:
    page = Page()
    text = (study_dir / "report.html").read_text()
    page.feed(text)
    assert "noise on the codes: classifier confidence" in text  # the detail tables
    assert "class 4 toward class 9" in text
    header, *rows = page.rows
    assert [r[0] for r in rows] == ["mean", "pca", "vae", "gan"]
    assert header[:4] == ["model", "family", "epoch", "train s"]
    assert any(h.startswith("FID") and h.endswith("↓") for h in header)
    assert any(h.startswith("sample confidence") and h.endswith("↑") for h in header)
    assert page.sections == ["mean", "pca", "vae", "gan"]
    assert len(page.images) >= 4 * 2 and all(decode_png(src).size[0] > 10 for src in page.images)
    assert page.bold  # a best value per column with two or more numbers


@pytest.mark.slow
def test_the_tables_agree_with_the_records(study_dir: Path) -> None:
    results = json.loads((study_dir / "results.json").read_text())
    table = list(csv.DictReader((study_dir / "results.csv").open()))
    assert [r["model"] for r in table] == ["mean", "pca", "vae", "gan"]
    by_label = {m["label"]: m for m in results["models"]}
    assert float(table[2]["fid"]) == pytest.approx(by_label["vae"]["summary"]["fid"], abs=1e-6)
    assert table[0]["nll_nats"] == ""  # the class mean has no likelihood
    assert "has no likelihood" in by_label["mean"]["evaluation"]["skipped"]["nll"]
    vae = by_label["vae"]
    assert {f["key"] for f in vae["figures"]} == set(sections.FIGURES)
    gan = by_label["gan"]
    assert "map" in gan["skipped_figures"] and "encoder" in gan["skipped_figures"]["map"]
    assert {f["key"] for f in gan["figures"]} >= {"samples", "perturb", "interpolation"}
    assert "perturb_confidence" in gan["summary"]  # codes by inversion of the generator
    run_dir = Path(vae["run_dir"])
    assert json.loads((run_dir / "evaluation.json").read_text())["n"] == 64


@pytest.mark.slow
def test_a_second_start_reuses_runs_and_sections(study_dir: Path, classifier: Path,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    def no_training(*args: object, **kwargs: object) -> None:
        raise AssertionError("a finished run was trained again")

    monkeypatch.setattr(runner, "train", no_training)
    messages: list[str] = []
    run_study(study_from_dict(tiny_study(classifier)), study_dir, study_dir,
              log=messages.append, executor=HERE)
    assert sum("reused" in m for m in messages) == 8  # four runs, four sections


@pytest.mark.slow
def test_a_stopped_study_continues_where_it_stopped(tmp_path: Path, classifier: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    study = study_from_dict(tiny_study(classifier, models=tiny_study(classifier)["models"][:3]))
    real = runner.write_model_section

    def stop_at_vae(label: str, *args: object, **kwargs: object) -> dict:
        if label == "vae":
            raise KeyboardInterrupt
        return real(label, *args, **kwargs)

    monkeypatch.setattr(runner, "write_model_section", stop_at_vae)
    with pytest.raises(KeyboardInterrupt):
        run_study(study, tmp_path, tmp_path, log=lambda m: None, executor=HERE)
    assert not (tmp_path / "report.html").exists()
    finished = sorted(p.name for p in (tmp_path / "runs").iterdir())
    monkeypatch.setattr(runner, "write_model_section", real)
    messages: list[str] = []
    run_study(study, tmp_path, tmp_path, log=messages.append, executor=HERE)
    assert sorted(p.name for p in (tmp_path / "runs").iterdir()) == finished
    assert any("[1/3] mean: reused" in m for m in messages)
    assert any("[3/3] vae: reused" in m for m in messages)  # trained before the stop
    assert any("[3/3] vae: evaluating" in m for m in messages)
    assert (tmp_path / "report.html").is_file()


def test_a_bad_model_config_stops_the_study_before_any_training(tmp_path: Path,
                                                                classifier: Path) -> None:
    bad = {"label": "vae", "config": {"model": {"name": "vae", "hiden": [32]}}}
    models = [*tiny_study(classifier)["models"][:1], bad]
    with pytest.raises(ConfigError, match="model 'vae'.*hiden"):
        run_study(study_from_dict(tiny_study(classifier, models=models)), tmp_path, tmp_path,
                  log=lambda m: None, executor=HERE)
    assert not (tmp_path / "runs").exists()
