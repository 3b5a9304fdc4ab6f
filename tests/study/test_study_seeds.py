"""A study over seeds: a run per (model, seed), single-seed run directories kept, and a page
and tables of means, intervals and aggregate rows."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest
from studydata import HERE, tiny_study

from genlab.study.config import study_from_dict
from genlab.study.runner import plan


def test_each_model_is_planned_once_per_seed_and_one_seed_keeps_its_run(tmp_path: Path,
                                                                        classifier: Path) -> None:
    single = plan(study_from_dict(tiny_study(classifier)), tmp_path, tmp_path)
    seeded = plan(study_from_dict(tiny_study(classifier, seeds=[0, 3])), tmp_path, tmp_path)
    assert [(j.label, j.seed) for j in seeded] == [
        (m, s) for m in ("mean", "pca", "vae", "gan") for s in (0, 3)]
    assert [j.config.train.seed for j in seeded] == [0, 3] * 4
    assert [j.run_dir for j in seeded[::2]] == [j.run_dir for j in single]  # seed 0 reused
    assert len({j.run_dir for j in seeded}) == 8
    assert [j.folder for j in single] == [tmp_path / "models" / m
                                          for m in ("mean", "pca", "vae", "gan")]
    assert seeded[1].folder == tmp_path / "models" / "mean" / "seed-3"
    assert seeded[1].tag == "[2/8] mean seed 3"


@pytest.mark.slow
def test_a_two_seed_study_shows_intervals_and_aggregate_rows(tmp_path: Path,
                                                             classifier: Path) -> None:
    from genlab.study.runner import run_study

    models = tiny_study(classifier)["models"][1:3]  # pca, vae
    study = tiny_study(classifier, models=models, seeds=[0, 1],
                       evaluation={"metrics": ["nll", "fid"], "n": 64, "nll_images": 8,
                                   "iw_samples": 10, "classifier": str(classifier)})
    run_study(study_from_dict(study), tmp_path, tmp_path, log=lambda m: None, executor=HERE)
    table = list(csv.DictReader((tmp_path / "results.csv").open()))
    assert [(r["model"], r["seed"]) for r in table] == [
        ("pca", "0"), ("pca", "1"), ("vae", "0"), ("vae", "1"), ("pca", "all"), ("vae", "all")]
    vae = table[-1]
    fids = [float(r["fid"]) for r in table[2:4]]
    assert float(vae["fid"]) == pytest.approx(sum(fids) / 2, rel=1e-5)
    assert float(vae["fid_ci95_low"]) <= min(fids) and float(vae["fid_eval_se"]) > 0
    assert float(vae["nll_nats_eval_se"]) > 0
    results = json.loads((tmp_path / "results.json").read_text())
    assert [(m["label"], m["seed"]) for m in results["models"]] == [
        ("pca", 0), ("pca", 1), ("vae", 0), ("vae", 1)]
    assert results["aggregate"]["vae"]["fid"]["n"] == 2
    page = (tmp_path / "report.html").read_text()
    assert "<th>seeds</th>" in page and " ± " in page and "eval ±" in page
    assert page.count("<section id='vae'>") == 1 and "trained with seeds 0, 1" in page
