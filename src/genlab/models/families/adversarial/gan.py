"""The fully connected GAN (Goodfellow et al. 2014) and its least-squares variant (Mao et al.
2017), on the networks of the original GAN exercise.

The discriminator is C*H*W -> 256 -> 256 -> 1 with LeakyReLU(0.01); the generator maps 96-d
noise through 1024 -> 1024 -> C*H*W with ReLU and a tanh output. The two families differ in
the game only: ``gan`` plays the non-saturating (or, ``loss: minimax``, the original)
objective on logits, ``lsgan`` the least-squares one, whose gradients do not vanish for
fakes the discriminator already classifies correctly but that lie far from the real data.
"""

from __future__ import annotations

from dataclasses import dataclass

from torch import nn

from genlab.models.families.adversarial.base import AdversarialConfig, AdversarialModel
from genlab.models.parts.gan_nets import fc_generator, fc_trunk, scored


@dataclass
class GANConfig(AdversarialConfig):
    latent_dim: int = 96


class GAN(AdversarialModel):
    """GAN: fully connected generator and discriminator, non-saturating or minimax loss."""

    config_class = GANConfig
    loss_choices = ("non-saturating", "minimax")

    def make_generator(self) -> nn.Module:
        return fc_generator(self.latent_dim, self.shape)

    def make_discriminator(self) -> nn.Module:
        return scored(*fc_trunk(self.shape))


@dataclass
class LSGANConfig(GANConfig):
    loss: str = "least-squares"


class LSGAN(GAN):
    """LSGAN: the fully connected GAN with least-squares losses (Mao et al. 2017)."""

    config_class = LSGANConfig
    loss_choices = ("least-squares",)
