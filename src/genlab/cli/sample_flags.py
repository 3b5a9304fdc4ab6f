"""The sampling-option flags of ``genlab sample`` and ``genlab evaluate``: one per field of
any family's ``sample_options`` (``models/core/sampling.py``), with its kind, choices and each
family's default.

The parser is built before the run is opened, so the flags are those of every registered
family; once the run is open, ``genlab sample`` refuses a value its family lacks, naming the
option and the family's options (exit 2), and ``genlab evaluate`` gives each run the options
its family has (``EvaluationSettings.sampling``). The table is derived with the training
flags' and cached with them (``train_flags.load``), so ``--help`` does not import torch.
"""

from __future__ import annotations

import argparse
import dataclasses
import typing
from typing import Any

from genlab.cli import train_flags
from genlab.errors import ConfigError

RESERVED = ("n", "labels", "seed", "draw", "format", "out", "which", "device", "data_dir",
            "split", "classifier", "inception_weights", "metrics", "iw_samples", "nll_images",
            "no_cache")
"""``genlab sample``'s and ``genlab evaluate``'s own arguments, which no sampling option may
be named."""


def derive() -> dict[str, dict[str, Any]]:
    """Per sampling option: its kind and each owning family's default and choices (None: any
    text); an option named like a sample argument, or of two kinds in two families, is an
    error."""
    from genlab.models.registry import MODELS

    fields: dict[str, dict[str, Any]] = {}
    for family, model in MODELS.items():
        cls = model.sample_options
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            kind = train_flags.kind_of(hints[f.name])
            entry = fields.setdefault(f.name, {"kind": kind, "defaults": {}, "choices": {}})
            if f.name in RESERVED or entry["kind"] != kind:
                raise ConfigError(f"{family}'s sampling option {f.name} clashes with a sample "
                                  "argument or another family's option of another kind")
            entry["defaults"][family] = f.default
            valid = cls.choices.get(f.name)
            entry["choices"][family] = None if valid is None else list(valid)
    return fields


def add_sample_flags(p: argparse.ArgumentParser) -> None:
    """One flag per sampling option, taking the values of any family that has it (the run's
    own family checks its choices once the run is open); its value lands in ``args`` as
    ``sampling.NAME`` (None when not given)."""
    table = train_flags.load()["sampling"]
    group = p.add_argument_group("sampling options (each of the families named)")
    for name, entry in table.items():
        shown = "; ".join(f"{family}: {train_flags.shown(value)}"
                          for family, value in entry["defaults"].items())
        narrower = train_flags.narrower(entry["choices"])
        text = f"(default {shown}{narrower})".replace("%", "%%")
        flag, dest = "--" + name.replace("_", "-"), f"sampling.{name}"
        choices = train_flags.accepted(entry["choices"])
        if entry["kind"] == "bool":
            group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction,
                               default=None, help=text)
        elif choices:
            group.add_argument(flag, dest=dest, choices=choices, default=None, help=text)
        else:
            group.add_argument(flag, dest=dest, type=train_flags.TYPES.get(entry["kind"], str),
                               default=None, help=text, metavar=name.upper())


def sample_flag_values(args: argparse.Namespace) -> dict[str, Any]:
    """The sampling options given as flags: ``{"steps": 50, "eta": 0.0}``."""
    return {key.split(".", 1)[1]: value for key, value in vars(args).items()
            if key.startswith("sampling.") and value is not None}
