"""A study killed mid-training and started again ends with the results of an uninterrupted
one: the run resumes exactly from its checkpoint, evaluations are seeded."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from studydata import HERE, tiny_study

from genlab.study.config import study_from_dict
from genlab.study.runner import run_study
from genlab.training.trainer import Trainer


def _numbers(out: Path) -> dict[str, Any]:
    results = json.loads((out / "results.json").read_text())
    return {(m["label"], m["seed"]): m["summary"] for m in results["models"]}


@pytest.mark.slow
def test_a_study_killed_mid_training_ends_as_an_uninterrupted_one(
        tmp_path: Path, classifier: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    models = tiny_study(classifier)["models"][1:3]  # pca, vae (two epochs)
    study = study_from_dict(tiny_study(classifier, models=models, seeds=[0, 1]))
    run_study(study, tmp_path, tmp_path / "whole", log=lambda m: None, executor=HERE)
    real_save = Trainer._save

    def die_after_the_first_epoch(self: Trainer, *args: Any, **kwargs: Any) -> None:
        real_save(self, *args, **kwargs)
        if self.config.model.name == "vae" and self.config.train.seed == 1:
            raise KeyboardInterrupt  # as a kill right after the checkpoint

    monkeypatch.setattr(Trainer, "_save", die_after_the_first_epoch)
    with pytest.raises(KeyboardInterrupt):
        run_study(study, tmp_path, tmp_path / "killed", log=lambda m: None, executor=HERE)
    monkeypatch.setattr(Trainer, "_save", real_save)
    messages: list[str] = []
    run_study(study, tmp_path, tmp_path / "killed", log=messages.append, executor=HERE)
    assert any("vae seed 1: resuming vae" in m for m in messages)
    whole, killed = _numbers(tmp_path / "whole"), _numbers(tmp_path / "killed")
    assert whole.keys() == killed.keys()
    for key, numbers in whole.items():  # results.json keeps 6 digits
        assert {k for k, v in killed[key].items() if v is None} == {
            k for k, v in numbers.items() if v is None}
        measured = {k: v for k, v in numbers.items() if v is not None}
        assert {k: killed[key][k] for k in measured} == pytest.approx(measured, rel=1e-5,
                                                                      abs=1e-6), key
