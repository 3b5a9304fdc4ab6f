"""The noise schedule of a diffusion model and the closed forms built on it.

The forward process q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I), abar_t = prod_s
(1 - beta_s), with betas linear in t (Ho et al. 2020: 1e-4 to 0.02 over T = 1000) or from the
cosine abar_t of Nichol & Dhariwal (2021, eq. 17, betas clipped at 0.999). q and p work on
a batch of any shape (N, ...); timesteps t = 1..T are indexed by ``t - 1`` (0..T-1); the
discretised decoder is of pixels in [-1, 1].

The reverse process p(x_{t-1} | x_t) = N(mu(x_t, eps), beta_t I) (Ho et al. 2020, 3.2, sigma_t^2
= beta_t), and its variational bound (their eq. 5) is assembled from :meth:`Schedule.prior_kl`
(L_T), :meth:`Schedule.step_kl` (L_{t-1}) and :func:`discretised_gaussian_log_prob` (L_0).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor

from genlab.errors import ConfigError

SCHEDULES = ("linear", "cosine")
COSINE_OFFSET = 0.008
"""s of Nichol & Dhariwal (2021): keeps beta_1 from being vanishingly small."""


def betas_for(name: str, steps: int, beta_start: float, beta_end: float) -> Tensor:
    """The float64 betas of schedule ``name`` over ``steps`` timesteps."""
    if name == "linear":
        return torch.linspace(beta_start, beta_end, steps, dtype=torch.float64)
    if name == "cosine":
        s = torch.arange(steps + 1, dtype=torch.float64) / steps
        f = torch.cos((s + COSINE_OFFSET) / (1 + COSINE_OFFSET) * math.pi / 2) ** 2
        return (1 - f[1:] / f[:-1]).clamp(max=0.999)
    raise ConfigError(f"model.schedule={name!r} is not valid; choose one of {', '.join(SCHEDULES)}")


def per_sample(values: Tensor, t: Tensor, like: Tensor) -> Tensor:
    """values[t] shaped to broadcast over a batch ``like`` (N, ...), in its dtype."""
    return values.to(like.device)[t].to(like.dtype).view(-1, *[1] * (like.dim() - 1))


class Schedule:
    """betas, abar and the coefficients of q and p for one schedule (float64 tables)."""

    def __init__(self, betas: Tensor) -> None:
        self.betas = betas
        self.abar = torch.cumprod(1 - betas, 0)
        self.abar_prev = torch.cat([torch.ones(1, dtype=betas.dtype), self.abar[:-1]])
        self.posterior_var = betas * (1 - self.abar_prev) / (1 - self.abar)

    @property
    def steps(self) -> int:
        return len(self.betas)

    def q_sample(self, x0: Tensor, t: Tensor, noise: Tensor) -> Tensor:
        """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps."""
        a = per_sample(self.abar, t, x0)
        return a.sqrt() * x0 + (1 - a).sqrt() * noise

    def predict_x0(self, xt: Tensor, t: Tensor, eps: Tensor) -> Tensor:
        a = per_sample(self.abar, t, xt)
        return (xt - (1 - a).sqrt() * eps) / a.sqrt()

    def posterior_mean(self, x0: Tensor, xt: Tensor, t: Tensor) -> Tensor:
        """The mean of q(x_{t-1} | x_t, x_0) (Ho et al. 2020, eq. 7)."""
        b, a, a_prev = (per_sample(v, t, xt) for v in (self.betas, self.abar, self.abar_prev))
        return (a_prev.sqrt() * b * x0 + (1 - b).sqrt() * (1 - a_prev) * xt) / (1 - a)

    def model_mean(self, xt: Tensor, t: Tensor, eps: Tensor) -> Tensor:
        """mu_theta(x_t, t) = (x_t - beta_t / sqrt(1 - abar_t) eps) / sqrt(alpha_t) (eq. 11)."""
        b, a = per_sample(self.betas, t, xt), per_sample(self.abar, t, xt)
        return (xt - b / (1 - a).sqrt() * eps) / (1 - b).sqrt()

    def step_kl(self, x0: Tensor, xt: Tensor, t: Tensor, eps: Tensor) -> Tensor:
        """L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)) per image, nats, for t >= 2:
        two Gaussians with variances beta~_t and beta_t."""
        diff = self.posterior_mean(x0, xt, t) - self.model_mean(xt, t, eps)
        var_q, var_p = per_sample(self.posterior_var, t, xt), per_sample(self.betas, t, xt)
        kl = 0.5 * (torch.log(var_p / var_q) + var_q / var_p + diff ** 2 / var_p - 1)
        return kl.flatten(1).sum(1)

    def prior_kl(self, x0: Tensor) -> Tensor:
        """L_T = KL(q(x_T | x_0) || N(0, I)) per image, nats: no parameters, exact."""
        a = self.abar[-1].to(x0)
        mean, var = a.sqrt() * x0, (1 - a) * torch.ones_like(x0)
        return (0.5 * (var + mean ** 2 - 1 - torch.log(var))).flatten(1).sum(1)


def timestep_sequence(total: int, steps: int) -> list[int]:
    """``steps`` timestep indices (0..total-1; all of them when steps >= total), evenly
    spaced, descending from total - 1 (Song et al. 2021, 4.2: a sub-sequence tau of the
    training timesteps); one step is [total - 1], from x_T."""
    if steps < 1:
        raise ConfigError(f"sampling option steps must be positive, got {steps}")
    if steps == 1:  # linspace(0, total - 1, 1) is [0]: one step starts from x_T, not x_1
        return [total - 1]
    return sorted({round(v) for v in torch.linspace(0, total - 1, min(steps, total)).tolist()},
                  reverse=True)


def log_snr(abar: Tensor) -> Tensor:
    """lambda = log(alpha / sigma) = log(abar / (1 - abar)) / 2, the variable in which the
    probability-flow ODE's linear part is exact (Lu et al. 2022)."""
    return 0.5 * (abar.log() - (1 - abar).log())


def logsnr_sequence(abar: Tensor, steps: int) -> list[int]:
    """``steps`` distinct timestep indices (all of them when steps >= T) nearest to a grid
    uniform in lambda from lambda_0 to lambda_{T-1}, descending from T - 1: the "logSNR" steps
    of Lu et al. (2022) for few-step solvers, equal steps in the variable they integrate
    (uniform timesteps leave a lambda step of 3.6 from t = 111 to 0 at 10 of 1,000 linear
    steps). Each index is kept at least one above the one below, so none is lost to rounding."""
    total = len(abar)
    if steps == 1 or steps >= total:
        return timestep_sequence(total, steps)
    lam = log_snr(abar.to(torch.float64))
    grid = torch.linspace(float(lam[0]), float(lam[-1]), steps, dtype=torch.float64)
    nearest = (lam[None] - grid[:, None]).abs().argmin(1).tolist()
    chosen: list[int] = []
    for k, index in enumerate(nearest):
        low = chosen[-1] + 1 if chosen else 0
        chosen.append(min(max(index, low), total - steps + k))
    return chosen[::-1]


def discretised_gaussian_log_prob(x0: Tensor, mean: Tensor, log_scale: Tensor | float) -> Tensor:
    """log p(x_0 | x_1) per image, nats: each 8-bit pixel's bin [x - 1/255, x + 1/255] (in
    [-1, 1]) under N(mean, scale^2), the outermost bins open-ended (Ho et al. 2020, eq. 13)."""
    scale = torch.exp(torch.as_tensor(log_scale, dtype=x0.dtype, device=x0.device))
    normal = torch.distributions.Normal(mean, scale)
    upper = torch.where(x0 > 0.999, torch.ones_like(x0), normal.cdf(x0 + 1 / 255))
    lower = torch.where(x0 < -0.999, torch.zeros_like(x0), normal.cdf(x0 - 1 / 255))
    return (upper - lower).clamp(min=1e-12).log().flatten(1).sum(1)
