"""Optimisers and learning-rate schedules, one of each per player of a model's training plan.

Settings resolve per player, most specific first: ``train.optim.<player>``, then the ``train``
section's ``lr``/``betas``/``weight_decay``/``momentum`` (SGD's), then the family's
``optim_defaults`` (a GAN's Adam 2e-4 with betas (0.5, 0.999), Radford et al. 2016), then
:data:`BUILTIN`.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from genlab.errors import ConfigError
from genlab.models.core.base import GenerativeModel

if TYPE_CHECKING:
    from genlab.training.config import TrainConfig

BUILTIN: dict[str, Any] = {"lr": 1e-3, "betas": (0.9, 0.999), "weight_decay": 0.0,
                           "momentum": 0.9}
"""``momentum`` is SGD's (Qian 1999), the ``train`` section's or a family's; Adam ignores it."""
FUSED_DEVICES = ("cpu", "cuda")  # where torch has fused Adam kernels

Optimizers = dict[str, torch.optim.Optimizer]
Schedulers = dict[str, torch.optim.lr_scheduler.LRScheduler]


def player_settings(model: GenerativeModel, cfg: TrainConfig, player: str) -> dict[str, Any]:
    """``lr``, ``betas``, ``weight_decay`` and ``momentum`` of one player after every
    fallback (``train.optim.<player>`` has no ``momentum``: the ``train`` section's)."""
    family = type(model).optim_defaults.get(player, {})
    own = cfg.optim.get(player)
    settings = {}
    for key, builtin in BUILTIN.items():
        chosen = getattr(own, key, None) if own is not None else None
        for fallback in (getattr(cfg, key), family.get(key), builtin):
            if chosen is None:
                chosen = fallback
        settings[key] = tuple(chosen) if key == "betas" else chosen
    return settings


def check_settings(train: TrainConfig) -> None:
    """Each player's settings in range (``RunConfig.validate``); ``momentum`` only where it
    applies: SGD's, in [0, 1] (Matlab's sgdm range, 1 included, as seed 001 used it)."""
    for key, optim in [("train", train), *[(f"train.optim.{k}", v)
                                           for k, v in train.optim.items()]]:
        if optim.lr is not None and optim.lr < 0:
            raise ConfigError(f"{key}.lr must not be negative, got {optim.lr}")
        if optim.betas is not None and (
            len(optim.betas) != 2 or not all(0 <= b < 1 for b in optim.betas)
        ):
            raise ConfigError(f"{key}.betas must be two numbers in [0, 1), got {optim.betas}")
    if train.momentum is not None and (train.optimizer != "sgd" or not 0 <= train.momentum <= 1):
        raise ConfigError(f"train.momentum={train.momentum}: SGD's momentum, a number in [0, 1] "
                          f"with train.optimizer=sgd (got {train.optimizer})")


def build_optimizers(model: GenerativeModel, cfg: TrainConfig) -> Optimizers:
    """One optimiser per player, in the order of the model's ``param_groups``."""
    groups = model.param_groups()
    unknown = sorted(set(cfg.optim) - set(groups))
    if unknown:
        raise ConfigError(
            f"train.optim.{unknown[0]}: the {model.config.name!r} model has no player "
            f"{unknown[0]!r}; its players: {', '.join(groups)}"
        )
    return {name: _optimizer(cfg.optimizer, params, player_settings(model, cfg, name))
            for name, params in groups.items()}


def fusable(params: list[nn.Parameter]) -> bool:
    """Whether one fused kernel can update ``params``: floating-point tensors on a CPU or a
    CUDA device. A fused Adam step is one pass over each tensor instead of a dozen foreach
    passes: a fifth of an MLP VAE's training step on one CPU thread (784-512-256-16, batch
    128: 20 -> 16 ms), the same update to float rounding."""
    return bool(params) and all(p.is_floating_point() and p.device.type in FUSED_DEVICES
                                for p in params)


def _optimizer(kind: str, params: list[nn.Parameter], s: dict[str, Any]) -> torch.optim.Optimizer:
    if kind in ("adam", "adamw"):
        adam = torch.optim.Adam if kind == "adam" else torch.optim.AdamW
        return adam(params, lr=s["lr"], betas=s["betas"], weight_decay=s["weight_decay"],
                    fused=fusable(params) or None)
    return torch.optim.SGD(params, lr=s["lr"], momentum=s["momentum"],
                           weight_decay=s["weight_decay"])


def lr_factor(schedule: str, step: int, total: int, floor: float) -> float:
    """Multiplier of the base learning rate after ``step`` of ``total`` batches: constant,
    linear or cosine (Loshchilov & Hutter 2017, without restarts) down to ``floor``."""
    t = min(step / max(total, 1), 1.0)
    if schedule == "linear":
        return 1.0 + (floor - 1.0) * t
    if schedule == "cosine":
        return floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t))
    return 1.0


def build_schedulers(opts: Optimizers, cfg: TrainConfig, steps_per_epoch: int) -> Schedulers:
    """One scheduler per optimiser, stepped once per training batch whichever players updated,
    so a player that updates every n-th batch follows the same schedule in epochs."""
    total = cfg.epochs * steps_per_epoch
    scheds: Schedulers = {}
    for name, opt in opts.items():
        base = opt.param_groups[0]["lr"]
        floor = cfg.lr_final / base if base > 0 else 0.0

        def factor(step: int, floor: float = floor) -> float:
            return lr_factor(cfg.schedule, step, total, floor)

        scheds[name] = torch.optim.lr_scheduler.LambdaLR(opt, factor)
    return scheds
