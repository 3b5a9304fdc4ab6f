"""Options the data cannot take are refused when the config is read, before any data is
loaded or any training starts: a PixelCNN Bernoulli of continuous pixels, and (below, per
family) sampling options out of range in a shared evaluation."""

from __future__ import annotations

from pathlib import Path

import pytest

import genlab
from genlab.cli.main import main
from genlab.data.dataset import image_size
from genlab.errors import ConfigError
from genlab.evaluation.settings import EvaluationSettings
from genlab.training.config import config_from_dict


def test_image_sizes_are_known_before_loading() -> None:
    assert image_size("mnist") == (28, 28) and image_size("cifar10") == (32, 32)
    assert image_size("cifar10", 64) == (64, 64) and image_size("folder:x") is None


def test_a_bernoulli_pixelcnn_of_continuous_pixels_is_refused(tmp_path: Path) -> None:
    raw = {"model": {"name": "pixelcnn"}, "data": {"binarize": "none"}}
    with pytest.raises(ConfigError, match=r"model.likelihood=bernoulli .*data.binarize is none"):
        config_from_dict(raw)
    with pytest.raises(ConfigError, match="data.binarize"):
        genlab.train(raw, out=tmp_path / "run")
    assert not (tmp_path / "run").exists()  # refused before the run directory was made
    for ok in ({"data": {"binarize": "dynamic"}},
               {"model": {"name": "pixelcnn", "likelihood": "categorical"}}):
        config_from_dict({**raw, **ok})


def test_the_cli_refuses_it_in_one_line(tmp_path: Path, capsys) -> None:
    code = main(["train", "pixelcnn", "--epochs", "1", "--out", str(tmp_path / "r")])
    err = capsys.readouterr().err
    assert code == 2 and "data.binarize" in err and len(err.strip().splitlines()) == 1


def test_a_temperature_at_most_zero_is_refused_when_an_evaluation_is_read() -> None:
    with pytest.raises(ConfigError, match="temperature must be positive"):
        EvaluationSettings(sampling={"temperature": 0.0})
    assert EvaluationSettings(sampling={"temperature": 0.7}).sampling == {"temperature": 0.7}
