"""Precision/recall and density/coverage on constructed cases and against a brute force."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from genlab.evaluation.neighbours import knn_radii, manifold_scores


def _points(n: int, d: int = 4, seed: int = 0, shift: float = 0.0) -> torch.Tensor:
    return torch.randn(n, d, generator=torch.Generator().manual_seed(seed)) + shift


def _brute_force(real: np.ndarray, fake: np.ndarray, k: int) -> tuple[float, ...]:
    """Kynkäänniemi et al. and Naeem et al. from full distance matrices, image by image."""

    def dist(a, b):
        return np.sqrt(((a[:, None] - b[None]) ** 2).sum(-1))

    r_radii = np.sort(dist(real, real), 1)[:, k]
    f_radii = np.sort(dist(fake, fake), 1)[:, k]
    d = dist(fake, real)  # (fake, real)
    precision = np.mean([(d[j] <= r_radii).any() for j in range(len(fake))])
    recall = np.mean([(d[:, i] <= f_radii).any() for i in range(len(real))])
    density = np.mean([(d[j] <= r_radii).sum() for j in range(len(fake))]) / k
    coverage = np.mean([d[:, i].min() <= r_radii[i] for i in range(len(real))])
    return precision, recall, density, coverage


def test_radii_are_the_kth_nearest_other_point() -> None:
    line = torch.tensor([[0.0], [1.0], [3.0], [6.0], [10.0]])
    assert knn_radii(line, k=1).tolist() == [1.0, 1.0, 2.0, 3.0, 4.0]
    assert knn_radii(line, k=2).tolist() == [3.0, 2.0, 3.0, 4.0, 7.0]


def test_identical_sets_score_one() -> None:
    x = _points(500)
    scores = manifold_scores(x, x.clone())
    assert (scores.precision, scores.recall, scores.coverage) == (1.0, 1.0, 1.0)
    # every ball holds its centre and its k neighbours: (k + 1) N memberships over N fakes
    assert scores.density == pytest.approx(4 / 3)


def test_far_apart_sets_score_zero() -> None:
    scores = manifold_scores(_points(300), _points(300, seed=1, shift=100.0))
    assert scores.as_dict() == {"precision": 0.0, "recall": 0.0, "density": 0.0,
                                "coverage": 0.0, "k": 3}


def test_a_collapsed_generator_is_precise_but_recalls_little() -> None:
    real = _points(1000)
    fake = _points(1000, seed=1) * 0.05  # every sample near the real mode
    scores = manifold_scores(real, fake)
    assert scores.precision > 0.95 and scores.recall < 0.1 and scores.coverage < 0.2


@pytest.mark.parametrize("k", [1, 3, 5])
def test_matches_the_brute_force_whatever_the_chunk(k: int) -> None:
    real, fake = _points(200, seed=2), _points(150, seed=3, shift=0.4)
    expected = _brute_force(real.double().numpy(), fake.double().numpy(), k)
    for chunk in (7, 64, 1000):
        s = manifold_scores(real.double(), fake.double(), k=k, chunk=chunk)
        assert (s.precision, s.recall, s.density, s.coverage) == pytest.approx(expected)


def test_precomputed_real_radii_give_the_same_scores() -> None:
    real, fake = _points(300, seed=4), _points(300, seed=5, shift=0.2)
    assert manifold_scores(real, fake, real_radii=knn_radii(real)) == manifold_scores(real, fake)
