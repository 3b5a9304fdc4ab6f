"""``genlab study FILE --plan``: what is done of each job, the probes' measurements, the
pool's schedule replayed, the printed table, and a plan that trains and writes nothing."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
import yaml
from studydata import tiny_study

from genlab.cli.main import main
from genlab.cli.study_cmds import plan_lines
from genlab.study.config import study_from_dict
from genlab.study.forecast import (
    JobForecast,
    StudyForecast,
    forecast_jobs,
    model_evaluation_seconds,
    probe,
    progress_of,
    wall_seconds,
)
from genlab.study.runner import plan


def _forecast(seconds: float, after: tuple[int, ...] = ()) -> JobForecast:
    return JobForecast(SimpleNamespace(after=after), "new", 0, 0.0, seconds, 0.0)  # type: ignore[arg-type]


def test_the_wall_time_replays_the_pools_list_schedule() -> None:
    jobs = [_forecast(s) for s in (5, 4, 3, 3)]
    # two workers: 5 | 4, then 3 on the one free at 4 (ends 7), then 3 on the one free at 5
    assert wall_seconds(jobs, [0, 1, 2, 3], workers=2) == 8
    assert wall_seconds(jobs, [0, 1, 2, 3], workers=2, start=2) == 10  # each worker starts
    assert wall_seconds(jobs, [0, 1, 2, 3], workers=1) == 15
    built_on = [_forecast(5), _forecast(1), _forecast(1, after=(0,))]
    assert wall_seconds(built_on, [0, 1, 2], workers=2) == 6  # waits for job 0, not worker 1


def _jobs(tmp_path: Path, classifier: Path) -> list[Any]:
    study = study_from_dict(tiny_study(classifier))
    return plan(study, tmp_path, tmp_path / "out")


def test_what_is_done_of_a_job_is_read_from_its_run_directory(tmp_path: Path,
                                                              classifier: Path) -> None:
    job = _jobs(tmp_path, classifier)[2]  # the VAE, 2 epochs
    assert progress_of(job) == ("new", 0)
    (job.run_dir / "checkpoints").mkdir(parents=True)
    (job.run_dir / "checkpoints" / "last.safetensors").write_bytes(b"")
    (job.run_dir / "metrics.jsonl").write_text('{"epoch": 1}\n{"epoch": 2, "se')  # cut
    assert progress_of(job) == ("partial", 1)
    (job.run_dir / "summary.json").write_text(json.dumps({"epochs_run": 2}))
    assert progress_of(job) == ("done", 2)


def test_the_probe_measures_what_the_family_does(tmp_path: Path, classifier: Path) -> None:
    mean, _, vae, gan = _jobs(tmp_path, classifier)
    closed = probe(mean.config)  # fitted in closed form: no epochs to time
    assert (closed.epoch_s, closed.image_s) == (0.0, 0.0)
    measured = probe(vae.config)
    assert measured.epoch_s > 0 and measured.image_s > 0
    assert measured.likelihood and not measured.inverts
    gan_probe = probe(gan.config)
    assert gan_probe.inverts and not gan_probe.likelihood


def test_a_model_built_on_a_stage_still_to_train_is_probed_on_a_fresh_build(
        tmp_path: Path, classifier: Path) -> None:
    raw = tiny_study(classifier)
    raw["models"].append({"label": "prior", "config": {
        "model": {"name": "diffusion-prior", "first_stage": "vae", "timesteps": 20,
                  "width": 16, "blocks": 1, "bound_timesteps": 2},
        "data": {"binarize": "dynamic"}}})
    jobs = plan(study_from_dict(raw), tmp_path, tmp_path / "out")
    forecasts = forecast_jobs(jobs, None, workers=1, threads=1).jobs
    prior = forecasts[-1]
    assert prior.note == "" and prior.train_s is not None and prior.train_s > 0
    assert not (tmp_path / "out").exists()  # nothing trained or written for it


def test_a_models_evaluation_counts_its_own_passes(tmp_path: Path, classifier: Path) -> None:
    _, _, vae, gan = _jobs(tmp_path, classifier)
    s = vae.settings  # n 64, nll_images 8 x iw_samples 10, 16 samples, 100 map images,
    measured = probe(vae.config)  # 12 perturbed images x (1 sigma + 2 alphas)
    assert model_evaluation_seconds(s, measured) == pytest.approx(
        measured.image_s * (8 * 10 + 64 + 16 + 100 + 12 * 3))
    g = probe(gan.config)  # no likelihood; its codes fitted to the 12 perturbed images
    assert model_evaluation_seconds(s, g) == pytest.approx(
        g.image_s * (64 + 16 + 100 + 12 * 3 + 500 * 12))
    refining = dataclasses.replace(s, perturbations=dataclasses.replace(
        s.perturbations, refine=[0.3, 0.6]))  # a refining model: each moved code twice more
    prior = dataclasses.replace(measured, refines=True)
    assert model_evaluation_seconds(refining, prior) == pytest.approx(
        measured.image_s * (8 * 10 + 64 + 16 + 100 + 12 * 3 * 3))
    assert model_evaluation_seconds(refining, measured) == model_evaluation_seconds(s, measured)


def test_the_plan_is_a_table_with_the_totals_and_the_wall_time() -> None:
    def job(tag: str, name: str, epochs: int) -> Any:
        return SimpleNamespace(tag=tag, seed=0, config=SimpleNamespace(
            model=SimpleNamespace(name=name), train=SimpleNamespace(epochs=epochs)))

    forecasts = [JobForecast(job("[1/2] vae", "vae", 50), "partial", 20, 6e11, 90.0, 15.0),
                 JobForecast(job("[2/2] pca", "pca", 20), "done", 1, 0.0, 0.0, 0.0)]
    lines = plan_lines(StudyForecast(forecasts, 2, 1, [0, 1], 5.0, 110.0))
    assert lines == [
        "job        seed  family  status                  training GFLOP  training  evaluation",
        "[1/2] vae  0     vae     partial (20/50 epochs)  600             1m30s     15s",
        "[2/2] pca  0     pca     done                    0               0s        0s",
        "total                                            600             1m30s     15s",
        "2 worker processes at a time, 1 torch thread(s) each; 5s to start",
        "estimated wall time: 1m50s (measured on this machine as loaded now; nothing was "
        "trained or written)",
    ]


def test_plan_trains_and_writes_nothing(tmp_path: Path, classifier: Path, capsys: Any) -> None:
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(tiny_study(classifier)))
    out = tmp_path / "out"
    assert main(["study", str(tmp_path / "s.yaml"), "--out", str(out), "--plan"]) == 0
    printed = capsys.readouterr().out.splitlines()
    assert not out.exists()
    rows = {line.split()[1]: line.split() for line in printed[1:5]}
    assert list(rows) == ["mean", "pca", "vae", "gan"]
    assert all(r[4] == "new" for r in rows.values())
    assert rows["vae"][3] == "vae" and float(rows["vae"][5].replace(",", "")) >= 0
    assert printed[-2].startswith("2 worker processes at a time, 1 torch thread(s) each; ")
    assert printed[-1].startswith("estimated wall time: ")
    assert main(["study", str(tmp_path / "s.yaml"), "--out", str(out), "--plan",
                 "--executor", "ray"]) == 2
    assert "--plan estimates --executor process" in capsys.readouterr().err
