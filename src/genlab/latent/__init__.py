"""Latent-space tools for every model with a decoder and a prior (PCA, AE, VAE, CVAE, ...).

``ops``: encode/decode and pure code moves (perturb, lerp/slerp, toward a centroid or class,
blend, arithmetic); ``maps``: 2-D maps of codes and the manifold grid; ``fit``: inference without
the encoder and image completion with one batched optimiser; ``masks``: completion masks.
``experiments`` (with ``moves``) runs whole experiments on a ``genlab.runs.Run`` and returns
``results`` (image rows and numbers), which every front end draws with ``genlab.report.latent``;
it is imported on demand, as it opens runs. The CLI (``genlab latent ...``) only parses flags.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "fit": ("Completion", "FitResult", "complete", "elbo_estimate", "encoder_posterior",
            "evaluate_elbo", "fit_posterior", "fit_progress"),
    "maps": ("Projection", "project_2d", "quantile_grid"),
    "masks": ("MASKS", "check_mask", "load_mask", "make_mask"),
    "ops": ("arithmetic", "blend", "class_centroids", "decode", "encode", "flip_signs",
            "interpolate", "lerp", "perturb", "pick", "slerp", "toward", "toward_noisy"),
}
_HOME_OF = {name: module for module, names in _HOMES.items() for name in names}


def __getattr__(name: str) -> Any:
    """The tools, imported from their module when first named (PEP 562): importing a light
    module of this package (``latent.choices``, for ``--help``) loads no torch."""
    if name in _HOME_OF:
        return getattr(importlib.import_module(f"{__name__}.{_HOME_OF[name]}"), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = sorted(_HOME_OF)
