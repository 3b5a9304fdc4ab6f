"""Conditional VAE (Sohn et al., 2015): the one-hot label is concatenated to
the encoder input and to z, so ``sample(n, labels=...)`` draws images of chosen classes."""

from __future__ import annotations

from genlab.models.families.autoencoders.vae import VAE


class CVAE(VAE):
    """Conditional VAE: one-hot label joined to the encoder input and to z."""

    conditional = True
