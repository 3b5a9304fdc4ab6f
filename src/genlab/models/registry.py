"""The one place that names model families: CLI, configs and checkpoints all look here.

Adding a family means adding its file and one line to ``MODELS``.
"""

from __future__ import annotations

from genlab.errors import ConfigError
from genlab.models.ae import Autoencoder
from genlab.models.base import GenerativeModel, ModelConfig
from genlab.models.cgan import CGAN
from genlab.models.cvae import CVAE
from genlab.models.dcgan import DCGAN
from genlab.models.ddpm import DDPM
from genlab.models.flow import RealNVP
from genlab.models.gan import GAN, LSGAN
from genlab.models.iwae import IWAE
from genlab.models.mean import ClassMean
from genlab.models.pca import PCAModel
from genlab.models.pixelcnn import PixelCNN
from genlab.models.vae import VAE, BetaVAE
from genlab.models.vaegan import VAEGAN
from genlab.models.wgan_gp import WGANGP

MODELS: dict[str, type[GenerativeModel]] = {
    "mean": ClassMean,
    "pca": PCAModel,
    "ae": Autoencoder,
    "vae": VAE,
    "beta-vae": BetaVAE,
    "cvae": CVAE,
    "iwae": IWAE,
    "vaegan": VAEGAN,
    "gan": GAN,
    "lsgan": LSGAN,
    "dcgan": DCGAN,
    "wgan-gp": WGANGP,
    "cgan": CGAN,
    "realnvp": RealNVP,
    "ddpm": DDPM,
    "pixelcnn": PixelCNN,
}


def model_class(name: str) -> type[GenerativeModel]:
    try:
        return MODELS[name]
    except KeyError:
        raise ConfigError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}") from None


def model_config_class(name: str) -> type[ModelConfig]:
    return model_class(name).config_class


def build_model(
    config: ModelConfig, shape: tuple[int, int, int], num_classes: int
) -> GenerativeModel:
    """Instantiate the family named by ``config.name`` for images of ``shape``."""
    cls = model_class(config.name)
    if not isinstance(config, cls.config_class):
        raise ConfigError(
            f"model {config.name!r} needs a {cls.config_class.__name__}, "
            f"got {type(config).__name__}"
        )
    return cls(config, shape, num_classes)
