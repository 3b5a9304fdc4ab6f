"""Request bodies: every field typed and bounded, unknown fields refused, NaN and Inf refused.

What depends on the run (a code's length, an index's range, a class name, a drawn mask's size)
is checked against the run by the endpoint, with the run's own numbers in the message.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field

MAX_LATENT = 4096
"""Longest code accepted; larger than any genlab model's latent space."""
MAX_MASK_PIXELS = 512 * 512
MAX_SWEEP = 16
"""Values in one perturbation sweep: each is one decode per image."""
MAX_STEPS = 32
MAX_BLEND = 16
MAX_MAP = 2000
"""Points in one latent map: enough to see the classes, small enough for t-SNE in seconds."""
MAX_FIT_STEPS = 2000
MAX_SEED = 2**32 - 1

Coordinate = Annotated[float, Field(ge=-1000, le=1000)]
Split = Annotated[str, Field(pattern=r"^[a-z_]{1,16}$")]
ClassName = Annotated[str, Field(min_length=1, max_length=64)]
Seed = Annotated[int, Field(ge=0, le=MAX_SEED)]
Label = Annotated[int, Field(ge=0, le=100_000)]
Refine = Annotated[float, Field(gt=0, le=1)] | None
"""A noise level t* in (0, 1] at which a diffusion prior also refines the moved codes."""


class Body(BaseModel):
    """Strict JSON bodies: a misspelt field is an error, not silently ignored."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)


class Pick(Body):
    """A dataset image: by ``index`` into ``split``, or the ``nth`` image of class ``cls``."""

    split: Split = "test"
    index: Annotated[int, Field(ge=0, le=10_000_000)] | None = None
    cls: ClassName | None = None
    nth: Annotated[int, Field(ge=0, le=10_000_000)] = 0


class Decode(Body):
    """One code to decode (and, for a conditional model, its class)."""

    z: Annotated[list[Coordinate], Field(min_length=1, max_length=MAX_LATENT)]
    label: Label | None = None


SamplingValue = Annotated[float, Field(ge=-1e6, le=1e6)] | Annotated[str, Field(max_length=32)]


class Prior(Body):
    """A draw from the prior, reproducible by its seed; ``sampling``: the family's sampling
    options (a diffusion model's sampler, steps, eta, guidance; a flow's temperature), the
    image then drawn by the family's sampler from the same code."""

    seed: Seed = 0
    label: Label | None = None
    sampling: Annotated[dict[str, SamplingValue], Field(max_length=16)] | None = None


class Perturb(Body):
    """The three perturbations of one image's code: ``noise`` (z + sigma eps), ``class`` (toward a
    random training code of class ``target``), ``centroid`` (toward the image's class mean),
    decoded for each of ``values`` (sigmas or alphas); with ``refine``, also brought back to a
    diffusion prior (each move below)."""

    image: Pick
    kind: Literal["noise", "class", "centroid"] = "noise"
    values: Annotated[list[Annotated[float, Field(ge=0, le=10)]],
                      Field(min_length=1, max_length=MAX_SWEEP)]
    target: ClassName | None = None
    noise: Annotated[float, Field(ge=0, le=5)] = 0.1
    seed: Seed = 0
    refine: Refine = None


class Interpolate(Body):
    """A path from image ``a``'s code to image ``b``'s, ``steps`` points including both ends."""

    a: Pick
    b: Pick
    steps: Annotated[int, Field(ge=2, le=MAX_STEPS)] = 9
    method: Literal["lerp", "slerp"] = "slerp"
    refine: Refine = None
    seed: Seed = 0


class Blend(Body):
    """w z_a + (1 - w) z_b' over the first ``n`` images of two classes, with sign flips of B's
    images (positions in B) and of latent dimensions."""

    a_class: ClassName
    b_class: ClassName
    split: Split = "test"
    n: Annotated[int, Field(ge=1, le=MAX_BLEND)] = 8
    w: Annotated[float, Field(ge=-1, le=2)] = 0.6
    flip: Annotated[list[Annotated[int, Field(ge=0)]], Field(max_length=MAX_BLEND)] = []
    flip_dims: Annotated[list[Annotated[int, Field(ge=0)]], Field(max_length=MAX_LATENT)] = []
    refine: Refine = None
    seed: Seed = 0


class Map(Body):
    """A 2-D map of the codes of the first ``n`` images of ``split``."""

    method: Literal["auto", "raw", "pca", "tsne"] = "auto"
    split: Split = "test"
    n: Annotated[int, Field(ge=3, le=MAX_MAP)] = 500
    seed: Seed = 0


class Complete(Body):
    """Completion of one image from the pixels a mask keeps: a named mask, or a ``drawn`` one
    (H * W values, row by row, 1 = observed, 0 = hidden)."""

    image: Pick
    mask: Literal["left", "right", "top", "bottom", "centre", "random", "drawn"] = "left"
    drawn: Annotated[list[Literal[0, 1]], Field(max_length=MAX_MASK_PIXELS)] | None = None
    rate: Annotated[float, Field(ge=0, lt=1)] = 0.5
    box: Annotated[float, Field(gt=0, lt=1)] = 0.5
    steps: Annotated[int, Field(ge=10, le=MAX_FIT_STEPS)] = 500
    seed: Seed = 0
