"""Denoising diffusion probabilistic models (Ho et al. 2020), sampled by DDPM or DDIM.

Pixels are scaled to [-1, 1] and noised by q(x_t | x_0) (``diffusion_schedule``); a U-Net
(``unet``) learns eps_theta(x_t, t, y) by the simple loss ||eps - eps_theta||^2 at a uniform t
(Ho et al. 2020, eq. 14). It is class-conditional with classifier-free guidance (Ho &
Salimans 2022): the label is dropped (replaced by a "no label" index) with probability
``label_dropout`` in training, and sampling mixes (1 + w) eps(x, y) - w eps(x) with the guidance
weight w. The sampler is chosen at sampling time (:class:`DDPMSampleOptions`): ancestral DDPM
(on a respaced chain of ``steps`` timesteps, all T of them for Ho et al.'s sampler) or DDIM
(Song et al. 2021) with ``steps`` steps and ``eta``.

Latent space: x_T. DDIM with eta = 0 is a deterministic map x_T -> x_0, the decoder; running
its ODE the other way (DDIM inversion) is the encoder, so every latent tool applies
(interpolate by slerp, as x_T is Gaussian). Likelihood: the variational bound (``ddpm_bound``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.models.core.base import Batch, EncoderDecoderModel, LossOutput
from genlab.models.core.config import ModelConfig
from genlab.models.core.latent_space import LatentSpace
from genlab.models.core.pixels import INVERSION_SIGMA
from genlab.models.core.sampling import SampleOptions
from genlab.models.core.scale import LikelihoodScale
from genlab.models.parts.diffusion.bound import vlb_estimate
from genlab.models.parts.diffusion.schedule import SCHEDULES, Schedule, betas_for, timestep_sequence
from genlab.models.parts.likelihoods import ImplicitPixels
from genlab.models.parts.unet import UNet

SAMPLERS = ("ddim", "ddpm")
PREDICTIONS = ("eps", "v")
LATENT_STEPS = 50
"""DDIM steps (eta = 0) of the encoder and decoder: the latent tools' x_0 <-> x_T map."""
CPU_CHUNK = 128
"""Images per network call on a CPU: larger batches run slower per image there, their
activations leaving the cache (MNIST U-Net, one thread: 2.75 ms an image at 128, 4.93 at
1,000). Sampling, inversion and the bound go through it; an accelerator takes whole batches."""


@dataclass
class DDPMConfig(ModelConfig):
    """``timesteps`` T of the ``noise_schedule`` (linear from ``beta_start`` to ``beta_end``,
    or cosine); the U-Net's ``channels`` per resolution level (each halves the side),
    ``res_blocks`` per level, ``attention`` at the lowest level, ``dropout``; ``label_dropout``:
    how often training drops the label (0: no classifier-free guidance); ``prediction``: what
    the net predicts, eps (Ho et al. 2020) or v = sqrt(abar) eps - sqrt(1 - abar) x_0
    (Salimans & Ho 2022), whose errors at high noise do not grow 1 / sqrt(abar) in x_0."""

    timesteps: int = 1000
    noise_schedule: str = "linear"
    beta_start: float = 1e-4
    beta_end: float = 0.02
    channels: list[int] = field(default_factory=lambda: [64, 128, 128])
    res_blocks: int = 2
    attention: bool = True
    dropout: float = 0.1
    label_dropout: float = 0.1
    prediction: str = "eps"

    def validate(self) -> None:
        if self.noise_schedule not in SCHEDULES:
            raise ConfigError(f"model.noise_schedule={self.noise_schedule!r} is not valid; "
                              f"choose one of {', '.join(SCHEDULES)}")
        if self.timesteps < 2 or self.res_blocks < 1:
            raise ConfigError("model.timesteps must be at least 2 and model.res_blocks positive")
        if not self.channels or min(self.channels) < 1:
            raise ConfigError(f"model.channels must be positive widths, got {self.channels}")
        if not 0 < self.beta_start <= self.beta_end < 1:
            raise ConfigError("model.beta_start and model.beta_end must satisfy 0 < beta_start "
                              f"<= beta_end < 1, got {self.beta_start}, {self.beta_end}")
        if self.prediction not in PREDICTIONS:
            raise ConfigError(f"model.prediction={self.prediction!r} is not valid; choose one "
                              f"of {', '.join(PREDICTIONS)}")
        for key in ("dropout", "label_dropout"):
            if not 0 <= getattr(self, key) < 1:
                raise ConfigError(f"model.{key} must be in [0, 1), got {getattr(self, key)}")


@dataclass(frozen=True)
class DDPMSampleOptions(SampleOptions):
    """``sampler``: ddim | ddpm; ``steps``: timesteps visited (T or more: the whole chain of
    the model's T); ``eta``:
    DDIM's noise (0 deterministic, 1 DDPM-like); ``guidance``: the classifier-free weight w."""

    sampler: str = "ddim"
    steps: int = 50
    eta: float = 0.0
    guidance: float = 0.0

    choices: ClassVar[dict[str, tuple[str, ...]]] = {"sampler": SAMPLERS}

    def validate(self) -> None:
        super().validate()
        if self.steps < 1:
            raise ConfigError(f"sampling option steps must be positive, got {self.steps}")
        for key in ("eta", "guidance"):
            if getattr(self, key) < 0:
                raise ConfigError(f"sampling option {key} must not be negative, "
                                  f"got {getattr(self, key)}")


class DDPM(EncoderDecoderModel):
    """Diffusion model (Ho et al. 2020): DDPM/DDIM sampling, class guidance, DDIM latents."""

    config_class = DDPMConfig
    conditional = True
    sample_options = DDPMSampleOptions
    tiny: ClassVar[dict[str, Any]] = {"timesteps": 4, "channels": [4, 8], "res_blocks": 1,
                                      "attention": False, "dropout": 0.0}
    fit_objective = ("the DDIM decoder as a point mass: Gaussian pixel likelihood (sigma "
                     f"{INVERSION_SIGMA}) "
                     "around the DDIM decode of x_T, plus the KL of q(x_T) to the prior")

    def __init__(self, config: DDPMConfig, shape: tuple[int, int, int], num_classes: int):
        super().__init__(config, shape, num_classes)
        self.schedule = Schedule(betas_for(config.noise_schedule, config.timesteps,
                                           config.beta_start, config.beta_end))
        self.net = UNet(shape[0], config.channels, config.res_blocks, config.attention,
                        config.dropout, num_classes)

    @property
    def latent_space(self) -> LatentSpace:
        """x_T, continuous, of the image's (c, h, w) shape, drawn from N(0, I)."""
        return LatentSpace(self.shape, "continuous", prior=self.sample_prior)

    # --- the network --------------------------------------------------------------------
    def _labels(self, y: Tensor | None, n: int) -> Tensor:
        """Labels as the network takes them: unknown (None or -1) -> the "no label" index."""
        null = torch.full((n,), self.num_classes, dtype=torch.long, device=self.device)
        if y is None:
            return null
        y = torch.as_tensor(y, device=self.device).long().expand(n)
        return torch.where(y < 0, null, y)

    def _network(self, xt: Tensor, t: Tensor, labels: Tensor) -> Tensor:
        """The net's output, in chunks of ``CPU_CHUNK`` images on a CPU."""
        if xt.device.type != "cpu" or len(xt) <= CPU_CHUNK:
            return self.net(xt, t, labels)
        parts = zip(xt.split(CPU_CHUNK), t.split(CPU_CHUNK), labels.split(CPU_CHUNK), strict=True)
        return torch.cat([self.net(*part) for part in parts])

    def eps(self, xt: Tensor, t: Tensor, y: Tensor | None, guidance: float = 0.0) -> Tensor:
        """eps_theta(x_t, t, y), guided: (1 + w) eps(x, y) - w eps(x) (Ho & Salimans 2022)."""
        n = len(xt)
        labels = self._labels(y, n)
        if guidance == 0:
            out = self._network(xt, t.expand(n), labels)
        else:
            both = self._network(torch.cat([xt, xt]), t.expand(n).repeat(2),
                                 torch.cat([labels, self._labels(None, n)]))
            cond, uncond = both.chunk(2)
            out = (1 + guidance) * cond - guidance * uncond
        if self.config.prediction == "eps":
            return out
        a = self.schedule.abar.to(xt.device)[t.expand(n)].to(xt.dtype).view(-1, 1, 1, 1)
        return a.sqrt() * out + (1 - a).sqrt() * xt  # eps from v

    def loss(self, batch: Batch) -> LossOutput:
        """||eps - eps_theta(x_t, t, y)||^2 per pixel at a uniform t (Ho et al. 2020, eq. 14),
        or the same of v; labels dropped with probability ``label_dropout`` for guidance."""
        x0 = batch.x * 2 - 1
        n = len(x0)
        t = torch.randint(0, self.schedule.steps, (n,), device=x0.device)
        noise = torch.randn_like(x0)
        keep = torch.rand(n, device=x0.device) >= self.config.label_dropout
        y = torch.where(keep, batch.y, torch.full_like(batch.y, -1))
        target = noise
        if self.config.prediction == "v":
            a = self.schedule.abar.to(x0.device)[t].to(x0.dtype).view(-1, 1, 1, 1)
            target = a.sqrt() * noise - (1 - a).sqrt() * x0
        mse = (self.net(self.schedule.q_sample(x0, t, noise), t, self._labels(y, n))
               - target).pow(2).mean()
        return LossOutput(mse, {"mse": mse})

    # --- sampling -----------------------------------------------------------------------
    def _abar(self, t: int, like: Tensor) -> Tensor:
        """abar of timestep index t (-1: the clean image, abar = 1) as a scalar of ``like``."""
        value = self.schedule.abar[t] if t >= 0 else torch.ones((), dtype=torch.float64)
        return value.to(like)

    def _generate(self, xt: Tensor, y: Tensor | None, options: DDPMSampleOptions,
                  generator: torch.Generator | None) -> Tensor:
        """x_T -> x_0 in [-1, 1] by the sampler of ``options`` (noise drawn on the CPU)."""
        seq = timestep_sequence(self.schedule.steps, options.steps)
        for i, t in enumerate(seq):
            nxt = seq[i + 1] if i + 1 < len(seq) else -1
            eps = self.eps(xt, torch.tensor([t], device=xt.device), y, options.guidance)
            a, b = self._abar(t, xt), self._abar(nxt, xt)
            stochastic = options.sampler == "ddpm" or options.eta > 0
            noise = None
            if stochastic and nxt >= 0:
                noise = torch.randn(xt.shape, generator=generator, device="cpu").to(xt)
            if options.sampler == "ddpm":
                xt = self.schedule.ancestral_step(xt, eps, a, b, noise)
            else:
                xt = self.schedule.ddim_step(xt, eps, a, b, options.eta, noise)
        return xt

    def sample(self, n: int, labels: Tensor | None = None,
               generator: torch.Generator | None = None, mean: bool = True,
               options: SampleOptions | None = None) -> Tensor:
        """n images from x_T ~ N(0, I) by the chosen sampler (``mean`` does not apply: every
        sample is a draw of the chain)."""
        opts = options if isinstance(options, DDPMSampleOptions) else DDPMSampleOptions()
        opts.validate()
        xt = self.sample_prior(n, generator).view(n, *self.shape)
        x0 = self._generate(xt, self.labels_for(n, labels), opts, generator)
        return ((x0 + 1) / 2).clamp(0, 1)

    # --- the latent space: DDIM inversion and decoding ----------------------------------
    def encode(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """x_T of x by DDIM inversion (eta = 0, ``LATENT_STEPS`` steps): each step from abar_a
        to the noisier abar_b with eps_theta(x_a, t_b) (Song et al. 2021, 4.3; Dhariwal &
        Nichol 2021, appendix F)."""
        xt = x * 2 - 1
        seq = timestep_sequence(self.schedule.steps, LATENT_STEPS)[::-1]
        for i, t in enumerate(seq):
            prev = seq[i - 1] if i > 0 else -1
            eps = self.eps(xt, torch.tensor([t], device=xt.device), y)
            a, b = self._abar(prev, xt), self._abar(t, xt)
            x0 = (xt - (1 - a).sqrt() * eps) / a.sqrt()
            xt = b.sqrt() * x0 + (1 - b).sqrt() * eps
        return xt.flatten(1)

    def decode(self, z: Tensor, y: Tensor | None = None) -> ImplicitPixels:
        """The deterministic DDIM image (eta = 0, ``LATENT_STEPS`` steps) of x_T = z."""
        opts = DDPMSampleOptions(steps=LATENT_STEPS)
        x0 = self._generate(z.view(-1, *self.shape), y, opts, None)
        return ImplicitPixels(((x0 + 1) / 2).clamp(0, 1), INVERSION_SIGMA)

    # --- the likelihood -----------------------------------------------------------------
    def log_likelihood(self, x: Tensor, y: Tensor | None = None, k: int = 1000) -> Tensor:
        """The variational bound on log p(x) per image, float64 nats, estimated without bias
        from ``k`` of the T timesteps per image (all of them when k >= T), as the density on
        [0, 1]^D that is constant on each 8-bit pixel's bin (``ddpm_bound``): P / (1/256)^D,
        so that the 8-bit scale's + D log 256 nats gives back the bound on -log P."""
        dims = x[0].numel()
        bound, _ = vlb_estimate(self, x, y, k)
        return -bound + dims * math.log(256)

    def likelihood_method(self, k: int) -> str:
        used = min(k, self.schedule.steps)
        return (f"variational bound (Ho et al. 2020, eq. 5) with the discretised Gaussian "
                f"decoder, {used} of {self.schedule.steps} timesteps per image, unbiased")

    def likelihood_scale(self, binarize: str) -> LikelihoodScale:
        return LikelihoodScale("density", binarize, "a bound on the probability of the 8-bit "
                               "pixels, as a density constant on each pixel's bin: compare "
                               "its 8-bit bits/dim with other models' on the same pixels")
