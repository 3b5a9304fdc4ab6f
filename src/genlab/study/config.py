"""A study's configuration: the models to compare and how each is evaluated and shown.

A study YAML maps one to one onto :class:`StudyConfig` (unknown keys and wrong types are
errors naming the key, as for run configs)::

    name: demo
    data: {dataset: mnist-mini}             # merged under every model's data section
    train: {epochs: 20}                     # merged under every model's train section
    seeds: [0, 1, 2]                        # each model trained once per seed (train.seed)
    set: [train.epochs=2]                   # over every model's own set (genlab study --set)
    models:
      - {label: vae, config: {model: {name: vae, net: mlp}}, set: [train.epochs=30]}
      - {label: dcgan, config: dcgan_mnist.yaml}   # a run config file, beside the study
    evaluation: {metrics: [nll, fid, confidence], n: 2000}
    perturbations: {source_class: "4", target_class: "9"}
    augmentation: {fractions: [0.2, 0.5, 1.0]}   # when evaluation.metrics has augment
    figures: {images: 8, interpolation_steps: 8}
    budget: {minutes: 10}                   # the same training minutes for every model

Each model's run config is resolved once (:func:`resolve_models`); its hash names its run
directory, so a study that is run again reuses (or resumes) what it already trained. Without
``seeds`` each model is trained once with its own ``train.seed``; with them, once per seed,
the seed set as ``train.seed`` (part of the hash, so the seed that a single-seed study used
reuses its run).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from genlab.data import DataError, dataset_path
from genlab.errors import ConfigError
from genlab.evaluation.augmentation import AugmentationSettings
from genlab.evaluation.believability import PerturbationSettings
from genlab.evaluation.registry import METRICS
from genlab.evaluation.settings import EvaluationSettings
from genlab.training.config import (
    RunConfig,
    apply_overrides,
    config_dataclass,
    config_from_dict,
    read_yaml,
)

LABEL_CHARS = set("abcdefghijklmnopqrstuvwxyz0123456789-_")
RUNTIME_KEYS = {"train": ("progress", "device", "tensorboard"), "data": ("data_dir",)}
"""Options that change how a run is shown, where it runs or where its data is read from, not
what it learns: left out of the hash, so a study trained on a GPU is reused on a CPU."""
UNSET_KEYS = {"data": {"classes": None}, "train": {"momentum": None, "checkpoint_every": 0.0},
              "model": {"dropout": 0.0, "dropout_in": "encoder"}}
"""Options added after studies were run, left out of the hash while unset, so that a run
which does not use them keeps its hash (and a study folder its runs) across the upgrade."""


@dataclass
class StudyModel:
    """One model of the study: a label (its row and folder name), a run config (a mapping or
    a YAML path, relative to the study file), ``section.key=value`` overrides and its own
    ``settings`` where the study's do not suit it (``settings: {evaluation: {n: 2000}}`` for a
    model whose samples are dear), merged over the study's (None: the study's)."""

    label: str = ""
    config: dict[str, Any] | str = field(default_factory=dict)
    set: list[str] = field(default_factory=list)
    settings: StudySettings | None = None


@dataclass
class FigureSettings:
    """The figures per model: how many samples and images per figure, the interpolation and
    the latent map (``method``: raw, pca, tsne or auto)."""

    samples: int = 64
    images: int = 8
    interpolation_steps: int = 8
    interpolation_method: str = "slerp"
    map_images: int = 1000
    map_method: str = "pca"


@dataclass
class StudySettings:
    """How each model is evaluated (``evaluation``, with the ``perturbations`` of the
    believability metric and the ``augmentation`` study's settings) and drawn (``figures``):
    what a study and ``genlab report`` share."""

    evaluation: EvaluationSettings = field(default_factory=EvaluationSettings)
    perturbations: PerturbationSettings = field(default_factory=PerturbationSettings)
    augmentation: AugmentationSettings = field(default_factory=AugmentationSettings)
    figures: FigureSettings = field(default_factory=FigureSettings)


@dataclass
class BudgetSettings:
    """``budget``: every model trained for the same ``minutes`` of training instead of epochs,
    a checkpoint kept ``every`` minutes (0: a fifth of the budget) and each scored by FID on
    ``samples`` samples and its validation loss (``study.budget``; 0 minutes: no budget)."""

    minutes: float = 0.0
    every: float = 0.0
    samples: int = 2000


def check_budget(raw: Any, where: str) -> BudgetSettings:
    """The study's ``budget`` mapping, checked (absent: no budget)."""
    if raw is None:
        return BudgetSettings()
    budget = config_dataclass(BudgetSettings, raw, "budget")
    if budget.minutes <= 0 or budget.every < 0 or budget.every > budget.minutes:
        raise ConfigError(f"{where}: budget needs minutes > 0 and every in [0, minutes] (0: a "
                          f"fifth of the budget), got minutes={budget.minutes}, "
                          f"every={budget.every}")
    if budget.samples < 2:
        raise ConfigError(f"{where}: budget.samples must be at least 2, got {budget.samples}")
    return budget


@dataclass
class StudyConfig(StudySettings):
    """A whole study: its name, shared data/train settings, the models, the training seeds
    (empty: each model's own ``train.seed``, one run), ``section.key=value`` overrides of
    every model's run config (applied last, ``genlab study --set``) and the settings."""

    name: str = "study"
    data: dict[str, Any] = field(default_factory=dict)
    train: dict[str, Any] = field(default_factory=dict)
    models: list[StudyModel] = field(default_factory=list)
    seeds: list[int] = field(default_factory=list)
    set: list[str] = field(default_factory=list)
    budget: BudgetSettings = field(default_factory=BudgetSettings)


def study_record(study: StudyConfig) -> dict[str, Any]:
    """``study`` as its study.yaml records it, read back as the same study: an unset budget
    (0 minutes) left out, which ``budget`` would refuse."""
    record = asdict(study)
    if study.budget == BudgetSettings():
        del record["budget"]
    return record


SECTIONS = {"evaluation": EvaluationSettings, "perturbations": PerturbationSettings,
            "augmentation": AugmentationSettings, "figures": FigureSettings}


def study_from_dict(raw: Any, where: str = "study") -> StudyConfig:
    """Build and check a StudyConfig from a parsed YAML mapping."""
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping, got {type(raw).__name__}")
    names = ["name", "data", "train", "models", "seeds", "set", "budget", *SECTIONS]
    unknown = sorted(set(raw) - set(names))
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]}; valid keys: {', '.join(names)}")
    models = raw.get("models") or []
    if not isinstance(models, list) or not models:
        raise ConfigError(f"{where}: models must be a non-empty list of models")
    config = StudyConfig(
        name=str(raw.get("name", "study")),
        data=_mapping(raw, "data", where), train=_mapping(raw, "train", where),
        seeds=check_seeds(raw.get("seeds") or [], f"{where}: seeds"),
        set=check_overrides(raw.get("set") or [], f"{where}: set"),
        budget=check_budget(raw.get("budget"), where),
        **{k: config_dataclass(cls, raw.get(k) or {}, k) for k, cls in SECTIONS.items()},
    )
    config.models = [_model(m, config, where, i) for i, m in enumerate(models)]
    _check(config, where)
    return config


def settings_of(study: StudyConfig, model: StudyModel) -> StudySettings:
    """The settings ``model`` is evaluated and drawn with: its own, else the study's."""
    return model.settings or StudySettings(
        **{k: getattr(study, k) for k in SECTIONS})


def check_seeds(seeds: Any, where: str) -> list[int]:
    """A list of distinct non-negative integers (the training seeds of every model)."""
    if (not isinstance(seeds, list)
            or not all(isinstance(s, int) and not isinstance(s, bool) and s >= 0 for s in seeds)):
        raise ConfigError(f"{where} must be a list of non-negative integers, got {seeds!r}")
    if len(set(seeds)) != len(seeds):
        raise ConfigError(f"{where}: the seed {next(s for s in seeds if seeds.count(s) > 1)} "
                          "is listed twice")
    return list(seeds)


def check_overrides(overrides: Any, where: str) -> list[str]:
    """A list of ``section.key=value`` strings (checked as run config keys when applied)."""
    if not isinstance(overrides, list) or not all(isinstance(o, str) for o in overrides):
        raise ConfigError(f"{where} must be a list of section.key=value strings, "
                          f"got {overrides!r}")
    return list(overrides)


def _model(raw: Any, study: StudySettings, source: str, i: int) -> StudyModel:
    """One entry of ``models``; its run config is checked later, by :func:`resolve_model`."""
    where = f"{source}: models[{i}]"
    if not isinstance(raw, dict):
        raise ConfigError(f"{where} must be a mapping with label, config and set")
    unknown = sorted(set(raw) - {"label", "config", "set", "settings"})
    if unknown:
        raise ConfigError(f"{where}: unknown key {unknown[0]}; valid keys: label, config, set, "
                          "settings")
    config = raw.get("config") or {}
    if not isinstance(config, dict | str):
        raise ConfigError(f"{where}.config must be a run config mapping or a YAML path")
    overrides = check_overrides(raw.get("set") or [], f"{where}.set")
    return StudyModel(str(raw.get("label", "")), config, overrides,
                      _own_settings(raw.get("settings"), study, f"models[{i}].settings",
                                    source))


def _own_settings(raw: Any, study: StudySettings, name: str,
                  source: str) -> StudySettings | None:
    """A model's ``settings``: each section's keys over the study's, checked as the study's."""
    if raw is None:
        return None
    if not isinstance(raw, dict) or set(raw) - set(SECTIONS):
        raise ConfigError(f"{source}: {name} must map some of {', '.join(SECTIONS)} to their "
                          "keys")
    merged = {}
    for key, cls in SECTIONS.items():
        override = raw.get(key) or {}
        if not isinstance(override, dict):
            raise ConfigError(f"{source}: {name}.{key} must be a mapping, got {override!r}")
        merged[key] = config_dataclass(cls, {**asdict(getattr(study, key)), **override},
                                       f"{name}.{key}")
    settings = StudySettings(**merged)
    _check_settings(settings, f"{source}: {name}")
    return settings


def _mapping(raw: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = raw.get(key) or {}
    if not isinstance(value, dict):
        raise ConfigError(f"{where}: {key} must be a mapping, got {value!r}")
    return value


def _check(config: StudyConfig, where: str) -> None:
    labels = [m.label for m in config.models]
    for i, label in enumerate(labels):
        if not label or set(label) - LABEL_CHARS:
            raise ConfigError(f"{where}: models[{i}].label must be lower-case letters, digits, "
                              f"'-' or '_' (it names a folder), got {label!r}")
    repeated = sorted({v for v in labels if labels.count(v) > 1})
    if repeated:
        raise ConfigError(f"{where}: the label {repeated[0]!r} is used twice")
    _check_settings(config, where)


def _check_settings(settings: StudySettings, where: str) -> None:
    bad = [m for m in settings.evaluation.metrics if m not in METRICS]
    if bad:
        raise ConfigError(f"{where}: unknown metric {bad[0]!r}; choose from {', '.join(METRICS)}")
    if settings.evaluation.n < 2:
        raise ConfigError(f"{where}: evaluation.n must be at least 2")


def load_study(path: str | Path) -> tuple[StudyConfig, Path]:
    """A study YAML and the folder its relative config paths are resolved from."""
    path = Path(path)
    return study_from_dict(read_yaml(path, "study file"), str(path)), path.parent


def _merged(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """``over`` on top of ``base``, mapping by mapping."""
    out = dict(base)
    for key, value in over.items():
        both = isinstance(value, dict) and isinstance(out.get(key), dict)
        out[key] = _merged(out[key], value) if both else value
    return out


def resolve_model(study: StudyConfig, model: StudyModel, root: Path) -> RunConfig:
    """The model's run config: the study's shared data/train settings, then its own config
    (the file's or the mapping's), then its ``set`` overrides, then the study's."""
    raw = model.config
    if isinstance(raw, str):
        raw = read_yaml(root / raw, f"models[{model.label}]: config file") or {}
    if not isinstance(raw, dict):
        raise ConfigError(f"model {model.label!r}: a run config must be a mapping")
    raw = _merged({"data": study.data, "train": study.train}, raw)
    raw.pop("out", None)
    try:
        return config_from_dict(apply_overrides(raw, [*model.set, *study.set]))
    except ConfigError as exc:
        raise ConfigError(f"model {model.label!r}: {exc}") from None


def check_data(study: StudyConfig, root: Path, data_dir: str | None = None) -> None:
    """Every model's dataset is where its run will look for it (``data_dir``, else the run
    config's ``data.data_dir``, then ``$GENLAB_DATA``...), downloaded now where it asks to
    be: checked before a study writes anything, so a missing dataset leaves no folder."""
    checked: set[tuple[str, str | None]] = set()
    for model in study.models:
        data = resolve_model(study, model, root).data
        where = (data.dataset, data_dir or data.data_dir)
        if where in checked:
            continue
        try:
            dataset_path(*where, download=data.download)
        except DataError as exc:
            raise DataError(f"model {model.label!r}: {exc}") from None
        checked.add(where)


def without_unset(fields: dict[str, Any], unset: dict[str, Any]) -> dict[str, Any]:
    """``fields`` without those of ``unset`` that still hold their unset value: what a hash of
    them leaves out, so that options added later keep the hashes written before them."""
    return {k: v for k, v in fields.items() if k not in unset or v != unset[k]}


def config_hash(config: RunConfig) -> str:
    """Ten hex digits of the SHA-256 of what the run learns from (runtime options excluded)."""
    raw = config.to_dict()
    raw.pop("out", None)
    for section, keys in RUNTIME_KEYS.items():
        for key in keys:
            raw[section].pop(key, None)
    for section, defaults in UNSET_KEYS.items():
        raw[section] = without_unset(raw[section], defaults)
    return hashlib.sha256(json.dumps(raw, sort_keys=True).encode()).hexdigest()[:10]
