"""Distances between image sets in a feature space: FID, KID and the Inception Score.

Plain functions on feature matrices (N, D) or class probabilities (N, C), computed in float64
with batched torch operations, so the same numbers come out on any device and the study
report, the ``genlab evaluate`` command and the benchmarks share one implementation.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

KID_SUBSETS = 100
KID_SUBSET_SIZE = 1000
"""torch-fidelity's defaults (Binkowski et al. 2018 used 100 subsets of 1,000)."""
KID_SUBSET_CHUNK = 2
"""Subsets whose (m, m) kernel matrices are formed at once: 2 x 1000^2 float32, 8 MB, which
stays in cache (10 at once, 40 MB, took 4x longer on a 2-core CPU)."""
IS_SPLITS = 10


@dataclass(frozen=True)
class GaussianStats:
    """Mean and (unbiased) covariance of a feature set: all FID needs of it."""

    mean: Tensor
    cov: Tensor
    count: int


def feature_stats(features: Tensor) -> GaussianStats:
    """Mean and covariance (divided by n - 1, as numpy.cov and pytorch-fid do), float64."""
    f = features.double()
    if f.ndim != 2 or f.shape[0] < 2:
        raise ValueError(f"feature_stats needs an (N >= 2, D) matrix, got {tuple(f.shape)}")
    mean = f.mean(0)
    centred = f - mean
    cov = centred.T @ centred / (f.shape[0] - 1)
    return GaussianStats(mean, cov, int(f.shape[0]))


def _psd_sqrt(matrix: Tensor) -> Tensor:
    """The symmetric square root of a symmetric PSD matrix (eigenvalues below 0 set to 0)."""
    values, vectors = torch.linalg.eigh((matrix + matrix.T) / 2)
    return (vectors * values.clamp_min(0).sqrt()) @ vectors.T


def trace_sqrt_product(cov1: Tensor, cov2: Tensor) -> Tensor:
    """tr sqrt(C1 C2) for covariances C1, C2.

    C1 C2 is similar to the symmetric PSD matrix sqrt(C1) C2 sqrt(C1), so both share their
    eigenvalues; two symmetric eigendecompositions replace the general (and, for the
    nearly singular covariances of small sets, unstable) ``scipy.linalg.sqrtm``.
    """
    root = _psd_sqrt(cov1.double())
    inner = root @ cov2.double() @ root
    return torch.linalg.eigvalsh((inner + inner.T) / 2).clamp_min(0).sqrt().sum()


def frechet_distance(a: GaussianStats, b: GaussianStats) -> float:
    """Fréchet distance |mu1 - mu2|^2 + tr(C1 + C2 - 2 sqrt(C1 C2)) between two Gaussians
    (Heusel et al. 2017: FID when the statistics are those of a network's features)."""
    diff = a.mean.double() - b.mean.to(a.mean).double()
    cov1, cov2 = a.cov.double(), b.cov.to(a.cov).double()
    value = diff @ diff + cov1.trace() + cov2.trace() - 2 * trace_sqrt_product(cov1, cov2)
    return float(value)


def fid(features1: Tensor, features2: Tensor) -> float:
    """FID between two feature sets (N1, D) and (N2, D)."""
    return frechet_distance(feature_stats(features1), feature_stats(features2))


FID_BOOTSTRAPS = 20


def fid_bootstrap_sd(features: Tensor, ref: GaussianStats, resamples: int = FID_BOOTSTRAPS,
                     seed: int = 0) -> float:
    """The sd of FID over bootstrap resamples of the sample features (the reference fixed):
    the evaluation noise of one run's FID from its n samples, which a study over seeds shows
    beside the spread between seeds to say which of the two dominates."""
    gen = torch.Generator().manual_seed(seed)
    n = len(features)
    values = [frechet_distance(feature_stats(
        features[torch.randint(n, (n,), generator=gen).to(features.device)]), ref)
        for _ in range(resamples)]
    return float(torch.tensor(values, dtype=torch.float64).std())


def _kernel_sums(a: Tensor, b: Tensor, skip_diagonal: bool) -> Tensor:
    """Sum over i, j of (a_i . b_j / d + 1)^3 per subset, (S,) float64; one (S, m, m) matrix
    in the inputs' dtype at a time, cubed in place. Rows are summed in that dtype (pairwise,
    m terms of one sign) and the row sums in float64, as fast as one pass and as exact as a
    float64 sum to ~1e-7 relative."""
    gram = torch.bmm(a, b.transpose(1, 2)).div_(a.shape[2]).add_(1).pow_(3)
    total = gram.sum(2).sum(1, dtype=torch.float64)
    if skip_diagonal:
        total = total - gram.diagonal(dim1=1, dim2=2).sum(1, dtype=torch.float64)
    return total


def polynomial_mmd2(x: Tensor, y: Tensor) -> Tensor:
    """Unbiased MMD^2 with the kernel k(a, b) = (a.b / d + 1)^3, batched over subsets.

    ``x`` and ``y`` are (S, m, d): S subsets of m samples each; returns (S,) float64. The
    unbiased estimator leaves out the i = j terms of k(x, x) and k(y, y) (Gretton et al. 2012).
    """
    m = x.shape[1]
    same = (_kernel_sums(x, x, True) + _kernel_sums(y, y, True)) / (m * (m - 1))
    return same - 2 * _kernel_sums(x, y, False) / (m * m)


def kid(
    features1: Tensor,
    features2: Tensor,
    subsets: int = KID_SUBSETS,
    subset_size: int = KID_SUBSET_SIZE,
    seed: int = 0,
    dtype: torch.dtype = torch.float32,
) -> tuple[float, float]:
    """Kernel Inception Distance (Binkowski et al. 2018): mean and standard deviation of the
    unbiased polynomial-kernel MMD^2 over ``subsets`` random subsets (drawn without
    replacement) of min(subset_size, n1, n2) images from each set, as torch-fidelity does.
    Unbiased, so two samples of one distribution average 0 (single values may be negative).

    The kernel matrices are formed in ``dtype``: float32 (as torch-fidelity) halves the time
    of 10,000 x 10,000 sets; the sums are float64, so the result stays within ~1e-6 relative
    of the float64 computation, which ``dtype=torch.float64`` gives."""
    f1, f2 = features1.to(dtype), features2.to(dtype)
    m = min(subset_size, len(f1), len(f2))
    if m < 2:
        raise ValueError(f"KID needs at least 2 images per set, got {len(f1)} and {len(f2)}")
    gen = torch.Generator().manual_seed(seed)
    idx1 = torch.rand(subsets, len(f1), generator=gen).argsort(1)[:, :m].to(f1.device)
    idx2 = torch.rand(subsets, len(f2), generator=gen).argsort(1)[:, :m].to(f2.device)
    values = torch.cat(
        [
            polynomial_mmd2(f1[i1], f2[i2])
            for i1, i2 in zip(idx1.split(KID_SUBSET_CHUNK), idx2.split(KID_SUBSET_CHUNK),
                              strict=True)
        ]
    )
    std = values.std() if subsets > 1 else values.new_zeros(())
    return float(values.mean()), float(std)


def kid_blank(real: Tensor, subsets: int = KID_SUBSETS, subset_size: int = KID_SUBSET_SIZE,
              seed: int = 0) -> float:
    """KID of samples whose features are all 0, E_{i != j} k(x_i, x_j) - 1 of the real set
    (k(0, .) = 1): where samples that fire none of the real images' features land. The cubic
    kernel weighs pairs by (x.x'/d + 1)^3, so with features of large scale and a heavy tail it
    is dominated by the real images' strongest activations, and models that all miss them
    crowd just below this value (CIFAR-10's cifarnet features: mean x.x'/d 0.77, 99th
    percentile 7.4; this value 13.4; class-mean images 11.5, PCA samples 11.2)."""
    return kid(real, real.new_zeros(len(real), real.shape[1]), subsets, subset_size, seed)[0]


def inception_score(probs: Tensor, splits: int = IS_SPLITS) -> tuple[float, float]:
    """Inception Score (Salimans et al. 2016): exp E_x KL(p(y|x) || p(y)), mean and standard
    deviation over ``splits`` equal parts, p(y) being each part's mean prediction. Ranges
    from 1 (every image predicted alike) to the number of classes (confident and uniform)."""
    p = probs.double()
    if p.ndim != 2 or len(p) < splits:
        raise ValueError(f"inception_score needs (N >= {splits}, C) probabilities, "
                         f"got {tuple(p.shape)}")
    scores = []
    bounds = [i * len(p) // splits for i in range(1, splits)]  # Salimans et al.'s parts
    for part in p.tensor_split(bounds):
        log_ratio = part.clamp_min(1e-30).log() - part.mean(0).clamp_min(1e-30).log()
        scores.append((part * log_ratio).sum(1).mean().exp())
    values = torch.stack(scores)
    return float(values.mean()), float(values.std(correction=0))
