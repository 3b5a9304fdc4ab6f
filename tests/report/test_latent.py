"""Figures and the CSV of latent experiment results, on synthetic results (no trained model)."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from genlab.latent.maps import Projection
from genlab.latent.results import ExperimentResult, LatentMap
from genlab.report.latent import map_csv, save_figure


def _map() -> LatentMap:
    coords = torch.tensor([[0.0, 1.0], [2.5, -1.0], [0.125, 3.0]])
    return LatentMap(Projection(coords, "raw", ("z1", "z2")), torch.tensor([1, 0, -1]),
                     [4, 9, 2], ["zero", "one"], "raw map of 3 codes (2-D)")


def test_an_experiment_is_drawn_as_rows(tmp_path: Path) -> None:
    rows = [torch.rand(3, 1, 8, 8), torch.rand(2, 1, 8, 8)]
    result = ExperimentResult(rows, ["original", "moved"], ["a", "b", "c"], "a test")
    path = save_figure(result, tmp_path / "rows.png", "vae/mnist")
    with Image.open(path) as img:
        assert img.format == "PNG" and img.size[0] > 8 and img.size[1] > 16


def test_a_map_is_drawn_as_a_scatter_and_listed_as_csv(tmp_path: Path) -> None:
    result = _map()
    path = save_figure(result, tmp_path / "map.png", "vae/mnist")
    with Image.open(path) as img:
        assert img.format == "PNG"
    assert map_csv(result).splitlines() == [
        "index,label,class,x,y", "4,1,one,0,1", "9,0,zero,2.5,-1", "2,-1,,0.125,3",
    ]
