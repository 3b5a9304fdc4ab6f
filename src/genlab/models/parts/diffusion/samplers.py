"""Samplers of a Gaussian diffusion: x_T ~ N(0, I) -> x_0 over a decreasing sequence of noise
levels, for any denoiser and any shape (diffusers' schedulers, one step function beside the
network, as functions here).

Each sampler sees the model only through ``predict(x_t, t) -> (x0_hat, eps_hat)`` at a
timestep index t, the pair consistent (x_t = sqrt(abar_t) x0_hat + sqrt(1 - abar_t) eps_hat),
and the float64 table abar. Level -1 is the clean data, abar = 1. The samplers:

- ``ddim`` (Song et al. 2021, eq. 12): deterministic for eta = 0, the first-order solver of
  the probability-flow ODE; eta > 0 adds noise (eta = 1: DDPM-like).
- ``ddpm``: ancestral sampling on the respaced chain (Nichol & Dhariwal 2021, 4), Ho et al.'s
  Algorithm 2 when every timestep is visited.
- ``dpm-solver++``: DPM-Solver++(2M) (Lu et al. 2022, "DPM-Solver++", Algorithm 2), the
  second-order multistep solver of the same ODE in the data prediction, exact for the linear
  part in lambda = log(alpha / sigma), on timesteps uniform in lambda; few steps (10 to 20)
  reach what DDIM needs 50 or more for.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.models.core.sampling import SampleOptions
from genlab.models.parts.diffusion.schedule import log_snr, logsnr_sequence, timestep_sequence

Predict = Callable[[Tensor, int], tuple[Tensor, Tensor]]
"""(x_t, timestep index t) -> (x0_hat, eps_hat), consistent at abar_t."""


@dataclass(frozen=True)
class DiffusionSampleOptions(SampleOptions):
    """``sampler``: ddim | ddpm | dpm-solver++; ``steps``: network evaluations, timesteps
    visited (T or more: the whole chain of the model's T); ``eta``: DDIM's noise (0
    deterministic, 1 DDPM-like; ddim only); ``guidance``: the classifier-free weight w."""

    sampler: str = "ddim"
    steps: int = 50
    eta: float = 0.0
    guidance: float = 0.0

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"sampler": ("ddim", "ddpm", "dpm-solver++")}

    def validate(self) -> None:
        super().validate()
        if self.steps < 1:
            raise ConfigError(f"sampling option steps must be positive, got {self.steps}")
        for key in ("eta", "guidance"):
            if getattr(self, key) < 0:
                raise ConfigError(f"sampling option {key} must not be negative, "
                                  f"got {getattr(self, key)}")
        if self.eta > 0 and self.sampler != "ddim":
            raise ConfigError(f"sampling option eta={self.eta} applies to sampler ddim only, "
                              f"not {self.sampler}")


def level(abar: Tensor, t: int, like: Tensor) -> Tensor:
    """abar of timestep index t (-1: the clean data, abar = 1) as a scalar of ``like``."""
    value = abar[t] if t >= 0 else torch.ones((), dtype=torch.float64)
    return value.to(like)


def _cpu_noise(like: Tensor, generator: torch.Generator | None) -> Tensor:
    """N(0, I) drawn on the CPU, so that a seed gives the same samples on every device."""
    return torch.randn(like.shape, generator=generator, device="cpu").to(like)


def ddim_step(x0: Tensor, eps: Tensor, a: Tensor, b: Tensor, eta: float,
              noise: Tensor | None) -> Tensor:
    """From abar ``a`` to abar ``b`` (Song et al. 2021, eq. 12): x_b = sqrt(b) x0 +
    sqrt(1 - b - sigma^2) eps + sigma z, sigma = eta sqrt((1-b)/(1-a)) sqrt(1 - a/b)."""
    sigma = eta * ((1 - b) / (1 - a) * (1 - a / b)).clamp(min=0).sqrt()
    out = b.sqrt() * x0 + (1 - b - sigma ** 2).clamp(min=0).sqrt() * eps
    return out if noise is None else out + sigma * noise


def ancestral_step(xt: Tensor, x0: Tensor, a: Tensor, b: Tensor, noise: Tensor | None) -> Tensor:
    """From abar ``a`` to abar ``b`` on the respaced chain: beta' = 1 - a / b, the mean of
    q(x_b | x_t, x0) (Ho et al. 2020, eq. 7), variance beta'."""
    beta = 1 - a / b
    mean = (b.sqrt() * beta * x0 + (1 - beta).sqrt() * (1 - b) * xt) / (1 - a)
    return mean if noise is None else mean + beta.sqrt() * noise


def _one_step(predict: Predict, abar: Tensor, seq: list[int], xt: Tensor,
              options: DiffusionSampleOptions, generator: torch.Generator | None) -> Tensor:
    """DDIM or ancestral DDPM: each step uses only the prediction at its own level."""
    stochastic = options.sampler == "ddpm" or options.eta > 0
    for i, t in enumerate(seq):
        nxt = seq[i + 1] if i + 1 < len(seq) else -1
        x0, eps = predict(xt, t)
        a, b = level(abar, t, xt), level(abar, nxt, xt)
        noise = _cpu_noise(xt, generator) if stochastic and nxt >= 0 else None
        if options.sampler == "ddpm":
            xt = ancestral_step(xt, x0, a, b, noise)
        else:
            xt = ddim_step(x0, eps, a, b, options.eta, noise)
    return xt


def dpm_solver_pp(predict: Predict, abar: Tensor, seq: list[int], xt: Tensor,
                  options: DiffusionSampleOptions, generator: torch.Generator | None) -> Tensor:
    """DPM-Solver++(2M) (Lu et al. 2022, Algorithm 2): from level s to t, h = lambda_t -
    lambda_s, x_t = (sigma_t / sigma_s) x_s - alpha_t (e^-h - 1) D with D = (1 + 1/(2r)) x0_s
    - 1/(2r) x0_prev, r = h_prev / h; first order (DDIM) at the first step, and at the last,
    to the clean data, where sigma = 0 and x_0 = x0_hat."""
    table = abar.to(torch.float64)
    previous: tuple[Tensor, Tensor] | None = None  # (x0_hat, h) of the step before
    for i, t in enumerate(seq):
        x0, _ = predict(xt, t)
        if i + 1 == len(seq):
            return x0
        a, b = table[t], table[seq[i + 1]]
        h = log_snr(b) - log_snr(a)
        d = x0
        if previous is not None:
            half_inv_r = previous[1] / h / 2  # 1 / (2 r)
            d = (1 + half_inv_r.to(xt)) * x0 - half_inv_r.to(xt) * previous[0]
        ratio, gain = ((1 - b) / (1 - a)).sqrt(), -b.sqrt() * torch.expm1(-h)
        xt = ratio.to(xt) * xt + gain.to(xt) * d
        previous = (x0, h)
    return xt


Sampler = Callable[[Predict, Tensor, list[int], Tensor, DiffusionSampleOptions,
                    torch.Generator | None], Tensor]
SAMPLERS: dict[str, tuple[Callable[[Tensor, int], list[int]], Sampler]] = {
    "ddim": (lambda abar, steps: timestep_sequence(len(abar), steps), _one_step),
    "ddpm": (lambda abar, steps: timestep_sequence(len(abar), steps), _one_step),
    "dpm-solver++": (logsnr_sequence, dpm_solver_pp),
}
"""Each sampler's timesteps (uniform in t, Song et al. 2021; uniform in lambda for the
second-order solver, Lu et al. 2022) and its loop."""


def run_sampler(predict: Predict, abar: Tensor, xt: Tensor, options: DiffusionSampleOptions,
                generator: torch.Generator | None, start: int | None = None) -> Tensor:
    """x_T -> x_0 by the sampler of ``options`` over ``options.steps`` of the len(abar)
    training timesteps (noise drawn on the CPU from ``generator``). From an intermediate
    timestep index ``start`` (SDEdit), ``xt`` is x_start and the sampler runs over the
    timesteps 0..start with as many steps as the whole chain spends on that part of it."""
    options.validate()
    timesteps, sampler = SAMPLERS[options.sampler]
    top = len(abar) - 1 if start is None else start
    if not 0 <= top < len(abar):
        raise ConfigError(f"a sampler starts at a timestep index in 0..{len(abar) - 1}, "
                          f"got {top}")
    steps = max(1, round(options.steps * (top + 1) / len(abar)))
    return sampler(predict, abar, timesteps(abar[:top + 1], steps), xt, options, generator)
