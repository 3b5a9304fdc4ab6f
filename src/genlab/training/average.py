"""``train.ema``: an exponential moving average of the weights, kept by the trainer for any
family (Polyak & Juditsky 1992; for GANs Yazici et al. 2019, Karras et al. 2018; for diffusion
models Ho et al. 2020, Appendix B).

The average is a second copy of the model. After each optimiser step of a player, the
parameters that player owns move toward the trained ones,
``avg <- d_n * avg + (1 - d_n) * new``, and every buffer (BatchNorm statistics, spectral
norm vectors) is copied as it is. A GAN's generator is thus averaged over its own updates, not
over the critic's. Validation, the epoch grids, the best checkpoint and everything a run is
opened for (sampling, evaluation, latent tools) use the average; the trained copy is kept only
to continue training (``live.*`` tensors of a checkpoint, see ``training.checkpoint``).

The decay warms up: the player's n-th update (from 0) uses ``d_n = min(decay, (1 + n) /
(10 + n))``, the ``num_updates`` schedule of TensorFlow's ``ExponentialMovingAverage``. A
constant 0.999 left 0.999^840 = 43% of the random initial weights in a generator averaged over
840 updates; with the warm-up their share after N updates is the product of the d_n, which is
9! N! / (N + 9)! = 1 / C(N + 9, 9) while (1 + n) / (10 + n) < decay: 0.45% after 3 updates,
2.3e-13 after 100 (:func:`initial_share`).
"""

from __future__ import annotations

import copy
import math
from collections.abc import Iterable
from typing import Any

import torch
from torch import nn

from genlab.errors import ConfigError
from genlab.models.core.base import GenerativeModel, LossOutput
from genlab.models.core.callbacks import Callback


def warmed_decay(decay: float, updates: int) -> float:
    """The decay of the update that follows ``updates`` earlier ones."""
    return min(decay, (1 + updates) / (10 + updates))


def initial_share(decay: float, updates: int) -> float:
    """The weight of the initial weights in the average after ``updates`` updates."""
    return math.prod(warmed_decay(decay, n) for n in range(updates))


class WeightAverage:
    """The averaged copy of ``model``, the map from its trained parameters to their averages,
    and each player's count of updates (what the warm-up reads)."""

    def __init__(self, model: GenerativeModel, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"an EMA decay must be in (0, 1), got {decay}")
        self.decay = decay
        self.updates: dict[str, int] = {}
        self.model: GenerativeModel = copy.deepcopy(model).requires_grad_(False).eval()
        averaged = dict(self.model.named_parameters())
        self._pairs = {id(p): (averaged[name], p) for name, p in model.named_parameters()}
        self._buffers = list(zip(self.model.buffers(), model.buffers(), strict=True))

    @torch.no_grad()
    def update(self, player: str, parameters: Iterable[nn.Parameter]) -> None:
        """After an optimiser step of ``player``, which owns ``parameters``."""
        done = self.updates.get(player, 0)
        pairs = [self._pairs[id(p)] for p in parameters]
        if pairs:
            avg, new = zip(*pairs, strict=True)
            weight = 1.0 - warmed_decay(self.decay, done)
            torch._foreach_lerp_(list(avg), [n.detach() for n in new], weight)
        for avg_buffer, buffer in self._buffers:
            avg_buffer.copy_(buffer)
        self.updates[player] = done + 1


class ExponentialMovingAverage(Callback):
    """``train.ema`` as a callback: the average becomes the run's scored copy in ``setup``
    and follows every optimiser step. Its state is each player's count of updates; a
    checkpoint written before the warm-up holds none, and its average is then taken to be as
    old as the checkpoint's step (each player's count; an upper bound for a player that does
    not step every batch), so the warm-up goes on from there and such a run resumes."""

    name = "ema"

    def __init__(self, decay: float) -> None:
        if not 0.0 < decay < 1.0:
            raise ConfigError(f"train.ema must be in (0, 1) for an average, got {decay}")
        self.decay = decay
        self.restored = False

    def setup(self, trainer: Any) -> None:
        self.average = WeightAverage(trainer.model, self.decay)
        self.groups = trainer.model.param_groups()
        trainer.scored = self.average.model
        trainer.copies.append(self.average.model)

    def on_train_start(self, trainer: Any, resumed: bool) -> None:
        if resumed and not self.restored:
            self.average.updates = dict.fromkeys(self.groups, trainer.state.step)

    def on_step_end(self, trainer: Any, player: str, out: LossOutput) -> None:
        self.average.update(player, self.groups[player])

    def state_dict(self) -> dict[str, Any]:
        return {"updates": dict(self.average.updates)}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.average.updates = {k: int(v) for k, v in state["updates"].items()}
        self.restored = True
