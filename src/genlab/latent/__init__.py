"""Latent-space tools for every model with a decoder and a prior (PCA, AE, VAE, CVAE, ...).

``ops``: encode/decode and pure code moves (perturb, lerp/slerp, toward a centroid or class,
blend, arithmetic); ``maps``: 2-D maps of codes and the manifold grid; ``fit``: inference without
the encoder and image completion with one batched optimiser; ``masks``: completion masks.
``experiments`` (with ``moves``) runs whole experiments on a ``genlab.runs.Run`` and returns
``results`` (image rows and numbers), which every front end draws with ``genlab.report.latent``;
it is imported on demand, as it opens runs. The CLI (``genlab latent ...``) only parses flags.
"""

from genlab.latent.fit import (
    Completion,
    FitResult,
    complete,
    elbo_estimate,
    encoder_posterior,
    evaluate_elbo,
    fit_posterior,
    fit_progress,
)
from genlab.latent.maps import Projection, project_2d, quantile_grid
from genlab.latent.masks import MASKS, check_mask, load_mask, make_mask
from genlab.latent.ops import (
    arithmetic,
    blend,
    class_centroids,
    decode,
    encode,
    flip_signs,
    interpolate,
    lerp,
    perturb,
    pick,
    slerp,
    toward,
    toward_noisy,
)

__all__ = [
    "MASKS",
    "Completion",
    "FitResult",
    "Projection",
    "arithmetic",
    "blend",
    "check_mask",
    "class_centroids",
    "complete",
    "decode",
    "elbo_estimate",
    "encode",
    "encoder_posterior",
    "evaluate_elbo",
    "fit_posterior",
    "fit_progress",
    "flip_signs",
    "interpolate",
    "lerp",
    "load_mask",
    "make_mask",
    "perturb",
    "pick",
    "project_2d",
    "quantile_grid",
    "slerp",
    "toward",
    "toward_noisy",
]
