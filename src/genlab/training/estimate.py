"""How long one training epoch of a run takes on this machine, measured before it starts.

No single FLOP rate gives seconds (a small MLP's step is dominated by per-operation overhead,
a convolution's by arithmetic), so a fresh copy of the run's model is probed: a few real
training steps (forward, backward and the optimiser, under its precision, with the torch
threads of this process) on one batch of its own images, and one validation batch, timed (the
steps after a warm-up one; about :data:`PROBE_SECONDS` of them). An epoch is then its batches
of steps plus its validation batches, plus the learnt-prior fit and the epoch's sample grid
where the family has them. The trainer prints this before a run's first epoch and
``genlab study --plan`` (``study.forecast``) sums it over a study: one estimate, two readers.
The measurement is of the machine as it is now: on a shared, loaded machine it holds while the
load does.
"""

from __future__ import annotations

import math
import statistics
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor

from genlab.data.prepare import batch_input
from genlab.models.core.base import Batch, GenerativeModel
from genlab.models.core.capabilities import Decoder, Encoder, HasLikelihood, Refiner, has
from genlab.training.callbacks import PRIOR_FIT_IMAGES
from genlab.training.config import RunConfig
from genlab.training.optim import build_optimizers
from genlab.training.precision import Precision

PROBE_SECONDS = 1.0
"""Seconds of timed training steps per run (at least :data:`PROBE_STEPS` steps)."""
PROBE_STEPS = 3


def timed(step: Callable[[], Any], device: torch.device, least: int = 1,
          seconds: float = 0.0) -> float:
    """Median seconds of ``step`` after one untimed call: ``least`` calls, more to
    ``seconds`` (the median: a loaded machine's moments of contention count less)."""
    step()
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    sync()
    times: list[float] = []
    while len(times) < least or sum(times) < seconds:
        start = time.perf_counter()
        step()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


@dataclass
class Probe:
    """What a probe measured of a run's model: seconds of a training epoch and of one
    image's evaluation pass, whether its evaluation computes an NLL and fits codes by
    gradient steps through its decoder (no encoder: the perturbations invert images), and
    whether it refines moved codes with a diffusion prior (``perturbations.refine``)."""

    epoch_s: float
    image_s: float
    likelihood: bool
    inverts: bool
    refines: bool = False


@dataclass
class Split:
    """The images (uint8, through ``data.prepare.fixed_draw``) and labels of one split."""

    images: Tensor
    labels: Tensor


def _batch(split: Split, n: int, config: RunConfig, device: torch.device) -> Batch:
    x = batch_input(split.images[:n], config.data.binarize, torch.Generator().manual_seed(0))
    return Batch(x.to(device), split.labels[:n].to(device))


def probe_model(model: GenerativeModel, config: RunConfig, train: Split, val: Split,
                device: torch.device) -> Probe:
    """The :class:`Probe` of ``model`` (a fresh build of ``config``'s, on ``device``: its
    weights are stepped) on this machine; closed-form: nothing to time. The global RNG is
    left as it was."""
    likelihood = has(model, HasLikelihood)
    inverts = has(model, Decoder) and not has(model, Encoder)
    if model.closed_form:
        return Probe(0.0, 0.0, likelihood, inverts, has(model, Refiner))
    with warnings.catch_warnings():  # the fallback to fp32 is the trainer's to say
        warnings.simplefilter("ignore")
        Precision(config.train, device).attach(model)
    opts = build_optimizers(model, config.train)
    bs, vbs = config.train.batch_size, config.train.eval_batch_size
    batch, held = _batch(train, bs, config, device), _batch(val, vbs, config, device)
    steps = iter(range(1, 1 << 30))

    def update(name: str, out: Any) -> None:
        opts[name].zero_grad(set_to_none=True)
        out.total.backward()
        opts[name].step()

    with torch.random.fork_rng(devices=[]):
        model.train()
        step = timed(lambda: model.train_step(batch, update, next(steps)), device,
                     PROBE_STEPS, PROBE_SECONDS)
        model.eval()
        with torch.enable_grad() if model.eval_with_grad else torch.no_grad():
            held_s = timed(lambda: list(model.evaluation(held)), device)
            extra = _extras(model, config, train, device)
    image_s = held_s / len(held.x)
    return Probe(math.ceil(len(train.images) / bs) * step + len(val.images) * image_s + extra,
                 image_s, likelihood, inverts, has(model, Refiner))


def _extras(model: GenerativeModel, config: RunConfig, train: Split,
            device: torch.device) -> float:
    """An epoch's work beside its steps: a learnt prior's fit, the epoch's sample grid."""
    seconds = 0.0
    if type(model).fit_prior is not GenerativeModel.fit_prior:
        prior = _batch(train, min(PRIOR_FIT_IMAGES, len(train.images)), config, device)
        seconds += timed(lambda: model.fit_prior(prior.x, prior.y), device)
    n = config.train.epoch_samples
    if n > 0 and type(model).sample is not GenerativeModel.sample:
        seconds += timed(lambda: model.sample(n, generator=torch.Generator().manual_seed(0)),
                         device)
    return seconds


def duration(seconds: float) -> str:
    """``75`` -> ``1m15s``; ``4000`` -> ``1h06m``."""
    s = round(seconds)
    if s < 60:
        return f"{s}s"
    if s < 3600:
        return f"{s // 60}m{s % 60:02d}s"
    return f"{s // 3600}h{s % 3600 // 60:02d}m"


def epochs_within(config: RunConfig, epoch_s: float) -> int:
    """The epochs a run trains: ``train.epochs``, or fewer where its time limit ends it first
    (the trainer's rule: epoch n + 1 starts while n + 1 mean epochs fit the limit), as a
    budget-matched study's runs, whose epochs are only a ceiling."""
    limit = 60 * config.train.time_limit
    if not limit or not epoch_s:
        return config.train.epochs
    return min(config.train.epochs, max(1, math.floor(limit / epoch_s)))


def estimate_line(measured: Probe, epochs_left: int, limited: bool = False) -> str:
    """What the trainer prints before its first epoch (``limited``: the epochs left are
    those its time limit allows)."""
    why = " (the time limit's)" if limited else ""
    total = f"; {epochs_left} epochs{why}: about {duration(epochs_left * measured.epoch_s)}"
    return (f"estimated epoch time on this machine: {duration(measured.epoch_s)} "
            f"({measured.epoch_s:.3g} s){total if epochs_left > 1 else ''}")
