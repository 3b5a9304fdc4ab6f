"""Prior-guided latent moves: a moved code brought back to the learned prior's typical set.

A perturbation, a move toward a class or a centroid, a blend or an interpolation can leave the
region of codes the decoder was trained on, where it decodes to blur or texture. A model whose
prior over its codes is a diffusion (the ``Refiner`` capability: diffusion-prior) can noise the
moved code to a level t* in (0, 1] and denoise it with that prior: SDEdit (Meng et al. 2022) in
code space. Small t* keeps the move; t* = 1 forgets it (a fresh prior draw). Every move of
``latent.moves`` takes ``refine`` (one t* or several) and then adds, for each level, the rows of
its refined codes below the plain ones, named in ``numbers["refined_rows"]``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.latent.ops import code_norm, decode
from genlab.models.core.base import GenerativeModel
from genlab.models.core.capabilities import Refiner, has
from genlab.runs import condition

Levels = float | Sequence[float] | None
"""One noise level t*, several, or None (no refinement)."""


def refine_levels(model: GenerativeModel, refine: Levels, option: str = "refine") -> list[float]:
    """The levels t* of ``refine`` as a list (empty for None or none: no refinement), each in
    (0, 1], refused in one line naming ``option`` (``--refine``, ``perturbations.refine``) for
    a bad level or a model without a diffusion prior over its codes, before any work."""
    if refine is None:
        return []
    levels = [refine] if isinstance(refine, int | float) else list(refine)
    if not levels:
        return []
    bad = [t for t in levels if isinstance(t, bool) or not 0 < t <= 1]
    if bad:
        raise ConfigError(f"{option} takes noise levels t* in (0, 1] (1: a fresh prior draw), "
                          f"got {bad[0]}")
    if not has(model, Refiner):
        raise ConfigError(f"{option} needs a model whose prior over its codes is a diffusion "
                          f"(diffusion-prior, latent-diffusion); the {model.config.name!r} "
                          "model's is not")
    return [float(t) for t in levels]


@torch.no_grad()
def refine_codes(model: GenerativeModel, z: Tensor, y: Tensor | None, t_star: float,
                 generator: torch.Generator | None = None) -> Tensor:
    """Codes (N, *shape) after SDEdit at level t* with the model's learned prior."""
    return model.refine(z, t_star, condition(model, y), generator)


def refined_decodes(model: GenerativeModel, moved: Tensor, y: Tensor, levels: list[float],
                    generator: torch.Generator | None) -> tuple[list[Tensor], list[Tensor]]:
    """For each level, the decodes (S, N, C, H, W) of the refined codes of ``moved`` (S, N,
    *shape), decoded with labels ``y`` (S N,), and how far each code moved, (S, N)."""
    images, shifts = [], []
    for t_star in levels:
        refined = refine_codes(model, moved.flatten(0, 1), y, t_star, generator)
        images.append(decode(model, refined, y).unflatten(0, moved.shape[:2]))
        shifts.append(code_norm(refined.view_as(moved) - moved, 2))
    return images, shifts


def refined_label(name: str, t_star: float) -> str:
    return f"{name}\nrefined t*={t_star:g}"


def add_refined(rows: list[Tensor], names: list[str], model: GenerativeModel, moved: Tensor,
                y: Tensor, levels: list[float], generator: torch.Generator | None,
                arrange: Callable[[Tensor], list[Tensor]] = list,
                plain: list[str] | None = None) -> dict[str, object]:
    """Append to ``rows`` and ``names``, for each level, the rows ``arrange`` makes of the
    refined decodes (S, N, C, H, W) of ``moved`` (S, N, *shape) (by default one per s), named
    after the ``plain`` rows they refine (by default as many last ones); the numbers that say
    which rows are refined at which level (none without levels)."""
    if not levels:
        return {}
    images, shifts = refined_decodes(model, moved, y, levels, generator)
    arranged = [arrange(level) for level in images]
    plain = plain or names[len(names) - len(arranged[0]):]
    indices: list[list[int]] = []
    for t_star, new in zip(levels, arranged, strict=True):
        indices.append(list(range(len(rows), len(rows) + len(new))))
        rows.extend(new)
        names.extend(refined_label(n, t_star) for n in plain)
    return {"refine": levels, "refined_rows": indices, "refine_code_shift_norm": shifts}
