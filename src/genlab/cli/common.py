"""Argument helpers shared by commands that open a trained run."""

from __future__ import annotations

import argparse

from genlab.errors import ConfigError


def add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run directory (or a checkpoint file)")
    p.add_argument("--which", choices=["best", "last"], default="best", help="checkpoint to use")
    p.add_argument("--device", default="cpu", help="cpu, cuda or auto (default: cpu)")
    p.add_argument("--data-dir", default=None, help="where datasets live (else $GENLAB_DATA)")


def parse_int_list(text: str | None, what: str) -> list[int] | None:
    """``"1,2,3"`` -> [1, 2, 3]; None stays None (the flag was not given)."""
    if text is None:
        return None
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"{what} expects comma-separated integers, got {text!r}") from None


def parse_float_list(text: str, what: str) -> list[float]:
    """``"0.5,1"`` -> [0.5, 1.0]; an empty list is an error (a sweep needs values)."""
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"{what} expects comma-separated numbers, got {text!r}") from None
    if not values:
        raise ConfigError(f"{what} is empty")
    return values
