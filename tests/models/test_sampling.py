"""Sampling options (``models.core.sampling``): a family's dataclass, resolved from a mapping with
its types and choices checked, strict for one run and per family for a shared evaluation."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

import pytest

from genlab.errors import ConfigError
from genlab.evaluation.settings import EvaluationSettings
from genlab.models.core.sampling import SampleOptions, option_names, resolve_options
from genlab.models.registry import build_model
from genlab.runs import Run
from genlab.study.config import study_from_dict
from genlab.training.config import config_from_dict


@dataclass(frozen=True)
class ToyOptions(SampleOptions):
    """A toy family's sampler: a choice, a count and a weight."""

    sampler: str = "fast"
    steps: int = 10
    weight: float = 1.0

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"sampler": ("fast", "slow")}


def test_defaults_types_and_choices() -> None:
    assert resolve_options(ToyOptions, None, "toy") == ToyOptions()
    got = resolve_options(ToyOptions, {"steps": 3, "weight": 2}, "toy")
    assert got == ToyOptions(steps=3, weight=2.0) and isinstance(got.weight, float)
    assert option_names(ToyOptions) == ["sampler", "steps", "weight"]
    with pytest.raises(ConfigError, match="sampler='medium' is not valid; choose one of fast"):
        resolve_options(ToyOptions, {"sampler": "medium"}, "toy")
    with pytest.raises(ConfigError, match="steps expects a int, got 2.5"):
        resolve_options(ToyOptions, {"steps": 2.5}, "toy")
    with pytest.raises(ConfigError, match="steps expects a int, got True"):
        resolve_options(ToyOptions, {"steps": True}, "toy")


def test_an_option_the_family_lacks_is_named_with_the_familys_options() -> None:
    with pytest.raises(ConfigError, match=r"sampling option eta \(--eta\) is not one of toy's; "
                                          "toy's sampling options: sampler, steps, weight"):
        resolve_options(ToyOptions, {"eta": 0.0}, "toy")
    with pytest.raises(ConfigError, match="vae's sampling options: none"):
        resolve_options(SampleOptions, {"steps": 5}, "vae")
    # a shared evaluation: each family takes the keys it has
    assert resolve_options(ToyOptions, {"steps": 4, "eta": 0.0}, "toy", strict=False).steps == 4
    assert resolve_options(SampleOptions, {"steps": 4}, "vae", strict=False) == SampleOptions()
    with pytest.raises(ConfigError, match="are not toy's sampling options"):
        resolve_options(ToyOptions, SampleOptions(), "toy")


def test_run_sample_takes_options_strictly_or_per_family(tmp_path: Path) -> None:
    config = config_from_dict({"model": {"name": "vae", "hidden": [8], "latent_dim": 2}})
    run = Run(build_model(config.model, (1, 28, 28), 10), config, tmp_path / "x.safetensors", {})
    with pytest.raises(ConfigError, match="steps.*vae's sampling options: none"):
        run.sample(2, options={"steps": 5})
    assert run.sample(2, options={"steps": 5}, strict=False).shape == (2, 1, 28, 28)


def test_evaluation_sampling_keys_must_be_some_familys_options() -> None:
    with pytest.raises(ConfigError, match="evaluation.sampling.stepz is not a sampling option"):
        EvaluationSettings(sampling={"stepz": 5})
    assert EvaluationSettings().sampling == {}
    study = study_from_dict({"models": [{"label": "a", "config": {"model": {"name": "vae"}}}],
                             "evaluation": {"sampling": {"steps": 50, "eta": 0}}})
    assert study.evaluation.sampling == {"steps": 50, "eta": 0}
    with pytest.raises(ConfigError, match="sampling option steps must be positive"):
        EvaluationSettings(sampling={"steps": 0})
    with pytest.raises(ConfigError, match="sampling.sigma_max is not a sampling option"):
        study_from_dict({"models": [{"label": "a"}], "evaluation": {"sampling": {
            "sigma_max": 80.0}}})
