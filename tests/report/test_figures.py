"""Every figure kind keeps all its text on the canvas and says what it shows."""

from __future__ import annotations

import pytest
import torch
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text

from genlab.figures.curves import curves_figure, panels
from genlab.figures.images import grid_figure, rows_figure
from genlab.latent.maps import Projection
from genlab.latent.results import ExperimentResult, LatentMap
from genlab.report.latent import figure

LONG_PATH = "folder:/home/someone/projects/genlab-experiments/shared/data/cifar10-jpg-resized"
SAMPLES = "vae on mnist-mini, epoch 12: 64 samples (decoder means, seed 0)"
VAE = [
    {"epoch": e, "train/loss": 200.0 / e, "train/neg_elbo": 200.0 / e, "train/kl": 9.0,
     "train/nll": 200.0 / e - 9, "val/loss": 210.0 / e, "val/neg_elbo": 210.0 / e,
     "val/kl": 9.5, "val/nll": 210.0 / e - 9.5}
    for e in (1, 2, 3)
]
GAN = [
    {"epoch": e, **{f"train/{k}": float(i + e) for i, k in enumerate(
        ["loss", "loss.generator", "loss.discriminator", "d_loss", "g_loss", "d_real",
         "d_fake", "gp"])}}
    for e in (1, 2)
]


def _outside(fig: Figure, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Texts drawn on ``fig`` (tick labels beyond the axis limits are not) that stick out of
    the canvas."""
    drawn: list[Text] = []
    draw = Text.draw

    def record(self: Text, renderer: object) -> None:
        draw(self, renderer)
        if self.get_visible() and self.get_text():
            drawn.append(self)

    monkeypatch.setattr(Text, "draw", record)
    FigureCanvasAgg(fig)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    box = fig.bbox
    out = []
    for text in drawn:
        ext = text.get_window_extent(renderer)
        if ext.x0 < box.x0 - 1 or ext.x1 > box.x1 + 1 or ext.y0 < box.y0 - 1 or ext.y1 > box.y1 + 1:
            out.append(text.get_text())
    assert drawn, "nothing was drawn"
    return out


def _images(n: int, c: int = 1, size: int = 28) -> torch.Tensor:
    return torch.rand(n, c, size, size)


def _interpolation() -> ExperimentResult:
    cols = ["x", *[f"t={t:.2g}" for t in torch.linspace(0, 1, 8).tolist()], "x' (anchor)"]
    return ExperimentResult([_images(10), _images(10)], ["test[5] (1)", "test[8] (9)"], cols,
                            "lerp from each row's image x to the anchor x' = test[3] (0)")


def _map() -> LatentMap:
    coords = torch.randn(30, 2)
    labels = torch.arange(30) % 10
    names = ["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
             "truck"]
    return LatentMap(Projection(coords, "pca", ("PC 1 (40% of variance)", "PC 2 (20%)")),
                     labels, list(range(30)), names,
                     "pca map of the posterior means of 30 test images (32-D codes)")


FIGURES = {
    "folder grid with a path title": lambda: grid_figure(
        _images(12, 3, 32), labels=["automobile"] * 12, title=f"{LONG_PATH} / test (12 of 10,000)"
    ),
    "sample grid": lambda: grid_figure(_images(64), title=SAMPLES),
    "one sample": lambda: grid_figure(_images(1), title=SAMPLES),
    "reconstruction": lambda: rows_figure(
        [_images(8), _images(8)], ["original", "reconstruction"],
        title="vae on mnist-mini, epoch 3: test images (above) and reconstructions (below), "
        "squared error 81.08 per image",
    ),
    "interpolation": lambda: figure(_interpolation(), "vae/mnist-mini"),
    "latent map": lambda: figure(_map(), "vae/cifar10"),
    "vae curves": lambda: curves_figure(VAE, "vae"),
    "gan curves": lambda: curves_figure(GAN, "gan"),
}


@pytest.mark.parametrize("kind", list(FIGURES))
def test_no_text_falls_outside_the_canvas(kind: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert _outside(FIGURES[kind](), monkeypatch) == []


def test_titles_are_wrapped_not_clipped() -> None:
    fig = FIGURES["folder grid with a path title"]()
    title = fig._suptitle.get_text()
    assert "\n" in title and title.replace("\n", "").startswith(LONG_PATH)


def test_curves_drop_a_duplicate_panel_and_label_units() -> None:
    assert panels(VAE) == {"neg_elbo": "neg_elbo (= loss)", "kl": "kl", "nll": "nll"}
    fig = curves_figure(VAE, "vae on mnist-mini")
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert len(visible) == 3
    assert {ax.get_ylabel() for ax in visible} == {"nats per image"}
    assert "vae on mnist-mini" in fig._suptitle.get_text()
    gan = [ax for ax in curves_figure(GAN).axes if ax.get_visible()]
    assert len(gan) == 8 and len({ax.get_position().y0 for ax in gan}) == 2  # two rows of 4
