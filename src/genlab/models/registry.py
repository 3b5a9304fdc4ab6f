"""The one place that names model families: CLI, configs and checkpoints all look here.

Adding a family means adding its file and one line to ``MODELS``.
"""

from __future__ import annotations

from collections.abc import Mapping

from genlab.errors import ConfigError
from genlab.models.core.base import GenerativeModel
from genlab.models.core.config import ModelConfig
from genlab.models.families.adversarial.cgan import CGAN
from genlab.models.families.adversarial.dcgan import DCGAN
from genlab.models.families.adversarial.gan import GAN, LSGAN
from genlab.models.families.adversarial.vaegan import VAEGAN
from genlab.models.families.adversarial.wgan_gp import WGANGP
from genlab.models.families.autoencoders.ae import Autoencoder
from genlab.models.families.autoencoders.cvae import CVAE
from genlab.models.families.autoencoders.iwae import IWAE
from genlab.models.families.autoencoders.kl_ae import KLAutoencoder
from genlab.models.families.autoencoders.vae import VAE, BetaVAE
from genlab.models.families.autoencoders.vqvae import VQVAE
from genlab.models.families.autoregressive.pixelcnn import PixelCNN
from genlab.models.families.baselines.mean import ClassMean
from genlab.models.families.baselines.pca import PCAModel
from genlab.models.families.diffusion.ddpm import DDPM
from genlab.models.families.flows.realnvp import RealNVP
from genlab.models.families.two_stage.diffusion_prior import DiffusionPrior
from genlab.models.families.two_stage.gmm_prior import GMMPrior
from genlab.models.families.two_stage.latent_diffusion import LatentDiffusion
from genlab.models.families.two_stage.vqvae_pixelcnn import VQPixelCNN

MODELS: dict[str, type[GenerativeModel]] = {
    "mean": ClassMean,
    "pca": PCAModel,
    "ae": Autoencoder,
    "vae": VAE,
    "beta-vae": BetaVAE,
    "cvae": CVAE,
    "iwae": IWAE,
    "kl-ae": KLAutoencoder,
    "vaegan": VAEGAN,
    "gan": GAN,
    "lsgan": LSGAN,
    "dcgan": DCGAN,
    "wgan-gp": WGANGP,
    "cgan": CGAN,
    "realnvp": RealNVP,
    "ddpm": DDPM,
    "pixelcnn": PixelCNN,
    "gmm-prior": GMMPrior,
    "diffusion-prior": DiffusionPrior,
    "vqvae": VQVAE,
    "vqvae-pixelcnn": VQPixelCNN,
    "latent-diffusion": LatentDiffusion,
}


def model_class(name: str) -> type[GenerativeModel]:
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}") from None


def model_config_class(name: str) -> type[ModelConfig]:
    return model_class(name).config_class


def build_model(
    config: ModelConfig, shape: tuple[int, int, int], num_classes: int,
    components: Mapping[str, GenerativeModel] | None = None,
) -> GenerativeModel:
    """Instantiate the family named by ``config.name`` for images of ``shape``; a family built
    on trained runs gets them as ``components`` (``training.components`` opens them)."""
    cls = model_class(config.name)
    if not isinstance(config, cls.config_class):
        raise ConfigError(
            f"model {config.name!r} needs a {cls.config_class.__name__}, "
            f"got {type(config).__name__}"
        )
    if cls.component_specs:
        return cls(config, shape, num_classes, components=components)
    if components:
        raise ConfigError(f"the {config.name!r} model is built on no other run")
    return cls(config, shape, num_classes)
