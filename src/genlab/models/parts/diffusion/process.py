"""The Gaussian diffusion process (Ho et al. 2020) over any denoiser and any data shape.

A :class:`GaussianDiffusion` holds a noise schedule and what its denoiser predicts; the
denoiser is any function f(x_t, t, y) of a batch x_t (N, ...), timestep indices t (N,) and
labels y (N,) (-1: no label) or None: a U-Net over images, an MLP over a VAE's flat codes, a
U-Net over a (c, h, w) code grid. The process gives the training loss, the samplers
(``samplers.py``, chosen at sampling time), DDIM inversion, SDEdit from an intermediate
level (Meng et al. 2022), and classifier-free guidance as a
wrapper of the denoiser (Ho & Salimans 2022), so a family is its network plus its data scaling.

Predictions: eps (Ho et al. 2020) or v = sqrt(abar) eps - sqrt(1 - abar) x_0 (Salimans & Ho
2022), both converted to eps here. ``clip``: data known to lie in [-clip, clip] (pixels scaled
to [-1, 1]) has its x_0 predictions clipped while sampling; None for unbounded data (codes).
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.models.parts.diffusion.samplers import (
    DiffusionSampleOptions,
    Predict,
    level,
    run_sampler,
)
from genlab.models.parts.diffusion.schedule import Schedule, per_sample, timestep_sequence

Denoiser = Callable[[Tensor, Tensor, Tensor | None], Tensor]
"""f(x_t, t, y): the network's prediction at x_t (N, ...), timestep indices t (N,), labels y
(N,), -1 for "no label", or None (no labels at all)."""
PREDICTIONS = ("eps", "v")


def guided(denoiser: Denoiser, weight: float) -> Denoiser:
    """Classifier-free guidance (Ho & Salimans 2022): (1 + w) f(x, t, y) - w f(x, t, none),
    the conditional and unconditional predictions in one batched call."""

    def mixed(xt: Tensor, t: Tensor, y: Tensor | None) -> Tensor:
        n = len(xt)
        none = torch.full((n,), -1, dtype=torch.long, device=xt.device)
        labels = none if y is None else torch.as_tensor(y, device=xt.device).long().expand(n)
        both = denoiser(torch.cat([xt, xt]), t.expand(n).repeat(2), torch.cat([labels, none]))
        cond, uncond = both.chunk(2)
        return (1 + weight) * cond - weight * uncond

    return mixed


class GaussianDiffusion:
    """q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I) of ``schedule`` and its reverse by a
    denoiser that predicts ``prediction`` (eps | v)."""

    def __init__(self, schedule: Schedule, prediction: str = "eps",
                 clip: float | None = None) -> None:
        if prediction not in PREDICTIONS:
            raise ConfigError(f"model.prediction={prediction!r} is not valid; choose one of "
                              f"{', '.join(PREDICTIONS)}")
        self.schedule, self.prediction, self.clip = schedule, prediction, clip

    def eps(self, denoiser: Denoiser, xt: Tensor, t: Tensor, y: Tensor | None) -> Tensor:
        """eps_theta(x_t, t, y) from the denoiser's prediction (t: (N,) or one index (1,));
        from v: eps = sqrt(abar) v + sqrt(1 - abar) x_t."""
        t = t.expand(len(xt))
        out = denoiser(xt, t, y)
        if self.prediction == "eps":
            return out
        a = per_sample(self.schedule.abar, t, xt)
        return a.sqrt() * out + (1 - a).sqrt() * xt

    def loss(self, denoiser: Denoiser, x0: Tensor, y: Tensor | None = None,
             label_dropout: float = 0.0) -> Tensor:
        """The simple loss ||target - f(x_t, t, y)||^2 per element at a uniform t (Ho et al.
        2020, eq. 14), the target eps or v; labels dropped (-1) with probability
        ``label_dropout``, so that the same denoiser is also unconditional for guidance."""
        t = torch.randint(0, self.schedule.steps, (len(x0),), device=x0.device)
        noise = torch.randn_like(x0)
        if y is not None:
            keep = torch.rand(len(x0), device=x0.device) >= label_dropout
            y = torch.where(keep, y, torch.full_like(y, -1))
        target = noise
        if self.prediction == "v":
            a = per_sample(self.schedule.abar, t, x0)
            target = a.sqrt() * noise - (1 - a).sqrt() * x0
        return (denoiser(self.schedule.q_sample(x0, t, noise), t, y) - target).pow(2).mean()

    def predictor(self, denoiser: Denoiser, y: Tensor | None) -> Predict:
        """(x_t, t) -> (x0_hat, eps_hat) for the samplers; with ``clip``, x0_hat clipped to
        the data's range and eps_hat made consistent with it."""

        def predict(xt: Tensor, t: int) -> tuple[Tensor, Tensor]:
            eps = self.eps(denoiser, xt, torch.tensor([t], device=xt.device), y)
            a = level(self.schedule.abar, t, xt)
            x0 = (xt - (1 - a).sqrt() * eps) / a.sqrt()
            if self.clip is None:
                return x0, eps
            x0 = x0.clamp(-self.clip, self.clip)
            return x0, (xt - a.sqrt() * x0) / (1 - a).sqrt()

        return predict

    def generate(self, denoiser: Denoiser, xt: Tensor, y: Tensor | None,
                 options: DiffusionSampleOptions, generator: torch.Generator | None,
                 start: int | None = None) -> Tensor:
        """x_T (or x_start, a timestep index) -> x_0 by the sampler of ``options``, guided
        when ``options.guidance`` > 0."""
        if options.guidance > 0:
            denoiser = guided(denoiser, options.guidance)
        return run_sampler(self.predictor(denoiser, y), self.schedule.abar, xt, options,
                           generator, start)

    def level_index(self, t_star: float) -> int:
        """The timestep index of the noise level t* in (0, 1]: timestep ceil(t* T) of 1..T."""
        if not 0 < t_star <= 1:
            raise ConfigError(f"a noise level t* must lie in (0, 1], got {t_star}")
        return max(0, math.ceil(t_star * self.schedule.steps) - 1)

    def refine(self, denoiser: Denoiser, x0: Tensor, y: Tensor | None, t_star: float,
               options: DiffusionSampleOptions,
               generator: torch.Generator | None = None) -> Tensor:
        """SDEdit (Meng et al. 2022): x_{t*} = sqrt(abar_{t*}) x_0 + sqrt(1 - abar_{t*}) eps,
        eps drawn on the CPU, then the sampler of ``options`` from t* down to the data. Small
        t* keeps x_0 nearly as it is; t* = 1 is nearly a fresh sample from the same eps (x_0
        weighs sqrt(abar_T)). A DDIM sampler with eta = 0 is deterministic given eps."""
        index = self.level_index(t_star)
        noise = torch.randn(x0.shape, generator=generator, device="cpu").to(x0)
        t = torch.full((len(x0),), index, device=x0.device)
        return self.generate(denoiser, self.schedule.q_sample(x0, t, noise), y, options,
                             generator, index)

    def sample(self, denoiser: Denoiser, shape: tuple[int, ...], y: Tensor | None,
               options: DiffusionSampleOptions, generator: torch.Generator | None = None,
               device: torch.device | str = "cpu") -> Tensor:
        """Samples of ``shape`` (N, ...) from x_T ~ N(0, I), drawn on the CPU so that a seed
        gives the same samples on every device."""
        xt = torch.randn(shape, generator=generator, device="cpu").to(device)
        return self.generate(denoiser, xt, y, options, generator)

    def invert(self, denoiser: Denoiser, x0: Tensor, y: Tensor | None, steps: int) -> Tensor:
        """x_T of x_0 by DDIM inversion (eta = 0, ``steps`` steps): each step from abar_a to the
        noisier abar_b with eps_theta(x_a, t_b) (Song et al. 2021, 4.3; Dhariwal & Nichol
        2021, appendix F), the deterministic sampler's ODE run the other way."""
        xt = x0
        seq = timestep_sequence(self.schedule.steps, steps)[::-1]
        for i, t in enumerate(seq):
            prev = seq[i - 1] if i > 0 else -1
            eps = self.eps(denoiser, xt, torch.tensor([t], device=xt.device), y)
            a, b = level(self.schedule.abar, prev, xt), level(self.schedule.abar, t, xt)
            x0 = (xt - (1 - a).sqrt() * eps) / a.sqrt()
            xt = b.sqrt() * x0 + (1 - b).sqrt() * eps
        return xt
