from pathlib import Path

import numpy as np
import pytest
import torch
from datafiles import CIFAR_NAMES, write_stl10

from genlab.data import DataError, load_dataset
from genlab.data.stl10 import load_stl10


def test_column_major_layout(tmp_path: Path) -> None:
    """A pixel at (row 0, col 5) must come out there, not at (row 5, col 0)."""
    root = tmp_path / "stl10_binary"
    written = write_stl10(tmp_path, n_train=2, n_test=1, n_unlabeled=0)
    image = np.zeros((3, 96, 96), np.uint8)
    image[0, 0, 5] = 255  # R, row 0, col 5
    image[2, 40, 1] = 7  # B, row 40, col 1
    train = written["train"][0].copy()
    train[1] = image
    (root / "train_X.bin").write_bytes(train.transpose(0, 1, 3, 2).tobytes())
    splits, names = load_stl10(tmp_path)
    x = splits["train"][0]
    assert x.shape == (2, 3, 96, 96) and x.dtype == torch.uint8
    assert x[1, 0, 0, 5] == 255 and x[1, 0, 5, 0] == 0
    assert x[1, 2, 40, 1] == 7 and int(x[1].sum()) == 262
    assert torch.equal(x[0], torch.from_numpy(written["train"][0][0]))
    assert names == CIFAR_NAMES
    assert "unlabeled" not in splits


def test_labels_and_unlabeled(tmp_path: Path) -> None:
    written = write_stl10(tmp_path, n_train=6, n_test=4, n_unlabeled=5)
    splits, _ = load_stl10(tmp_path)
    assert splits["train"][1].tolist() == (written["train"][1].astype(int) - 1).tolist()
    assert splits["test"][1].min() >= 0 and splits["test"][1].max() <= 9
    assert splits["unlabeled"][1].tolist() == [-1] * 5
    assert torch.equal(splits["unlabeled"][0], torch.from_numpy(written["unlabeled"][0]))


def test_load_dataset_stl10_resized_with_joined_split(tmp_path: Path) -> None:
    write_stl10(tmp_path / "stl10", n_train=6, n_test=4, n_unlabeled=5)
    ds = load_dataset("stl10", data_dir=tmp_path, size=64, val_size=2)
    sizes = {k: len(v) for k, v in ds.splits.items()}
    assert sizes == {"train": 4, "val": 2, "test": 4, "unlabeled": 5, "train+unlabeled": 9}
    assert ds.shape == (3, 64, 64)
    both = ds.split("train+unlabeled")
    assert torch.equal(both.images[:4], ds.split("train").images)
    assert torch.equal(both.labels[4:], torch.full((5,), -1))
    # train and unlabeled are views into train+unlabeled, not a second copy
    assert ds.split("train").images.data_ptr() == both.images.data_ptr()


def test_default_val_larger_than_train(tmp_path: Path) -> None:
    write_stl10(tmp_path / "stl10", n_train=6, n_test=2, n_unlabeled=0)
    with pytest.raises(DataError, match="val_size 500 leaves no training images"):
        load_dataset("stl10", data_dir=tmp_path)


def test_file_length_not_whole_images(tmp_path: Path) -> None:
    write_stl10(tmp_path, n_train=2, n_test=1, n_unlabeled=0)
    path = tmp_path / "stl10_binary" / "test_X.bin"
    path.write_bytes(path.read_bytes()[:-1])
    with pytest.raises(DataError, match=r"test_X\.bin: 27647 bytes is not a whole number"):
        load_stl10(tmp_path)


def test_label_problems(tmp_path: Path) -> None:
    write_stl10(tmp_path, n_train=3, n_test=1, n_unlabeled=0)
    labels = tmp_path / "stl10_binary" / "train_y.bin"
    labels.write_bytes(bytes([1, 2]))
    with pytest.raises(DataError, match=r"train_X\.bin has 3 images but .*train_y\.bin has 2"):
        load_stl10(tmp_path)
    labels.write_bytes(bytes([1, 11, 0]))
    with pytest.raises(DataError, match=r"train_y\.bin: label 11 out of range 1\.\.10"):
        load_stl10(tmp_path)


def test_class_names_count(tmp_path: Path) -> None:
    write_stl10(tmp_path, n_train=1, n_test=1, n_unlabeled=0)
    (tmp_path / "stl10_binary" / "class_names.txt").write_text("a\nb\n")
    with pytest.raises(DataError, match=r"class_names\.txt: expected 10 class names, found 2"):
        load_stl10(tmp_path)
