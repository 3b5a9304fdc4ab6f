"""A likelihood's scale: what it is a likelihood *of*, which makes two numbers comparable.

* ``discrete``: a probability of discrete pixels (binarised pixels under a Bernoulli, or
  k-bin categorical pixels): a true likelihood of those pixels, in nats or bits per dimension.
* ``density``: a density of pixels in [0, 1]^D (Gaussian, Beta, continuous Bernoulli, PCA).
  On 8-bit data it is evaluated on uniformly dequantised pixels (x + u) / 256 and also
  reported on the 8-bit scale, -log p + D log 256 nats, the discrete likelihood of integer
  pixels that the literature's bits/dim are (Theis et al. 2016; Ho et al. 2020, 3.3): an upper
  bound on the NLL of the integer pixels under the model integrated over each bin.
* ``cross-entropy``: a Bernoulli decoder on grey pixels; not a normalised likelihood.
"""

from __future__ import annotations

from dataclasses import dataclass

DISCRETE_LIKELIHOODS = ("categorical", "logistic")
"""Pixel likelihoods that are probabilities of discrete pixels whatever the binarisation."""


@dataclass(frozen=True)
class LikelihoodScale:
    """What a likelihood is a likelihood of: ``kind`` (discrete | density | cross-entropy),
    the pixels it is of (the binarisation), a sentence for the report, and for a discrete
    one the number of ``levels`` a pixel takes (2 binarised, k bins, 256 for 8-bit pixels;
    0 where unknown or continuous)."""

    kind: str
    binarize: str
    note: str
    levels: int = 0

    @property
    def dequantised(self) -> bool:
        """A density of 8-bit pixels: evaluated on dequantised pixels, and on the 8-bit
        scale too."""
        return self.kind == "density" and self.binarize == "none"

    @property
    def eight_bit(self) -> bool:
        """A probability of the 256 levels of 8-bit pixels: on the 8-bit scale as it is."""
        return self.kind == "discrete" and self.binarize == "none" and self.levels == 256

    def __str__(self) -> str:
        return f"{self.kind}, binarisation {self.binarize}" + (
            ", 8-bit dequantised" if self.dequantised else "")


def pixel_likelihood_scale(likelihood: str, binarize: str, bins: int = 0) -> LikelihoodScale:
    """The scale of a decoder with pixel likelihood ``likelihood`` on data binarised by
    ``binarize`` (``data.binarize``); ``bins``: a categorical decoder's."""
    if likelihood in DISCRETE_LIKELIHOODS or (likelihood == "bernoulli" and binarize != "none"):
        levels = {"categorical": bins, "logistic": 256}.get(likelihood, 2)
        return LikelihoodScale("discrete", binarize, "a probability of discrete pixels: "
                               "comparable across models on these pixels", levels)
    if likelihood == "bernoulli":
        return LikelihoodScale("cross-entropy", binarize, "Bernoulli on grey pixels is a "
                               "cross-entropy, not a normalised likelihood")
    return LikelihoodScale("density", binarize, "a density of pixels in [0, 1]: compare its "
                           "8-bit bits/dim with other models' on the same 8-bit pixels")
