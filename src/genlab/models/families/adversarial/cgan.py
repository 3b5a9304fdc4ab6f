"""Class-conditional GAN (Mirza & Osindero 2014) with a projection discriminator (Miyato &
Koyama 2018), on DCGAN's convolutional networks (Radford et al. 2016).

The generator sees the label as a learned embedding joined to the noise, G(z, embed(y)). The
discriminator does not take the label as an input channel: it scores
D(x, y) = psi(phi(x)) + <embed(y), phi(x)>, the form that follows from modelling the log
density ratio of real to generated images given a class with a log-linear conditional. Fakes
are generated for the labels of the real batch, so both players see the data's class mix.
``sample(n, labels=...)`` draws images of chosen classes.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from genlab.errors import ConfigError
from genlab.models.families.adversarial.dcgan import DCGAN, DCGANConfig
from genlab.models.parts.gan_nets import (
    LabelledGenerator,
    ProjectionDiscriminator,
    conv_generator,
    radford_init,
)


@dataclass
class CGANConfig(DCGANConfig):
    """``embed_dim``: width of the generator's label embedding."""

    embed_dim: int = 16


class CGAN(DCGAN):
    """Conditional GAN: label embedding joined to z, projection discriminator."""

    config_class = CGANConfig
    conditional = True

    def __init__(self, config: CGANConfig, shape: tuple[int, int, int], num_classes: int):
        if config.embed_dim < 1:
            raise ConfigError(f"model.embed_dim must be positive, got {config.embed_dim}")
        super().__init__(config, shape, num_classes)

    def make_generator(self) -> nn.Module:
        cfg = self.config
        body = conv_generator(self.latent_dim + cfg.embed_dim, self.shape, cfg.channels)
        # The label embedding keeps PyTorch's N(0, 1) start: on the scale of the noise.
        return LabelledGenerator(radford_init(body), self.num_classes, cfg.embed_dim)

    def make_discriminator(self) -> nn.Module:
        return self.normalised(ProjectionDiscriminator(*self.trunk(), self.num_classes))
