"""Datasets found by name in the data directories: ``folder:NAME`` relative to them, ``cifar10``
as its archive or its image copy, and the image folders ``genlab datasets`` lists."""

from pathlib import Path

import numpy as np
import pytest
import torch
from datafiles import CIFAR_NAMES, cifar_members, write_cifar, write_image, write_mnist

from genlab.data import DataError, dataset_path, dataset_status, load_dataset, probe_dataset
from genlab.data.folder import probe_folder


def _tree(root: Path, classes: list[str], per_class: int = 2, side: int = 32,
          splits: tuple[str, ...] = ("train", "test")) -> Path:
    """``root/split/class/i.png`` (lossless), pixel (0,0) of image i of class c = 10c + i."""
    for split in splits:
        for c, name in enumerate(classes):
            for i in range(per_class):
                image = np.full((side, side, 3), 7 * c, np.uint8)
                image[0, 0] = 10 * c + i
                write_image(root / split / name / f"{i}.png", image)
    return root


def test_a_relative_folder_is_the_cwd_s_first_then_the_data_dir_s(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    data, cwd = tmp_path / "data", tmp_path / "cwd"
    _tree(data / "pics", ["a", "b"], per_class=3)
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    ds = load_dataset("folder:pics", data_dir=data, val_size=0)
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 6, "test": 6}
    monkeypatch.setenv("GENLAB_DATA", str(data))  # the same through $GENLAB_DATA
    assert dataset_path("folder:pics") == data / "pics"
    _tree(cwd / "pics", ["a", "b"], per_class=1)  # one beside the cwd wins, as typed
    assert len(load_dataset("folder:pics", val_size=0).split("train")) == 2
    assert dataset_path("folder:pics", data_dir=data) == Path("pics")


def test_a_folder_found_nowhere_names_every_place_looked(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path / "env"))
    with pytest.raises(DataError) as info:
        load_dataset("folder:cifar10-jpg", data_dir=tmp_path / "given")
    message = str(info.value)
    assert message.startswith("folder:cifar10-jpg: no directory 'cifar10-jpg' in the current "
                              f"directory ({tmp_path})")
    for base in (tmp_path / "given", tmp_path / "env", Path.home() / ".cache/genlab"):
        assert str(base / "cifar10-jpg") in message
    assert "--data-dir" in message and "GENLAB_DATA" in message


def test_cifar10_is_its_image_copy_where_there_is_no_archive(tmp_path: Path) -> None:
    _tree(tmp_path / "cifar10-jpg", CIFAR_NAMES)
    named = load_dataset("cifar10", data_dir=tmp_path, val_size=4)
    folder = load_dataset(f"folder:{tmp_path / 'cifar10-jpg'}", val_size=4)
    assert named.class_names == CIFAR_NAMES and named.shape == (3, 32, 32)
    for split in ("train", "val", "test"):
        assert torch.equal(named.split(split).images, folder.split(split).images)
        assert torch.equal(named.split(split).labels, folder.split(split).labels)
    assert torch.equal(named.split("test").images[:, 0, 0, 0] // 10, named.split("test").labels)
    with pytest.raises(DataError, match=r"val_size 5000 leaves no training images \(train has 20"):
        probe_dataset("cifar10", tmp_path)  # sized as loaded: the default 5,000 val images


def test_the_archive_wins_in_its_directory_an_earlier_directory_wins_over_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _tree(first / "cifar10-jpg", CIFAR_NAMES)
    write_cifar(first / "cifar10", cifar_members(n=3), as_tar=False)
    assert len(load_dataset("cifar10", data_dir=first, val_size=0).split("train")) == 15
    _tree(second / "cifar10-jpg", CIFAR_NAMES)
    monkeypatch.setenv("GENLAB_DATA", str(first))
    assert dataset_path("cifar10", data_dir=second) == second / "cifar10-jpg"
    assert len(load_dataset("cifar10", data_dir=second, val_size=0).split("train")) == 20


def test_an_image_copy_with_other_classes_or_sizes_is_refused(tmp_path: Path) -> None:
    _tree(tmp_path / "a" / "cifar10-jpg", ["cat", "dog"])
    with pytest.raises(DataError, match=r"cifar10-jpg: classes cat, dog; a CIFAR-10 copy has "
                                        r"the ten folders airplane, automobile"):
        load_dataset("cifar10", data_dir=tmp_path / "a")
    _tree(tmp_path / "b" / "cifar10-jpg", CIFAR_NAMES, per_class=1, side=8)
    with pytest.raises(DataError, match="of 3x8x8 images; a CIFAR-10 copy has train and test"):
        probe_dataset("cifar10", tmp_path / "b")


def test_probe_folder_agrees_with_loading(tmp_path: Path) -> None:
    _tree(tmp_path / "rgb", ["x", "y", "z"], per_class=2, side=12, splits=("train", "val"))
    write_image(tmp_path / "grey" / "0.png", np.zeros((5, 9), np.uint8))
    for name in ("rgb", "grey"):
        sizes, shape, classes = probe_folder(tmp_path / name)
        ds = load_dataset(f"folder:{tmp_path / name}", val_size=0)
        assert sizes == {k: len(v) for k, v in ds.splits.items()}
        assert shape == ds.shape and classes == ds.class_names


def test_status_lists_the_image_folders_of_the_data_dirs(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    _tree(first / "cifar10-jpg", CIFAR_NAMES, per_class=1)
    _tree(first / "faces", ["f", "g"], per_class=5, splits=("train",))
    _tree(second / "faces", ["f"], per_class=1)  # behind the first one: not what loads
    write_image(second / "mixed" / "loose.png", np.zeros((4, 4), np.uint8))
    write_image(second / "mixed" / "sub" / "a.png", np.zeros((4, 4), np.uint8))
    (second / "notes").mkdir()
    (second / "notes" / "readme.txt").write_text("no images here")
    write_mnist(second / "mnist", n_train=12, n_test=3)
    monkeypatch.setenv("GENLAB_DATA", str(second))
    rows = {row["name"]: row for row in dataset_status(first)}
    assert [n for n in rows if n.startswith("folder:")] == [
        "folder:cifar10-jpg", "folder:faces", "folder:mixed"]
    assert rows["cifar10"]["path"] == str(first / "cifar10-jpg")
    assert "val_size 5000 leaves no training images" in rows["cifar10"]["error"]
    assert rows["folder:faces"] == {
        "name": "folder:faces", "found": True, "path": str(first / "faces"),
        "splits": {"train": 9, "val": 1}, "shape": (3, 32, 32), "error": None}
    assert "mixes image files and sub-folders" in rows["folder:mixed"]["error"]
    assert rows["mnist"]["path"] == str(second / "mnist")
