"""Denoising diffusion probabilistic models (Ho et al. 2020) of images: a U-Net and the
pixel scaling over the diffusion parts.

Pixels are scaled to [-1, 1]; the process (``parts.diffusion.process.GaussianDiffusion``: the
schedule, the loss, the samplers, DDIM inversion, guidance) does the rest, its x_0 predictions
clipped to [-1, 1]. A U-Net (``parts.unet``) predicts eps (Ho et al. 2020) or v (Salimans & Ho
2022) from (x_t, t, y). It is class-conditional with classifier-free guidance (Ho & Salimans
2022): labels dropped with probability ``label_dropout`` in training, sampling mixing (1 + w)
f(x, y) - w f(x). The sampler is chosen at sampling time (``DiffusionSampleOptions``): DDIM
(Song et al. 2021), ancestral DDPM, or DPM-Solver++(2M) (Lu et al. 2022) for few steps.

Latent space: x_T. DDIM with eta = 0 is a deterministic map x_T -> x_0, the decoder; running
its ODE the other way (DDIM inversion) is the encoder, so every latent tool applies
(interpolate by slerp, as x_T is Gaussian). Likelihood: the variational bound
(``parts.diffusion.bound``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
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
from genlab.models.parts.diffusion.process import PREDICTIONS, Denoiser, GaussianDiffusion, guided
from genlab.models.parts.diffusion.samplers import DiffusionSampleOptions
from genlab.models.parts.diffusion.schedule import SCHEDULES, Schedule, betas_for
from genlab.models.parts.likelihoods import ImplicitPixels
from genlab.models.parts.unet import UNet

LATENT_STEPS = 50
"""DDIM steps (eta = 0) of the encoder and decoder: the latent tools' x_0 <-> x_T map."""
CPU_CHUNK = 128
"""Images per network call on a CPU: larger batches run slower per image there, their
activations leaving the cache (MNIST U-Net, one thread: 2.75 ms an image at 128, 4.93 at
1,000). Sampling, inversion and the bound go through it; an accelerator takes whole batches."""


FORMER_DEFAULTS = {"channels": [64, 128, 128], "res_blocks": 2, "dropout": 0.1,
                   "prediction": "eps"}
"""The defaults up to genlab 0.2.0.dev0 at 4bfde44 (a CIFAR-sized U-Net, eps-prediction),
which a stored config that lacks one of these fields meant."""
SMALLEST_SIDE = 7
"""The U-Net halves the image while the side stays at least this (28 -> 14 -> 7)."""


def default_widths(shape: tuple[int, int, int]) -> list[int]:
    """The U-Net's widths when ``model.channels`` is unset: 16 channels per image channel at
    full resolution, twice that at each lower level, halving while the side stays at least
    ``SMALLEST_SIDE``: [16, 32, 32] for 28 x 28 grey (configs/ddpm_mnist.yaml), [48, 96, 96]
    for 32 x 32 colour, [48, 96, 96, 96] at 64 x 64."""
    base, side, levels = 16 * shape[0], min(shape[1:]), 1
    while side // 2 >= SMALLEST_SIDE:
        side, levels = side // 2, levels + 1
    return [base] + [2 * base] * (levels - 1)


@dataclass
class DDPMConfig(ModelConfig):
    """``timesteps`` T of the ``noise_schedule`` (linear from ``beta_start`` to ``beta_end``,
    or cosine); the U-Net's ``channels`` per resolution level (each halves the side; unset:
    sized from the images, :func:`default_widths`), ``res_blocks`` per level, ``attention``
    at the lowest level, ``dropout``; ``label_dropout``: how often training drops the label
    (0: no classifier-free guidance); ``prediction``: what the net predicts, eps (Ho et al.
    2020) or v = sqrt(abar) eps - sqrt(1 - abar) x_0 (Salimans & Ho 2022), whose errors at
    high noise do not grow 1 / sqrt(abar) in x_0 (eps-prediction's MNIST samples came out
    half all-bright). The defaults are configs/ddpm_mnist.yaml's recipe, sized for a CPU."""

    timesteps: int = 1000
    noise_schedule: str = "linear"
    beta_start: float = 1e-4
    beta_end: float = 0.02
    channels: list[int] | None = None
    res_blocks: int = 1
    attention: bool = True
    dropout: float = 0.0
    label_dropout: float = 0.1
    prediction: str = "v"

    @classmethod
    def upgrade(cls, values: dict[str, Any]) -> dict[str, Any]:
        """A stored config means the former defaults where it lacks a field (configs since
        written hold every field)."""
        return {**FORMER_DEFAULTS, **values}

    def validate(self) -> None:
        if self.noise_schedule not in SCHEDULES:
            raise ConfigError(f"model.noise_schedule={self.noise_schedule!r} is not valid; "
                              f"choose one of {', '.join(SCHEDULES)}")
        if self.timesteps < 2 or self.res_blocks < 1:
            raise ConfigError("model.timesteps must be at least 2 and model.res_blocks positive")
        if self.channels is not None and (not self.channels or min(self.channels) < 1):
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


DDPMSampleOptions = DiffusionSampleOptions
"""The diffusion parts' sampling options (sampler, steps, eta, guidance), under this name."""


class DDPM(EncoderDecoderModel):
    """Diffusion model (Ho et al. 2020): DDPM/DDIM sampling, class guidance, DDIM latents."""

    config_class = DDPMConfig
    conditional = True
    sample_options = DDPMSampleOptions
    likelihood_samples = 50
    """Timesteps of the bound per image an evaluation takes: on a 2-epoch MNIST DDPM the
    stratified subset of 50 adds about 34 nats of spread per image to the 170 between images
    (all 1,000 cost 20 times as long for an interval 2% narrower)."""
    tiny: ClassVar[dict[str, Any]] = {"timesteps": 4, "channels": [4, 8], "res_blocks": 1,
                                      "attention": False, "dropout": 0.0}
    fit_objective = ("the DDIM decoder as a point mass: Gaussian pixel likelihood (sigma "
                     f"{INVERSION_SIGMA}) "
                     "around the DDIM decode of x_T, plus the KL of q(x_T) to the prior")

    def __init__(self, config: DDPMConfig, shape: tuple[int, int, int], num_classes: int):
        super().__init__(config, shape, num_classes)
        self.schedule = Schedule(betas_for(config.noise_schedule, config.timesteps,
                                           config.beta_start, config.beta_end))
        self.process = GaussianDiffusion(self.schedule, config.prediction, clip=1.0)
        widths = config.channels if config.channels is not None else default_widths(shape)
        self.net = UNet(shape[0], widths, config.res_blocks, config.attention, config.dropout,
                        num_classes)

    @property
    def latent_space(self) -> LatentSpace:
        """x_T, continuous, of the image's (c, h, w) shape, drawn from N(0, I)."""
        return LatentSpace(self.shape, "continuous", prior=self.sample_prior)

    # --- the network --------------------------------------------------------------------
    def _labels(self, y: Tensor | None, n: int) -> Tensor:
        """Labels as the network takes them: unknown (None or -1) -> the "no label" index."""
        return self.net.label_index(y, n)

    def denoiser(self, xt: Tensor, t: Tensor, y: Tensor | None) -> Tensor:
        """The U-Net's prediction f(x_t, t, y), in chunks of ``CPU_CHUNK`` images on a CPU."""
        labels = self._labels(y, len(xt))
        if xt.device.type != "cpu" or len(xt) <= CPU_CHUNK:
            return self.net(xt, t, labels)
        parts = zip(xt.split(CPU_CHUNK), t.split(CPU_CHUNK), labels.split(CPU_CHUNK), strict=True)
        return torch.cat([self.net(*part) for part in parts])

    def _guided(self, guidance: float) -> Denoiser:
        return self.denoiser if guidance == 0 else guided(self.denoiser, guidance)

    def eps(self, xt: Tensor, t: Tensor, y: Tensor | None, guidance: float = 0.0) -> Tensor:
        """eps_theta(x_t, t, y), guided: (1 + w) eps(x, y) - w eps(x) (Ho & Salimans 2022)."""
        return self.process.eps(self._guided(guidance), xt, t, y)

    def loss(self, batch: Batch) -> LossOutput:
        """The diffusion loss of pixels scaled to [-1, 1]: ||eps - eps_theta||^2, or the same
        of v, labels dropped with probability ``label_dropout`` for guidance. The whole batch
        in one network call (no chunks: one graph for the backward pass)."""
        mse = self.process.loss(lambda xt, t, y: self.net(xt, t, self._labels(y, len(xt))),
                                batch.x * 2 - 1, batch.y, self.config.label_dropout)
        return LossOutput(mse, {"mse": mse})

    # --- sampling -----------------------------------------------------------------------
    def sample(self, n: int, labels: Tensor | None = None,
               generator: torch.Generator | None = None, mean: bool = True,
               options: SampleOptions | None = None) -> Tensor:
        """n images from x_T ~ N(0, I) by the chosen sampler (``mean`` does not apply: every
        sample is a draw of the chain)."""
        opts = options if isinstance(options, DiffusionSampleOptions) else DDPMSampleOptions()
        xt = self.sample_prior(n, generator).view(n, *self.shape)
        x0 = self.process.generate(self.denoiser, xt, self.labels_for(n, labels), opts,
                                   generator)
        return ((x0 + 1) / 2).clamp(0, 1)

    # --- the latent space: DDIM inversion and decoding ----------------------------------
    def encode(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """x_T of x by DDIM inversion (eta = 0, ``LATENT_STEPS`` steps)."""
        return self.process.invert(self.denoiser, x * 2 - 1, y, LATENT_STEPS).flatten(1)

    def decode(self, z: Tensor, y: Tensor | None = None) -> ImplicitPixels:
        """The deterministic DDIM image (eta = 0, ``LATENT_STEPS`` steps) of x_T = z."""
        opts = DDPMSampleOptions(steps=LATENT_STEPS)
        x0 = self.process.generate(self.denoiser, z.view(-1, *self.shape), y, opts, None)
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
                f"decoder, {used} of {self.schedule.steps} timesteps per image (L_0 and L_1 "
                "always, the rest stratified), unbiased")

    def likelihood_name(self) -> str:
        return "diffusion bound, discretised gaussian decoder (Ho et al. 2020)"

    def likelihood_scale(self, binarize: str) -> LikelihoodScale:
        return LikelihoodScale("density", binarize, "a bound on the probability of the 8-bit "
                               "pixels, as a density constant on each pixel's bin: compare "
                               "its 8-bit bits/dim with other models' on the same pixels")
