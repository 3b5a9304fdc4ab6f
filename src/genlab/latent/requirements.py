"""What each latent experiment needs of a model, declared once, checked before any work.

Every experiment (``moves``, ``experiments``) and every front end (``genlab latent``, the
explorer) refuses a model through :func:`check` with the experiment's name: one table, so a
command and the experiment it runs cannot disagree. A :class:`Requirement` names what the
latent space must be (``models.core.latent_space``: continuous codes to add noise to,
interpolate or average; a flat plane for the manifold grid), whether the codes of many images
are needed (an encoder: inverting a generator image by image is affordable for a few images
only) and a capability that does the experiment without a latent space at all (a
``Completer`` completes images in raster order).
"""

from __future__ import annotations

from dataclasses import dataclass

from genlab.errors import ConfigError
from genlab.models.core.base import GenerativeModel
from genlab.models.core.capabilities import Completer, Decoder, Encoder, has, require
from genlab.models.core.latent_space import (
    ANY_SPACE,
    CONTINUOUS,
    PLANE,
    SpaceNeeds,
    require_space,
)

INVERTING_COMMANDS = "`genlab latent infer` / `perturb` / `interpolate`"
"""The commands that obtain codes without an encoder, by inverting the generator."""


def require_encoder_codes(model: GenerativeModel, op: str) -> None:
    """Refuse, before any work, an experiment on the codes of many images (class centroids of
    thousands of training images, maps, blends) for a model without an encoder: inverting the
    generator is an optimisation per image, affordable for the few images of the commands
    that do it, not for thousands."""
    require(model, Decoder, op)
    if not has(model, Encoder):
        raise ConfigError(f"{op} needs an encoder; the {model.config.name!r} model has none: "
                          f"use {INVERTING_COMMANDS}, which invert the generator")


@dataclass(frozen=True)
class Requirement:
    """``space``: what the latent space must offer; ``encoder``: the codes of many images;
    ``instead``: a capability that serves the experiment without a latent space; ``hint``:
    what to use on a space that does not offer ``space``."""

    space: SpaceNeeds = ANY_SPACE
    encoder: bool = False
    instead: type | None = None
    hint: str = ""


REQUIREMENTS: dict[str, Requirement] = {
    "perturb": Requirement(CONTINUOUS),  # Gaussian noise on the codes
    "interpolate": Requirement(CONTINUOUS),  # lerp and slerp between codes
    "centroid": Requirement(CONTINUOUS, encoder=True),  # averages of codes
    "toward-class": Requirement(CONTINUOUS, encoder=True),
    # A discrete space could blend by mixing positions (each from A with probability w);
    # that is another experiment, not w z_a + (1 - w) z_b, so it is refused here.
    "blend": Requirement(CONTINUOUS, encoder=True),
    "latent arithmetic": Requirement(CONTINUOUS, encoder=True),
    "grid": Requirement(ANY_SPACE),  # prior samples: any space draws its own
    "the manifold grid": Requirement(PLANE, hint="use --prior for prior samples, or "
                                     "`genlab latent map` for a 2-D view"),
    "map": Requirement(CONTINUOUS, encoder=True),  # PCA / t-SNE of coordinates
    "infer": Requirement(CONTINUOUS),  # a diagonal Gaussian q(z) fitted per image
    "complete": Requirement(CONTINUOUS, instead=Completer),
    "the sliders": Requirement(CONTINUOUS),  # the explorer moves coordinates
}
"""Each experiment's requirement, by the name its refusals give (a ``genlab latent``
command's name where there is one)."""


def check(model: GenerativeModel, op: str) -> None:
    """Refuse, in one line, a model that ``op`` (a key of ``REQUIREMENTS``) cannot run on."""
    need = REQUIREMENTS[op]
    if need.instead is not None and has(model, need.instead):
        return
    require_space(model, op, need.space, need.hint)
    if need.encoder:
        require_encoder_codes(model, op)
