"""What a newcomer meets on a trained run: opening checks, titled figures, clear refusals."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import torch

import genlab
from genlab.cli.main import main
from genlab.errors import CheckpointError

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def mean_run(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("mean") / "mean"
    genlab.train({"model": {"name": "mean"}, "data": {"val_size": 500}}, out=out)
    return out


def _copy(run: str | Path, to: Path) -> Path:
    return Path(shutil.copytree(run, to))


def test_a_checkpoint_that_disagrees_with_config_yaml_is_refused(
    tiny_vae, mean_run, tmp_path, capsys
):
    mixed = _copy(tiny_vae, tmp_path / "mixed")
    shutil.copy(mean_run / "checkpoints" / "best.safetensors", mixed / "checkpoints")
    with pytest.raises(CheckpointError) as info:
        genlab.load(str(mixed))
    text = str(info.value)
    assert str(mixed / "checkpoints" / "best.safetensors") in text
    assert str(mixed / "config.yaml") in text and "model.name: 'mean' vs 'vae'" in text
    out = tmp_path / "s.png"
    assert main(["sample", str(mixed), "-n", "4", "--out", str(out)]) == 2
    assert "disagrees with" in capsys.readouterr().err and not out.exists()


def test_a_config_yaml_naming_other_data_is_refused(tiny_vae, tmp_path):
    edited = _copy(tiny_vae, tmp_path / "edited")
    config = edited / "config.yaml"
    config.write_text(config.read_text().replace("dataset: mnist-mini", "dataset: mnist"))
    with pytest.raises(CheckpointError, match="data.dataset: 'mnist-mini' vs 'mnist'"):
        genlab.load(str(edited))


def test_a_checkpoint_file_alone_opens(tiny_vae, tmp_path):
    alone = Path(shutil.copy(Path(tiny_vae) / "checkpoints" / "best.safetensors", tmp_path))
    assert genlab.load(str(alone)).config.model.name == "vae"


def test_samples_are_plain_tensors_under_a_titled_grid(tiny_vae, tmp_path, monkeypatch):
    images = genlab.load(tiny_vae).sample(3)
    assert not images.requires_grad and images.grad_fn is None and images.device.type == "cpu"
    titles = []
    import genlab.figures.images as images_mod

    grid = images_mod.save_image_grid
    monkeypatch.setattr(images_mod, "save_image_grid",
                        lambda x, path, **k: titles.append(k["title"]) or grid(x, path, **k))
    assert main(["sample", tiny_vae, "-n", "4", "--draw", "--out", str(tmp_path / "s.png")]) == 0
    assert titles == ["vae on mnist-mini, epoch 1: 4 samples (pixel draws, seed 0)"]


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["sample", "RUN", "-n", "2000"], "a PNG grid shows at most 1024 images"),
        (["reconstruct", "RUN", "--split", "val", "-n", "256", "--seed", "1"], None),
        (["reconstruct", "RUN", "--split", "nope"], "no split 'nope'"),
        (["latent", "grid", "RUN", "-n", "1"], "at least 2 points per side"),
    ],
)
def test_refusals_write_nothing(tiny_vae, tmp_path, capsys, argv, message):
    out = tmp_path / "out.png"
    code = main([tiny_vae if a == "RUN" else a for a in argv] + ["--out", str(out)])
    err = capsys.readouterr().err
    if message is None:
        assert code == 0 and out.exists()
    else:
        assert code == 2 and message in err and len(err.splitlines()) == 1 and not out.exists()


def test_interpolate_between_two_chosen_images(tiny_vae, tmp_path, monkeypatch):
    import genlab.report.latent as latent_report

    shown = []
    save = latent_report.save_figure
    monkeypatch.setattr(latent_report, "save_figure",
                        lambda result, *a: shown.append(result) or save(result, *a))
    argv = ["latent", "interpolate", tiny_vae, "--index", "3", "--to", "5", "--steps", "4"]
    assert main([*argv, "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "interpolate.json").read_text())
    assert record["anchor"]["indices"] == [3] and record["others"]["indices"] == [5]
    (result,) = shown
    assert "test[3]" in result.title and len(result.rows) == 1
    assert torch.equal(result.rows[0][0], genlab.load(tiny_vae).images("test", [5])[0][0])
    assert (tmp_path / "interpolate.png").stat().st_size > 0
