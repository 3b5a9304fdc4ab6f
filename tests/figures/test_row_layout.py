"""Row figures stay readable: captions never overlap, however small the images, and a row of
many images wraps into a near-square block with a bounded width."""

from __future__ import annotations

import io

import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from PIL import Image

from genlab.figures.images import MAX_DRAWN, grid_figure, rows_figure

NAMES = ["automobile", "airplane", "horse", "bird", "truck"]


def captions(n: int) -> list[str]:
    return [f"test[{1000 + i}] ({NAMES[i % 5]})" for i in range(n)]


def overlapping_captions(fig) -> int:
    """Pairs of tick-label captions on one axes whose drawn boxes intersect."""
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    pairs = 0
    for ax in fig.axes:
        boxes = [t.get_window_extent(renderer) for t in ax.get_xticklabels() if t.get_text()]
        pairs += sum(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    return pairs


def png_size(fig) -> tuple[int, int]:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", bbox_inches="tight", pad_inches=0.05)
    return Image.open(buffer).size


@pytest.mark.parametrize("side", [28, 32])
def test_column_captions_of_small_images_do_not_overlap(side):
    rows = [torch.rand(8, 3, side, side) for _ in range(3)]
    fig = rows_figure(rows, ["original", "reconstruction", "σ = 1 sd"], captions(8), "t")
    assert overlapping_captions(fig) == 0
    grid = grid_figure(torch.rand(64, 3, side, side), labels=captions(64), title="t")
    assert overlapping_captions(grid) == 0


def test_a_64_image_row_is_an_8_by_8_block():
    fig = rows_figure([torch.rand(64, 1, 28, 28) for _ in range(5)],
                      ["A", "A decoded", "B", "B decoded", "w = 0.6"], None, "blend")
    assert len(fig.axes) == 5 * 8  # each row's images on 8 lines of 8
    width, height = png_size(fig)
    assert width < 1000 < height  # was one 5,613-pixel-wide row


def test_a_longer_row_is_capped_and_says_so():
    fig = rows_figure([torch.rand(205, 1, 28, 28) for _ in range(3)],
                      ["original", "reconstruction", "σ = 1"], captions(205), "perturb")
    assert len(fig.axes) == 3 * 8 and png_size(fig)[0] < 1000  # was 16,981 pixels wide
    assert f"the first {MAX_DRAWN} of 205 images" in fig.get_suptitle()
    assert overlapping_captions(fig) == 0


def test_a_square_grid_of_rows_is_not_wrapped():
    """The manifold grid (n rows of n) is a grid already: it keeps one line per row."""
    fig = rows_figure([torch.rand(20, 1, 28, 28) for _ in range(20)])
    assert len(fig.axes) == 20
