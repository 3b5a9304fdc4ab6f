import os
from pathlib import Path

import pytest
import torch
from datafiles import cifar_members, write_cifar, write_idx, write_mnist, write_stl10

from genlab.data import (
    DataError,
    ImageDataset,
    Split,
    dataset_names,
    dataset_status,
    default_data_dirs,
    load_dataset,
)
from genlab.data.locate import cache_dir


def _ids(split: Split) -> list[int]:
    """Image identities: write_mnist stores the index in pixel (0,0)."""
    return split.images[:, 0, 0, 0].tolist()


def test_names_and_unknown_name() -> None:
    assert dataset_names() == ["mnist-mini", "mnist", "fashion-mnist", "cifar10", "stl10"]
    with pytest.raises(
        DataError, match=r"unknown dataset 'svhn'; valid names: mnist-mini, .*folder:PATH"
    ):
        load_dataset("svhn")


def test_val_split_deterministic_disjoint_and_complete(tmp_path: Path) -> None:
    write_mnist(tmp_path / "mnist", n_train=200, n_test=10)
    a = load_dataset("mnist", data_dir=tmp_path, val_size=50, split_seed=7)
    b = load_dataset("mnist", data_dir=tmp_path, val_size=50, split_seed=7)
    c = load_dataset("mnist", data_dir=tmp_path, val_size=50, split_seed=8)
    assert list(a.splits) == ["train", "val", "test"]
    assert (len(a.split("train")), len(a.split("val")), len(a.split("test"))) == (150, 50, 10)
    assert _ids(a.split("val")) == _ids(b.split("val")) != _ids(c.split("val"))
    train, val = _ids(a.split("train")), _ids(a.split("val"))
    assert not set(train) & set(val) and sorted(train + val) == list(range(200))
    assert train == sorted(train)  # source order kept within each part
    assert torch.equal(a.split("val").labels, torch.tensor(val) % 10)  # labels follow images


def test_default_val_sizes_and_no_val(tmp_path: Path) -> None:
    write_mnist(tmp_path / "fashion-mnist", n_train=10_050, n_test=3)
    ds = load_dataset("fashion-mnist", data_dir=tmp_path)
    assert (len(ds.split("train")), len(ds.split("val"))) == (50, 10_000)
    assert ds.class_names[0] == "T-shirt/top" and ds.num_classes == 10
    ds = load_dataset("fashion-mnist", data_dir=tmp_path, val_size=0)
    assert list(ds.splits) == ["train", "test"] and len(ds.split("train")) == 10_050
    with pytest.raises(DataError, match="val_size must be >= 0"):
        load_dataset("fashion-mnist", data_dir=tmp_path, val_size=-1)


def test_dataset_properties_and_size() -> None:
    ds = load_dataset("mnist-mini", size=14, val_size=100)
    assert isinstance(ds, ImageDataset) and ds.shape == (1, 14, 14)
    assert ds.split("val").images.dtype == torch.uint8 and len(ds.split("val")) == 100
    with pytest.raises(DataError, match="size must be positive"):
        load_dataset("mnist-mini", size=0)
    with pytest.raises(DataError, match="mode applies to folder"):
        load_dataset("mnist-mini", mode="L")


def test_missing_dataset_lists_files_and_dirs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GENLAB_DATA", str(tmp_path / "env-data"))
    with pytest.raises(DataError) as info:
        load_dataset("cifar10", data_dir=tmp_path / "explicit")
    message = str(info.value)
    assert "cifar-10-python.tar.gz" in message and "cifar-10-batches-py/" in message
    for searched in (tmp_path / "explicit", tmp_path / "env-data", Path.home() / ".cache/genlab"):
        assert str(searched / "cifar10") in message
    with pytest.raises(DataError, match=r"train-images-idx3-ubyte\[\.gz\]"):
        load_dataset("mnist")


def test_search_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GENLAB_DATA", os.pathsep.join([str(tmp_path / "a"), str(tmp_path / "b")]))
    dirs = default_data_dirs(tmp_path / "x")
    assert dirs == [tmp_path / "x", tmp_path / "a", tmp_path / "b", Path.home() / ".cache/genlab"]
    assert default_data_dirs(tmp_path / "a")[:2] == [
        tmp_path / "a",
        tmp_path / "b",
    ]  # no duplicates
    write_mnist(tmp_path / "b" / "mnist", n_train=30)
    write_mnist(tmp_path / "home-like" / "mnist", n_train=40)
    assert len(load_dataset("mnist", val_size=0).split("train")) == 30  # found via $GENLAB_DATA
    ds = load_dataset("mnist", data_dir=tmp_path / "home-like", val_size=0)
    assert len(ds.split("train")) == 40  # explicit data_dir wins
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "c"))
    assert cache_dir() == tmp_path / "c"


def test_dataset_status(tmp_path: Path) -> None:
    write_mnist(tmp_path / "mnist", n_train=30, n_test=7)
    write_cifar(tmp_path / "cifar10", cifar_members(n=1), as_tar=True)
    write_stl10(tmp_path / "stl10", n_train=600, n_test=2, n_unlabeled=3)
    write_idx(tmp_path / "fashion-mnist" / "train-images-idx3-ubyte", b"\x00\x00\x08\x01junk")
    for name in ("train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"):
        write_idx(tmp_path / "fashion-mnist" / name, b"")
    rows = {row["name"]: row for row in dataset_status(tmp_path)}
    assert list(rows) == dataset_names()
    assert rows["mnist-mini"]["found"] and rows["mnist-mini"]["splits"] == {
        "train": 9000, "val": 1000, "test": 2000,
    }  # fmt: skip
    mnist = rows["mnist"]  # found, but too small for the default 10,000 val images
    assert mnist["found"] and mnist["path"] == str(tmp_path / "mnist")
    assert "val_size 10000 leaves no training images (train has 30)" in mnist["error"]
    assert rows["cifar10"]["splits"] == {"train": 45_000, "val": 5_000, "test": 10_000}
    assert rows["cifar10"]["shape"] == (3, 32, 32)
    assert rows["stl10"]["splits"] == {
        "train": 100, "val": 500, "test": 2, "unlabeled": 3, "train+unlabeled": 103,
    }  # fmt: skip
    assert rows["fashion-mnist"]["found"] and "magic number" in rows["fashion-mnist"]["error"]
    empty = {row["name"]: row for row in dataset_status(tmp_path / "nothing")}
    assert not empty["mnist"]["found"] and empty["mnist"]["path"] is None


def test_classes_keep_their_images_of_the_same_split() -> None:
    whole = load_dataset("mnist-mini")
    kept = load_dataset("mnist-mini", classes=["4", "9"])
    assert kept.class_names == whole.class_names  # labels and names unchanged
    for name, split in whole.splits.items():
        mask = (split.labels == 4) | (split.labels == 9)
        assert torch.equal(kept.splits[name].images, split.images[mask])  # same carve
        assert torch.equal(kept.splits[name].labels, split.labels[mask])
        assert set(kept.splits[name].labels.tolist()) == {4, 9}


def test_unknown_or_no_classes_are_named() -> None:
    with pytest.raises(DataError, match=r"no class 'seven' in this dataset; its classes are 0, "):
        load_dataset("mnist-mini", classes=["4", "seven"])
    with pytest.raises(DataError, match="lists no class"):
        load_dataset("mnist-mini", classes=[])
