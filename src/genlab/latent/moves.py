"""Experiments that move codes: code a selection, move its codes, decode every step.

Each function takes an opened :class:`~genlab.runs.Run`, its selected images and plain values,
and returns an :class:`~genlab.latent.results.ExperimentResult` (image rows, captions and the
numbers behind them). Random draws use only the ``generator`` passed in, in a fixed order, so a
seed reproduces a result on any device.

A selection's codes come from :func:`codes`: the encoder's where the model has one, else
generator inversion (a GAN), so ``perturb`` and ``interpolate`` work on every model with a
decoder. The experiments on the codes of many images (centroids and target pools of training
images, blends, arithmetic, maps) need an encoder (:func:`require_encoder_codes`). Every move
adds, interpolates or averages codes, so each needs a continuous latent space; what each
experiment needs is declared in ``latent.requirements`` and checked first (:func:`check`).
Codes keep the latent space's shape, (N, *shape).

Conditional models (cvae) encode and decode each image with its own label. Where a move leaves
the image's class (interpolate, toward_class), decoding switches to the destination's label from
the half-way point on (t or alpha >= 0.5), so the end points are still exact reconstructions.

Every move takes ``refine``: noise levels t* at which its moved codes are also brought back to
a learned diffusion prior's typical set (``latent.refine``, SDEdit), their rows below the plain
ones; its draws come last from ``generator``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any, NamedTuple

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.latent import ops
from genlab.latent.fit import FitOptions, fit_objective, fit_posterior
from genlab.latent.noise import CodeNoise, noise_unit
from genlab.latent.ops import class_centroids, code_norm, decode, encode, flip_signs
from genlab.latent.refine import Levels, add_refined, refine_levels
from genlab.latent.requirements import check
from genlab.latent.requirements import require_encoder_codes as require_encoder_codes
from genlab.latent.results import ExperimentResult
from genlab.models.core.base import GenerativeModel
from genlab.models.core.capabilities import Encoder, has
from genlab.runs import Run, Selection

BLEND_ROW = 4
"""The row of a blend's result that holds the plain blends (after A, A decoded, B, B decoded);
refined ones follow it."""
CENTROID_IMAGES = 10_000
"""Training images whose codes define the class centroids and target pools (the first N): enough
for a stable mean per class, cheap enough to encode on a CPU in seconds."""


def codes(
    model: GenerativeModel, x: Tensor, y: Tensor, options: FitOptions | None = None
) -> tuple[Tensor, dict[str, Any]]:
    """Point codes (N, *shape) of images, and the numbers that say where they came from.

    The encoder's posterior means where the model has an encoder; else the means of a q(z)
    fitted to each image through the frozen generator, i.e. GAN inversion (Zhu et al. 2016;
    Creswell & Bharath 2018). The numbers name the source (``codes_from``: "encoder" or the
    inversion's objective, :func:`~genlab.latent.fit.fit_objective`) and, for an inversion,
    each image's fitted ELBO and the fit's settings."""
    if has(model, Encoder):
        return encode(model, x, y), {"codes_from": "encoder"}
    options = options or FitOptions()
    fit = fit_posterior(model, x, y, **asdict(options))
    return model.latent_space.shaped(fit.mu), {
        "codes_from": fit_objective(model), "inversion_elbo": fit.elbo, **options.record()}


class TrainingCodes(NamedTuple):
    """Codes (N, *shape), labels (N,) and training-split indices (N,) of training images."""

    codes: Tensor
    labels: Tensor
    indices: Tensor


def training_codes(run: Run, limit: int = CENTROID_IMAGES) -> TrainingCodes:
    """Point codes of ``limit`` images spread over the run's training split (``Run.spread``:
    the first ones of a class-sorted folder would all be one class), binarised as in
    validation: the reference population for class centroids and target classes."""
    split = run.config.data.train_split
    indices = torch.tensor(run.spread(split, limit))
    x, y = run.images(split, indices)
    return TrainingCodes(encode(run.model, x, y), y, indices)


def _per_image_mse(a: Tensor, b: Tensor) -> Tensor:
    """Mean squared pixel difference per image, (N,)."""
    return (a - b).square().flatten(1).mean(1)


def _alpha_labels(alphas: Sequence[float]) -> list[str]:
    return [f"α = {v:g}" for v in alphas]


def perturb(
    run: Run,
    sel: Selection,
    sigmas: Sequence[float],
    generator: torch.Generator | None = None,
    options: FitOptions | None = None,
    noise: CodeNoise | None = None,
    pool: Tensor | None = None,
    refine: Levels = None,
) -> ExperimentResult:
    """Decode z + N(mean, sigma^2) for each sigma: how far a code can move before its image
    changes, i.e. how smooth the decoder is around the codes it was trained on. ``noise`` sets
    the mean and the scale (absolute, or relative to the codes' spread, :mod:`latent.noise`;
    ``pool``: training codes already encoded to take the spread of); ``options`` set the
    inversion of a model without an encoder."""
    m, noise = run.model, noise or CodeNoise()
    check(m, "perturb")
    levels = refine_levels(m, refine)
    z, source = codes(m, sel.x, sel.y, options)
    unit, scaled = noise_unit(run, noise, pool)
    moved = ops.perturb(z, sigmas, generator, noise.mean, unit)  # (S, N, *shape)
    recon = decode(m, z, sel.y)
    y = sel.y.repeat(len(sigmas))
    images = decode(m, moved.flatten(0, 1), y).unflatten(0, moved.shape[:2])
    suffix = " sd" if noise.scale == "relative" else ""
    rows, names = [sel.x, recon, *images], ["original", "reconstruction",
                                            *[f"σ = {s:g}{suffix}" for s in sigmas]]
    refined = add_refined(rows, names, m, moved, y, levels, generator)
    return ExperimentResult(
        rows, names, sel.captions, noise.describe(),
        {"selection": sel.source, "labels": sel.y, "sigmas": list(sigmas), **scaled,
         "pixel_mse_vs_reconstruction": [_per_image_mse(im, recon) for im in images],
         "code_shift_norm": code_norm(moved - z, 2), **source, **refined},
    )


def interpolation_partners(run: Run, split: str, exclude: int) -> Selection:
    """The first image of every class of ``split`` except ``exclude``: one row per class."""
    labels = run.dataset.split(split).labels
    firsts = [
        int((labels == k).nonzero()[0]) for k in range(run.dataset.num_classes)
        if k != exclude and bool((labels == k).any())
    ]
    if not firsts:
        raise ConfigError(f"split {split!r} has no images of other classes; choose the images")
    return run.select(split, index=firsts)


def interpolate(
    run: Run,
    anchor: Selection,
    others: Selection,
    steps: int = 8,
    method: str = "lerp",
    options: FitOptions | None = None,
    refine: Levels = None,
    generator: torch.Generator | None = None,
) -> ExperimentResult:
    """One row per image x of ``others``: x, the decodes along a lerp or slerp (White, 2016)
    path from its code to the anchor's, then the anchor x'. ``options`` set the inversion of
    a model without an encoder (all images in one batched fit)."""
    if len(anchor) != 1:
        raise ConfigError(f"an interpolation takes one anchor image, got {len(anchor)}")
    m, k = run.model, len(others)
    check(m, "interpolate")
    levels = refine_levels(m, refine)
    z, source = codes(m, torch.cat([others.x, anchor.x]), torch.cat([others.y, anchor.y]),
                      options)
    z0, z1 = z[:k], z[k:].expand(k, *z.shape[1:])
    path = ops.interpolate(z0, z1, steps, method)  # (T, K, *shape)
    t = torch.linspace(0, 1, steps)
    y_path = torch.where(t.view(-1, 1).to(others.y.device) < 0.5, others.y, anchor.y[0])
    frames = decode(m, path.flatten(0, 1), y_path.flatten()).unflatten(0, path.shape[:2])

    def strips(images: Tensor) -> list[Tensor]:  # x, the path's decodes (T, K, ...), x'
        return list(torch.cat([others.x.unsqueeze(1), images.transpose(0, 1),
                               anchor.x.expand(k, 1, *m.shape)], dim=1))

    rows, names = strips(frames), list(others.captions)
    refined = add_refined(rows, names, m, path, y_path.flatten(), levels, generator, strips)
    return ExperimentResult(
        rows,
        names,
        ["x", *[f"t={v:.2g}" for v in t.tolist()], "x' (anchor)"],
        f"{method} from each row's image x (left) to the anchor x' = {anchor.captions[0]}",
        {"method": method, "t": t, "anchor": {**anchor.source, "label": anchor.y},
         "others": {**others.source, "labels": others.y}, "code_norms": code_norm(path, 2).T,
         **source, **refined},
    )


def centroid(run: Run, sel: Selection, alphas: Sequence[float],
             pool: TrainingCodes | None = None, refine: Levels = None,
             generator: torch.Generator | None = None) -> ExperimentResult:
    """Decode z + alpha (c_y - z), c_y the mean training code of the image's class (of
    ``pool``, else :func:`training_codes`): does the class mean decode to a prototype, and do
    the steps toward it stay on the data manifold?"""
    check(run.model, "centroid")
    levels = refine_levels(run.model, refine)
    if bool((sel.y < 0).any()):
        raise ConfigError("moving toward the class centroid needs labelled images")
    m = run.model
    z = encode(m, sel.x, sel.y)
    pool = pool or training_codes(run)
    centroids, counts = class_centroids(pool.codes, pool.labels, run.dataset.num_classes)
    moved, y = ops.toward(z, centroids[sel.y], alphas), sel.y.repeat(len(alphas))
    rows = [sel.x, *decode(m, moved.flatten(0, 1), y).unflatten(0, moved.shape[:2])]
    names = ["original", *_alpha_labels(alphas)]
    refined = add_refined(rows, names, m, moved, y, levels, generator)
    return ExperimentResult(
        rows, names, sel.captions, "z + α(c_y − z)",
        {"selection": sel.source, "labels": sel.y, "alphas": list(alphas),
         "centroid_images_per_class": counts,
         "distance_to_centroid": code_norm(z - centroids[sel.y]), **refined},
    )


def toward_class(
    run: Run,
    sel: Selection,
    target: int | str,
    alphas: Sequence[float],
    noise: float = 0.1,
    use_centroid: bool = False,
    generator: torch.Generator | None = None,
    pool: TrainingCodes | None = None,
    refine: Levels = None,
) -> ExperimentResult:
    """Move each code toward a jittered code of class ``target`` (name or number): a random
    training image's of ``pool`` (else :func:`training_codes`; one per image, drawn first) or
    the class centroid (``use_centroid``).
    The jitter (drawn second) makes repeated moves explore the class, not one point."""
    check(run.model, "toward-class")
    m, k, levels = run.model, run.class_index(target), refine_levels(run.model, refine)
    z = encode(m, sel.x, sel.y)
    pool = pool or training_codes(run)
    of_class = pool.labels == k
    codes, indices = pool.codes[of_class], pool.indices[of_class.cpu()]
    if use_centroid:
        if len(codes) == 0:
            raise ConfigError(f"the training split has no images of class {run.class_name(k)!r}")
        goal, picked = codes.mean(0, keepdim=True).expand_as(z), None
    else:
        chosen = ops.pick(codes, len(z), generator)
        goal, picked = codes[chosen], indices[chosen.cpu()]
    moved = ops.toward_noisy(z, goal, alphas, noise, generator)
    y_target = torch.full_like(sel.y, k)
    y_moves = torch.cat([sel.y if v < 0.5 else y_target for v in alphas])
    images = decode(m, moved.flatten(0, 1), y_moves).unflatten(0, moved.shape[:2])
    name = run.class_name(k)
    rows = [sel.x, decode(m, goal, y_target), *images]
    names = ["original", "target (centroid)" if use_centroid else "target (decoded)",
             *_alpha_labels(alphas)]
    refined = add_refined(rows, names, m, moved, y_moves, levels, generator)
    return ExperimentResult(
        rows, names, sel.captions, f"toward class {name}, noise {noise:g}",
        {"selection": sel.source, "labels": sel.y, "target_class": k, "target_name": name,
         "alphas": list(alphas), "noise": noise,
         "target": "centroid" if use_centroid else "random training image",
         "target_train_indices": picked, **refined},
    )


def _positions(positions: list[int] | None, size: int, what: str) -> Tensor | None:
    """Positions -> a boolean mask of ``size``, or None when there are none."""
    if not positions:
        return None
    bad = [p for p in positions if not 0 <= p < size]
    if bad:
        raise ConfigError(f"{what}: position {bad[0]} is out of range (0..{size - 1})")
    mask = torch.zeros(size, dtype=torch.bool)
    mask[positions] = True
    return mask


def blend(
    run: Run,
    a: Selection,
    b: Selection,
    w: float = 0.6,
    flip: list[int] | None = None,
    flip_dims: list[int] | None = None,
    refine: Levels = None,
    generator: torch.Generator | None = None,
) -> ExperimentResult:
    """Decode w z_a + (1 - w) z_b': mixes of two selections (e.g. horses and birds), pairwise
    or with one image of either side. z_b' flips the sign of the codes at positions ``flip``
    of B and of the latent dimensions ``flip_dims``, to align codes that point opposite ways."""
    check(run.model, "blend")
    levels = refine_levels(run.model, refine)
    if len(b) not in (1, len(a)) and len(a) != 1:
        raise ConfigError(f"A has {len(a)} images and B {len(b)}: give equally many, or one")
    m, n = run.model, max(len(a), len(b))
    images = _positions(flip, len(b), "flip (positions in B)")
    dims = _positions(flip_dims, m.latent_dim, "flip_dims (latent dimensions)")
    za, ya = encode(m, a.x, a.y), a.y.expand(n)
    za, zb = za.expand(n, *za.shape[1:]), encode(m, b.x, b.y)
    result = ops.blend(za, zb, w, images, dims)
    zb_flipped = flip_signs(zb, images, dims)
    flipped = " (sign flips)" if flip or flip_dims else ""
    rows = [a.x, decode(m, za, ya), b.x, decode(m, zb_flipped, b.y), decode(m, result, ya)]
    names = ["A", "A decoded", "B", f"B decoded{flipped}", f"w = {w:g}"]
    refined = add_refined(rows, names, m, result[None], ya, levels, generator)
    return ExperimentResult(
        rows, names, None, f"blend w·A + (1 − w)·B, w = {w:g}",
        {"mode": "blend", "w": w, "a": a.source, "b": b.source, "flip": flip or [],
         "flip_dims": flip_dims or [], "result_code_norm": code_norm(result),
         "a_labels": ya, "b_labels": b.y.expand(n), **refined},
    )


def arithmetic(run: Run, a: Selection, b: Selection, c: Selection, refine: Levels = None,
               generator: torch.Generator | None = None) -> ExperimentResult:
    """Decode z_a + (mean z_b - mean z_c): latent vector arithmetic on averaged codes
    (Radford et al., 2016; White, 2016's attribute vectors), e.g. a digit moved from class C
    toward class B."""
    check(run.model, "latent arithmetic")
    m, levels = run.model, refine_levels(run.model, refine)
    za = encode(m, a.x, a.y)
    zb, zc = encode(m, b.x, b.y), encode(m, c.x, c.y)
    result = ops.arithmetic(za, zb.mean(0, keepdim=True), zc.mean(0, keepdim=True))
    rows = [a.x, decode(m, za, a.y), decode(m, result, a.y), b.x, c.x]
    names = ["A", "A decoded", "A + (B − C)", "B", "C"]
    refined = add_refined(rows, names, m, result[None], a.y, levels, generator, plain=names[2:3])
    return ExperimentResult(
        rows, names, None, "latent arithmetic A + (mean B − mean C)",
        {"mode": "arithmetic", "a": a.source, "b": b.source, "c": c.source,
         "direction_norm": (zb.mean(0) - zc.mean(0)).norm(),
         "result_code_norm": code_norm(result), **refined},
    )
