"""Run configuration: dataclasses that YAML files, ``--set key=value`` and CLI flags map onto.

Every key is checked: an unknown key or a wrong type is a ConfigError naming the key and listing
the valid ones, so a typo never silently falls back to a default.
"""

from __future__ import annotations

import dataclasses
import types
import typing
import warnings
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import yaml

from genlab.data.dataset import image_size
from genlab.errors import ConfigError
from genlab.io import atomic_write
from genlab.models.core.config import ModelConfig
from genlab.models.registry import model_class, model_config_class
from genlab.training.optim import check_settings

BINARIZE = ("none", "static", "dynamic", "threshold")
OPTIMIZERS = ("adam", "adamw", "sgd")
SCHEDULES = ("constant", "linear", "cosine")
PRECISIONS = ("fp32", "bf16")


@dataclass
class DataConfig:
    """Which images the model sees. ``binarize``: none | static (one fixed Bernoulli draw) |
    dynamic (a fresh draw per batch) | threshold (pixel > 0.5). ``train_split``: the split
    trained on (STL-10: ``train+unlabeled``), validated on ``val``, else ``test``. ``classes``:
    the classes kept in every split (``[horse, bird]``; labels and class names unchanged)."""

    dataset: str = "mnist-mini"
    train_split: str = "train"
    data_dir: str | None = None
    val_size: int | None = None
    split_seed: int = 0
    binarize: str = "none"
    size: int | None = None
    download: bool = False
    classes: list[str] | None = None


@dataclass
class OptimConfig:
    """One player's optimiser settings (``train.optim.<player>``); unset keys fall back to the
    ``train`` section's, then to the family's defaults."""

    lr: float | None = None
    betas: list[float] | None = None
    weight_decay: float | None = None


@dataclass
class TrainConfig:
    """Optimisation. ``lr``/``betas``/``weight_decay`` apply to every player (unset: the family's
    defaults, else 1e-3, (0.9, 0.999), 0); ``optim.<player>`` overrides them for one player (a GAN's
    ``generator`` or ``discriminator``); ``momentum``: SGD's (Qian 1999; unset: 0.9). ``schedule``:
    constant | linear (anneal to ``lr_final``) | cosine. ``patience``: early-stopping patience in
    epochs on the family's selection metric (0 = off); ``time_limit``: minutes of training (summed
    over the sessions of a resumed run): no epoch starts that would end past them, by the mean epoch
    so far (0 = off); ``checkpoint_every``: minutes of training between kept checkpoints
    (``checkpoints/timed_NNN``; 0 = off); ``epoch_samples``: images decoded from fixed noise to
    ``samples/epoch_NNN.png`` after every epoch (0 = off). ``precision``: fp32 | bf16 (networks
    under autocast; losses, metrics, weights and optimiser states fp32); ``channels_last``: conv
    networks and batches in that memory format; ``compile``: ``torch.compile`` the networks (eager
    where it fails); ``tensorboard``: event files in ``RUN/tensorboard/``; ``ema``: decay of a
    warmed-up moving average of the weights for validation, sampling and evaluation (0 = off)."""

    epochs: int = 10
    batch_size: int = 128
    optimizer: str = "adam"
    lr: float | None = None
    lr_final: float = 0.0
    betas: list[float] | None = None
    weight_decay: float | None = None
    momentum: float | None = None
    optim: dict[str, OptimConfig] = field(default_factory=dict)
    schedule: str = "constant"
    clip_grad: float = 0.0
    patience: int = 0
    time_limit: float = 0.0
    checkpoint_every: float = 0.0
    seed: int = 0
    device: str = "auto"
    eval_batch_size: int = 1000
    progress: bool = True
    epoch_samples: int = 64
    precision: str = "fp32"
    channels_last: bool = False
    compile: bool = False
    tensorboard: bool = False
    ema: float = 0.0


@dataclass
class RunConfig:
    """A whole run: model, data and training options, plus the output directory."""

    model: ModelConfig = field(default_factory=lambda: model_config_class("vae")())
    data: DataConfig = field(default_factory=DataConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    out: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def validate(self) -> None:
        """Reject option values no component accepts, before any work starts."""
        choices = {
            "data.binarize": (self.data.binarize, BINARIZE),
            "train.optimizer": (self.train.optimizer, OPTIMIZERS),
            "train.schedule": (self.train.schedule, SCHEDULES),
            "train.precision": (self.train.precision, PRECISIONS),
        }
        for key, (value, valid) in choices.items():
            if value not in valid:
                raise ConfigError(f"{key}={value!r} is not valid; choose one of {', '.join(valid)}")
        self.model.validate()
        self.model.validate_data(self.data.binarize,
                                 image_size(self.data.dataset, self.data.size))
        positive = {"train.epochs": self.train.epochs, "train.batch_size": self.train.batch_size}
        for key, value in positive.items():
            if value <= 0:
                raise ConfigError(f"{key} must be positive, got {value}")
        if not 0.0 <= self.train.ema < 1.0:
            raise ConfigError(f"train.ema must be in [0, 1) (0 = off), got {self.train.ema}")
        if self.train.ema and model_class(self.model.name).closed_form:
            raise ConfigError(f"train.ema averages gradient steps; {self.model.name} is "
                              "fitted in closed form")
        for key, value in {"train.epoch_samples": self.train.epoch_samples,
                           "train.patience": self.train.patience,
                           "train.checkpoint_every": self.train.checkpoint_every}.items():
            if value < 0:
                raise ConfigError(f"{key} must not be negative, got {value}")
        check_settings(self.train)


SECTIONS = {"data": DataConfig, "train": TrainConfig}


def _coerce(value: Any, annotation: Any, key: str) -> Any:
    """Check (and gently coerce int->float) a value against a dataclass field annotation."""
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType):
        options = typing.get_args(annotation)
        if value is None and type(None) in options:
            return None
        errors = []
        for option in options:
            if option is type(None):
                continue
            try:
                return _coerce(value, option, key)
            except ConfigError as exc:
                errors.append(str(exc))
        raise ConfigError(errors[0])
    if origin is dict:
        _, item = typing.get_args(annotation)
        if not isinstance(value, dict):
            raise ConfigError(f"{key} expects a mapping, got {value!r}")
        if item is Any:  # free values, checked by their owner (evaluation.sampling)
            return {str(k): v for k, v in value.items()}
        return {str(k): config_dataclass(item, v, f"{key}.{k}") for k, v in value.items()}
    if origin is list:
        (item,) = typing.get_args(annotation)
        value = list(value) if isinstance(value, tuple) else value
        if not isinstance(value, list):
            raise ConfigError(f"{key} expects a list, got {value!r}")
        return [_coerce(v, item, f"{key}[{i}]") for i, v in enumerate(value)]
    if annotation is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if annotation is bool and not isinstance(value, bool):
        raise ConfigError(f"{key} expects true/false, got {value!r}")
    if annotation is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise ConfigError(f"{key} expects an integer, got {value!r}")
    if annotation in (float, str) and not isinstance(value, annotation):
        raise ConfigError(f"{key} expects {annotation.__name__}, got {value!r}")
    return value


def config_dataclass(cls: type, values: dict[str, Any], prefix: str) -> Any:
    """Instantiate a config dataclass from a mapping, naming any unknown key or bad type."""
    if not isinstance(values, dict):
        raise ConfigError(f"{prefix} must be a mapping, got {values!r}")
    hints = typing.get_type_hints(cls)
    names = [f.name for f in dataclasses.fields(cls)]
    unknown = sorted(set(values) - set(names))
    if unknown:
        raise ConfigError(
            f"unknown key {prefix}.{unknown[0]}; valid keys of {prefix}: {', '.join(names)}"
        )
    kwargs = {k: _coerce(v, hints[k], f"{prefix}.{k}") for k, v in values.items()}
    return cls(**kwargs)


LEGACY_MODEL_FIELDS = ("latent_dim", "net", "hidden", "channels", "res_blocks", "batchnorm",
                       "likelihood", "sigma", "sigma_mode", "bins")
"""genlab 0.1 gave every family these fields; a stored config may hold them where they never
applied (a DCGAN's ``likelihood``)."""


def upgrade_stored(model_raw: dict[str, Any]) -> dict[str, Any]:
    """A stored model section (a run's config.yaml, a checkpoint's) as this version reads it:
    the family's own upgrade, then 0.1's shared fields the family lacks dropped, with one
    warning naming them. Configs a user writes are never upgraded: there they are errors."""
    cls = model_config_class(model_raw.get("name", "vae"))
    values = cls.upgrade(model_raw)
    own = {f.name for f in dataclasses.fields(cls)} | set(cls.aliases)
    dropped = [k for k in LEGACY_MODEL_FIELDS if k in values and k not in own]
    if dropped:
        warnings.warn(f"a stored {cls.__name__} config has fields that no longer apply to "
                      f"{values.get('name')!r}, ignored: {', '.join(dropped)}", stacklevel=3)
    return {k: v for k, v in values.items() if k not in dropped}


MOVED = {"ema": "train.ema"}
"""Model options of genlab 0.1 that now live in another section."""


def upgrade_stored_run(raw: dict[str, Any]) -> dict[str, Any]:
    """A stored run config as this version reads it: 0.1's ``model.ema`` moved to
    ``train.ema``, the model section upgraded by :func:`upgrade_stored`."""
    model, train = dict(raw.get("model") or {}), dict(raw.get("train") or {})
    if "ema" in model:
        train.setdefault("ema", model.pop("ema"))
    return {**raw, "model": upgrade_stored(model), "train": train}


def model_options(name: str) -> list[str]:
    """The options of family ``name``: its config's fields, ``name`` aside."""
    return [f.name for f in dataclasses.fields(model_config_class(name)) if f.name != "name"]


def build_model_config(model_raw: dict[str, Any]) -> ModelConfig:
    """The model section as family ``name``'s config: an option the family lacks is an error
    naming it and the family's own options; an alias (PCA's ``n_components``) becomes its
    field."""
    name = model_raw.get("name", "vae")
    cls = model_class(name).config_class
    values = dict(model_raw)
    for alias, target in cls.aliases.items():
        if alias in values:
            value = values.pop(alias)
            if values.get(target, value) != value:
                raise ConfigError(f"model.{alias} is another name for model.{target}; "
                                  f"give one of them, not {value} and {values[target]}")
            values[target] = value
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = [k for k in values if k not in names]
    if unknown:
        key = unknown[0]
        if key in MOVED:
            raise ConfigError(f"model.{key} is now {MOVED[key]} (any family)")
        raise ConfigError(
            f"model.{key} (--{key.replace('_', '-')}) is not an option of {name}; "
            f"{name}'s options: {', '.join(model_options(name) + list(cls.aliases)) or 'none'}"
        )
    config = config_dataclass(cls, values, "model")
    config.name = name
    return config


def config_from_dict(raw: dict[str, Any], stored: bool = False) -> RunConfig:
    """Build a RunConfig from nested dicts (a parsed YAML file); ``stored``: a config a run
    wrote (possibly by an older genlab), upgraded first (:func:`upgrade_stored`)."""
    if not isinstance(raw, dict):
        raise ConfigError(f"a run config must be a mapping, got {type(raw).__name__}")
    if unknown := sorted(set(raw) - {"model", "data", "train", "out"}):
        raise ConfigError(f"unknown key {unknown[0]}; valid top-level keys: model, data, train, "
                          "out")
    for section in ("model", "data", "train"):
        if raw.get(section) is not None and not isinstance(raw[section], dict):
            raise ConfigError(f"{section} must be a mapping, got {raw[section]!r}")
    if stored:
        raw = upgrade_stored_run(raw)
    model = build_model_config(dict(raw.get("model") or {}))
    sections = {k: config_dataclass(cls, raw.get(k) or {}, k) for k, cls in SECTIONS.items()}
    out = raw.get("out")
    if out is not None and not isinstance(out, str):
        raise ConfigError(f"out expects a path string, got {out!r}")
    config = RunConfig(model=model, out=out, **sections)
    config.validate()
    return config


def read_yaml(path: str | Path, what: str = "config file") -> Any:
    """A parsed YAML file; a missing or malformed one is a ConfigError naming it as ``what``."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"{what} {path} does not exist") from None
    except yaml.YAMLError as exc:  # its text spans lines: the problem and where, in one
        mark = getattr(exc, "problem_mark", None)
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise ConfigError(f"{what} {path} is not valid YAML{where}: "
                          f"{getattr(exc, 'problem', None) or exc}") from None


def load_config(path: str | Path, stored: bool = False) -> RunConfig:
    """Read a YAML run config (``stored``: one a run wrote, see :func:`config_from_dict`); a
    missing or malformed file is a ConfigError naming it."""
    raw = read_yaml(path := Path(path))
    try:
        return config_from_dict(raw or {}, stored=stored)
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None


def apply_overrides(raw: dict[str, Any], overrides: list[str]) -> dict[str, Any]:
    """Apply ``section.key=value`` strings (values parsed as YAML) to a nested dict."""
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    for item in overrides:
        key, sep, text = item.partition("=")
        if not sep or not key:
            raise ConfigError(f"--set expects section.key=value, got {item!r}")
        section, dot, name = key.strip().partition(".")
        value = yaml.safe_load(text) if text.strip() else None
        if not dot:
            raw[section] = value
            continue
        if section not in ("model", "data", "train"):
            raise ConfigError(f"unknown section in {key!r}; valid sections: model, data, train")
        *parents, leaf = name.split(".")
        node = raw.setdefault(section, {})
        for part in parents:  # train.optim.generator.lr: nested mappings
            child = node.get(part)
            node[part] = child = dict(child) if isinstance(child, dict) else {}
            node = child
        node[leaf] = value
    return raw


def save_config(config: RunConfig, path: Path) -> None:
    """Write the resolved config as YAML (atomically), so a run can be re-created exactly."""
    with atomic_write(path) as fh:
        fh.write(yaml.safe_dump(config.to_dict(), sort_keys=False).encode())
