"""The games of adversarial training: each player's loss on the discriminator's outputs.

A generator G maps noise z ~ N(0, I) (and, for a conditional pair, a label) to an image in
[-1, 1] through a tanh; a discriminator D scores images, real ones mapped from [0, 1] by
2x - 1. The players step in turn, the discriminator first (Goodfellow et al. 2014), each with
its own optimiser. Each loss below is a function of D's raw outputs (logits for the sigmoid
losses, scores otherwise), averaged over the batch:

- minimax (Goodfellow et al. 2014): D maximises log D(x) + log(1 - D(G(z))), G minimises
  log(1 - D(G(z))); with D = sigmoid(logit), log(1 - D) = -softplus(logit).
- non-saturating (Goodfellow et al. 2014): G maximises log D(G(z)) instead, whose gradient
  does not vanish while D rejects the fakes confidently (early in training).
- least squares (Mao et al. 2017), targets a = 0 (fake), b = 1 (real), c = 1 (what G wants):
  D minimises 1/2 (D(x) - 1)^2 + 1/2 D(G(z))^2, G minimises 1/2 (D(G(z)) - 1)^2.
- Wasserstein (Arjovsky et al. 2017): a critic maximises E D(x) - E D(G(z)), an estimate of
  the earth mover's distance when D is 1-Lipschitz; G minimises -E D(G(z)). The Lipschitz
  constraint is the gradient penalty of Gulrajani et al. (2017), :func:`gradient_penalty`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
from torch import Tensor
from torch.nn.functional import softplus


def minimax_discriminator(real: Tensor, fake: Tensor) -> Tensor:
    """-[log D(x) + log(1 - D(G(z)))] on logits: binary cross-entropy, real = 1, fake = 0."""
    return softplus(-real).mean() + softplus(fake).mean()


def minimax_generator(fake: Tensor) -> Tensor:
    """log(1 - D(G(z))) on logits (Goodfellow et al. 2014's original objective)."""
    return -softplus(fake).mean()


def non_saturating_generator(fake: Tensor) -> Tensor:
    """-log D(G(z)) on logits: the same fixed point, strong gradients where D wins."""
    return softplus(-fake).mean()


def least_squares_discriminator(real: Tensor, fake: Tensor) -> Tensor:
    """1/2 E (D(x) - b)^2 + 1/2 E (D(G(z)) - a)^2 with a = 0, b = 1 (Mao et al. 2017)."""
    return 0.5 * (real - 1).square().mean() + 0.5 * fake.square().mean()


def least_squares_generator(fake: Tensor) -> Tensor:
    """1/2 E (D(G(z)) - c)^2 with c = 1 (Mao et al. 2017)."""
    return 0.5 * (fake - 1).square().mean()


def wasserstein_critic(real: Tensor, fake: Tensor) -> Tensor:
    """-(E D(x) - E D(G(z))): the negated earth mover's estimate (Arjovsky et al. 2017)."""
    return fake.mean() - real.mean()


def wasserstein_generator(fake: Tensor) -> Tensor:
    """-E D(G(z)) (Arjovsky et al. 2017)."""
    return -fake.mean()


def gradient_penalty(critic: Callable[[Tensor], Tensor], real: Tensor, fake: Tensor) -> Tensor:
    """E (||grad_x D(x_hat)||_2 - 1)^2 on x_hat = t x + (1 - t) G(z), t ~ U(0, 1) per image
    (Gulrajani et al. 2017). The graph is kept so the penalty trains the critic."""
    t = torch.rand(real.shape[0], *[1] * (real.dim() - 1), device=real.device, dtype=real.dtype)
    mix = torch.lerp(fake.detach(), real, t).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(mix).sum(), mix, create_graph=True)
    return (grad.flatten(1).norm(dim=1) - 1).square().mean()


@dataclass(frozen=True)
class AdversarialLoss:
    """One game: D's loss on (real, fake) outputs, G's loss on fake outputs, and how an
    output reads as "D(x)" in the logs (a probability for the sigmoid losses)."""

    discriminator: Callable[[Tensor, Tensor], Tensor]
    generator: Callable[[Tensor], Tensor]
    readout: Callable[[Tensor], Tensor] = field(default=lambda s: s)


LOSSES: dict[str, AdversarialLoss] = {
    "non-saturating": AdversarialLoss(
        minimax_discriminator, non_saturating_generator, torch.sigmoid
    ),
    "minimax": AdversarialLoss(minimax_discriminator, minimax_generator, torch.sigmoid),
    "least-squares": AdversarialLoss(least_squares_discriminator, least_squares_generator),
    "wasserstein": AdversarialLoss(wasserstein_critic, wasserstein_generator),
}
