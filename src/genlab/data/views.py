"""Cheap per-batch transforms of uint8 image tensors: the dataset stays uint8, batches become
floats, binary or discrete as a model needs, so no per-epoch copy of a dataset is ever made."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from genlab.data.errors import DataError

_CHUNK_ELEMENTS = 1 << 24  # floats per chunk (64 MB) in whole-split operations


def _chunk_rows(per_row: int) -> int:
    """Images per chunk so that a float temporary of ``per_row`` values each stays ~64 MB."""
    return max(1, _CHUNK_ELEMENTS // max(1, per_row))


def to_float(images: torch.Tensor) -> torch.Tensor:
    """uint8 [0,255] -> float32 [0,1]; float input is returned as float32 (assumed in [0,1])."""
    if images.dtype == torch.uint8:
        return images.float().div_(255.0)
    if images.is_floating_point():
        return images.float()
    raise DataError(f"to_float expects uint8 or float images, got {images.dtype}")


def binarize_threshold(x: torch.Tensor, threshold: float = 0.5) -> torch.Tensor:
    """Deterministic {0,1}: 1 where x > threshold; same float dtype as ``x``."""
    return (x > threshold).to(x.dtype)


def binarize_static(images: torch.Tensor, seed: int) -> torch.Tensor:
    """One fixed Bernoulli(p = pixel/255) draw for a whole split, as uint8 {0,255}.

    The usual "statically binarised MNIST": done once, deterministic by ``seed``. Drawn in
    chunks to bound memory; the CPU generator's stream is sequential, so chunking does not
    change the result.
    """
    if images.dtype != torch.uint8:
        raise DataError(f"binarize_static expects uint8 images, got {images.dtype}")
    generator = torch.Generator().manual_seed(seed)
    out = torch.empty_like(images)
    step = _chunk_rows(images[0].numel() if len(images) else 1)
    for start in range(0, len(images), step):
        chunk = images[start : start + step]
        u = torch.rand(chunk.shape, generator=generator)
        out[start : start + step] = (u.mul_(255.0) < chunk).to(torch.uint8).mul_(255)
    return out


def binarize_dynamic(x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
    """A fresh Bernoulli(p = x) draw, {0,1} in the dtype of ``x``: call once per batch."""
    return torch.bernoulli(x, generator=generator)


def discretize(x: torch.Tensor, bins: int) -> torch.Tensor:
    """Bin indices floor(x * bins) clamped to [0, bins-1], int64, for categorical likelihoods."""
    if bins < 2:
        raise DataError(f"discretize needs at least 2 bins, got {bins}")
    return torch.floor(x * bins).clamp_(0, bins - 1).long()


def resize_images(images: torch.Tensor, size: int | tuple[int, int]) -> torch.Tensor:
    """Resize (N,C,H,W) to ``size`` (int: square), same dtype; bilinear, antialiased when
    shrinking; uint8 results are rounded. Works in chunks to bound the float temporaries.
    Returns ``images`` itself when it already has that size."""
    h, w = (size, size) if isinstance(size, int) else size
    if h < 1 or w < 1:
        raise DataError(f"resize size must be positive, got {size}")
    if images.ndim != 4:
        raise DataError(f"resize_images expects (N,C,H,W), got shape {tuple(images.shape)}")
    n, c, h0, w0 = images.shape
    if (h0, w0) == (h, w):
        return images
    out = torch.empty((n, c, h, w), dtype=images.dtype, device=images.device)
    shrink = h < h0 or w < w0
    step = _chunk_rows(c * max(h * w, h0 * w0))
    for start in range(0, n, step):
        chunk = images[start : start + step].float()
        resized = F.interpolate(
            chunk, size=(h, w), mode="bilinear", align_corners=False, antialias=shrink
        )
        if images.dtype == torch.uint8:
            resized = resized.round_().clamp_(0, 255)
        out[start : start + step] = resized.to(images.dtype)
    return out
