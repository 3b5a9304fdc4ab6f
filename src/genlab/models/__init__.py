"""Model families and the pieces they share: backbones, likelihoods and the common base."""
