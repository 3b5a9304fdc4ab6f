import argparse
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from genlab.cli import data_cmds
from genlab.data import DataError


@pytest.fixture(autouse=True)
def _isolated(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    env = tmp_path_factory.mktemp("env")
    monkeypatch.setenv("HOME", str(env / "home"))
    monkeypatch.setenv("GENLAB_CACHE", str(env / "cache"))
    monkeypatch.delenv("GENLAB_DATA", raising=False)


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="genlab")
    data_cmds.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return args.func(args)


def test_datasets_table(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["datasets", "--data-dir", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    lines = {line.split()[0]: line for line in out.splitlines() if line.strip()}
    assert "yes" in lines["mnist-mini"] and "train 9,000 / val 1,000 / test 2,000" in out
    assert "1x28x28" in lines["mnist-mini"] and "(built in)" in lines["mnist-mini"]
    assert lines["cifar10"].split()[1] == "no"
    assert str(tmp_path) in lines["searched:"]


def test_datasets_lists_the_image_folders_and_cifar10_s_copy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    names = ["airplane", "automobile", "bird", "cat", "deer",
             "dog", "frog", "horse", "ship", "truck"]  # fmt: skip
    for split in ("train", "test"):
        for name in names:
            (tmp_path / "cifar10-jpg" / split / name).mkdir(parents=True)
            Image.fromarray(np.zeros((32, 32, 3), np.uint8)).save(
                tmp_path / "cifar10-jpg" / split / name / "0.png")
    assert run(["datasets", "--data-dir", str(tmp_path)]) == 0
    lines = {line.split()[0]: line for line in capsys.readouterr().out.splitlines() if line}
    assert lines["cifar10"].split()[1] == "yes"
    assert lines["cifar10"].endswith("val_size 5000 leaves no training images (train has 10)")
    assert " ".join(lines["folder:cifar10-jpg"].split()) == (
        f"folder:cifar10-jpg yes train 9 / val 1 / test 10 3x32x32 {tmp_path / 'cifar10-jpg'}")


def test_show_data_writes_a_labelled_grid(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "grid.png"
    assert run(["show-data", "mnist-mini", "--split", "test", "-n", "12", "--out", str(out)]) == 0
    assert out.is_file() and "12 images of mnist-mini/test, 1x28x28" in capsys.readouterr().out


def test_show_data_unlabelled_folder_resized(tmp_path: Path) -> None:
    for i in range(3):
        Image.fromarray(np.full((10, 10, 3), 40 * i, np.uint8)).save(tmp_path / f"{i}.png")
    out = tmp_path / "out" / "g.png"
    argv = ["show-data", f"folder:{tmp_path}", "-n", "5", "--size", "6", "--out", str(out)]
    assert run([*argv, "--seed", "1"]) == 0 and out.is_file()


def test_errors(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="unknown dataset 'nope'"):
        run(["show-data", "nope", "--out", str(tmp_path / "x.png")])
    with pytest.raises(DataError, match="no split 'nope'; available: train, val, test"):
        run(["show-data", "mnist-mini", "--split", "nope", "--out", str(tmp_path / "x.png")])
    with pytest.raises(SystemExit):
        run(["show-data", "mnist-mini", "-n", "0", "--out", str(tmp_path / "x.png")])


def test_main_maps_data_errors_to_status_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    main = pytest.importorskip("genlab.cli.main")
    assert main.main(["show-data", "nope", "--out", str(tmp_path / "x.png")]) == 2
    assert "unknown dataset 'nope'" in capsys.readouterr().err
