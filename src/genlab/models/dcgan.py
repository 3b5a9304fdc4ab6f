"""Deep convolutional GAN (Radford et al. 2016).

The discriminator is a stack of 4x4 stride-2 convolutions with LeakyReLU(0.2) and BatchNorm
on every layer but the first, then a linear score; the generator projects the noise to the
discriminator's last feature map and climbs back with 4x4 stride-2 transposed convolutions,
BatchNorm and ReLU, tanh out. ``channels`` are the discriminator's widths, mirrored by the
generator, and their number sets the resolution the generator starts from: [64, 128] on
28x28 MNIST starts at 7x7, [64, 128, 256] on 32x32 CIFAR-10 at 4x4. Weights start from
N(0, 0.02), and both players use Adam with lr 2e-4 and beta1 0.5, as in the paper.
"""

from __future__ import annotations

from typing import ClassVar

from torch import nn

from genlab.models.adversarial import AdversarialModel
from genlab.models.gan_nets import Trunk, conv_generator, conv_trunk, radford_init, scored


class DCGAN(AdversarialModel):
    """DCGAN: strided-convolution discriminator, transposed-convolution generator, BatchNorm."""

    discriminator_norm: ClassVar[str] = "batch"

    def trunk(self) -> Trunk:
        """The convolutional features phi(x) of the discriminator and their width."""
        return conv_trunk(self.shape, self.config.channels, self.discriminator_norm)

    def make_generator(self) -> nn.Module:
        return radford_init(conv_generator(self.latent_dim, self.shape, self.config.channels))

    def make_discriminator(self) -> nn.Module:
        return radford_init(scored(*self.trunk()))
