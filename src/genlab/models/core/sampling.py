"""Sampling options: how a family draws images, chosen when it samples, not when it trains.

A family whose sampler has choices (a diffusion model's sampler, number of steps, eta and
guidance weight; a flow's temperature) declares them as a frozen dataclass on
:class:`SampleOptions`, a default for every field, and names it in
``GenerativeModel.sample_options``; its ``sample`` then receives an instance (the defaults
when none is given). Every front end derives from that one dataclass: ``genlab sample RUN
--steps 50`` (a flag per field of any family), ``Run.sample(..., options={"steps": 50})`` and
an evaluation's (a study's) ``sampling`` mapping. A family without choices keeps the empty
base class, so an option given to it is an error naming the option and the family's options.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from genlab.errors import ConfigError


@dataclass(frozen=True)
class SampleOptions:
    """No options: the base of every family's sampling options. ``choices`` names the
    accepted values of a text field (checked by :meth:`validate`, listed by ``--help``)."""

    choices: ClassVar[dict[str, tuple[str, ...]]] = {}

    def validate(self) -> None:
        """Reject values before any sampling starts; subclasses add their own ranges."""
        for name, valid in self.choices.items():
            value = getattr(self, name)
            if value not in valid:
                raise ConfigError(f"sampling option {name}={value!r} is not valid; "
                                  f"choose one of {', '.join(valid)}")


def option_names(cls: type[SampleOptions]) -> list[str]:
    """The fields of a family's sampling options."""
    return [f.name for f in dataclasses.fields(cls)]


def _coerced(value: Any, kind: Any, name: str) -> Any:
    """``value`` as a field of type ``kind`` (an int where a float is expected becomes one)."""
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if isinstance(value, kind) and not (kind is int and isinstance(value, bool)):
        return value
    raise ConfigError(f"sampling option {name} expects a {kind.__name__}, got {value!r}")


def resolve_options(
    cls: type[SampleOptions],
    values: Mapping[str, Any] | SampleOptions | None,
    family: str,
    strict: bool = True,
) -> SampleOptions:
    """``values`` as ``family``'s sampling options ``cls``, checked. ``strict``: a key the
    family lacks is an error naming it and the family's options; otherwise (a study's
    settings, shared by all its models) each family takes the keys it has."""
    if isinstance(values, SampleOptions):
        if not isinstance(values, cls):
            raise ConfigError(f"{type(values).__name__} are not {family}'s sampling options "
                              f"({cls.__name__})")
        values.validate()
        return values
    names = option_names(cls)
    given = dict(values or {})
    unknown = [k for k in given if k not in names]
    if unknown and strict:
        key = unknown[0]
        raise ConfigError(f"sampling option {key} (--{key.replace('_', '-')}) is not one of "
                          f"{family}'s; {family}'s sampling options: {', '.join(names) or 'none'}")
    hints = typing.get_type_hints(cls)
    options = cls(**{k: _coerced(v, hints[k], k) for k, v in given.items() if k in names})
    options.validate()
    return options


@dataclass(frozen=True)
class TemperatureOptions(SampleOptions):
    """``temperature`` > 0: how widely an exact-likelihood model's draws spread (1: the model
    itself). A flow draws its code from N(0, T^2 I), the reduced-temperature model of Kingma
    & Dhariwal (2018, section 6); an autoregressive model divides its logits by T. Below 1
    trades diversity for typical-looking images."""

    temperature: float = 1.0

    def validate(self) -> None:
        super().validate()
        if not self.temperature > 0:
            raise ConfigError("sampling option temperature must be positive, got "
                              f"{self.temperature}")
