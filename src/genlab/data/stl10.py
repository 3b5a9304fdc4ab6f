"""STL-10 binary release: column-major uint8 images, 1-based labels, ``class_names.txt``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch

from genlab.data.errors import DataError
from genlab.data.idx import RawSplits

FOLDER = "stl10_binary"
SHAPE = (3, 96, 96)
IMAGE_BYTES = 3 * 96 * 96
NUM_CLASSES = 10
LABELED = {"train": ("train_X.bin", "train_y.bin"), "test": ("test_X.bin", "test_y.bin")}
UNLABELED = "unlabeled_X.bin"  # optional: 2.7 GB that many users do not need
CLASS_NAMES = "class_names.txt"
REQUIRED = [*(f for pair in LABELED.values() for f in pair), CLASS_NAMES]
EXPECTED_FILES = [f"{FOLDER}/{{{','.join(REQUIRED)}}}", f"optionally {FOLDER}/{UNLABELED}"]
_CHUNK = 4096  # images decoded per read, bounds the temporary copy


def stl10_present(directory: Path) -> bool:
    """True when the labeled files and class names are in ``directory/stl10_binary``."""
    return all((directory / FOLDER / name).is_file() for name in REQUIRED)


def _count(path: Path) -> int:
    size = path.stat().st_size
    if size % IMAGE_BYTES:
        raise DataError(
            f"{path}: {size} bytes is not a whole number of 3x96x96 images "
            f"({IMAGE_BYTES} bytes each)"
        )
    return size // IMAGE_BYTES


def read_images(path: Path) -> torch.Tensor:
    """(N,3,96,96) uint8. Each image is stored column-major (C,W,H), hence the H/W transpose."""
    n = _count(path)
    out = torch.empty((n, *SHAPE), dtype=torch.uint8)
    with open(path, "rb") as fh:
        for start in range(0, n, _CHUNK):
            k = min(_CHUNK, n - start)
            buf = bytearray(fh.read(k * IMAGE_BYTES))
            if len(buf) != k * IMAGE_BYTES:
                raise DataError(f"{path}: file shrank while reading")
            chunk = torch.frombuffer(buf, dtype=torch.uint8).view(k, 3, 96, 96)
            out[start : start + k] = chunk.transpose(2, 3)
    return out


def read_labels(path: Path, n: int, images_path: Path) -> torch.Tensor:
    """Labels 1..10 on disk -> 0..9, one byte per image of ``images_path``."""
    data = np.fromfile(path, dtype=np.uint8)
    if len(data) != n:
        raise DataError(f"{images_path} has {n} images but {path} has {len(data)} labels")
    bad = data[(data < 1) | (data > NUM_CLASSES)]
    if len(bad):
        raise DataError(f"{path}: label {bad[0]} out of range 1..{NUM_CLASSES}")
    return torch.from_numpy(data.astype(np.int64) - 1)


def read_class_names(path: Path) -> list[str]:
    names = [line.strip() for line in path.read_text().splitlines() if line.strip()]
    if len(names) != NUM_CLASSES:
        raise DataError(f"{path}: expected {NUM_CLASSES} class names, found {len(names)}")
    return names


def load_stl10(directory: Path) -> tuple[RawSplits, list[str]]:
    """``train`` (5,000), ``test`` (8,000) and, when present, ``unlabeled`` (100,000, label -1)."""
    root = directory / FOLDER
    splits: RawSplits = {}
    for split, (x_name, y_name) in LABELED.items():
        images = read_images(root / x_name)
        splits[split] = images, read_labels(root / y_name, len(images), root / x_name)
    if (root / UNLABELED).is_file():
        images = read_images(root / UNLABELED)
        splits["unlabeled"] = images, torch.full((len(images),), -1, dtype=torch.int64)
    return splits, read_class_names(root / CLASS_NAMES)


def probe_stl10(directory: Path) -> tuple[dict[str, int], tuple[int, int, int]]:
    """Split sizes from file lengths alone."""
    root = directory / FOLDER
    sizes = {split: _count(root / x_name) for split, (x_name, _y) in LABELED.items()}
    if (root / UNLABELED).is_file():
        sizes["unlabeled"] = _count(root / UNLABELED)
    return sizes, SHAPE
