"""Deep convolutional GAN (Radford et al. 2016).

The discriminator is a stack of 4x4 stride-2 convolutions with LeakyReLU(0.2) and BatchNorm
on every layer but the first, then a linear score; the generator projects the noise to the
discriminator's last feature map and climbs back with 4x4 stride-2 transposed convolutions,
BatchNorm and ReLU, tanh out. ``channels`` are the discriminator's widths, mirrored by the
generator, and their number sets the resolution the generator starts from: [64, 128] on
28x28 MNIST starts at 7x7, [64, 128, 256] on 32x32 CIFAR-10 at 4x4. Weights start from
N(0, 0.02), and both players use Adam with lr 2e-4 and beta1 0.5, as in the paper.

``norm: spectral`` replaces the discriminator's BatchNorm by spectral normalisation of every
layer (Miyato et al. 2018): each weight is divided by its largest singular value, so the
discriminator is Lipschitz without coupling the images of a batch. It trains more steadily,
and on MNIST it reaches a given FID in fewer updates (figures in ``benchmarks/``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar

from torch import nn

from genlab.models.families.adversarial.base import AdversarialConfig, AdversarialModel
from genlab.models.parts.gan_nets import (
    Trunk,
    conv_generator,
    conv_trunk,
    radford_init,
    scored,
    spectral_normalised,
)


@dataclass
class DCGANConfig(AdversarialConfig):
    """``channels``: the discriminator's widths, mirrored by the generator; ``norm``: the
    discriminator's normalisation, batch (Radford et al. 2016), layer, or spectral (Miyato et
    al. 2018); ``conv_trunk`` checks it."""

    channels: list[int] = field(default_factory=lambda: [64, 128, 256])
    norm: str = "batch"


class DCGAN(AdversarialModel):
    """DCGAN: strided-convolution discriminator, transposed-convolution generator, BatchNorm."""

    config_class = DCGANConfig
    tiny: ClassVar[dict[str, Any]] = {"latent_dim": 8, "channels": [8, 16]}

    def trunk(self) -> Trunk:
        """The convolutional features phi(x) of the discriminator and their width."""
        return conv_trunk(self.shape, self.config.channels, self.config.norm)

    def normalised(self, discriminator: nn.Module) -> nn.Module:
        """Radford et al.'s initialisation, then spectral normalisation when asked for."""
        radford_init(discriminator)
        if self.config.norm == "spectral":
            spectral_normalised(discriminator)
        return discriminator

    def make_generator(self) -> nn.Module:
        return radford_init(conv_generator(self.latent_dim, self.shape, self.config.channels))

    def make_discriminator(self) -> nn.Module:
        return self.normalised(scored(*self.trunk()))
