"""FID, KID and the Inception Score against independent float64 references."""

from __future__ import annotations

import math

import numpy as np
import pytest
import scipy.linalg
import torch

from genlab.evaluation.metrics import (
    feature_stats,
    fid,
    fid_bootstrap_sd,
    frechet_distance,
    inception_score,
    kid,
    kid_blank,
    polynomial_mmd2,
    trace_sqrt_product,
)


def _features(n: int, d: int, seed: int, shift: float = 0.0) -> torch.Tensor:
    """n draws of one correlated Gaussian per d (the mixing matrix is fixed), moved by shift."""
    mix = torch.randn(d, d, generator=torch.Generator().manual_seed(d), dtype=torch.float64)
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(n, d, generator=gen, dtype=torch.float64) @ mix / math.sqrt(d) + shift


def _scipy_fid(a: np.ndarray, b: np.ndarray) -> float:
    """pytorch-fid's formula, with scipy's general matrix square root."""
    m1, m2 = a.mean(0), b.mean(0)
    c1, c2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    root = scipy.linalg.sqrtm(c1 @ c2)
    return float(((m1 - m2) ** 2).sum() + np.trace(c1) + np.trace(c2) - 2 * np.trace(root.real))


def test_stats_match_numpy() -> None:
    f = _features(300, 8, 0)
    stats = feature_stats(f)
    np.testing.assert_allclose(stats.mean.numpy(), f.numpy().mean(0), rtol=1e-12)
    np.testing.assert_allclose(stats.cov.numpy(), np.cov(f.numpy(), rowvar=False), rtol=1e-10)


@pytest.mark.parametrize("shift", [0.0, 0.3, 2.0])
def test_fid_equals_the_scipy_sqrtm_reference(shift: float) -> None:
    a, b = _features(2000, 32, 1), _features(1500, 32, 2, shift) * 1.3
    ours, ref = fid(a, b), _scipy_fid(a.numpy(), b.numpy())
    assert ours == pytest.approx(ref, rel=1e-6)


def test_trace_sqrt_product_of_nearly_singular_covariances() -> None:
    """Fewer samples than dimensions: rank-deficient covariances, where sqrtm struggles."""
    a, b = _features(20, 40, 3), _features(25, 40, 4)
    c1, c2 = feature_stats(a).cov, feature_stats(b).cov
    ref = np.trace(scipy.linalg.sqrtm(c1.numpy() @ c2.numpy()).real)
    assert float(trace_sqrt_product(c1, c2)) == pytest.approx(ref, rel=1e-6)


def test_fid_of_a_set_with_itself_is_zero_and_grows_with_a_shift() -> None:
    a = _features(1000, 16, 5)
    assert abs(fid(a, a)) < 1e-8
    stats = feature_stats(a)
    moved = feature_stats(a + 1.0)
    assert frechet_distance(stats, moved) == pytest.approx(16.0, rel=1e-9)  # |shift|^2 * d


def _naive_mmd2(x: np.ndarray, y: np.ndarray) -> float:
    """The unbiased MMD^2 (Gretton et al. 2012), written out with explicit sums over pairs."""
    m, d = x.shape

    def k(a, b):
        return (a @ b / d + 1) ** 3

    xx = sum(k(x[i], x[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    yy = sum(k(y[i], y[j]) for i in range(m) for j in range(m) if i != j) / (m * (m - 1))
    xy = sum(k(x[i], y[j]) for i in range(m) for j in range(m)) / (m * m)
    return xx + yy - 2 * xy


def test_polynomial_mmd_matches_the_naive_sum() -> None:
    x, y = _features(30, 5, 6), _features(30, 5, 7, shift=0.5)
    ours = polynomial_mmd2(x[None], y[None])
    assert float(ours[0]) == pytest.approx(_naive_mmd2(x.numpy(), y.numpy()), rel=1e-10)


def test_kid_on_small_sets_uses_every_image_once() -> None:
    """Subsets of min(1000, n) = n images without replacement are the whole sets; the
    float32 kernel (the default) stays within 1e-5 of the float64 one."""
    x, y = _features(40, 6, 8), _features(40, 6, 9, shift=0.3)
    naive = _naive_mmd2(x.numpy(), y.numpy())
    mean, std = kid(x, y, subsets=3, dtype=torch.float64)
    assert mean == pytest.approx(naive, rel=1e-10)
    assert std == pytest.approx(0.0, abs=1e-12)
    assert kid(x, y, subsets=3)[0] == pytest.approx(naive, rel=1e-5)


def test_kid_of_two_draws_of_one_distribution_averages_zero() -> None:
    x, y = _features(1200, 16, 10), _features(1200, 16, 11)
    same, std = kid(x, y, subsets=20, subset_size=300)
    different, _ = kid(x, _features(1200, 16, 12, shift=0.3), subsets=20, subset_size=300)
    assert abs(same) < 3 * std / math.sqrt(20)
    assert different > 10 * (abs(same) + std / math.sqrt(20))


def test_kid_blank_is_the_real_sets_mean_kernel_less_one() -> None:
    """Features all 0 have k(0, .) = 1, so their unbiased MMD^2 is E_{i != j} k(x_i, x_j) - 1,
    here from numpy on the whole set (subsets of min(1000, n) = n images)."""
    x = _features(60, 5, 15, shift=0.4).abs()
    a = x.numpy()
    gram = (a @ a.T / a.shape[1] + 1) ** 3
    expected = (gram.sum() - np.trace(gram)) / (len(a) * (len(a) - 1)) - 1
    assert kid_blank(x, subsets=2) == pytest.approx(expected, rel=1e-6)  # float32 kernel


def test_kid_saturates_below_kid_blank_for_samples_that_miss_the_strong_features() -> None:
    """Heavy-tailed real features (a few very strong activations): samples that keep 2% or
    20% of their scale both land near kid_blank, though they differ tenfold, while FID tells
    them apart by a large factor; the documented reason KID cannot rank such models."""
    gen = torch.Generator().manual_seed(16)
    real = torch.distributions.Exponential(1.0).sample((1500, 32)) ** 2
    weak = [real[torch.randperm(1500, generator=gen)] * f for f in (0.02, 0.2)]
    blank = kid_blank(real, subsets=10, subset_size=500)
    kids = [kid(real, w, subsets=10, subset_size=500)[0] for w in weak]
    assert all(0.9 * blank < k < blank for k in kids)
    fids = [fid(real, w) for w in weak]
    assert fids[0] > 1.2 * fids[1]


def test_kid_is_seeded() -> None:
    x, y = _features(400, 8, 13), _features(400, 8, 14)
    assert kid(x, y, subsets=5, subset_size=200, seed=3) == kid(x, y, subsets=5,
                                                                subset_size=200, seed=3)
    assert kid(x, y, subsets=5, subset_size=200, seed=3) != kid(x, y, subsets=5,
                                                                subset_size=200, seed=4)


def _naive_is(p: np.ndarray, splits: int) -> float:
    """Salimans et al.'s reference code (numpy), one split at a time."""
    n = len(p)
    scores = []
    for i in range(splits):
        part = p[i * n // splits : (i + 1) * n // splits]
        py = part.mean(0)
        scores.append(np.exp(np.mean([np.sum(q * (np.log(q) - np.log(py))) for q in part])))
    return float(np.mean(scores))


def test_inception_score_extremes_and_reference() -> None:
    confident = torch.eye(10).repeat(10, 1) * 0.999 + 0.0001
    assert inception_score(confident, splits=1)[0] == pytest.approx(10, rel=0.02)
    assert inception_score(torch.full((100, 10), 0.1))[0] == pytest.approx(1.0)
    probs = torch.softmax(torch.randn(1003, 10, generator=torch.Generator().manual_seed(0)) * 3, 1)
    assert inception_score(probs)[0] == pytest.approx(_naive_is(probs.double().numpy(), 10))


def test_fid_bootstrap_sd_is_the_sd_of_scipy_fids_of_the_same_resamples() -> None:
    fake, real = _features(300, 6, 1, shift=0.3), _features(400, 6, 2)
    gen = torch.Generator().manual_seed(5)
    picks = [torch.randint(300, (300,), generator=gen) for _ in range(8)]
    ref = np.std([_scipy_fid(fake[p].numpy(), real.numpy()) for p in picks], ddof=1)
    assert fid_bootstrap_sd(fake, feature_stats(real), resamples=8, seed=5) == pytest.approx(
        ref, rel=1e-6)
    many = fid_bootstrap_sd(_features(3000, 6, 1, shift=0.3), feature_stats(real), seed=5)
    assert many < fid_bootstrap_sd(fake, feature_stats(real), seed=5)  # shrinks with n
