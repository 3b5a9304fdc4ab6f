"""The study page's first screen in a real browser: Debian's chromium, headless, through
Selenium and Debian's chromedriver (``make browser``); skipped, with the reason, without them.

In a 1400 x 1000 window every model's samples, the quality figure and the curves must be
loaded and inside the first screen, at one size, with no console error. The screenshot is kept
in ``test-artifacts/study.png``; ``GENLAB_SCREENSHOT=docs/study.png`` with
``GENLAB_STUDY_PAGE=DIR/report.html`` shoots a real study's page for the README.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from reportdata import part
from test_overview import history

from chromium import ARTIFACTS, chromium, needs_chromium
from genlab.data import load_dataset
from genlab.figures.images import save_image_grid
from genlab.report.html import render_report

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--disable-dev-shm-usage", "--window-size=1400,1000", "--hide-scrollbars"]
MODELS = {"mean": 80.0, "pca": 60.0, "ae": 30.0, "vae": 25.0, "cvae": 20.0, "dcgan": 8.0}

pytestmark = [
    pytest.mark.slow,
    needs_chromium,
]


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    yield from chromium(FLAGS)


def six_models(tmp_path: Path) -> Path:
    """A page of six models over two seeds, with real digits as their 'samples'."""
    digits = load_dataset("mnist-mini").split("test").images.float() / 255
    scale = "discrete pixels, binarisation dynamic"
    parts = []
    for i, (label, fid) in enumerate(MODELS.items()):
        for seed in (0, 1):
            p = part(tmp_path, label, {"fid": fid + seed, "nll_nats": 70 + fid + 2 * seed,
                                       "precision": 0.9 - fid / 100, "recall": 0.3 + i / 10},
                     scale, seed=seed)
            save_image_grid(digits[100 * i:100 * i + 100], p.folder / "samples.png", scale=1)
            p.section.run_dir = history(tmp_path / "runs" / f"{label}{seed}", "val/neg_elbo",
                                        [150 + fid, 110 + fid, 100 + fid])
            parts.append(p)
    page = tmp_path / "report.html"
    page.write_text(render_report("six models", parts))
    return page


FIRST_SCREEN = """
const inside = el => { const r = el.getBoundingClientRect();
  return r.top >= 0 && r.bottom <= window.innerHeight && r.right <= window.innerWidth; };
const tiles = [...document.querySelectorAll('#glance img')];
const plots = [...document.querySelectorAll('.plots img')];
return {tiles: tiles.length, plots: plots.length,
        loaded: [...tiles, ...plots].every(i => i.complete && i.naturalWidth > 0),
        inside: [...tiles, ...plots].every(inside),
        sizes: [...new Set(tiles.map(i => i.getBoundingClientRect().width))]};
"""


def test_the_first_screen_shows_every_models_samples_and_the_figures(
        browser: object, tmp_path: Path) -> None:
    d = browser
    page = Path(os.environ.get("GENLAB_STUDY_PAGE") or six_models(tmp_path))
    d.get(page.resolve().as_uri())
    seen = d.execute_script(FIRST_SCREEN)
    if not os.environ.get("GENLAB_STUDY_PAGE"):
        assert seen["tiles"] == len(MODELS) and seen["plots"] == 2  # quality, −ELBO curves
    assert seen["loaded"] and seen["inside"], seen
    assert len(seen["sizes"]) == 1 and seen["sizes"][0] >= 140  # one size for all
    errors = [e for e in d.get_log("browser") if e["level"] == "SEVERE"]
    assert not errors, errors
    ARTIFACTS.mkdir(exist_ok=True)
    shot = ARTIFACTS / "study.png"
    assert d.save_screenshot(str(shot)) and shot.stat().st_size > 10_000
    if os.environ.get("GENLAB_SCREENSHOT"):
        shutil.copy(shot, os.environ["GENLAB_SCREENSHOT"])
