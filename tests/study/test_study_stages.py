"""A study whose models are built on other models of it (``first_stage: vae``): planned
after them, their runs as components, on every executor (in-process, the worker pool, Ray)."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml
from studydata import HERE, tiny_study

from genlab.errors import ConfigError
from genlab.study.config import study_from_dict
from genlab.study.runner import Executor, built_first, plan, run_study


def _study(classifier: Path, **over) -> dict:
    """A 2-D VAE and a mixture prior on its codes, listed prior first."""
    study = tiny_study(classifier, **over)
    vae = study["models"][2]
    gmm = {"label": "gmm", "config": {"model": {"name": "gmm-prior", "first_stage": "vae",
                                                "mixtures": 2},
                                      "data": {"binarize": "dynamic"}}}
    study["models"] = [gmm, vae]
    study["evaluation"] = {"metrics": ["nll", "fid"], "n": 32, "nll_images": 8,
                           "iw_samples": 10, "classifier": str(classifier)}
    return study


def test_a_model_is_planned_after_the_model_it_is_built_on(tmp_path: Path,
                                                           classifier: Path) -> None:
    jobs = plan(study_from_dict(_study(classifier, seeds=[0, 1])), tmp_path, tmp_path)
    assert [(j.label, j.seed) for j in jobs] == [("vae", 0), ("vae", 1), ("gmm", 0), ("gmm", 1)]
    assert [j.after for j in jobs] == [(), (), (0,), (1,)]  # each seed on its own first stage
    for job, stage in zip(jobs[2:], jobs[:2], strict=True):
        assert job.config.model.first_stage == str(stage.run_dir.resolve())
    changed = _study(classifier, seeds=[0, 1])
    changed["models"][1]["set"] = ["train.epochs=3"]
    again = plan(study_from_dict(changed), tmp_path, tmp_path)
    assert again[2].run_dir != jobs[2].run_dir  # a new first stage is a new second stage
    assert built_first([3, 2, 1, 0], jobs) == [1, 3, 0, 2]


def test_a_run_directory_may_be_named_instead(tmp_path: Path, classifier: Path) -> None:
    (tmp_path / "old-vae").mkdir()
    study = _study(classifier)
    study["models"][0]["config"]["model"]["first_stage"] = "old-vae"
    jobs = plan(study_from_dict(study), tmp_path, tmp_path / "out")
    gmm = next(j for j in jobs if j.label == "gmm")
    assert gmm.after == () and gmm.config.model.first_stage == str(tmp_path / "old-vae")


@pytest.mark.parametrize(("stage", "words"), [
    ("vea", r"model 'gmm': model.first_stage is 'vea': neither a model of this study "
            r"\(gmm, vae, gan\) nor a run directory"),
    ("gan", "names 'gan', a gan model, which has no encoder"),
    ("gmm", "models built on each other: gmm -> gmm"),
])
def test_a_bad_first_stage_is_refused_before_anything_trains(
        tmp_path: Path, classifier: Path, stage: str, words: str) -> None:
    study = _study(classifier)
    study["models"].append(copy.deepcopy(tiny_study(classifier)["models"][3]))
    study["models"][0]["config"]["model"]["first_stage"] = stage
    with pytest.raises(ConfigError, match=words):
        plan(study_from_dict(study), tmp_path, tmp_path)


def test_a_first_stage_on_other_images_is_refused(tmp_path: Path, classifier: Path) -> None:
    study = _study(classifier)
    study["models"][0]["config"]["data"]["binarize"] = "none"
    with pytest.raises(ConfigError, match="names 'vae', trained with data.binarize='dynamic'"):
        plan(study_from_dict(study), tmp_path, tmp_path)


def _check_done(out: Path) -> None:
    results = json.loads((out / "results.json").read_text())
    assert [m["label"] for m in results["models"]] == ["vae", "gmm"]
    nll = {m["label"]: m["evaluation"]["metrics"]["nll"]["nll_nats"] for m in results["models"]}
    assert all(value > 0 for value in nll.values())
    stored = yaml.safe_load(next((out / "runs").glob("gmm-*/config.yaml")).read_text())
    assert Path(stored["model"]["first_stage"]) == next((out / "runs").glob("vae-*")).resolve()


@pytest.mark.slow
def test_the_study_trains_the_first_stage_first_in_process(tmp_path: Path,
                                                           classifier: Path) -> None:
    run_study(study_from_dict(_study(classifier)), tmp_path, tmp_path, log=lambda m: None,
              executor=HERE)
    _check_done(tmp_path)


@pytest.mark.slow
def test_the_worker_pool_starts_a_model_once_its_first_stage_is_done(
        tmp_path: Path, classifier: Path) -> None:
    messages: list[str] = []
    run_study(study_from_dict(_study(classifier)), tmp_path, tmp_path, log=messages.append,
              executor=Executor(workers=2, cpus_per_run=1))
    _check_done(tmp_path)


@pytest.mark.slow
def test_ray_runs_a_model_after_its_first_stage(tmp_path: Path, classifier: Path,
                                                monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("ray")
    monkeypatch.setenv("RAY_USAGE_STATS_ENABLED", "0")
    run_study(study_from_dict(_study(classifier)), tmp_path, tmp_path, log=lambda m: None,
              executor=Executor("ray"))
    _check_done(tmp_path)
