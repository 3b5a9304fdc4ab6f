"""Learning curves: train against validation for every logged term (Kingma & Welling 2014, fig. 2
style: one panel per term, epochs on the x axis, each axis in the term's units)."""

from __future__ import annotations

import importlib
import math
import sys
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genlab.figures.images import TITLE_SIZE, wrap
from genlab.io import atomic_write

if TYPE_CHECKING:
    from matplotlib.figure import Figure

NATS = "nats per image"
UNITS = {
    "kl": NATS, "nll": NATS, "neg_elbo": NATS, "neg_iw_bound": NATS, "bce": NATS,
    "feature_nll": NATS, "mse": "squared error per image", "d_real": "mean critic output",
    "d_fake": "mean critic output",
}
"""y-axis label per logged term; any other term is a batch mean per image."""
PANELS_PER_ROW = 4


def import_in_background() -> None:
    """Import matplotlib's figure and PNG modules in a daemon thread, so that the curves drawn
    when a run ends do not wait for them (0.3 s, 3% of a 3-epoch MNIST MLP run). torch releases
    the GIL inside its kernels, so the import runs beside training. Only imports: the drawing
    itself stays in the caller's thread, since matplotlib is not thread-safe."""
    if "matplotlib.backends.backend_agg" not in sys.modules:
        threading.Thread(target=_import_figure_modules, name="genlab-import-matplotlib",
                         daemon=True).start()


def _import_figure_modules() -> None:
    try:
        for name in ("matplotlib.figure", "matplotlib.ticker", "matplotlib.backends.backend_agg"):
            importlib.import_module(name)
    except Exception:  # the drawing imports them again and reports the error there
        return


def _series(history: list[dict[str, Any]], term: str) -> dict[str, list[tuple[int, float]]]:
    return {
        split: [(r["epoch"], r[f"{split}/{term}"]) for r in history if f"{split}/{term}" in r]
        for split in ("train", "val")
    }


def panels(history: list[dict[str, Any]]) -> dict[str, str]:
    """Terms to draw -> panel title. A term whose curves equal another's exactly (``loss`` and
    ``neg_elbo`` for a VAE with beta 1) is drawn once, titled with both names."""
    terms = sorted(
        {k.split("/", 1)[1] for row in history for k in row if k.startswith(("train/", "val/"))},
        key=lambda t: (t != "loss", t),
    )
    drawn: dict[str, str] = {}
    for term in terms:
        twin = next((t for t in drawn if _series(history, t) == _series(history, term)), None)
        if twin is None:
            drawn[term] = term
        else:  # keep the descriptive name, e.g. "neg_elbo (= loss)"
            title = drawn.pop(twin)
            drawn[term] = f"{term} (= {title})"
    return drawn


def curves_figure(history: list[dict[str, Any]], title: str = "") -> Figure:
    """One panel per distinct term; train solid, validation dashed; integer epochs."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    drawn = panels(history)
    n = max(len(drawn), 1)
    cols = min(n, PANELS_PER_ROW)
    rows = math.ceil(n / cols)
    width = 4 * cols
    fig = Figure(figsize=(width, 3.2 * rows), dpi=100, layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax, (term, name) in zip(axes, drawn.items(), strict=False):
        for split, pts in _series(history, term).items():
            if pts:
                xs, ys = zip(*pts, strict=True)
                style = "-" if split == "train" else "--"
                ax.plot(xs, ys, style, marker="o", markersize=3, label=split)
        ax.set_xlabel("epoch")
        ax.set_ylabel(UNITS.get(term.split(".")[0], "per image (batch mean)"))
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(name)
        ax.grid(alpha=0.3)
        ax.legend()
    for ax in axes[len(drawn):]:
        ax.set_visible(False)
    what = "learning curves, train (solid) and validation (dashed)"
    fig.suptitle(wrap(f"{title}: {what}" if title else what, width, TITLE_SIZE),
                 fontsize=TITLE_SIZE)
    return fig


def plot_curves(history: list[dict[str, Any]], path: Path, title: str = "") -> Path:
    """Write :func:`curves_figure` as a PNG, atomically. Uses matplotlib's object API
    (``Figure``), so no global backend is chosen or touched."""
    with atomic_write(path) as fh:
        figure = curves_figure(history, title)
        figure.savefig(fh, format="png")  # constrained layout: already fits, no tight bbox
    return Path(path)
