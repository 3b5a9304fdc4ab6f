"""Observation masks for image completion: 1 = observed pixel, 0 = hidden (to be completed).

Masks are (1 or N, 1, H, W) float tensors: one channel, shared by all colour channels, and
either one mask for every image or one per image (``random``).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from genlab.errors import ConfigError

MASKS = {
    "left": "the left half is observed",
    "right": "the right half is observed",
    "top": "the top half is observed",
    "bottom": "the bottom half is observed",
    "centre": "a centred box (side --box of the image) is hidden",
    "random": "each pixel is hidden with probability --rate, independently per image",
}


def make_mask(
    kind: str,
    n: int,
    height: int,
    width: int,
    rate: float = 0.5,
    box: float = 0.5,
    generator: torch.Generator | None = None,
) -> Tensor:
    """A mask of one of the ``MASKS`` kinds, (1, 1, H, W), or (n, 1, H, W) for ``random``."""
    if kind not in MASKS:
        raise ConfigError(f"unknown mask {kind!r}; choose one of {', '.join(MASKS)}")
    if kind == "random":
        if not 0 <= rate < 1:
            raise ConfigError(f"--rate (the hidden fraction) must be in [0, 1), got {rate}")
        return (torch.rand(n, 1, height, width, generator=generator) >= rate).float()
    rows = torch.arange(height).view(-1, 1).float() + 0.5
    cols = torch.arange(width).view(1, -1).float() + 0.5
    if kind == "centre":
        if not 0 < box < 1:
            raise ConfigError(f"--box (the hidden box's side) must be in (0, 1), got {box}")
        inside = ((rows - height / 2).abs() < box * height / 2) & (
            (cols - width / 2).abs() < box * width / 2
        )
        observed = ~inside
    else:
        observed = {
            "left": cols < width / 2,
            "right": cols > width / 2,
            "top": rows < height / 2,
            "bottom": rows > height / 2,
        }[kind].expand(height, width)
    return observed.float().view(1, 1, height, width)


def load_mask(path: str | Path, height: int, width: int) -> Tensor:
    """A mask image (white = observed, black = hidden), exactly H x W, as (1, 1, H, W)."""
    try:
        with Image.open(path) as img:
            grey = np.asarray(img.convert("L"))
    except (FileNotFoundError, UnidentifiedImageError) as exc:
        raise ConfigError(f"cannot read mask image {path}: {exc}") from None
    if grey.shape != (height, width):
        raise ConfigError(
            f"mask image {path} is {grey.shape[1]}x{grey.shape[0]} pixels; the model's images "
            f"are {width}x{height}"
        )
    return torch.from_numpy(grey > 127).float().view(1, 1, height, width)


def check_mask(mask: Tensor, x: Tensor) -> Tensor:
    """The mask as a 0/1 float tensor that broadcasts against images x (N, C, H, W)."""
    n, c, h, w = x.shape
    ok = mask.dim() == 4 and mask.shape[0] in (1, n) and mask.shape[1] in (1, c)
    if not ok or tuple(mask.shape[2:]) != (h, w):
        raise ConfigError(
            f"a mask of shape {tuple(mask.shape)} does not fit images of shape {tuple(x.shape)}; "
            f"expected (1 or {n}, 1 or {c}, {h}, {w})"
        )
    return (mask != 0).to(x)
