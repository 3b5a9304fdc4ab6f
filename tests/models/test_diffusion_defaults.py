"""The DDPM family's defaults: configs/ddpm_mnist.yaml's recipe with widths sized from the
images, stored configs read with their own meaning, and what its sample grids are titled."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from genlab.models.families.diffusion.ddpm import DDPM, DDPMConfig, default_widths
from genlab.training.config import upgrade_stored


def test_the_defaults_are_the_mnist_recipe_sized_from_the_images() -> None:
    """v-prediction, one residual block a level, no dropout; unset widths from the images:
    16 per image channel, doubled below, halving while the side stays >= 7."""
    config = DDPMConfig(name="ddpm")
    assert (config.prediction, config.res_blocks, config.dropout, config.channels) == (
        "v", 1, 0.0, None)
    assert default_widths((1, 28, 28)) == [16, 32, 32]  # configs/ddpm_mnist.yaml
    assert default_widths((3, 32, 32)) == [48, 96, 96]
    assert default_widths((3, 64, 64)) == [48, 96, 96, 96]
    assert default_widths((1, 12, 12)) == [16]
    model = DDPM(config, (1, 28, 28), 10)
    assert model.net.conv_in.out_channels == 16 and model.net.levels == 3
    assert DDPM(DDPMConfig(name="ddpm", channels=[8, 8]), (1, 28, 28), 10).net.levels == 2


def test_a_stored_config_without_the_new_defaults_fields_keeps_the_old_meaning() -> None:
    """A run written before ``prediction`` existed predicted eps with the CIFAR-sized U-Net;
    a config written now carries every field and reads back unchanged."""
    old = upgrade_stored({"name": "ddpm", "timesteps": 1000, "attention": True})
    assert (old["prediction"], old["channels"], old["res_blocks"], old["dropout"]) == (
        "eps", [64, 128, 128], 2, 0.1)
    now = dataclasses.asdict(DDPMConfig(name="ddpm"))
    assert upgrade_stored(dict(now)) == now


def test_the_sample_grid_is_titled_with_its_sampler_not_decoder_means(
        tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    import genlab.figures.images as images_module
    from genlab.cli.main import main

    titles = []
    grid = images_module.save_image_grid
    monkeypatch.setattr(images_module, "save_image_grid",
                        lambda x, path, **k: titles.append(k["title"]) or grid(x, path, **k))
    run = str(Path(__file__).parent / "legacy_runs" / "ddpm")
    assert main(["sample", run, "-n", "2", "--steps", "3", "--out", str(tmp_path / "s.png")]) == 0
    assert titles[0].endswith("2 samples (draws, seed 0, sampler ddim, steps 3, eta 0.0, "
                              "guidance 0.0)"), titles
