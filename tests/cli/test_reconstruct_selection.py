"""``genlab reconstruct`` selects images as the latent commands do (seed 004: "the first 1,000
test images"): --index with ranges, --class, --seed, each alone; the error counts every image
selected, the figure shows the first RECON_SHOWN."""

from __future__ import annotations

import json

import pytest
import torch

import genlab
from genlab.cli import model_cmds
from genlab.cli.main import main


@pytest.fixture
def drawn(monkeypatch):
    """The rows and title each reconstruct figure was drawn with."""
    calls: list[dict] = []
    monkeypatch.setattr("genlab.figures.images.save_rows_figure",
                        lambda rows, path, **k: calls.append({"rows": rows, **k}))
    return calls


def _error(run, x: torch.Tensor) -> float:
    recon = run.reconstruct(x)
    return float((recon - x.cpu()).pow(2).flatten(1).sum(1).mean())


def test_an_index_range_scores_every_image_and_draws_the_first_shown(tiny_vae, tmp_path, drawn,
                                                                     capsys):
    assert main(["reconstruct", tiny_vae, "--index", "0-299", "--out", str(tmp_path / "r.png")]
                ) == 0
    run = genlab.load(tiny_vae)
    x = run.select("test", index=list(range(300))).x
    out = capsys.readouterr().out
    assert f"300 test images, the first {model_cmds.RECON_SHOWN} shown" in out
    assert f"error per image {_error(run, x):.3f}" in out
    (figure,) = drawn
    originals = torch.cat(figure["rows"][0::2])
    assert torch.equal(originals, x[:model_cmds.RECON_SHOWN].cpu())
    assert "300 test images, the first 256 shown" in figure["title"]


def test_an_index_list_with_ranges_keeps_its_order(tiny_vae, tmp_path, drawn, capsys):
    assert main(["reconstruct", tiny_vae, "--index", "17,3,40-45", "--out",
                 str(tmp_path / "r.png")]) == 0
    run = genlab.load(tiny_vae)
    x = run.select("test", index=[17, 3, 40, 41, 42, 43, 44, 45]).x
    assert torch.equal(torch.cat(drawn[0]["rows"][0::2]), x.cpu())
    assert "8 test images, sum-of-squares" in capsys.readouterr().out


def test_a_class_gives_its_first_n_images(tiny_vae, tmp_path, drawn):
    assert main(["reconstruct", tiny_vae, "--class", "7", "-n", "5", "--out",
                 str(tmp_path / "r.png")]) == 0
    run = genlab.load(tiny_vae)
    sevens = (run.dataset.split("test").labels == 7).nonzero().squeeze(1)[:5].tolist()
    assert torch.equal(torch.cat(drawn[0]["rows"][0::2]), run.select("test", index=sevens).x)


@pytest.mark.parametrize(("argv", "message"), [
    (["--index", "0-9", "-n", "4"], "-n counts the images of --class, --seed"),
    (["--index", "0-10000"], "--index names 10,001 images; at most 10,000 per call"),
    (["--index", "0,99999"], "index 99999 is out of range for split 'test'"),
    (["--class", "horse"], "unknown class 'horse'"),
    (["--class", "3", "--seed", "1"], "argument --seed: not allowed with argument --class"),
])
def test_selections_that_cannot_be_are_one_line(tiny_vae, tmp_path, capsys, argv, message):
    out = tmp_path / "r.png"
    try:
        code = main(["reconstruct", tiny_vae, *argv, "--out", str(out)])
    except SystemExit as exit_:  # argparse's own refusals
        code = exit_.code
    err = capsys.readouterr().err
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1, err
    assert not out.exists()


def test_the_latent_commands_take_the_same_ranges(tiny_vae, tmp_path):
    assert main(["latent", "perturb", tiny_vae, "--index", "0-2,9", "--sigmas", "0.5",
                 "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "perturb.json").read_text())
    assert record["selection"]["indices"] == [0, 1, 2, 9]
