"""The flags of ``genlab train``: one per config field, each with its default and its choices
(and, in the same cached table, ``genlab sample``'s sampling options: ``cli/sample_flags.py``).

They are derived from the config dataclasses (``genlab.training.config`` and every family's
config class) and the registries of valid values (``BINARIZE``, ``BACKBONES``, ``MODELS``...),
never listed by hand. Deriving them imports torch and every model family (seconds), so the table
is kept as JSON in genlab's cache, keyed by the package's source files: ``genlab train --help``
reads it in milliseconds, and a changed source file rebuilds it on the next call.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import types
import typing
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from genlab.cli.common import device, int_range, listed, name_list, real
from genlab.errors import ConfigError
from genlab.io import write_text
from genlab.version import __version__

PACKAGE = Path(__file__).resolve().parents[1]
TYPES = {
    "int": int_range(),
    "float": real(),
    "int list": listed(int_range()),
    "float list": listed(real()),
    "str list": name_list,
    "device": device,
}
"""argparse type per field kind (``str`` fields take any text, or one of their choices); a
list is typed as users type ``--channels 16,32`` or ``--classes horse,bird``."""


def kind_of(annotation: Any) -> str | None:
    """``int``, ``float list``...; None for a mapping (``train.optim``: YAML or --set only)."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    origin = typing.get_origin(annotation)
    if origin is dict:
        return None
    if origin is list:
        return f"{typing.get_args(annotation)[0].__name__} list"
    return annotation.__name__


def _fields(cls: type) -> Iterator[tuple[str, str | None, Any]]:
    """(name, kind, default) of each field of a config dataclass, then of each alias of a
    field (PCA's ``n_components``: ``latent_dim``'s kind, no default of its own)."""
    hints = typing.get_type_hints(cls)
    for f in dataclasses.fields(cls):
        default = f.default_factory() if f.default is dataclasses.MISSING else f.default
        yield f.name, kind_of(hints[f.name]), default
    for alias, target in getattr(cls, "aliases", {}).items():
        yield alias, kind_of(hints[target]), None


def _claim(fields: dict[str, dict[str, Any]], name: str, section: str, kind: str | None,
           owner: str) -> dict[str, Any]:
    """The table entry of flag ``--name``; a name that two sections both use is an error,
    since one flag cannot set both (a family's ``seed`` beside ``train.seed``)."""
    entry = fields.setdefault(name, {"section": section, "kind": kind, "defaults": {},
                                     "choices": {}})
    flag = f"--{name.replace('_', '-')}"
    if entry["section"] != section:
        raise ConfigError(f"{flag} would name both {entry['section']}.{name} and "
                          f"{section}.{name} ({owner}): rename one of them")
    if entry["kind"] != kind:
        raise ConfigError(f"{flag} would take both an {entry['kind']} and an {kind} "
                          f"({owner}'s {section}.{name}): rename one of them")
    return entry


def derive() -> dict[str, Any]:
    """The table: model families with their one-line descriptions, and per config field its
    section, kind, defaults and choices (None: any text), both per family for model fields
    (the families owning it, each with the choices its config declares), under "" else."""
    from genlab.cli import sample_flags
    from genlab.models.registry import MODELS
    from genlab.training.config import BINARIZE, OPTIMIZERS, PRECISIONS, SCHEDULES, SECTIONS

    choices = {"binarize": BINARIZE, "optimizer": OPTIMIZERS, "schedule": SCHEDULES,
               "precision": PRECISIONS}
    fields: dict[str, dict[str, Any]] = {}
    for section, cls in SECTIONS.items():
        for name, kind, default in _fields(cls):
            if kind:
                entry = _claim(fields, name, section, kind, section)
                entry["defaults"][""], entry["choices"][""] = default, choices.get(name)
    for family, model in MODELS.items():
        declared = model.config_class.field_choices()
        for name, kind, default in _fields(model.config_class):
            if name != "name" and kind:
                entry = _claim(fields, name, "model", kind, family)
                entry["defaults"][family], entry["choices"][family] = default, declared.get(name)
    for name, entry in fields.items():
        entry["kind"] = "device" if name == "device" else entry["kind"]
    models = {k: (m.__doc__ or k).strip().splitlines()[0] for k, m in MODELS.items()}
    table = {"models": models, "fields": fields, "sampling": sample_flags.derive()}
    return json.loads(json.dumps(table))


def _fingerprint() -> str:
    """Changes whenever any source file of the package does (or genlab's version)."""
    digest = hashlib.sha256(__version__.encode())
    for path in sorted(PACKAGE.rglob("*.py")):
        stat = path.stat()
        digest.update(f"{path.relative_to(PACKAGE)} {stat.st_mtime_ns} {stat.st_size}\n".encode())
    return digest.hexdigest()[:16]


def load() -> dict[str, Any]:
    """The table from the cache ($GENLAB_CACHE or ~/.cache/genlab, as for datasets) when the
    sources are unchanged, else derived and cached (an unwritable cache only costs time)."""
    cache = Path(os.environ.get("GENLAB_CACHE") or "~/.cache/genlab").expanduser() / "cli"
    path = cache / f"train-flags-{_fingerprint()}.json"
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        pass
    table = derive()
    try:
        for old in cache.glob("train-flags-*.json"):
            old.unlink()
        write_text(path, json.dumps(table))
    except OSError:
        pass
    return table


def shown(value: Any) -> str:
    """A default as the flag would take it: ``512,256``, ``true``, ``none``."""
    if isinstance(value, list):
        return ",".join(map(str, value))
    return str(value).lower() if value is None or isinstance(value, bool) else str(value)


def accepted(choices: dict[str, list[str] | None]) -> list[str] | None:
    """The values a flag takes for any of its owners: every owner's choices, or None (any
    text) where an owner declares none."""
    if any(c is None for c in choices.values()):
        return None
    return list(dict.fromkeys(v for c in choices.values() for v in c or ()))


def narrower(choices: dict[str, list[str] | None]) -> str:
    """``; pixelcnn takes bernoulli, categorical``: the owners whose choices are not all of
    the flag's."""
    union = accepted(choices) or []
    by_set: dict[tuple[str, ...], list[str]] = {}
    for owner, values in choices.items():
        if values is not None and values != union:
            by_set.setdefault(tuple(values), []).append(owner)
    return "".join(f"; {', '.join(owners)} take{'s' * (len(owners) == 1)} {', '.join(values)}"
                   for values, owners in by_set.items())


def describe(name: str, entry: dict[str, Any], families: list[str]) -> str:
    """``(model.beta, for vae, beta-vae, iwae, default 1.0; beta-vae: 4.0)``, and the owners
    whose choices are narrower (``; pixelcnn takes bernoulli, categorical``)."""
    by_value: dict[str, list[str]] = {}
    for family, value in entry["defaults"].items():
        by_value.setdefault(shown(value), []).append(family)
    ranked = [v for v, _ in Counter({v: len(f) for v, f in by_value.items()}).most_common()]
    defaults = "; ".join([f"default {ranked[0]}"] + [f"{', '.join(by_value[v])}: {v}"
                                                     for v in ranked[1:]])
    where = f"{entry['section']}.{name}"
    owners = list(entry["defaults"])
    if entry["section"] == "model" and len(owners) < len(families):
        where += f", for {', '.join(owners)}"
    return f"({where}, {defaults}{narrower(entry['choices'])})".replace("%", "%%")


def add_train_flags(p: argparse.ArgumentParser, family: str | None = None) -> None:
    """The ``model`` argument and one flag per config field, grouped by section; each flag's
    value lands in ``args`` as ``cfg.SECTION.NAME`` (None when not given). With ``family``
    (``genlab train dcgan --help``) the help lists that family's model options only; the
    others still parse, so that ``cmd_train`` can name the option the family lacks) and a
    model flag takes that family's choices only (``genlab train pixelcnn --likelihood``)."""
    table = load()
    families = list(table["models"])
    p.add_argument("model", nargs="?", choices=families,
                   help="model family (genlab models describes each)")
    groups = {s: p.add_argument_group(f"{s} options") for s in ("model", "data", "train")}
    if family in families:
        groups["model"].title = f"{family} options"
    for name, entry in table["fields"].items():
        flag, dest = "--" + name.replace("_", "-"), f"cfg.{entry['section']}.{name}"
        text, choices = describe(name, entry, families), accepted(entry["choices"])
        if family in families and entry["section"] == "model":
            if family not in entry["defaults"]:
                text = argparse.SUPPRESS
            else:
                own = {k: {family: entry[k][family]} for k in ("defaults", "choices")}
                text, choices = describe(name, {**entry, **own}, [family]), own["choices"][family]
        group = groups[entry["section"]]
        if entry["kind"] == "bool":
            group.add_argument(flag, dest=dest, action=argparse.BooleanOptionalAction,
                               default=None, help=text)
        elif choices:
            group.add_argument(flag, dest=dest, choices=choices, default=None, help=text)
        else:
            group.add_argument(flag, dest=dest, type=TYPES.get(entry["kind"], str), default=None,
                               help=text, metavar=name.upper())


def flag_values(args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """The config values given as flags: ``{"model": {"latent_dim": 8}, ...}``."""
    values: dict[str, dict[str, Any]] = {}
    for key, value in vars(args).items():
        if key.startswith("cfg.") and value is not None:
            _, section, name = key.split(".")
            values.setdefault(section, {})[name] = value
    return values
