"""Image grids, row figures and image writers shared by every command that outputs images.

Images are (N,C,H,W) tensors, C in {1,3}, either uint8 or float in [0,1]. Every file is written
atomically (temp file + ``os.replace``), so an interrupted command never leaves a broken image.
Figures use matplotlib's object API (``Figure``), never pyplot, so no global backend is touched.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from genlab.io import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

PAD_VALUE = 255  # white separators read well on both MNIST digits and natural images
CELL_PIXELS = 96  # plain grids are upscaled by an integer factor towards this cell size
DPI = 100
TITLE_SIZE = 10
CHAR_WIDTH = 0.66
"""Widest average character advance of matplotlib's default font, in ems (digits: 0.64)."""
COLUMN_INCHES = 0.9  # each image column of a row figure, whatever the image's pixel size
CAPTION_SIZE = 8
MAX_COLUMNS = 16
"""A row of more images than this (and than the figure has rows) wraps into a near-square
block of rows: 64 images are an 8 x 8 batch, not one 5,600-pixel row."""
MAX_DRAWN = 64
"""Images of one row drawn at most when it wraps; the title says how many were left out."""


def to_uint8(images: torch.Tensor) -> torch.Tensor:
    """(N,C,H,W) uint8 on the CPU; floats are clamped to [0,1] and rounded."""
    if images.ndim != 4 or images.shape[1] not in (1, 3):
        raise ValueError(f"expected images (N,C,H,W) with C in {{1,3}}, got {tuple(images.shape)}")
    if len(images) == 0:
        raise ValueError("no images to write")
    images = images.detach().cpu()
    if images.dtype == torch.uint8:
        return images
    if not images.is_floating_point():
        raise ValueError(f"expected uint8 or float images, got {images.dtype}")
    return images.float().clamp(0, 1).mul(255).round().to(torch.uint8)


def make_grid(
    images: torch.Tensor, nrow: int | None = None, pad: int = 2, pad_value: int = PAD_VALUE
) -> np.ndarray:
    """Tile images into one (H, W, C) uint8 array, ``nrow`` images per row (default: square).

    Unused cells of the last row are filled with ``pad_value``.
    """
    x = to_uint8(images)
    n, c, h, w = x.shape
    cols = nrow or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    cells = torch.full((rows * cols, c, h + pad, w + pad), pad_value, dtype=torch.uint8)
    cells[:n, :, :h, :w] = x
    grid = cells.view(rows, cols, c, h + pad, w + pad).permute(2, 0, 3, 1, 4)
    grid = grid.reshape(c, rows * (h + pad), cols * (w + pad))
    grid = F.pad(grid, (pad, 0, pad, 0), value=pad_value)  # the top and left border
    return grid.permute(1, 2, 0).contiguous().numpy()


def wrap(text: str, width: float, fontsize: float) -> str:
    """``text`` broken into lines that fit ``width`` inches at ``fontsize`` points (a long
    path too), so that no title runs off the canvas."""
    chars = max(10, int(width * 72 / (fontsize * CHAR_WIDTH)))
    return "\n".join(textwrap.wrap(text, chars, break_on_hyphens=False)) or text


def _pil(array: np.ndarray) -> Image.Image:
    return Image.fromarray(array[:, :, 0] if array.shape[2] == 1 else array)


def _save_pil(image: Image.Image, path: Path) -> Path:
    with atomic_write(path) as fh:
        image.save(fh, format="PNG")
    return path


def _rows_figure(
    rows: list[torch.Tensor],
    *,
    cols: int,
    pad: int,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    cell_labels: list[Sequence[str]] | None = None,
    title: str | None = None,
) -> Figure:
    """One axes per row of images (fast even for hundreds of images); captions are tick labels,
    the title is wrapped to the figure's width."""
    from matplotlib.figure import Figure

    grids = [make_grid(row, nrow=cols, pad=pad) for row in rows]
    aspect = max(g.shape[0] / g.shape[1] for g in grids)
    images_width = max(2.0, COLUMN_INCHES * cols)
    width = images_width + _label_inches(row_labels)
    col_labels = _fitted(col_labels, images_width / cols, CAPTION_SIZE)
    cell_labels = [_fitted(c, images_width / cols, CAPTION_SIZE - 1) for c in cell_labels or []]
    title = wrap(title, width, TITLE_SIZE) if title else None
    caption = 0.25 if cell_labels else 0.0
    lines = 1 + max((c.count("\n") for cs in [col_labels, *cell_labels] for c in cs), default=0)
    caption *= lines
    height = len(rows) * (images_width * aspect + caption)
    height += 0.2 + 0.2 * lines if title or col_labels else 0.0
    height += 0.2 * (title or "").count("\n")
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained")
    axes = fig.subplots(len(rows), 1, squeeze=False)[:, 0]
    for i, (ax, grid, row) in enumerate(zip(axes, grids, rows, strict=True)):
        w = row.shape[3]
        grey = grid.shape[2] == 1
        ax.imshow(
            grid[:, :, 0] if grey else grid,
            cmap="gray" if grey else None,
            vmin=0,
            vmax=255,
            interpolation="nearest",
        )
        centres = [pad + j * (w + pad) + w / 2 for j in range(cols)]
        ax.set_yticks([])
        ax.tick_params(length=0)
        for spine in ax.spines.values():
            spine.set_visible(False)
        if cell_labels:
            ax.set_xticks(centres[: len(cell_labels[i])], cell_labels[i],
                          fontsize=CAPTION_SIZE - 1)
        elif i == 0 and col_labels:
            ax.set_xticks(centres[: len(col_labels)], col_labels, fontsize=CAPTION_SIZE)
            ax.xaxis.tick_top()
        else:
            ax.set_xticks([])
        if row_labels:
            ax.set_ylabel(row_labels[i], rotation=0, ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=TITLE_SIZE)
    return fig


def _fitted(labels: Sequence[str] | None, inches: float, fontsize: float) -> list[str]:
    """Captions broken into lines that fit one image column (a long word too), so that
    neighbouring captions never run into each other, whatever the images' pixel size."""
    chars = max(4, int(inches * 72 / (fontsize * CHAR_WIDTH)))
    return ["\n".join(textwrap.wrap(t, chars, break_on_hyphens=False)) or t for t in labels or []]


def _label_inches(row_labels: Sequence[str] | None) -> float:
    """Room for the row labels left of the images, so they do not squeeze the columns."""
    longest = max((len(line) for t in row_labels or [] for line in t.split("\n")), default=0)
    return longest * 9 * CHAR_WIDTH / 72 + (0.1 if longest else 0.0)


def _save_figure(fig: Figure, path: Path) -> Path:
    """Saved to the bounding box of everything drawn: a long row label widens the image
    instead of being cut off at the edge."""
    with atomic_write(path) as fh:
        fig.savefig(fh, format="png", dpi=DPI, bbox_inches="tight", pad_inches=0.05)
    return path


def save_image_grid(
    images: torch.Tensor,
    path: str | Path,
    nrow: int | None = None,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    pad: int = 2,
    scale: int | None = None,
) -> Path:
    """Write a PNG grid, ``nrow`` images per row; returns the path.

    Without labels or title it is a pixel-exact Pillow image upscaled by the integer ``scale``
    (default: towards 96-pixel cells, so small images are visible); with them, a matplotlib
    figure with one caption per image and the title on top.
    """
    path = Path(path)
    x = to_uint8(images)
    if labels is not None and len(labels) != len(x):
        raise ValueError(f"{len(labels)} labels for {len(x)} images")
    if labels is None and title is None:
        factor = scale or max(1, CELL_PIXELS // max(x.shape[2:]))
        grid = make_grid(x, nrow=nrow, pad=pad)
        return _save_pil(_pil(grid.repeat(factor, axis=0).repeat(factor, axis=1)), path)
    return _save_figure(grid_figure(x, nrow, labels, title, pad), path)


def grid_figure(
    images: torch.Tensor,
    nrow: int | None = None,
    labels: Sequence[str] | None = None,
    title: str | None = None,
    pad: int = 2,
) -> Figure:
    """The matplotlib grid of :func:`save_image_grid`: one caption per image, a title."""
    x = to_uint8(images)
    cols = nrow or math.ceil(math.sqrt(len(x)))
    rows = list(x.split(cols))
    captions = [labels[i : i + cols] for i in range(0, len(x), cols)] if labels else None
    return _rows_figure(rows, cols=cols, pad=pad, cell_labels=captions, title=title)


def save_rows_figure(
    rows: list[torch.Tensor],
    path: str | Path,
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    title: str | None = None,
    pad: int = 2,
) -> Path:
    """Write :func:`rows_figure` as a PNG."""
    return _save_figure(rows_figure(rows, row_labels, col_labels, title, pad), Path(path))


def rows_figure(
    rows: list[torch.Tensor],
    row_labels: Sequence[str] | None = None,
    col_labels: Sequence[str] | None = None,
    title: str | None = None,
    pad: int = 2,
) -> Figure:
    """A figure with one row per tensor of images, e.g. "original | reconstruction" or one
    interpolation per row. Rows may differ in length and image size; labels are optional."""
    if not rows:
        raise ValueError("no rows to draw")
    if row_labels is not None and len(row_labels) != len(rows):
        raise ValueError(f"{len(row_labels)} row labels for {len(rows)} rows")
    cols = max(len(r) for r in rows)
    if cols > MAX_COLUMNS and cols > len(rows):
        return _wrapped_figure([to_uint8(r) for r in rows], row_labels, col_labels, title, pad)
    return _rows_figure([to_uint8(r) for r in rows], cols=cols, pad=pad, row_labels=row_labels,
                        col_labels=col_labels, title=title)


def _wrapped_figure(
    rows: list[torch.Tensor],
    row_labels: Sequence[str] | None,
    col_labels: Sequence[str] | None,
    title: str | None,
    pad: int,
) -> Figure:
    """Rows too long for one line, each drawn as a near-square block (at most ``MAX_DRAWN``
    images, the title says so): its label on its first line, the column captions under the
    first row's lines, so every caption still sits under its image."""
    longest = max(len(r) for r in rows)
    n = min(longest, MAX_DRAWN)
    if n < longest:
        title = f"{title or ''} (the first {n} of {longest} images of each row drawn)".strip()
    cols = math.ceil(math.sqrt(n))
    lines, labels, captions = [], [], []
    for i, row in enumerate(rows):
        chunks = list(row[:n].split(cols))
        lines += chunks
        labels += [row_labels[i] if row_labels else "", *[""] * (len(chunks) - 1)]
        captions += [list(col_labels[j * cols:(j + 1) * cols]) if col_labels and i == 0 else []
                     for j in range(len(chunks))]
    return _rows_figure(lines, cols=cols, pad=pad, row_labels=labels if row_labels else None,
                        cell_labels=captions if col_labels else None, title=title)


def save_images_npz(
    images: torch.Tensor, path: str | Path, labels: torch.Tensor | None = None
) -> Path:
    """Write ``images`` as uint8 (N,C,H,W) (the layout ``genlab.data`` uses) and optionally
    ``labels`` as int64 (N,) into an uncompressed ``.npz``."""
    path = Path(path)
    arrays = {"images": to_uint8(images).numpy()}
    if labels is not None:
        if len(labels) != len(images):
            raise ValueError(f"{len(labels)} labels for {len(images)} images")
        arrays["labels"] = labels.detach().cpu().to(torch.int64).numpy()
    with atomic_write(path) as fh:
        np.savez(fh, **arrays)
    return path


def save_images_folder(images: torch.Tensor, directory: str | Path) -> list[Path]:
    """One PNG per image, ``00000.png``, ``00001.png``... (L or RGB); a flat folder that
    ``load_dataset("folder:DIR")`` reads back."""
    directory = Path(directory)
    x = to_uint8(images).permute(0, 2, 3, 1).numpy()
    digits = max(5, len(str(len(x) - 1)))
    return [_save_pil(_pil(a), directory / f"{i:0{digits}d}.png") for i, a in enumerate(x)]
