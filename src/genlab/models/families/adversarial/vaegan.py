"""VAE/GAN (Larsen et al. 2016, "Autoencoding beyond pixels using a learned similarity metric").

A VAE (Gaussian encoder, N(0, I) prior, a decoder with the configured pixel likelihood) whose
reconstruction error is measured in the feature space of a GAN discriminator: with Dis_l the
discriminator's features, p(Dis_l(x) | z) = N(Dis_l(x); Dis_l(x~), I) for x~ decoded from
z ~ q(z|x) (Larsen eq. 8-9), so the negative log-likelihood is 0.5 ||Dis_l(x) - Dis_l(x~)||^2
(up to a constant). Three players, each with its own optimiser (Larsen Alg. 1):

- encoder: beta * KL(q(z|x) || p(z)) + feature NLL;
- decoder: gamma * feature NLL + the non-saturating GAN loss (Goodfellow et al. 2014) on the
  reconstructions x~ and the prior samples x_p = Dec(z_p) alike;
- discriminator: the GAN loss on real x against x~ and x_p (both counted as fakes).

``pixel_weight`` adds the decoder's pixel NLL to the encoder's and decoder's losses. Larsen et
al. drop it (0 reproduces that); the small default keeps the likelihood head's own parameters (a
learned sigma) fitted, so ``decode(z)`` stays a usable p(x|z) for the ELBO-based tools (infer,
complete, evaluation), and anchors the reconstructions while the discriminator's features are
still random early in training. Every player uses Adam with lr 3e-4 (Larsen et al.'s RMSProp
rate) and beta1 0.5 (Radford et al. 2016). Checkpoints are kept by the last epoch: no player's
loss measures sample quality, as for the GANs.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, ClassVar

import torch
from torch import Tensor, nn
from torch.distributions import kl_divergence

from genlab.errors import ConfigError
from genlab.models.core.base import Batch, LossOutput, Player, Update
from genlab.models.families.autoencoders.vae import VAE, VAEConfig
from genlab.models.parts.adversarial_losses import minimax_discriminator, non_saturating_generator
from genlab.models.parts.nets import NetSpec, build_encoder

PLAYERS = ("encoder", "decoder", "discriminator")
GAN_ADAM: dict[str, Any] = {"lr": 3e-4, "betas": (0.5, 0.999)}


@dataclass
class VAEGANConfig(VAEConfig):
    """``gamma`` weighs the feature reconstruction against fooling the discriminator in the
    decoder's loss (Larsen's gamma); ``pixel_weight`` the pixel NLL (see the module);
    ``feature_dim`` is the width of the discriminator's features Dis_l."""

    gamma: float = 1.0
    pixel_weight: float = 0.1
    feature_dim: int = 256


class FeatureDiscriminator(nn.Module):
    """Dis(x) = head(Dis_l(x)): Dis_l, the backbone's encoder, gives the features in which
    reconstructions are compared, the head one logit per image. Images enter as 2x - 1."""

    def __init__(self, spec: NetSpec, shape: tuple[int, int, int], width: int) -> None:
        super().__init__()
        self.features = build_encoder(spec, shape, width)
        self.head = nn.Sequential(nn.LeakyReLU(0.2), nn.Linear(width, 1))

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        features = self.features(2 * x - 1)
        return features, self.head(features).squeeze(1)


class VAEGAN(VAE):
    """VAE/GAN: a VAE whose reconstruction term lives in a discriminator's feature space."""

    config_class = VAEGANConfig
    tiny: ClassVar[dict[str, Any]] = {"hidden": [32], "latent_dim": 4, "feature_dim": 16}
    optim_defaults: ClassVar[dict[str, dict[str, Any]]] = {p: GAN_ADAM for p in PLAYERS}
    selection_metric = None

    def __init__(self, config: VAEGANConfig, shape: tuple[int, int, int], num_classes: int):
        for key in ("gamma", "pixel_weight"):
            if getattr(config, key) < 0:
                raise ConfigError(f"model.{key} must not be negative, got {getattr(config, key)}")
        if config.feature_dim < 1:
            raise ConfigError(f"model.feature_dim must be positive, got {config.feature_dim}")
        super().__init__(config, shape, num_classes)
        self.discriminator = FeatureDiscriminator(config.net_spec(), shape, config.feature_dim)

    # --- training -----------------------------------------------------------------------
    def players(self) -> list[Player]:
        return [Player(name, partial(self._objective, name)) for name in PLAYERS]

    def param_groups(self) -> dict[str, list[nn.Parameter]]:
        return {
            "encoder": list(self.encoder.parameters()),
            "decoder": [*self.decoder.parameters(), *self.likelihood.parameters()],
            "discriminator": list(self.discriminator.parameters()),
        }

    def _objective(self, name: str, batch: Batch) -> LossOutput:
        """One player's objective alone (a whole forward pass; ``train_step`` shares one)."""
        return self.player_losses(batch, (name,))[name]

    def objectives(self, batch: Batch) -> dict[str, LossOutput]:
        """All three players' losses from one forward pass of each network (Larsen Alg. 1);
        the discriminator sees real, reconstructed and sampled images in one batch, so under
        BatchNorm they share its statistics."""
        c, x, n = self.config, batch.x, batch.x.shape[0]
        q = self.encode(x)
        kl = kl_divergence(q, self.prior())
        recon = self.decode(q.rsample())
        prior_images = self.decode(torch.randn(n, self.latent_dim, device=x.device)).mean
        features, logits = self.discriminator(torch.cat([x, recon.mean, prior_images]))
        # Dis_l(x) is the observation: a constant, even through BatchNorm's batch statistics.
        feature_nll = 0.5 * (features[:n].detach() - features[n:2 * n]).square().sum(1)
        nll = -recon.log_prob(x)
        real, fake = logits[:n], logits[n:]
        d_loss = minimax_discriminator(real, fake)
        g_loss = non_saturating_generator(fake)
        encoder = (c.beta * kl + feature_nll + c.pixel_weight * nll).mean()
        decoder = (c.gamma * feature_nll + c.pixel_weight * nll).mean() + g_loss
        terms = {"kl": kl.mean(), "feature_nll": feature_nll.mean(), "nll": nll.mean(),
                 "neg_elbo": (nll + kl).mean()}
        return {
            "encoder": LossOutput(encoder, {k: v.detach() for k, v in terms.items()}),
            "decoder": LossOutput(decoder, {"g_loss": g_loss.detach()}),
            "discriminator": LossOutput(d_loss, {
                "d_loss": d_loss.detach(),
                "d_real": torch.sigmoid(real).mean().detach(),
                "d_fake": torch.sigmoid(fake).mean().detach(),
            }),
        }

    def player_losses(
        self, batch: Batch, names: tuple[str, ...] = PLAYERS
    ) -> dict[str, LossOutput]:
        """The players' losses from one forward pass, each with the gradient of its own loss
        in its own parameters only, all taken at the same parameters (the graph is kept
        between them): a backward of one player's total touches nothing of the others'."""
        losses, groups = self.objectives(batch), self.param_groups()
        carried = {}
        for i, name in enumerate(names):
            grads = torch.autograd.grad(losses[name].total, groups[name], allow_unused=True,
                                        retain_graph=i < len(names) - 1)
            carried[name] = carrying(losses[name], groups[name], grads)
        return carried

    def train_step(self, batch: Batch, update: Update, step: int) -> None:
        """One forward pass for the three updates, a third of the forward compute of
        stepping each player on its own pass (the default)."""
        for name, out in self.player_losses(batch).items():
            update(name, out)

    def evaluation(self, batch: Batch) -> list[tuple[str, LossOutput]]:
        return list(self.objectives(batch).items())


def carrying(
    out: LossOutput, params: list[nn.Parameter], grads: tuple[Tensor | None, ...]
) -> LossOutput:
    """``out`` with a total of the same value whose backward leaves exactly ``grads`` on
    ``params`` and nothing anywhere else: sum(p * g) - sum(p * g).detach() adds zero, and its
    gradient in p is g."""
    carried = sum(((p * g).sum() for p, g in zip(params, grads, strict=True) if g is not None),
                  out.total.new_zeros(()))
    return LossOutput(out.total.detach() + (carried - carried.detach()), out.terms)
