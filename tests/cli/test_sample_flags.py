"""``genlab sample``'s sampling-option flags, derived from the families' option dataclasses."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import ClassVar

import pytest

from genlab.cli import sample_flags, train_flags
from genlab.cli.sample_flags import sample_flag_values
from genlab.errors import ConfigError
from genlab.models.core.base import GenerativeModel
from genlab.models.core.sampling import SampleOptions, resolve_options
from genlab.models.registry import MODELS


@dataclass(frozen=True)
class ToyOptions(SampleOptions):
    toy_sampler: str = "fast"
    toy_steps: int = 10

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"toy_sampler": ("fast", "slow")}


class Toy(GenerativeModel):
    sample_options = ToyOptions


def test_flags_come_from_each_familys_options(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(MODELS, "toy", Toy)
    table = sample_flags.derive()
    assert table["toy_steps"] == {"kind": "int", "defaults": {"toy": 10},
                                  "choices": {"toy": None}}
    assert table["toy_sampler"]["choices"] == {"toy": ["fast", "slow"]}
    monkeypatch.setattr(train_flags, "load", lambda: {"sampling": table})
    p = argparse.ArgumentParser()
    sample_flags.add_sample_flags(p)
    args = p.parse_args(["--toy-steps", "5"])
    assert sample_flags.sample_flag_values(args) == {"toy_steps": 5}
    assert "toy: 10" in p.format_help()


def test_an_option_named_like_a_sample_argument_is_refused(
        monkeypatch: pytest.MonkeyPatch) -> None:
    @dataclass(frozen=True)
    class Clash(SampleOptions):
        seed: int = 0

    monkeypatch.setitem(MODELS, "clash", type("C", (GenerativeModel,), {"sample_options": Clash}))
    with pytest.raises(ConfigError, match="sampling option seed clashes"):
        sample_flags.derive()


@dataclass(frozen=True)
class OtherOptions(SampleOptions):
    toy_sampler: str = "exact"

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"toy_sampler": ("fast", "exact")}


class Other(GenerativeModel):
    sample_options = OtherOptions


def test_each_family_keeps_its_own_choices(monkeypatch: pytest.MonkeyPatch) -> None:
    """A second family's choices of an option are not lost to the first's: the flag takes
    either family's values, help says whose they are, and the run's family checks its own."""
    monkeypatch.setitem(MODELS, "toy", Toy)
    monkeypatch.setitem(MODELS, "other", Other)
    table = sample_flags.derive()
    assert table["toy_sampler"]["choices"] == {"toy": ["fast", "slow"], "other": ["fast", "exact"]}
    monkeypatch.setattr(train_flags, "load", lambda: {"sampling": table})
    p = argparse.ArgumentParser()
    sample_flags.add_sample_flags(p)
    for value in ("slow", "exact"):
        assert sample_flag_values(p.parse_args(["--toy-sampler", value])) == {"toy_sampler": value}
    with pytest.raises(SystemExit):
        p.parse_args(["--toy-sampler", "medium"])
    text = " ".join(p.format_help().split())
    assert "--toy-sampler {fast,slow,exact}" in text
    assert "toy takes fast, slow; other takes fast, exact" in text
    assert resolve_options(OtherOptions, {"toy_sampler": "exact"}, "other").toy_sampler == "exact"
    with pytest.raises(ConfigError, match="toy_sampler='exact' is not valid; choose one of fast"):
        resolve_options(ToyOptions, {"toy_sampler": "exact"}, "toy")
