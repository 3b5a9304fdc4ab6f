"""``genlab report`` keeps each run's evaluation in genlab's cache: a second report of the same
runs evaluates nothing; a retrained run, or other settings, is evaluated anew."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

import genlab
from genlab.study import sections
from genlab.study.config import EvaluationSettings, FigureSettings, StudySettings
from genlab.study.runner import report_runs


def _train(out: Path, seed: int) -> None:
    genlab.train({"model": {"name": "vae", "hidden": [16], "latent_dim": 2},
                  "data": {"dataset": "mnist-mini", "val_size": 9000, "binarize": "dynamic"},
                  "train": {"epochs": 1, "progress": False, "epoch_samples": 0, "seed": seed}},
                 out=out)


def _settings(classifier: Path, n: int) -> StudySettings:
    return StudySettings(
        evaluation=EvaluationSettings(metrics=["fid"], n=n, classifier=str(classifier)),
        figures=FigureSettings(samples=4, images=2, interpolation_steps=3, map_images=20))


@pytest.fixture
def evaluations(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The checkpoint of every run ``write_model_section`` evaluates, in order."""
    seen: list[str] = []
    real = sections.evaluate_run

    def counted(run: Any, *args: Any, **kwargs: Any) -> dict[str, Any]:
        seen.append(str(run.checkpoint))
        return real(run, *args, **kwargs)

    monkeypatch.setattr(sections, "evaluate_run", counted)
    return seen


def test_a_second_report_reuses_each_runs_evaluation_until_the_run_changes(
        tmp_path: Path, classifier: Path, evaluations: list[str]) -> None:
    run, page = tmp_path / "vae", tmp_path / "page.html"
    _train(run, seed=0)
    report_runs([str(run)], page, _settings(classifier, 32), log=lambda _: None)
    first = page.read_text()
    assert len(evaluations) == 1 and "<section id='vae'>" in first
    report_runs([str(run)], page, _settings(classifier, 32), log=lambda _: None)
    assert len(evaluations) == 1 and page.read_text() == first  # nothing evaluated again
    report_runs([str(run)], page, _settings(classifier, 40), log=lambda _: None)
    assert len(evaluations) == 2  # other settings
    shutil.rmtree(run)
    _train(run, seed=1)  # the same path, epoch and step; other weights
    report_runs([str(run)], page, _settings(classifier, 40), log=lambda _: None)
    assert len(evaluations) == 3


def test_a_reused_section_takes_the_label_of_the_report_that_reuses_it(
        tmp_path: Path, classifier: Path, evaluations: list[str]) -> None:
    run, page = tmp_path / "vae", tmp_path / "page.html"
    _train(run, seed=0)
    report_runs([str(run)], page, _settings(classifier, 32), log=lambda _: None)
    report_runs([str(run), str(run)], page, _settings(classifier, 32), log=lambda _: None)
    text = page.read_text()
    assert len(evaluations) == 1
    assert "<section id='vae-1'>" in text and "<section id='vae-2'>" in text
