"""genlab train | sample | reconstruct | models through the real entry point."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from genlab.cli.main import main

TRAIN = [
    "train",
    "cvae",
    "--net",
    "mlp",
    "--hidden",
    "32",
    "--latent-dim",
    "3",
    "--epochs",
    "1",
    "--val-size",
    "500",
    "--no-progress",
]


@pytest.fixture(scope="module")
def run(tmp_path_factory):
    out = tmp_path_factory.mktemp("cli") / "cvae"
    assert main([*TRAIN, "--out", str(out)]) == 0
    return out


def test_train_writes_a_run(run):
    assert (run / "checkpoints" / "best.safetensors").exists()
    assert "name: cvae" in (run / "config.yaml").read_text()


def test_sample_png_npz_and_folder(run, tmp_path):
    png = tmp_path / "s.png"
    assert main(["sample", str(run), "-n", "12", "--labels", "3,7", "--out", str(png)]) == 0
    assert Image.open(png).size[0] > 28
    npz = tmp_path / "s.npz"
    assert (
        main(
            ["sample", str(run), "-n", "10", "--labels", "1", "--format", "npz", "--out", str(npz)]
        )
        == 0
    )
    data = np.load(npz)
    assert data["images"].shape[0] == 10 and data["images"].dtype == np.uint8
    assert (data["labels"] == 1).all()
    folder = tmp_path / "pngs"
    assert main(["sample", str(run), "-n", "5", "--format", "folder", "--out", str(folder)]) == 0
    assert len(list(folder.glob("*.png"))) == 5


def test_reconstruct(run, tmp_path, capsys):
    out = tmp_path / "r.png"
    assert main(["reconstruct", str(run), "--split", "test", "-n", "8", "--out", str(out)]) == 0
    assert out.exists() and "error per image" in capsys.readouterr().out


def test_models_lists_every_component(capsys):
    assert main(["models"]) == 0
    text = capsys.readouterr().out
    for name in (
        "vae",
        "cvae",
        "iwae",
        "pca",
        "mean",
        "ae",
        "bernoulli",
        "categorical",
        "continuous-bernoulli",
        "mlp",
        "conv",
        "resnet",
    ):
        assert name in text


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "ae", "--beta", "2", "--out", "x"], "--beta) is not an option of ae"),
        (["train", "vae", "--set", "train.epoch=3", "--out", "x"], "unknown key train.epoch"),
        (["train", "vae", "--binarize", "maybe", "--out", "x"], "--binarize: invalid choice"),
        (["train", "vae", "--set", "data.binarize=maybe", "--out", "x"], "data.binarize='maybe'"),
        (["train", "--config", "nope.yaml"], "nope.yaml does not exist"),
        (["sample", "no/such/run", "--out", "x.png"], "no such run"),
    ],
)
def test_bad_input_exits_2_with_a_message(argv, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    try:
        code = main(argv)
    except SystemExit as exc:  # rejected by the parser
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err


def test_sample_rejects_unknown_labels(run, tmp_path, capsys):
    assert main(["sample", str(run), "--labels", "12", "--out", str(tmp_path / "x.png")]) == 2
    assert "not a class" in capsys.readouterr().err


def test_help_and_version(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0 and "genlab" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["train", "--help"])
    assert "examples:" in capsys.readouterr().out


@pytest.fixture(scope="module")
def ddpm_run(tmp_path_factory):
    """A tiny DDPM (8 x 8 images, one epoch): enough to sample and to refuse options."""
    out = tmp_path_factory.mktemp("cli") / "ddpm"
    argv = ["train", "ddpm", "--timesteps", "8", "--channels", "4,8", "--res-blocks", "1",
            "--no-attention", "--size", "8", "--val-size", "5000", "--epochs", "1",
            "--epoch-samples", "0", "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    return out


def test_sampling_options_reach_the_sampler(ddpm_run, tmp_path):
    npz = {}
    for name, extra in [("ddim", ["--steps", "4", "--eta", "0"]), ("again", ["--steps", "4"]),
                        ("ddpm", ["--sampler", "ddpm", "--steps", "8", "--guidance", "1.5"])]:
        npz[name] = tmp_path / f"{name}.npz"
        assert main(["sample", str(ddpm_run), "-n", "6", "--format", "npz", *extra,
                     "--out", str(npz[name])]) == 0
    images = {k: np.load(v)["images"] for k, v in npz.items()}
    assert len(images["ddim"]) == 6
    assert np.array_equal(images["ddim"], images["again"])  # eta = 0 is the default
    assert not np.array_equal(images["ddim"], images["ddpm"])
    png = tmp_path / "grid.png"
    assert main(["sample", str(ddpm_run), "-n", "4", "--steps", "2", "--out", str(png)]) == 0


@pytest.mark.parametrize(("extra", "message"), [
    (["--steps", "0"], "sampling option steps must be positive, got 0"),
    (["--eta", "-1"], "sampling option eta must not be negative"),
    (["--guidance", "-0.5"], "sampling option guidance must not be negative"),
])
def test_bad_sampling_options_exit_2_naming_the_option(ddpm_run, extra, message, tmp_path,
                                                        capsys):
    assert main(["sample", str(ddpm_run), *extra, "--out", str(tmp_path / "x.png")]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1


def test_a_sampling_option_the_family_lacks_exits_2(run, tmp_path, capsys):
    assert main(["sample", str(run), "--steps", "50", "--out", str(tmp_path / "x.png")]) == 2
    assert ("sampling option steps (--steps) is not one of cvae's; cvae's sampling options: "
            "none") in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_info:
        main(["sample", str(run), "--sampler", "euler", "--out", str(tmp_path / "x.png")])
    assert exit_info.value.code == 2 and "--sampler: invalid choice" in capsys.readouterr().err


def test_classes_are_typed_as_a_comma_separated_list(tmp_path):
    """``--classes 3,5`` keeps those classes of mnist-mini (their names are digits)."""
    from genlab.runs import open_run

    out = tmp_path / "mean"
    assert main(["train", "mean", "--classes", "3,5", "--out", str(out)]) == 0
    run = open_run(str(out))
    assert run.config.data.classes == ["3", "5"]
    assert set(run.dataset.split("train").labels.unique().tolist()) == {3, 5}


@pytest.fixture(scope="module")
def pixelcnn_run(tmp_path_factory):
    """A tiny unconditional PixelCNN (8 x 8 images, one epoch)."""
    out = tmp_path_factory.mktemp("cli") / "pixelcnn"
    argv = ["train", "pixelcnn", "--layers", "1", "--features", "4", "--binarize", "dynamic",
            "--size", "8", "--val-size", "5000", "--epochs", "1", "--epoch-samples", "0",
            "--no-progress", "--out", str(out)]
    assert main(argv) == 0
    return out


@pytest.mark.parametrize("which", ["tiny_vae", "pixelcnn_run"])
def test_labels_on_an_unconditional_family_exit_2(which, request, tmp_path, capsys):
    run = request.getfixturevalue(which)
    family = "vae" if which == "tiny_vae" else "pixelcnn"
    out = tmp_path / "x.png"
    assert main(["sample", str(run), "--labels", "3", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (f"genlab: error: --labels: {family} is unconditional; it samples without "
                   "labels (leave --labels out)")
    assert not out.exists()
