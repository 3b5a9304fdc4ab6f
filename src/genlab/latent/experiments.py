"""The latent experiments, one plain function each, for every front end (CLI, report, explorer).

Code moves (``perturb``, ``interpolate``, ``centroid``, ``toward_class``, ``blend``,
``arithmetic``) live in :mod:`genlab.latent.moves` and are re-exported here; this module adds
the views of the whole latent space (``grid``, ``latent_map``) and the fits through the frozen
decoder (``infer``, ``complete``). Every function takes a :class:`~genlab.runs.Run`, selected
images and plain values, and returns an :class:`~genlab.latent.results.ExperimentResult` or a
:class:`~genlab.latent.results.LatentMap`: tensors and numbers, never a figure or a file.
"""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

import genlab.latent.fit as latent_fit
from genlab.errors import ConfigError
from genlab.latent.fit import FitOptions, fit_objective
from genlab.latent.maps import project_2d, quantile_grid
from genlab.latent.masks import load_mask, make_mask
from genlab.latent.moves import (
    arithmetic,
    blend,
    centroid,
    interpolate,
    interpolation_partners,
    perturb,
    toward_class,
    training_codes,
)
from genlab.latent.noise import CodeNoise
from genlab.latent.ops import decode, encode
from genlab.latent.requirements import check
from genlab.latent.results import ExperimentResult, LatentMap
from genlab.models.core.capabilities import Completer, Encoder, has
from genlab.runs import Run, Selection, condition

MAX_GRID_SIDE = 100
"""At most 100 x 100 decodes in one grid figure: more cannot be told apart on a page."""
HIDDEN_GREY = 0.5
"""Fill of hidden pixels in the "observed" row: mid-grey reads as missing on black MNIST
backgrounds and on natural images alike."""


def grid(
    run: Run,
    n: int,
    edge: float = 0.05,
    prior: bool = False,
    label: int | str = 0,
    generator: torch.Generator | None = None,
) -> ExperimentResult:
    """Decodes of an n x n grid of prior quantiles of a 2-D latent space (the manifold figure
    of Kingma & Welling, 2014), or of n * n draws from the latent space's own prior
    (``prior``, any latent space). Conditional models decode every code with class ``label``
    (name or number)."""
    m = run.model
    check(m, "grid" if prior else "the manifold grid")
    if not 2 <= n <= MAX_GRID_SIDE:
        raise ConfigError(
            f"a grid needs at least 2 points per side (at most {MAX_GRID_SIDE}), got {n}"
        )
    k = run.class_index(label) if m.conditional else -1
    if prior:
        z = m.latent_space.sample(n * n, generator)
    else:
        z = quantile_grid(m.prior(), m.latent_dim, n, edge)
    y = torch.full((len(z),), k, dtype=torch.long, device=m.device)
    rows = list(decode(m, z, y).unflatten(0, (n, n)))
    numbers: dict[str, Any] = {"mode": "prior samples" if prior else "quantile grid", "n": n}
    if m.conditional:
        numbers["label"] = k
    if prior:
        return ExperimentResult(rows, None, None, f"{n * n} prior samples", numbers)
    axes = z.view(n, n, 2)
    z1, z2 = axes[0, :, 0], axes[:, 0, 1]
    numbers.update(edge=edge, z1=z1, z2=z2)
    return ExperimentResult(
        rows,
        [f"{v:.2f}" for v in z2.tolist()],
        [f"{v:.2f}" for v in z1.tolist()],
        f"manifold over prior quantiles {edge:g}..{1 - edge:g} (z1 →, z2 ↑)",
        numbers,
    )


def latent_map(run: Run, sel: Selection, method: str = "auto", seed: int = 0) -> LatentMap:
    """Point codes of the selection projected to 2-D (the raw plane, PCA or t-SNE, van der
    Maaten & Hinton, 2008): do the classes separate in the latent space?"""
    check(run.model, "map")
    z = encode(run.model, sel.x, sel.y).flatten(1)  # the coordinates of each code
    proj = project_2d(z, method, seed)
    return LatentMap(
        proj,
        sel.y,
        sel.source.get("indices") or list(range(len(sel))),
        run.class_names,
        f"{proj.method} map of {len(sel)} codes ({run.model.latent_dim}-D)",
        {"selection": sel.source, "method": proj.method, "axes": proj.axis_labels,
         "explained_variance": proj.explained_variance, "images": len(sel)},
    )


def infer(run: Run, sel: Selection, options: FitOptions | None = None) -> ExperimentResult:
    """Fit q(z) per image through the frozen decoder, no encoder, and compare it with the
    encoder's q(z|x) where there is one: the amortisation gap (Cremer et al., 2018). For a
    generator (a GAN) the fit is its inversion, as ``objective`` in the numbers says."""
    m, options = run.model, options or FitOptions()
    check(m, "infer")
    fit = latent_fit.fit_posterior(m, sel.x, sel.y, **asdict(options))
    rows = [sel.x, decode(m, fit.mu, sel.y)]
    names = ["original", f"without encoder\nELBO {fit.elbo.mean():.1f}"]
    numbers: dict[str, Any] = {
        "selection": sel.source, "labels": sel.y, "elbo_without_encoder": fit.elbo,
        "mean_elbo_without_encoder": fit.elbo.mean(), "steps": fit.steps,
        "stopped_early": fit.stopped, "objective": fit_objective(m), **options.record(),
    }
    if has(m, Encoder):
        rows.append(decode(m, encode(m, sel.x, sel.y), sel.y))
        names.append("with encoder")
        posterior = latent_fit.encoder_posterior(m, sel.x, sel.y)
        if posterior is not None:
            enc = latent_fit.evaluate_elbo(m, sel.x, *posterior, sel.y, seed=options.seed + 1)
            names[2] += f"\nELBO {enc.mean():.1f}"
            numbers.update(elbo_with_encoder=enc, mean_elbo_with_encoder=enc.mean(),
                           mean_gain_over_encoder=(fit.elbo - enc).mean())
    return ExperimentResult(rows, names, sel.captions, "inference without the encoder", numbers)


def observed_view(x: Tensor, mask: Tensor) -> Tensor:
    """x with its hidden pixels (mask 0) painted grey: what the completion was given."""
    return torch.where(mask.bool(), x, torch.full_like(x, HIDDEN_GREY))


def completion_mask(
    run: Run,
    n: int,
    kind: str = "left",
    rate: float = 0.5,
    box: float = 0.5,
    image: str | Path | None = None,
    generator: torch.Generator | None = None,
) -> tuple[Tensor, str]:
    """A mask (1 = observed) for n images of the run's size, and a phrase describing it: read
    from a mask ``image``, else one of ``genlab.latent.MASKS`` (``random`` draws from
    ``generator``)."""
    _, h, w = run.model.shape
    if image:
        return load_mask(image, h, w), f"image {image}"
    what = {"centre": f"centre box {box:g} hidden", "random": f"{rate:.0%} of pixels hidden"}
    return make_mask(kind, n, h, w, rate, box, generator), what.get(kind, f"{kind} half observed")


def complete(
    run: Run,
    sel: Selection,
    mask: Tensor,
    options: FitOptions | None = None,
    mask_name: str = "masked",
    generator: torch.Generator | None = None,
) -> ExperimentResult:
    """Fit the ELBO of the observed pixels (mask 1) alone, then fill in the hidden ones with the
    decoder mean: completion by inference through the decoder, scored on the hidden pixels. A
    model that completes without a latent space (``Completer``: PixelCNN) draws them instead
    from its exact conditionals, with ``generator``; the fit options do not apply."""
    check(run.model, "complete")
    options = options or FitOptions()
    mask = mask.to(sel.x.device)
    if has(run.model, Completer):
        return _complete_without_codes(run, sel, mask, mask_name, generator)
    done = latent_fit.complete(run.model, sel.x, mask, sel.y, **asdict(options))
    return ExperimentResult(
        [sel.x, observed_view(sel.x, mask), done.images],
        ["original", "observed", f"completion\nhidden MSE {done.hidden_mse.mean():.3f}"],
        [f"MSE {v:.3f}" for v in done.hidden_mse.tolist()],
        f"completion, {mask_name}",
        {"selection": sel.source, "labels": sel.y, "mask": mask_name,
         "observed_fraction": mask.expand_as(sel.x).flatten(1).mean(1),
         "hidden_mse": done.hidden_mse, "mean_hidden_mse": done.hidden_mse.mean(),
         "elbo_observed": done.fit.elbo, "steps": done.fit.steps,
         "objective": fit_objective(run.model), **options.record()},
    )


def _complete_without_codes(run: Run, sel: Selection, mask: Tensor, mask_name: str,
                            generator: torch.Generator | None) -> ExperimentResult:
    """The hidden pixels drawn by the model itself given the observed ones."""
    with torch.no_grad():
        done = run.model.complete(sel.x, mask, condition(run.model, sel.y), generator)
    hidden = (1 - mask).expand_as(sel.x)
    mse = ((done - sel.x) ** 2 * hidden).flatten(1).sum(1) / hidden.flatten(1).sum(1).clamp(min=1)
    return ExperimentResult(
        [sel.x, observed_view(sel.x, mask), done],
        ["original", "observed", f"completion (drawn)\nhidden MSE {mse.mean():.3f}"],
        [f"MSE {v:.3f}" for v in mse.tolist()],
        f"completion, {mask_name}",
        {"selection": sel.source, "labels": sel.y, "mask": mask_name,
         "observed_fraction": mask.expand_as(sel.x).flatten(1).mean(1),
         "hidden_mse": mse, "mean_hidden_mse": mse.mean(),
         "objective": "drawn from the model's exact conditionals in raster order (no fit)"},
    )


__all__ = [
    "CodeNoise",
    "ExperimentResult",
    "FitOptions",
    "LatentMap",
    "arithmetic",
    "blend",
    "centroid",
    "complete",
    "completion_mask",
    "grid",
    "infer",
    "interpolate",
    "interpolation_partners",
    "latent_map",
    "observed_view",
    "perturb",
    "toward_class",
    "training_codes",
]
