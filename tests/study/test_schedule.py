"""The pool's start order: the longest runs first, by their estimated training operations."""

from __future__ import annotations

from pathlib import Path

from studydata import tiny_study

from genlab.study.config import study_from_dict
from genlab.study.runner import plan
from genlab.study.schedule import longest_first, training_flops


def _jobs(tmp_path: Path, models: list[dict]) -> list:
    study = study_from_dict(tiny_study(tmp_path / "clf.safetensors", models=models))
    return plan(study, tmp_path, tmp_path / "out")


def _model(label: str, name: str, epochs: int, **model: object) -> dict:
    return {"label": label, "config": {"model": {"name": name, **model}},
            "set": [f"train.epochs={epochs}"]}


def test_the_cost_grows_with_the_epochs_and_the_net(tmp_path: Path) -> None:
    small, twice, wide = _jobs(tmp_path, [
        _model("small", "vae", 1, hidden=[32], latent_dim=2),
        _model("twice", "vae", 2, hidden=[32], latent_dim=2),
        _model("wide", "vae", 1, hidden=[256], latent_dim=2)])
    one = training_flops(small.config)
    assert one > 0
    assert training_flops(twice.config) == 2 * one  # the same net, twice the epochs
    assert training_flops(wide.config) > 4 * one    # 8 times the hidden units


def test_closed_form_families_cost_nothing(tmp_path: Path) -> None:
    mean, pca = _jobs(tmp_path, [_model("mean", "mean", 1), _model("pca", "pca", 1)])
    assert training_flops(mean.config) == training_flops(pca.config) == 0


def test_the_longest_start_first_and_finished_runs_last(tmp_path: Path) -> None:
    jobs = _jobs(tmp_path, [
        _model("mean", "mean", 1),
        _model("vae", "vae", 1, hidden=[32], latent_dim=2),
        _model("dcgan", "dcgan", 3, channels=[8, 16], latent_dim=8),
        _model("big", "vae", 5, hidden=[64], latent_dim=2)])
    assert [jobs[i].label for i in longest_first(jobs)] == ["dcgan", "big", "vae", "mean"]
    jobs[2].run_dir.mkdir(parents=True)
    (jobs[2].run_dir / "summary.json").write_text("{}")  # the DCGAN has finished: reused
    assert [jobs[i].label for i in longest_first(jobs)] == ["big", "vae", "mean", "dcgan"]
