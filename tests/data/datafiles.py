"""Writers for tiny files in each real dataset format, used by the data tests."""

from __future__ import annotations

import gzip
import io
import pickle
import struct
import tarfile
from pathlib import Path

import numpy as np
from PIL import Image

CIFAR_MEMBERS = [*(f"data_batch_{i}" for i in range(1, 6)), "test_batch", "batches.meta"]
CIFAR_NAMES = [
    "airplane",
    "automobile",
    "bird",
    "cat",
    "deer",
    "dog",
    "frog",
    "horse",
    "ship",
    "truck",
]


def idx_bytes(array: np.ndarray, magic: int | None = None) -> bytes:
    """IDX encoding of a uint8 array (magic 2051 for 3-d images, 2049 for 1-d labels)."""
    magic = magic if magic is not None else 0x800 + array.ndim
    header = struct.pack(">I", magic) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + np.ascontiguousarray(array, dtype=np.uint8).tobytes()


def write_idx(path: Path, data: bytes, gz: bool = True) -> Path:
    path = path.with_name(path.name + ".gz") if gz else path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(gzip.compress(data) if gz else data)
    return path


def write_mnist(directory: Path, n_train: int = 30, n_test: int = 10, gz: bool = True) -> dict:
    """Four MNIST-named IDX files whose pixel (0,0) encodes the image index (mod 256)."""
    rng = np.random.default_rng(0)
    out = {}
    for split, prefix, n in (("train", "train", n_train), ("test", "t10k", n_test)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        images[:, 0, 0] = np.arange(n) % 256
        labels = (np.arange(n) % 10).astype(np.uint8)
        write_idx(directory / f"{prefix}-images-idx3-ubyte", idx_bytes(images), gz)
        write_idx(directory / f"{prefix}-labels-idx1-ubyte", idx_bytes(labels), gz)
        out[split] = images, labels
    return out


def cifar_batch(n: int, seed: int) -> dict[bytes, object]:
    rng = np.random.default_rng(seed)
    return {
        b"batch_label": b"batch",
        b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
        b"labels": [int(v) for v in rng.integers(0, 10, n)],
        b"filenames": [b"x.png"] * n,
    }


def cifar_members(n: int = 4) -> dict[str, dict]:
    members = {name: cifar_batch(n, seed) for seed, name in enumerate(CIFAR_MEMBERS[:-1])}
    members["batches.meta"] = {b"label_names": [c.encode() for c in CIFAR_NAMES]}
    return members


def write_cifar(directory: Path, members: dict[str, dict], as_tar: bool) -> Path:
    """CIFAR-10 python pickles as ``cifar-10-batches-py/`` or inside ``cifar-10-python.tar.gz``."""
    directory.mkdir(parents=True, exist_ok=True)
    if not as_tar:
        folder = directory / "cifar-10-batches-py"
        folder.mkdir(exist_ok=True)
        for name, obj in members.items():
            (folder / name).write_bytes(pickle.dumps(obj, protocol=2))
        return folder
    archive = directory / "cifar-10-python.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        for name, obj in members.items():
            data = pickle.dumps(obj, protocol=2)
            info = tarfile.TarInfo(f"cifar-10-batches-py/{name}")
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return archive


def write_stl10(directory: Path, n_train: int = 6, n_test: int = 4, n_unlabeled: int = 5) -> dict:
    """STL-10 binary files; images are written column-major like the real release."""
    rng = np.random.default_rng(1)
    root = directory / "stl10_binary"
    root.mkdir(parents=True, exist_ok=True)
    out = {}
    for split, n in (("train", n_train), ("test", n_test), ("unlabeled", n_unlabeled)):
        if n == 0:
            continue
        images = rng.integers(0, 256, (n, 3, 96, 96), dtype=np.uint8)  # (N,C,H,W), true layout
        (root / f"{split}_X.bin").write_bytes(images.transpose(0, 1, 3, 2).tobytes())
        labels = (np.arange(n) % 10 + 1).astype(np.uint8)
        if split != "unlabeled":
            (root / f"{split}_y.bin").write_bytes(labels.tobytes())
        out[split] = images, labels
    (root / "class_names.txt").write_text("\n".join(CIFAR_NAMES) + "\n")
    return out


def write_image(path: Path, array: np.ndarray, **save_kwargs) -> Path:
    """An (H,W) or (H,W,3) uint8 array as an image file; format from the suffix."""
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(array).save(path, **save_kwargs)
    return path
