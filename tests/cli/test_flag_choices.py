"""Each family's choices of a text option come from its own config (``ModelConfig.choices``):
``genlab train FAMILY --help`` lists those, the flag takes those, and the config refuses the
rest; the help of every family says whose choices are narrower."""

from __future__ import annotations

import argparse
import dataclasses
from dataclasses import dataclass
from typing import ClassVar

import pytest

from genlab.cli import train_flags
from genlab.cli.main import main
from genlab.errors import ConfigError
from genlab.models.core.base import GenerativeModel
from genlab.models.core.config import ModelConfig
from genlab.models.parts.likelihoods import LIKELIHOODS
from genlab.models.registry import MODELS
from genlab.training.config import config_from_dict


def _help(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    with pytest.raises(SystemExit):
        main([*argv, "--help"])
    return " ".join(capsys.readouterr().out.split())


def test_a_familys_help_lists_its_own_likelihoods(capsys) -> None:
    assert "--likelihood {bernoulli,categorical}" in _help(["train", "pixelcnn"], capsys)
    assert "--likelihood {" + ",".join(LIKELIHOODS) + "}" in _help(["train", "vae"], capsys)
    every = _help(["train"], capsys)
    assert "--likelihood {" + ",".join(LIKELIHOODS) + "}" in every
    assert "pixelcnn takes bernoulli, categorical)" in every


def test_a_flag_takes_only_the_familys_choices(capsys) -> None:
    with pytest.raises(SystemExit) as exit_:
        main(["train", "pixelcnn", "--likelihood", "logistic", "--out", "x"])
    err = capsys.readouterr().err
    assert exit_.value.code == 2
    assert "argument --likelihood: invalid choice: 'logistic'" in err and "'categorical'" in err


def test_the_config_refuses_what_its_family_does_not_declare() -> None:
    """Every declared choice is checked by the family's config (its ``validate`` reaches
    ``ModelConfig.validate``), naming the key, the family and its choices."""
    checked = 0
    for family, model in MODELS.items():
        for name, valid in model.config_class.field_choices().items():
            with pytest.raises(ConfigError, match=rf"model\.{name}='nope' is not valid for "
                                                  rf"{family}; choose one of {', '.join(valid)}"):
                config_from_dict({"model": {"name": family, name: "nope"}})
            checked += 1
    assert checked >= 5 * 3 + 2  # the 5 VAE families: net, likelihood, sigma_mode; ae, pixelcnn


@dataclass
class ToyConfig(ModelConfig):
    mode: str = "plain"

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"mode": ("plain", "fancy")}


@dataclass
class NarrowConfig(ToyConfig):
    choices: ClassVar[dict[str, tuple[str, ...]]] = {"mode": ("plain",)}


def test_choices_come_from_the_familys_config(monkeypatch: pytest.MonkeyPatch) -> None:
    """A registered family's declaration reaches the flag table; a subclass narrows it."""
    assert NarrowConfig.field_choices() == {"mode": ("plain",)}
    assert [f.name for f in dataclasses.fields(NarrowConfig)] == ["name", "mode"]
    monkeypatch.setitem(MODELS, "toy", type("Toy", (GenerativeModel,), {"config_class": ToyConfig}))
    monkeypatch.setitem(MODELS, "narrow",
                        type("Narrow", (GenerativeModel,), {"config_class": NarrowConfig}))
    table = train_flags.derive()
    monkeypatch.setattr(train_flags, "load", lambda: table)
    assert table["fields"]["mode"]["choices"] == {"toy": ["plain", "fancy"], "narrow": ["plain"]}
    for family, ok, refused in (("toy", "fancy", "other"), ("narrow", "plain", "fancy")):
        p = argparse.ArgumentParser()
        train_flags.add_train_flags(p, family)
        assert train_flags.flag_values(p.parse_args([family, "--mode", ok])) == {
            "model": {"mode": ok}}
        with pytest.raises(SystemExit):
            p.parse_args([family, "--mode", refused])
