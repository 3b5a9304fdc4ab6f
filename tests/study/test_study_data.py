"""A study's data: ``set`` / ``--set`` over every model, and the data looked for before a
study writes anything (a missing dataset leaves no folder, study.yaml or sessions.jsonl)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from genlab.cli.main import main
from genlab.data import DataError
from genlab.errors import ConfigError
from genlab.study.config import check_data, load_study, resolve_model, study_from_dict
from genlab.study.runner import run_study

TWO = {"data": {"dataset": "folder:pics"},
       "models": [{"label": "pca", "config": {"model": {"name": "pca", "n_components": 2}},
                   "set": ["train.epochs=3", "model.n_components=4"]},
                  {"label": "mean", "config": {"model": {"name": "mean"}}}]}


def _pics(root: Path) -> Path:
    """``root/pics/{train,test}/{a,b}/*.png``: four 8 x 8 greyscale images per class."""
    for split, (c, name) in ((s, cn) for s in ("train", "test") for cn in enumerate("ab")):
        for i in range(4):
            folder = root / "pics" / split / name
            folder.mkdir(parents=True, exist_ok=True)
            Image.fromarray(np.full((8, 8), 60 * c + i, np.uint8)).save(folder / f"{i}.png")
    return root


def test_the_study_s_set_goes_over_every_model_s_own(tmp_path: Path) -> None:
    study = study_from_dict({**TWO, "set": ["train.epochs=1", "data.val_size=2"]})
    pca, mean = (resolve_model(study, m, tmp_path) for m in study.models)
    assert (pca.train.epochs, pca.model.latent_dim) == (1, 4)  # the study's last
    assert mean.train.epochs == 1 and pca.data.val_size == mean.data.val_size == 2
    with pytest.raises(ConfigError, match="set must be a list of section.key=value strings"):
        study_from_dict({**TWO, "set": "train.epochs=1"})
    bad = study_from_dict({**TWO, "set": ["model.n_components=2"]})
    with pytest.raises(ConfigError, match="model 'mean': .*n_components"):
        resolve_model(bad, bad.models[1], tmp_path)  # a key one model lacks is not skipped


def test_the_data_is_looked_for_where_each_run_will_look(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GENLAB_DATA", raising=False)
    study = study_from_dict(TWO)
    with pytest.raises(DataError) as info:
        check_data(study, tmp_path, str(tmp_path / "data"))
    message = str(info.value)
    assert message.startswith("model 'pca': folder:pics: no directory 'pics' in the current "
                              f"directory ({tmp_path}) nor in the data directories")
    assert str(tmp_path / "data" / "pics") in message
    _pics(tmp_path / "data")
    check_data(study, tmp_path, str(tmp_path / "data"))  # --data-dir
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path / "data"))
    check_data(study, tmp_path)  # $GENLAB_DATA


def test_a_study_whose_data_is_missing_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GENLAB_DATA", raising=False)
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(TWO))
    out = tmp_path / "out"
    assert main(["study", "s.yaml", "--out", str(out), "--data-dir", "data"]) == 2
    err = capsys.readouterr().err
    assert "folder:pics: no directory 'pics'" in err and str(Path("data") / "pics") in err
    assert not out.exists()
    out.mkdir()  # a study folder already there (a study being continued) gets no new files
    assert main(["study", "s.yaml", "--out", str(out), "--data-dir", "data"]) == 2
    assert list(out.iterdir()) == []


def test_the_python_api_checks_the_data_before_writing_too(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GENLAB_DATA", raising=False)
    out = tmp_path / "out"
    with pytest.raises(DataError, match="model 'pca': folder:pics: no directory 'pics'"):
        run_study(study_from_dict(TWO), tmp_path, out, data_dir=str(tmp_path / "data"))
    assert not out.exists()


def test_a_bad_set_on_the_command_line_is_one_line_and_writes_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    _pics(tmp_path)
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path))
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(TWO))
    argv = ["study", str(tmp_path / "s.yaml"), "--out", str(tmp_path / "out")]
    assert main([*argv, "--set", "train.epoks=1"]) == 2
    assert "model 'pca': " in capsys.readouterr().err
    assert main([*argv, "--set", "train"]) == 2
    assert "--set expects section.key=value" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_set_on_the_command_line_is_recorded_in_study_yaml(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _pics(tmp_path)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "cache"))
    one = {"data": {"dataset": "folder:pics", "val_size": 2},
           "train": {"progress": False, "device": "cpu", "epoch_samples": 0},
           "models": [{"label": "mean", "config": {"model": {"name": "mean"}}}],
           "evaluation": {"metrics": ["recon"], "n": 4},
           "perturbations": {"source_class": "a", "target_class": "b"},
           "figures": {"samples": 4, "images": 2, "interpolation_steps": 2, "map_images": 8}}
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(one))
    argv = ["study", "s.yaml", "--out", "out", "--workers", "1", "--set", "data.split_seed=3"]
    assert main(argv) == 0
    recorded, _ = load_study(tmp_path / "out" / "study.yaml")
    assert recorded.set == ["data.split_seed=3"]
    run_config = yaml.safe_load(next((tmp_path / "out" / "runs").glob("mean-*/config.yaml"))
                                .read_text())
    assert run_config["data"]["split_seed"] == 3
