import gzip
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
import torch
from datafiles import idx_bytes, write_idx, write_mnist

from genlab.data import DataError, load_dataset
from genlab.data.idx import (
    IMAGES_MAGIC,
    LABELS_MAGIC,
    load_idx_dir,
    load_idx_pair,
    read_idx,
    read_idx_dims,
)


@pytest.mark.parametrize("gz", [True, False])
def test_load_idx_dir_gz_and_raw(tmp_path: Path, gz: bool) -> None:
    written = write_mnist(tmp_path, n_train=12, n_test=5, gz=gz)
    splits = load_idx_dir(tmp_path)
    for split, (images, labels) in written.items():
        x, y = splits[split]
        assert x.dtype == torch.uint8 and x.shape == (len(images), 1, 28, 28)
        assert y.dtype == torch.int64
        assert torch.equal(x[:, 0], torch.from_numpy(images))
        assert torch.equal(y, torch.from_numpy(labels).long())


def test_truncated_payload_names_file(tmp_path: Path) -> None:
    images = np.zeros((4, 28, 28), np.uint8)
    path = write_idx(tmp_path / "imgs", idx_bytes(images)[:-10])
    with pytest.raises(DataError, match=r"imgs\.gz.*truncated"):
        read_idx(path, IMAGES_MAGIC)


def test_trailing_bytes_rejected(tmp_path: Path) -> None:
    path = write_idx(tmp_path / "imgs", idx_bytes(np.zeros((2, 3, 3), np.uint8)) + b"xx", gz=False)
    with pytest.raises(DataError, match="trailing"):
        read_idx(path, IMAGES_MAGIC)


def test_truncated_gzip_stream(tmp_path: Path) -> None:
    data = gzip.compress(idx_bytes(np.zeros((50, 28, 28), np.uint8)))
    path = tmp_path / "imgs.gz"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(DataError, match=r"imgs\.gz.*gzip"):
        read_idx(path, IMAGES_MAGIC)


def test_wrong_magic(tmp_path: Path) -> None:
    labels = write_idx(tmp_path / "labels", idx_bytes(np.zeros(5, np.uint8)))
    with pytest.raises(DataError, match=r"magic number 2049, expected 2051"):
        read_idx(labels, IMAGES_MAGIC)
    with pytest.raises(DataError, match="magic"):
        read_idx_dims(labels, IMAGES_MAGIC)


def test_count_mismatch_names_both_files(tmp_path: Path) -> None:
    images = write_idx(tmp_path / "imgs", idx_bytes(np.zeros((5, 28, 28), np.uint8)))
    labels = write_idx(tmp_path / "lbls", idx_bytes(np.zeros(4, np.uint8)))
    with pytest.raises(DataError, match=r"imgs\.gz has 5 images but .*lbls\.gz has 4 labels"):
        load_idx_pair(images, labels, 10)


def test_label_out_of_range(tmp_path: Path) -> None:
    images = write_idx(tmp_path / "imgs", idx_bytes(np.zeros((3, 28, 28), np.uint8)))
    labels = write_idx(tmp_path / "lbls", idx_bytes(np.array([0, 10, 2], np.uint8)))
    with pytest.raises(DataError, match=r"lbls\.gz: label 10 out of range 0\.\.9"):
        load_idx_pair(images, labels, 10)


def test_header_only_read(tmp_path: Path) -> None:
    """dataset_status sizes a file from its header even when the payload is damaged."""
    data = idx_bytes(np.zeros((7, 5, 6), np.uint8))[:-30]
    assert read_idx_dims(write_idx(tmp_path / "a", data), IMAGES_MAGIC) == (7, 5, 6)
    assert read_idx_dims(write_idx(tmp_path / "b", data, gz=False), IMAGES_MAGIC) == (7, 5, 6)
    lbl = write_idx(tmp_path / "c", idx_bytes(np.zeros(9, np.uint8)))
    assert read_idx_dims(lbl, LABELS_MAGIC) == (9,)


def test_missing_file_in_dir(tmp_path: Path) -> None:
    write_mnist(tmp_path)
    (tmp_path / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte"):
        load_idx_dir(tmp_path)


def test_mnist_mini_embedded() -> None:
    mini = resources.files("genlab.data") / "mini"
    sizes = sum(len(f.read_bytes()) for f in mini.iterdir() if f.name.endswith(".gz"))
    assert 1_000_000 < sizes < 3_000_000
    ds = load_dataset("mnist-mini")
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 9000, "val": 1000, "test": 2000}
    assert ds.shape == (1, 28, 28) and ds.class_names == [str(i) for i in range(10)]
    train = ds.split("train")
    assert train.images.dtype == torch.uint8 and train.labels.dtype == torch.int64
    assert torch.bincount(train.labels, minlength=10).min() > 700  # all digits present
    assert 0.1 < train.images.float().mean() / 255 < 0.15  # MNIST's mean intensity is 0.13
