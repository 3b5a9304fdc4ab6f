"""What a Gaussian diffusion over a frozen first stage's codes shares (diffusion-prior over flat
codes, latent-diffusion over a (c, h, w) code grid; Rombach et al. 2022): the process, the
codes and their standardisation, training, sampling and the two-stage likelihood. A family
adds its denoiser (``build_denoiser``) and how the codes are standardised (``statistics``).

Training draws one code z ~ q(z | x) per image per step (a deterministic encoder's code),
standardised u = (z - m) / s by statistics of the codes of the first training batch (buffers
set once, before the first step), so that the diffusion's unit-variance assumption holds.
Sampling draws u by the chosen sampler (DDIM, DDPM, DPM-Solver++: ``DiffusionSampleOptions``),
un-standardises it and decodes with the first stage. ``refine`` (the ``Refiner`` capability)
brings moved codes back to the prior's typical set by SDEdit (Meng et al. 2022) on the same
standardised scale.

Likelihood: log p(x) >= E_q [log p(x | z) + log p(z) - log q(z | x)] with log p(z) the
diffusion's own variational bound of u (``parts.diffusion.continuous_bound``, stratified over
timesteps) plus the standardisation's log-Jacobian -sum_d log s_d, with the first stage's
q(z | x), or for a deterministic encoder (an AE) N(enc(x), (PROPOSAL_WIDTH s)^2), the narrow
proposal of gmm-prior: on the same scale as the first stage's own likelihood. The k draws are
averaged (the two-stage ELBO, a bound for any k), not importance-weighted: inside a
log-mean-exp the noise of the bound's estimate (its timesteps and x_t draws) biases the value
upward by about half its variance per code (a 16-D MNIST VAE's codes, k = 100: 97.3 nats at
``bound_timesteps`` 20, 103.1 at 200, against 108.6 for the bound), above log p(x).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch
from torch import Tensor
from torch.distributions import Distribution

from genlab.errors import ConfigError
from genlab.models.core.base import Batch, GenerativeModel, LossOutput, Update, render
from genlab.models.core.config import ModelConfig
from genlab.models.core.sampling import SampleOptions
from genlab.models.families.two_stage.base import CodePrior
from genlab.models.parts.density import IMAGE_CHUNK, IW_SAMPLES
from genlab.models.parts.diffusion.continuous_bound import negative_bound
from genlab.models.parts.diffusion.process import PREDICTIONS, GaussianDiffusion
from genlab.models.parts.diffusion.samplers import DiffusionSampleOptions
from genlab.models.parts.diffusion.schedule import SCHEDULES, Schedule, betas_for

SAMPLE_CHUNK = 25
"""Importance samples per pass: with ``bound_timesteps`` denoiser rows for each."""
LINEAR_BETAS = (1e-4, 0.02)
"""beta_start and beta_end of the linear schedule by default (Ho et al. 2020)."""


@dataclass
class CodeDiffusionConfig(ModelConfig):
    """``first_stage``: the trained encoder family's run. The diffusion: ``timesteps`` T of the
    ``noise_schedule`` (cosine, Nichol & Dhariwal 2021; or linear from ``beta_start`` to
    ``beta_end``), ``prediction`` eps or v (Salimans & Ho 2022: x_0 = sqrt(abar) x_t -
    sqrt(1 - abar) v stays bounded at abar -> 0, where an eps-prediction's x_0 is divided by
    sqrt(abar)); ``bound_timesteps``: the timesteps per code of the prior's bound in the
    likelihood (T or more: all of them)."""

    first_stage: str = ""
    timesteps: int = 1000
    noise_schedule: str = "cosine"
    beta_start: float = LINEAR_BETAS[0]
    beta_end: float = LINEAR_BETAS[1]
    prediction: str = "v"
    bound_timesteps: int = 20

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"noise_schedule": SCHEDULES,
                                                     "prediction": PREDICTIONS}
    positive: ClassVar[tuple[str, ...]] = ("timesteps", "bound_timesteps")
    """The integer fields that must be positive (a family adds its network's)."""

    def validate(self) -> None:
        super().validate()
        for key in self.positive:
            if getattr(self, key) < 1:
                raise ConfigError(f"model.{key} must be positive, got {getattr(self, key)}")
        if self.timesteps < 2:
            raise ConfigError(f"model.timesteps must be at least 2, got {self.timesteps}")
        if not 0 < self.beta_start <= self.beta_end < 1:
            raise ConfigError("model.beta_start and model.beta_end must satisfy 0 < beta_start "
                              f"<= beta_end < 1, got {self.beta_start}, {self.beta_end}")
        if self.noise_schedule != "linear" and (self.beta_start, self.beta_end) != LINEAR_BETAS:
            raise ConfigError("model.beta_start and model.beta_end set the linear schedule "
                              f"only; model.noise_schedule is {self.noise_schedule!r}")


class CodeDiffusion(CodePrior):
    """A first stage's decoder under a Gaussian diffusion learned on its standardised codes."""

    sample_options = DiffusionSampleOptions
    label_dropout: float = 0.0
    """How often training drops the label (-1), so that the denoiser is also unconditional and
    classifier-free guidance applies (Ho & Salimans 2022); a conditional family sets it."""

    def __init__(self, config: CodeDiffusionConfig, shape: tuple[int, int, int],
                 num_classes: int, components: dict[str, GenerativeModel]):
        super().__init__(config, shape, num_classes, components)
        self.fit_objective = self.stage.fit_objective
        self.schedule = Schedule(betas_for(config.noise_schedule, config.timesteps,
                                           config.beta_start, config.beta_end))
        self.process = GaussianDiffusion(self.schedule, config.prediction, clip=None)
        self.register_buffer("code_mean", torch.zeros(self.latent_space.shape))
        self.register_buffer("code_count", torch.zeros(()))

    def denoiser(self, xt: Tensor, t: Tensor, y: Tensor | None) -> Tensor:
        """f(u_t, t, y) over standardised codes (N, *shape); y as the process passes it."""
        raise NotImplementedError

    def _labels(self, y: Tensor | None) -> Tensor | None:
        """The labels the denoiser takes: a conditional model's, else None."""
        return y.to(self.device) if self.conditional and y is not None else None

    def _stage_labels(self, y: Tensor | None) -> Tensor | None:
        """The labels the first stage takes: a conditional one's (a CVAE's), else None."""
        return y.to(self.device) if self.stage.conditional and y is not None else None

    # --- the codes and their standardisation -----------------------------------------------
    @torch.no_grad()
    def code_draws(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """One code per image, (N, *shape): a draw of q(z | x), or a deterministic code."""
        q = self.stage.encode(x, self._stage_labels(y))
        return self.latent_space.shaped(q if isinstance(q, Tensor) else q.sample())

    def statistics(self, codes: Tensor) -> tuple[Tensor, Tensor]:
        """(m, s), each of one code's shape, from codes (N, *shape)."""
        raise NotImplementedError

    @torch.no_grad()
    def standardise_by(self, x: Tensor, y: Tensor | None = None) -> None:
        """m and s from one code draw of each image of ``x``: the first training batch's."""
        codes = self.code_draws(x, y)
        mean, sd = self.statistics(codes)
        self.code_mean.copy_(mean)
        self.code_sd.copy_(sd.clamp_min(1e-6))
        self.code_count.fill_(len(codes))

    def standardise(self, z: Tensor) -> Tensor:
        return (z - self.code_mean.to(z.dtype)) / self.code_sd.to(z.dtype)

    def unstandardise(self, u: Tensor) -> Tensor:
        return self.code_mean + self.code_sd * u

    # --- training ----------------------------------------------------------------------------
    def train_step(self, batch: Batch, update: Update, step: int) -> None:
        """The statistics from the first batch, once (a resumed run has them), then a step."""
        if not self.code_count:
            self.standardise_by(batch.x, batch.y)
        super().train_step(batch, update, step)

    def loss(self, batch: Batch) -> LossOutput:
        """The diffusion loss (eps or v, Ho et al. 2020, eq. 14) of the standardised codes of
        one draw z ~ q(z | x) per image; a conditional model's labels dropped for guidance."""
        u = self.standardise(self.code_draws(batch.x, batch.y))
        y = self._labels(batch.y)
        mse = self.process.loss(self.denoiser, u, y,
                                self.label_dropout if y is not None else 0.0)
        return LossOutput(mse, {"mse": mse})

    # --- sampling ----------------------------------------------------------------------------
    def draw_codes(self, n: int, labels: Tensor | None = None,
                   generator: torch.Generator | None = None,
                   options: SampleOptions | None = None) -> Tensor:
        """n codes z = m + s u of the learned prior, (n, *shape), u by the sampler of
        ``options``."""
        u = self.process.sample(self.denoiser, (n, *self.latent_space.shape),
                                self._labels(labels), self._sampler(options), generator,
                                self.device)
        return self.unstandardise(u)

    def _sampler(self, options: SampleOptions | None) -> DiffusionSampleOptions:
        """The diffusion's sampling options (the defaults: DDIM, deterministic); guidance
        only for a conditional model."""
        opts = options if isinstance(options, DiffusionSampleOptions) else \
            DiffusionSampleOptions()
        if opts.guidance > 0 and not self.conditional:
            raise ConfigError(f"sampling option guidance={opts.guidance} needs a conditional "
                              f"first stage; {self.stage.config.name!r} is unconditional")
        return opts

    @torch.no_grad()
    def refine(self, z: Tensor, t_star: float, y: Tensor | None = None,
               generator: torch.Generator | None = None,
               options: SampleOptions | None = None) -> Tensor:
        """SDEdit in code space (Meng et al. 2022): the standardised codes u = (z - m) / s
        noised to level t* and denoised by the learned prior (``GaussianDiffusion.refine``),
        so that a moved code (noise, a class move, a blend) returns to the prior's typical
        set; t* -> 0 keeps z, t* = 1 is a prior draw from the same noise."""
        u = self.standardise(self.latent_space.shaped(z.to(self.device)))
        out = self.process.refine(self.denoiser, u, self._labels(y), t_star,
                                  self._sampler(options), generator)
        return self.unstandardise(out).view_as(z)

    def sample_prior(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        return self.draw_codes(n, self.labels_for(n, None), generator)

    def sample(self, n: int, labels: Tensor | None = None,
               generator: torch.Generator | None = None, mean: bool = True,
               options: SampleOptions | None = None) -> Tensor:
        """The first stage's decoder mean (or a pixel draw) of codes of the learned prior."""
        y = self.labels_for(n, labels)
        return render(self.decode(self.draw_codes(n, y, generator, options), y), mean)

    def prior(self) -> Distribution:
        """The first stage's p(z): the frame the latent tools fit codes and grid quantiles in
        (the learned prior has no closed-form density: ``log_prior_bound``)."""
        return self.stage.prior()

    # --- likelihood ----------------------------------------------------------------------------
    def log_prior_bound(self, z: Tensor, y: Tensor | None = None,
                        generator: torch.Generator | None = None) -> Tensor:
        """A bound on log p(z) per code (any layout of N codes), float64 nats: the diffusion's
        bound on log p(u) from ``bound_timesteps`` stratified timesteps, plus log |du/dz| =
        -sum_d log s_d."""
        u = self.standardise(self.latent_space.shaped(z).double())
        bound = negative_bound(self.process, self.denoiser, u, self._labels(y),
                               self.config.bound_timesteps, generator)
        return -bound - self.code_sd.double().log().sum()

    def log_importance_weights(self, x: Tensor, y: Tensor | None, k: int) -> Tensor:
        """log p(x | z_i) + log p(z_i) (its bound) - log q(z_i | x), (k, N). Draws, in order:
        z ~ q (k, N, ...), then the bound's timesteps and noises of the k N codes,
        sample-major."""
        q = self.proposal(x, self._stage_labels(y))
        z = q.sample((k,))
        labels = None if y is None else y.repeat(k)
        codes = z.flatten(0, 1)
        log_px = self.decode(codes, labels).log_prob(x.repeat(k, 1, 1, 1)).double()
        log_pz = self.log_prior_bound(codes, labels)
        return (log_px + log_pz).view(k, len(x)) - q.log_prob(z).double()

    @torch.no_grad()
    def log_likelihood(self, x: Tensor, y: Tensor | None = None, k: int = IW_SAMPLES) -> Tensor:
        """(1/k) sum_i log w_i per image, float64 nats, in chunks of images and samples: the
        two-stage ELBO, averaged over k draws (see the module's docstring for why not
        log-mean-exp)."""
        if k < 1:
            raise ConfigError(f"the number of posterior draws must be positive, got {k}")
        out = []
        for idx in torch.arange(len(x), device=x.device).split(IMAGE_CHUNK):
            xs, ys = x[idx], None if y is None else y[idx]
            parts = [self.log_importance_weights(xs, ys, len(s)).sum(0)
                     for s in torch.arange(k).split(SAMPLE_CHUNK)]
            out.append(torch.stack(parts).sum(0) / k)
        return torch.cat(out)

    def likelihood_method(self, k: int) -> str:
        q = self.proposal_words()
        used = min(self.config.bound_timesteps, self.schedule.steps)
        return (f"ELBO averaged over k = {k} draws of {q}; log p(z): "
                "the diffusion prior's variational bound (Ho et al. 2020, eq. 5, Gaussian "
                f"decoder), {used} of {self.schedule.steps} timesteps per code, stratified")

