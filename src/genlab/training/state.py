"""What a resumed run continues from: where it stands (:class:`TrainState`), and everything
else a checkpoint holds to go on exactly, packed for and restored from
``training.checkpoint``'s files: the weights, optimisers, schedulers, RNG states and each
callback's state.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor

from genlab.errors import CheckpointError
from genlab.models.core.base import GenerativeModel
from genlab.models.core.callbacks import Callback
from genlab.models.core.config import ModelConfig
from genlab.training.checkpoint import (
    Checkpoint,
    load_weights,
    model_meta,
    optimizer_state,
    restore_optimizer,
)
from genlab.training.components import other_images

if TYPE_CHECKING:
    from genlab.training.config import DataConfig


@dataclass
class TrainState:
    """Where a gradient-trained run stands: what a resumed run continues from, and the
    callback that ended training before ``train.epochs`` (its key; "" while none has), which
    a resumed run's callbacks decide again."""

    epoch: int = 0
    step: int = 0
    best_val: float = math.inf
    best_epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    stopped_by: str = ""


def pack_training(
    model: GenerativeModel,
    scored: GenerativeModel | None,
    config_dict: dict[str, Any],
    state: TrainState,
    opts: dict[str, torch.optim.Optimizer],
    scheds: dict[str, Any],
    rngs: dict[str, Tensor],
    callbacks: Iterable[Callback] = (),
) -> tuple[dict[str, Tensor], dict[str, Any]]:
    """Everything a run needs to continue, as (tensors, JSON metadata) for :func:`atomic_save`:
    the weights (``scored``, when a callback keeps another copy such as the weight average,
    as ``model.*`` and the trained ones as ``live.*``), every optimiser, every scheduler, the
    RNG states and each callback's state by its key (tensors as ``callback.KEY.*``)."""
    tensors = {f"model.{k}": v for k, v in (scored or model).state_dict().items()}
    if scored is not None:
        tensors.update({f"live.{k}": v for k, v in model.state_dict().items()})
    optim_meta = {}
    for name, opt in opts.items():
        t, m = optimizer_state(name, opt)
        tensors.update(t)
        optim_meta[name] = m
    tensors.update({f"rng.{k}": v for k, v in rngs.items()})
    states: dict[str, dict[str, Any]] = {}
    for callback in callbacks:
        for name, value in callback.state_dict().items():
            if isinstance(value, Tensor):
                tensors[f"callback.{callback.key}.{name}"] = value
            else:
                states.setdefault(callback.key, {})[name] = value
    meta = model_meta(model, config_dict)
    meta.update(epoch=state.epoch, step=state.step, best_val=state.best_val,
                best_epoch=state.best_epoch, history=state.history, optimizers=optim_meta,
                schedulers={k: s.state_dict() for k, s in scheds.items()}, callbacks=states)
    return tensors, meta


def callback_states(ckpt: Checkpoint) -> dict[str, dict[str, Any]]:
    """Each callback's stored state by its key, tensors and JSON values together (none in a
    checkpoint written before callbacks had state)."""
    states = {k: dict(v) for k, v in ckpt.meta.get("callbacks", {}).items()}
    for name, value in ckpt.section("callback").items():
        key, _, field_name = name.partition(".")
        states.setdefault(key, {})[field_name] = value
    return states


def restore_training(
    ckpt: Checkpoint,
    source: Path,
    model: GenerativeModel,
    scored: GenerativeModel | None,
    opts: dict[str, torch.optim.Optimizer],
    scheds: dict[str, Any],
    callbacks: Iterable[Callback] = (),
) -> tuple[TrainState, dict[str, Tensor]]:
    """Load what :func:`pack_training` stored into the given objects (a callback whose state
    the checkpoint lacks keeps its own); returns the state and the RNG states to set."""
    live = ckpt.section("live")
    if (scored is not None) != bool(live):
        raise CheckpointError(f"{source} was written with train.ema "
                              f"{'off' if scored is not None else 'on'}: resume it so")
    load_weights(model, live or ckpt.section("model"), source)
    if scored is not None:
        load_weights(scored, ckpt.section("model"), source)
    for name, opt in opts.items():
        restore_optimizer(ckpt, name, opt)
    for name, sched in scheds.items():
        sched.load_state_dict(ckpt.meta["schedulers"][name])
    states = callback_states(ckpt)
    for callback in callbacks:
        if callback.key in states:
            callback.load_state_dict(states[callback.key])
    m = ckpt.meta
    state = TrainState(m["epoch"], m["step"], m["best_val"], m["best_epoch"], list(m["history"]))
    return state, ckpt.section("rng")


def check_model_config(ckpt: Checkpoint, source: Path, model: ModelConfig) -> None:
    """A run resumes only with the model config its checkpoint was trained with."""
    from genlab.training.config import config_from_dict

    saved = config_from_dict(ckpt.meta["config"], stored=True).to_dict()["model"]
    if saved != asdict(model):
        diff = sorted(k for k in saved if saved[k] != getattr(model, k, None))
        raise CheckpointError(f"{source} was trained with another model config (differs in "
                              f"model.{diff[0]})")


def check_data_config(meta: dict[str, Any], source: Path, data: DataConfig) -> None:
    """A run resumes only on the images it was trained on (else its best epoch would be
    chosen against another validation set): each data setting that changes them
    (``components.SAME_DATA``) as its checkpoint's config says. ``data_dir`` is where they are
    read from, not what they are: it may change, as may ``download``."""
    from genlab.training.config import config_from_dict

    saved = config_from_dict(meta["config"], stored=True).data
    key = other_images(saved, data)
    if key:
        raise CheckpointError(
            f"{source} was trained on other data (differs in data.{key}: "
            f"{getattr(saved, key)!r}, this run asks for {getattr(data, key)!r}); a resumed "
            "run trains on the same images: resume it without changing them")
