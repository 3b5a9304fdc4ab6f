"""``genlab sample``'s sampling-option flags, derived from the families' option dataclasses."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import ClassVar

import pytest

from genlab.cli import sample_flags, train_flags
from genlab.errors import ConfigError
from genlab.models.core.base import GenerativeModel
from genlab.models.core.sampling import SampleOptions
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
    assert table["toy_steps"] == {"kind": "int", "defaults": {"toy": 10}, "choices": None}
    assert table["toy_sampler"]["choices"] == ("fast", "slow")
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
