"""End-to-end checks on the real data: found in $GENLAB_DATA first, then in ../shared/data
(beside the clone); skipped, saying where it looked, without it."""

import gzip
import hashlib
import os
from importlib import resources
from pathlib import Path

import pytest
import torch
from datafiles import CIFAR_NAMES

from genlab.data import folder as folder_mod
from genlab.data import load_dataset
from genlab.data.idx import load_idx_dir

BESIDE = (Path(__file__).resolve().parents[2] / ".." / "shared" / "data").resolve()
SEARCHED = [  # read at import: the data conftest unsets $GENLAB_DATA for each test
    *[Path(p).expanduser() for p in os.environ.get("GENLAB_DATA", "").split(os.pathsep) if p],
    BESIDE,
]


def _find(name: str) -> Path:
    """DIR/name for the first searched DIR that holds it (else the last candidate, absent)."""
    return next((d / name for d in SEARCHED if (d / name).is_dir()), BESIDE / name)


def _reason(name: str) -> str:
    env = os.environ.get("GENLAB_DATA") or "unset"
    return f"no {name}/ in $GENLAB_DATA ({env}) or in {BESIDE}"


MNIST = _find("mnist")
SHARED = MNIST.parent
CIFAR_JPG = _find("cifar10-jpg")
MNIST_MD5 = {  # of the decompressed files, from the shared data's README.md
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


needs_mnist = pytest.mark.skipif(not MNIST.is_dir(), reason=_reason("mnist"))
needs_cifar = pytest.mark.skipif(not CIFAR_JPG.is_dir(), reason=_reason("cifar10-jpg"))


@needs_mnist
def test_mnist_files_match_readme_md5() -> None:
    for name, md5 in MNIST_MD5.items():
        data = gzip.decompress((MNIST / f"{name}.gz").read_bytes())
        assert hashlib.md5(data).hexdigest() == md5, name


@needs_mnist
def test_mnist_loads_as_50k_10k_10k() -> None:
    ds = load_dataset("mnist", data_dir=SHARED)
    assert {k: len(v) for k, v in ds.splits.items()} == {
        "train": 50_000,
        "val": 10_000,
        "test": 10_000,
    }
    assert ds.shape == (1, 28, 28)
    assert torch.bincount(ds.split("test").labels).tolist()[:2] == [980, 1135]  # known counts


@needs_mnist
def test_mnist_mini_is_the_head_of_mnist() -> None:
    full = load_idx_dir(MNIST)
    mini = load_idx_dir(resources.files("genlab.data") / "mini")
    for split, n in (("train", 10_000), ("test", 2_000)):
        assert torch.equal(mini[split][0], full[split][0][:n])
        assert torch.equal(mini[split][1], full[split][1][:n])


@pytest.mark.slow
@needs_cifar
def test_cifar10_folder_and_its_cache(isolated_env: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    name = f"folder:{CIFAR_JPG}"
    ds = load_dataset(name, val_size=0)
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 50_000, "test": 10_000}
    assert ds.shape == (3, 32, 32) and ds.class_names == CIFAR_NAMES
    assert torch.bincount(ds.split("test").labels).tolist() == [1000] * 10
    assert len(list((isolated_env / "folders").glob("*.npz"))) == 1

    def no_decode(*args: object) -> None:
        raise AssertionError("second load decoded images instead of using the cache")

    monkeypatch.setattr(folder_mod, "_decode_all", no_decode)
    cached = load_dataset(name)
    assert {k: len(v) for k, v in cached.splits.items()} == {
        "train": 45_000,
        "val": 5_000,
        "test": 10_000,
    }
    assert torch.equal(cached.split("test").images, ds.split("test").images)
