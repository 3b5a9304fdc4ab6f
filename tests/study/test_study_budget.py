"""Budget-matched studies: every model the same minutes of training, its quality along them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from studydata import HERE, tiny_study

from genlab.errors import ConfigError
from genlab.report.budget import budget_figure
from genlab.report.table import ModelPart, rows
from genlab.study import forecast
from genlab.study.budget import CEILING
from genlab.study.config import load_study, study_from_dict
from genlab.study.runner import plan, run_study
from genlab.training.estimate import Probe, epochs_within

BUDGET = {"minutes": 0.03, "every": 0.01, "samples": 64}
"""1.8 s of training each, a checkpoint kept every 0.6 s, FID on 64 samples."""


def _study(classifier: Path) -> dict:
    study = tiny_study(classifier, budget=BUDGET, models=[
        {"label": "vae", "config": {"model": {"name": "vae", "hidden": [32], "latent_dim": 2},
                                    "data": {"binarize": "dynamic"}},
         "set": ["train.epochs=2"]},  # the budget replaces the epochs
        {"label": "gan", "config": {"model": {"name": "gan", "latent_dim": 8}}}])
    study["evaluation"]["metrics"] = ["fid"]
    return study


def test_a_budget_is_every_runs_time_limit_instead_of_its_epochs(tmp_path: Path,
                                                                classifier: Path) -> None:
    for job in plan(study_from_dict(_study(classifier)), tmp_path, tmp_path / "out"):
        train = job.config.train
        assert (train.time_limit, train.epochs, train.checkpoint_every) == (0.03, CEILING, 0.01)
    fifth = study_from_dict(_study(classifier) | {"budget": {"minutes": 10}})
    assert plan(fifth, tmp_path, tmp_path / "o")[0].config.train.checkpoint_every == 2


@pytest.mark.parametrize(("budget", "says"), [
    ({"minutes": 0}, "budget needs minutes > 0"),
    ({"minutes": 1, "every": 2}, "every in [0, minutes]"),
    ({"minutes": 1, "samples": 1}, "budget.samples must be at least 2"),
    ({"minutes": 1, "hours": 1}, "unknown key budget.hours"),
])
def test_a_bad_budget_is_refused_naming_the_key(classifier: Path, budget: dict,
                                                says: str) -> None:
    with pytest.raises(ConfigError, match=says.replace("[", r"\[").replace("]", r"\]")):
        study_from_dict(_study(classifier) | {"budget": budget})


@pytest.mark.slow  # two runs trained, evaluated and drawn
def test_a_budgeted_study_scores_each_model_along_its_minutes(tmp_path: Path,
                                                             classifier: Path) -> None:
    out = tmp_path / "out"
    study = study_from_dict(_study(classifier))
    result = run_study(study, tmp_path, out, executor=HERE)
    assert load_study(out / "study.yaml")[0].budget == study.budget  # recorded, read back
    for part in result.parts:
        run_dir = Path(part.section.run_dir)
        done = json.loads((run_dir / "summary.json").read_text())
        assert done["stopped_by"] == "time_limit"  # not its 2 epochs: the budget ended it
        history = [json.loads(line) for line in (run_dir / "metrics.jsonl").open()]
        points = part.section.budget
        kept = sorted(p.stem for p in (run_dir / "checkpoints").glob("timed_*"))
        assert kept and [p["checkpoint"] for p in points][:len(kept)] == kept
        assert len(points) == len(kept) + (points[-1]["checkpoint"] == "last")
        for p in points:  # at its epoch's minutes of training (as written: 6 decimals)
            upto = history[:p["epoch"]]
            assert p["minutes"] == pytest.approx(sum(r["seconds"] for r in upto) / 60, abs=1e-6)
            assert p["val_loss"] == pytest.approx(upto[-1]["val/loss"], abs=1e-6)
            assert p["fid"] > 0
        assert [p["minutes"] for p in points] == sorted(p["minutes"] for p in points)
        assert points[-1]["epoch"] == done["epochs_run"]
    record = json.loads((out / "results.json").read_text())
    assert [len(m["budget"]) for m in record["models"]] == [len(p.section.budget)
                                                            for p in result.parts]
    assert "quality against training minutes" in (out / "report.html").read_text()
    fig = budget_figure(rows([ModelPart(p.section, p.folder) for p in result.parts]))
    assert fig is not None
    for ax in fig.axes:  # one line per model, through its points
        assert len(ax.lines) == 2
        for line, part in zip(ax.lines, result.parts, strict=True):
            assert list(line.get_xdata()) == [p["minutes"] for p in part.section.budget]
    again = run_study(study_from_dict(_study(classifier)), tmp_path, out, executor=HERE)
    assert [p.section.budget for p in again.parts] == [p.section.budget for p in result.parts]


def test_a_study_without_a_budget_trains_by_its_epochs(tmp_path: Path,
                                                       classifier: Path) -> None:
    study = _study(classifier)
    del study["budget"]
    job = plan(study_from_dict(study), tmp_path, tmp_path / "out")[0]
    assert job.budget is None
    train = job.config.train
    assert (train.epochs, train.time_limit, train.checkpoint_every) == (2, 0.0, 0.0)


def test_the_plan_of_a_budgeted_run_counts_the_epochs_its_minutes_allow(
        tmp_path: Path, classifier: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(forecast, "probe", lambda config, data_dir=None, stages=None:
                        Probe(0.5, 1e-3, True, False))
    job = plan(study_from_dict(_study(classifier)), tmp_path, tmp_path / "out")[0]
    planned = forecast.forecast_job(job)
    # the trainer's rule: an epoch starts while (n + 1) mean epochs fit the 1.8 s: 3 of 0.5 s
    assert planned.train_s == 3 * 0.5 and epochs_within(job.config, 0.5) == 3
    job.budget = None
    assert planned.eval_s - forecast.forecast_job(job).eval_s == pytest.approx(
        1e-3 * BUDGET["samples"] * 4)  # FID of 3 kept checkpoints and the last
