"""``genlab latent ...`` through the real entry point, on tiny runs trained by ``genlab train``."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from PIL import Image

import genlab
from genlab.cli.latent_cmds import COMMANDS as LATENT_COMMANDS
from genlab.cli.main import main
from genlab.errors import ConfigError
from genlab.latent.moves import CENTROID_IMAGES
from genlab.latent.requirements import REQUIREMENTS, check
from genlab.models.registry import build_model, model_config_class
from latentspaces import GRID_SPACE, fake_families  # noqa: F401 (a fixture)

COMMON = ["--net", "mlp", "--hidden", "64", "--epochs", "1", "--val-size", "500",
          "--binarize", "dynamic", "--no-progress"]
FIT = ["--max-steps", "60", "--patience", "20"]


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """A 2-D VAE, a 3-D CVAE, an 8-component PCA and the class-mean baseline."""
    root = tmp_path_factory.mktemp("latent-cli")
    argv = {
        "vae": ["train", "vae", *COMMON, "--latent-dim", "2"],
        "cvae": ["train", "cvae", *COMMON, "--latent-dim", "3"],
        "pca": ["train", "pca", "--n-components", "8", "--val-size", "500"],
        "mean": ["train", "mean", "--val-size", "500"],
    }
    for name, args in argv.items():
        assert main([*args, "--out", str(root / name)]) == 0
    return {name: str(root / name) for name in argv}


COMMANDS = {
    "perturb": ["--index", "0,1,2", "--sigmas", "0.5,1"],
    "interpolate": ["--index", "0", "--steps", "5", "--method", "slerp"],
    "centroid": ["--class", "3", "-n", "3", "--alphas", "0,0.5,1"],
    "toward-class": ["--class", "1", "-n", "3", "--target", "7", "--noise", "0.2"],
    "blend": ["--a-class", "1", "--b-class", "7", "-n", "3", "--w", "0.6", "--flip", "1"],
    "grid": ["-n", "4"],
    "map": ["-n", "200"],
    "infer": ["-n", "3", *FIT],
    "complete": ["-n", "3", "--mask", "centre", *FIT],
}


def latent(*argv: str) -> int:
    return main(["latent", *argv])


def report(out, name: str) -> dict:
    assert (out / f"{name}.png").stat().st_size > 0
    return json.loads((out / f"{name}.json").read_text())


@pytest.mark.slow
@pytest.mark.parametrize("name", list(COMMANDS))
def test_every_command_writes_a_figure_and_its_numbers(runs, tmp_path, name):
    assert latent(name, runs["vae"], *COMMANDS[name], "--out", str(tmp_path)) == 0
    data = report(tmp_path, name)
    assert data["command"] == name and data["model"] == "vae" and data["latent_dim"] == 2
    if name == "blend":  # the shipped classifier calls each of the 3 blends 1, 7 or another
        called = data["called"]
        assert called["classifier"] == "mnistnet" and (called["source"], called["target"]) == (
            "1", "7")
        assert sum(called["counts"].values()) == called["images"] == 3


@pytest.mark.slow
def test_numbers_behind_the_figures(runs, tmp_path):
    vae = runs["vae"]
    assert latent("infer", vae, "-n", "3", *FIT, "--out", str(tmp_path)) == 0
    infer = report(tmp_path, "infer")
    assert len(infer["elbo_without_encoder"]) == len(infer["elbo_with_encoder"]) == 3
    assert latent("complete", vae, "--index", "5,6", "--mask", "left", *FIT,
                  "--out", str(tmp_path)) == 0
    done = report(tmp_path, "complete")
    assert done["selection"]["indices"] == [5, 6] and done["observed_fraction"] == [0.5, 0.5]
    assert latent("map", vae, "-n", "50", "--out", str(tmp_path)) == 0
    lines = (tmp_path / "map.csv").read_text().splitlines()
    assert lines[0] == "index,label,class,x,y" and len(lines) == 51
    assert report(tmp_path, "map")["method"] == "raw"


@pytest.mark.slow
def test_tsne_map_and_arithmetic(runs, tmp_path):
    assert latent("map", runs["vae"], "-n", "40", "--method", "tsne", "--out", str(tmp_path)) == 0
    assert report(tmp_path, "map")["method"] == "tsne"
    assert latent("blend", runs["vae"], "--a-index", "0,1", "--b-class", "7", "--c-class", "1",
                  "-n", "5", "--out", str(tmp_path)) == 0
    assert report(tmp_path, "blend")["mode"] == "arithmetic"


@pytest.mark.slow
def test_seed_makes_runs_reproducible(runs, tmp_path):
    argv = ["perturb", runs["vae"], "--index", "0,1", "--sigmas", "1"]
    numbers = []
    for seed in ("1", "1", "2"):
        assert latent(*argv, "--seed", seed, "--out", str(tmp_path)) == 0
        numbers.append(report(tmp_path, "perturb")["code_shift_norm"])
    assert numbers[0] == numbers[1] != numbers[2]


@pytest.mark.slow
def test_blend_image_files(runs, tmp_path):
    files = []
    for i in range(2):
        path = tmp_path / f"in{i}.png"
        Image.fromarray(np.full((32, 32), 40 * i, dtype=np.uint8)).save(path)  # resized to 28
        files.append(str(path))
    assert latent("blend", runs["vae"], "--a-image", *files, "--b-index", "3",
                  "--out", str(tmp_path)) == 0
    assert report(tmp_path, "blend")["a"] == {"images": files}


@pytest.mark.slow
def test_other_families(runs, tmp_path):
    pca, cvae = runs["pca"], runs["cvae"]
    assert latent("perturb", pca, "-n", "3", "--out", str(tmp_path)) == 0
    assert latent("complete", pca, "-n", "2", *FIT, "--out", str(tmp_path)) == 0
    assert latent("grid", pca, "--prior", "-n", "3", "--out", str(tmp_path)) == 0
    assert latent("interpolate", cvae, "--class", "4", "--out", str(tmp_path)) == 0
    assert latent("toward-class", cvae, "-n", "2", "--target", "9", "--centroid",
                  "--out", str(tmp_path)) == 0
    assert latent("grid", cvae, "--prior", "-n", "3", "--label", "5", "--out", str(tmp_path)) == 0


@pytest.mark.slow
def test_the_centroids_come_from_as_many_training_images_as_asked(runs, tmp_path):
    vae = runs["vae"]
    assert latent("centroid", vae, "-n", "2", "--centroid-images", "300",
                  "--out", str(tmp_path)) == 0
    assert sum(report(tmp_path, "centroid")["centroid_images_per_class"]) == 300
    assert latent("centroid", vae, "-n", "2", "--out", str(tmp_path)) == 0  # the default pool:
    assert sum(report(tmp_path, "centroid")["centroid_images_per_class"]) == 9500  # all there are
    assert latent("toward-class", vae, "-n", "2", "--target", "7", "--centroid-images", "300",
                  "--out", str(tmp_path)) == 0
    assert report(tmp_path, "toward-class")["target_name"] == "7"


def test_the_help_gives_the_default_pool_and_an_empty_pool_is_refused(capsys):
    with pytest.raises(SystemExit):
        main(["latent", "centroid", "--help"])
    assert f"default {CENTROID_IMAGES:,}" in " ".join(capsys.readouterr().out.split())
    with pytest.raises(SystemExit) as exit_:
        latent("centroid", "runs/any", "--centroid-images", "0")
    assert exit_.value.code == 2
    assert "--centroid-images: expects a positive integer, got '0'" in capsys.readouterr().err


@pytest.mark.slow
@pytest.mark.parametrize(
    ("run", "argv", "message"),
    [
        ("vae", ["perturb", "--index", "0,5000"], "index 5000 is out of range for split 'test'"),
        ("vae", ["perturb", "--index", str(10**30)], f"index {10**30} is out of range"),
        ("vae", ["centroid", "--class", "seven"], "unknown class 'seven'.*valid classes: 0, 1"),
        ("vae", ["toward-class", "--target", "eleven"], "unknown class 'eleven'"),
        ("vae", ["blend", "--a-index", "0"], "needs a selection B"),
        ("vae", ["blend", "--a-index", "0", "--b-index", "1", "--flip", "4"], "out of range"),
        ("vae", ["perturb", "--index", "0", "--class", "1"], "choose one of"),
        ("pca", ["grid"], r"the manifold grid needs a flat, continuous 2-D latent space, but "
                          r"the 'pca' model's is continuous \(8,\) \(use --prior"),
        ("mean", ["perturb"], "'mean' model has no latent space"),
        ("mean", ["centroid"], "'mean' model has no latent space"),
        ("mean", ["infer"], "'mean' model has no latent space"),
        ("mean", ["grid", "--prior"], "no latent space"),
    ],
)
def test_bad_input_is_a_clear_error(runs, tmp_path, capsys, run, argv, message):
    assert latent(argv[0], runs[run], *argv[1:], "--out", str(tmp_path)) == 2
    err = capsys.readouterr().err
    assert err.startswith("genlab: error:")
    assert re.search(message, err), err


@pytest.mark.slow
def test_a_mask_image_of_the_wrong_size_is_refused(runs, tmp_path, capsys):
    path = tmp_path / "mask.png"
    Image.fromarray(np.zeros((20, 28), dtype=np.uint8)).save(path)
    assert latent("complete", runs["vae"], "--mask-image", str(path), "--out", str(tmp_path)) == 2
    assert "28x20 pixels" in capsys.readouterr().err


def test_help_lists_every_command_with_an_example(capsys):
    with pytest.raises(SystemExit) as exit_:
        main(["latent", "--help"])
    assert exit_.value.code == 0
    text = capsys.readouterr().out
    for name in COMMANDS:
        assert f"genlab latent {name} " in text
    assert latent() == 1


@pytest.mark.slow  # trains a PixelCNN for an epoch (about 15 CPU-seconds)
def test_a_pixelcnn_completes_in_raster_order_and_refuses_code_moves(tmp_path, capsys):
    out = tmp_path / "pixelcnn"
    assert main(["train", "pixelcnn", "--layers", "2", "--features", "8", "--epochs", "1",
                 "--val-size", "500", "--binarize", "dynamic", "--no-progress",
                 "--out", str(out)]) == 0
    assert latent("complete", str(out), "-n", "2", "--mask", "top",
                  "--out", str(tmp_path / "c")) == 0
    numbers = json.loads((tmp_path / "c" / "complete.json").read_text())
    assert numbers["latent_dim"] is None and "no fit" in numbers["objective"]
    capsys.readouterr()
    assert latent("complete", str(out), "--out", str(tmp_path / "d")) == 2  # --mask left
    assert "needs every hidden pixel after every observed" in capsys.readouterr().err
    assert latent("perturb", str(out), "--out", str(tmp_path / "p")) == 2
    assert "perturb needs a latent space" in capsys.readouterr().err


@pytest.fixture(scope="module")
def grid_run(fake_families, tmp_path_factory):  # noqa: F811
    """A fitted ``PosterGrid``: a discrete 4 x 4 grid of 8 codes."""
    out = tmp_path_factory.mktemp("discrete") / "poster-grid"
    genlab.train({"model": {"name": "poster-grid"}, "data": {"val_size": 500},
                  "train": {"progress": False, "epoch_samples": 0}}, out=out)
    return str(out)


def test_every_command_declares_what_it_needs_and_a_completer_needs_no_codes():
    assert {c.name for c in LATENT_COMMANDS} <= set(REQUIREMENTS)
    config = model_config_class("pixelcnn")(name="pixelcnn", layers=2, features=8)
    pixelcnn = build_model(config, (1, 28, 28), 10)
    check(pixelcnn, "complete")  # a Completer completes in raster order, without codes
    with pytest.raises(ConfigError, match="perturb needs a latent space"):
        check(pixelcnn, "perturb")


def test_a_discrete_space_is_refused_in_one_line_by_every_continuous_command(
        grid_run, tmp_path, capsys):
    for name, argv in COMMANDS.items():
        op = "the manifold grid" if name == "grid" else name
        assert latent(name, grid_run, *argv, "--out", str(tmp_path)) == 2, name
        err = capsys.readouterr().err.strip()
        assert err.startswith(f"genlab: error: {op} needs a ") and "\n" not in err, err
        assert f"but the 'poster-grid' model's is {GRID_SPACE}" in err, err
    assert not list(tmp_path.iterdir())  # refused before any figure was drawn
    assert latent("grid", grid_run, "--prior", "-n", "3", "--out", str(tmp_path)) == 0
    numbers = report(tmp_path, "grid")
    assert numbers["latent_space"] == GRID_SPACE and numbers["latent_dim"] == 16


def test_infer_takes_seed_004s_optimiser_and_start(tiny_vae, tmp_path):
    argv = ["--index", "0,1", "--max-steps", "5", "--optimizer", "sgd", "--init", "normal",
            "--lr", "0.001", "--out", str(tmp_path)]
    assert latent("infer", tiny_vae, *argv) == 0
    data = report(tmp_path, "infer")
    assert (data["fit_optimizer"], data["fit_init"], data["fit_lr"]) == ("sgd", "normal", 0.001)
    with pytest.raises(SystemExit) as exit_:
        latent("infer", tiny_vae, "--optimizer", "lbfgs", "--out", str(tmp_path))
    assert exit_.value.code == 2


@pytest.mark.slow
def test_perturb_noise_flags_reach_the_experiment(runs, tmp_path, capsys):
    """--sigma-scale, --noise-mean and --spread-images are the API's CodeNoise; a --class that
    has fewer images than -n says how many it took."""
    assert latent("perturb", runs["vae"], "--class", "7", "-n", "5000", "--sigmas", "0,1",
                  "--sigma-scale", "relative", "--noise-mean", "0.5", "--spread-images", "300",
                  "--out", str(tmp_path)) == 0
    numbers = report(tmp_path, "perturb")
    taken = len(numbers["selection"]["indices"])
    assert taken < 5000
    assert f"has {taken} images of class '7'; took those {taken} of the 5,000 asked" in (
        capsys.readouterr().err)
    assert (numbers["noise_scale"], numbers["noise_mean"]) == ("relative", 0.5)
    assert (numbers["spread_from"], numbers["spread_codes"]) == ("training codes", 300)
    with pytest.raises(SystemExit, match="2"):
        latent("perturb", runs["vae"], "--sigma-scale", "log", "--out", str(tmp_path))
    assert "invalid choice: 'log' (choose from 'absolute', 'relative')" in capsys.readouterr().err
