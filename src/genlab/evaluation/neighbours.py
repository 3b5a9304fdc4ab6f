"""Precision and recall (Kynkäänniemi et al. 2019) and density and coverage (Naeem et al.
2020): how much of the generated set lies on the real manifold, and how much of the real
manifold the generated set reaches, each manifold being the union of k-nearest-neighbour balls.

Distances come from batched ``torch.cdist`` over row chunks, so 10,000 x 10,000 sets need
only a (chunk, N) block at a time; nothing loops over single images. The real set's radii
can be passed in precomputed (a cached reference keeps them).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import Tensor

NEAREST_K = 3
"""Kynkäänniemi et al.'s k for precision/recall; Naeem et al. used 5 for density/coverage."""
ROW_CHUNK = 1024


@dataclass(frozen=True)
class ManifoldScores:
    """Precision, recall, density and coverage of a generated set against a real one."""

    precision: float
    recall: float
    density: float
    coverage: float
    k: int

    def as_dict(self) -> dict[str, float]:
        return asdict(self)


def knn_radii(features: Tensor, k: int = NEAREST_K, chunk: int = ROW_CHUNK) -> Tensor:
    """Distance from each point to its k-th nearest other point of the same set, (N,)."""
    if len(features) <= k:
        raise ValueError(f"{k} nearest neighbours need more than {k} points, got {len(features)}")
    radii = [
        torch.cdist(block, features).topk(k + 1, dim=1, largest=False).values[:, k]
        for block in features.split(chunk)
    ]  # the smallest of the k + 1 is each point's zero distance to itself
    return torch.cat(radii)


def manifold_scores(
    real: Tensor,
    fake: Tensor,
    k: int = NEAREST_K,
    chunk: int = ROW_CHUNK,
    real_radii: Tensor | None = None,
) -> ManifoldScores:
    """Precision: the fraction of fakes inside some real k-NN ball; recall: of reals inside
    some fake ball; density: fake-in-real-ball memberships per fake, over k (can exceed 1);
    coverage: the fraction of real balls holding at least one fake.

    Distances are taken in the features' dtype (float32 features: float32 distances, plenty
    for comparing a distance with a radius). ``real_radii`` (from :func:`knn_radii` with the
    same k) saves a third of the work when the real set is fixed, as a cached reference is."""
    fake = fake.to(real)
    if real_radii is None:
        real_radii = knn_radii(real, k, chunk)
    real_radii, fake_radii = real_radii.to(real), knn_radii(fake, k, chunk)
    in_some_real = torch.zeros(len(fake), dtype=torch.bool, device=real.device)
    memberships = torch.zeros(len(fake), dtype=torch.long, device=real.device)
    recalled = covered = 0
    for block, radii in zip(real.split(chunk), real_radii.split(chunk), strict=True):
        dist = torch.cdist(block, fake)  # (chunk real, all fake)
        inside = dist <= radii[:, None]
        in_some_real |= inside.any(0)
        memberships += inside.sum(0)
        recalled += int((dist <= fake_radii[None, :]).any(1).sum())
        covered += int((dist.min(1).values <= radii).sum())
    return ManifoldScores(
        precision=float(in_some_real.double().mean()),
        recall=recalled / len(real),
        density=float(memberships.double().mean()) / k,
        coverage=covered / len(real),
        k=k,
    )
