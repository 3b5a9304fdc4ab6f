import pickle
from pathlib import Path

import numpy as np
import pytest
import torch
from datafiles import CIFAR_NAMES, cifar_members, write_cifar

from genlab.data import DataError, load_dataset
from genlab.data.cifar import load_cifar10


def _members_with_pattern() -> dict[str, dict]:
    members = cifar_members(n=4)
    data = members["data_batch_1"][b"data"]
    data[0] = 0
    data[0, 0] = 255  # R at (0,0): rows of 32 pixels, then G and B planes
    data[0, 1024 + 1] = 200  # G at (0,1)
    data[0, 2048 + 32] = 100  # B at (1,0)
    return members


@pytest.mark.parametrize("as_tar", [False, True])
def test_load_dir_and_tar(tmp_path: Path, as_tar: bool) -> None:
    members = _members_with_pattern()
    write_cifar(tmp_path, members, as_tar=as_tar)
    splits, names = load_cifar10(tmp_path)
    assert names == CIFAR_NAMES
    x, y = splits["train"]
    assert x.shape == (20, 3, 32, 32) and x.dtype == torch.uint8 and y.dtype == torch.int64
    assert (x[0, 0, 0, 0], x[0, 1, 0, 1], x[0, 2, 1, 0]) == (255, 200, 100)
    assert int(x[0].sum()) == 255 + 200 + 100
    expected = np.concatenate([members[f"data_batch_{i}"][b"labels"] for i in range(1, 6)])
    assert torch.equal(y, torch.from_numpy(expected))
    xt, yt = splits["test"]
    assert torch.equal(xt.reshape(4, -1), torch.from_numpy(members["test_batch"][b"data"]))
    assert yt.tolist() == members["test_batch"][b"labels"]


def test_tar_and_dir_agree(tmp_path: Path) -> None:
    members = cifar_members(n=3)
    write_cifar(tmp_path / "a", members, as_tar=True)
    write_cifar(tmp_path / "b", members, as_tar=False)
    (xa, ya), (xb, yb) = (
        load_cifar10(tmp_path / "a")[0]["train"],
        load_cifar10(tmp_path / "b")[0]["train"],
    )
    assert torch.equal(xa, xb) and torch.equal(ya, yb)


def test_load_dataset_cifar10_layout(tmp_path: Path) -> None:
    write_cifar(tmp_path / "cifar10", cifar_members(n=4), as_tar=True)
    ds = load_dataset("cifar10", data_dir=tmp_path, val_size=5)
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 15, "val": 5, "test": 4}
    assert ds.shape == (3, 32, 32) and ds.num_classes == 10


def test_missing_tar_member(tmp_path: Path) -> None:
    members = cifar_members(n=2)
    del members["data_batch_3"], members["batches.meta"]
    write_cifar(tmp_path, members, as_tar=True)
    with pytest.raises(
        DataError, match=r"cifar-10-python\.tar\.gz: missing members data_batch_3, batches\.meta"
    ):
        load_cifar10(tmp_path)


def test_bad_data_shape(tmp_path: Path) -> None:
    members = cifar_members(n=2)
    members["data_batch_2"][b"data"] = np.zeros((2, 100), np.uint8)
    write_cifar(tmp_path, members, as_tar=False)
    with pytest.raises(
        DataError, match=r"data_batch_2: b'data' is uint8 \(2, 100\), expected uint8"
    ):
        load_cifar10(tmp_path)


def test_label_count_and_range(tmp_path: Path) -> None:
    members = cifar_members(n=2)
    members["test_batch"][b"labels"] = [0, 10]
    write_cifar(tmp_path, members, as_tar=False)
    with pytest.raises(DataError, match=r"test_batch: label 10 out of range"):
        load_cifar10(tmp_path)
    members["test_batch"][b"labels"] = [0]
    write_cifar(tmp_path, members, as_tar=False)
    with pytest.raises(DataError, match=r"test_batch: 2 images but 1 labels"):
        load_cifar10(tmp_path)


def test_missing_keys_and_meta(tmp_path: Path) -> None:
    members = cifar_members(n=2)
    del members["data_batch_1"][b"labels"]
    write_cifar(tmp_path / "a", members, as_tar=False)
    with pytest.raises(DataError, match=r"data_batch_1: expected keys"):
        load_cifar10(tmp_path / "a")
    members = cifar_members(n=2)
    members["batches.meta"] = {b"label_names": [b"a"]}
    write_cifar(tmp_path / "b", members, as_tar=False)
    with pytest.raises(DataError, match=r"batches\.meta: expected b'label_names' with 10"):
        load_cifar10(tmp_path / "b")


class _Evil:
    def __reduce__(self) -> tuple:
        return (print, ("pwned",))


def test_pickle_with_foreign_globals_is_refused(tmp_path: Path) -> None:
    write_cifar(tmp_path, cifar_members(n=2), as_tar=False)
    (tmp_path / "cifar-10-batches-py" / "test_batch").write_bytes(pickle.dumps(_Evil()))
    with pytest.raises(DataError, match=r"test_batch: not a CIFAR-10 pickle .*not allowed"):
        load_cifar10(tmp_path)


def test_not_a_tar(tmp_path: Path) -> None:
    (tmp_path / "cifar-10-python.tar.gz").write_bytes(b"not a tar at all")
    with pytest.raises(DataError, match=r"cifar-10-python\.tar\.gz: unreadable tar\.gz"):
        load_cifar10(tmp_path)
