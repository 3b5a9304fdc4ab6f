"""MNIST-style IDX files (MNIST, Fashion-MNIST, mnist-mini), gzip-compressed or raw."""

from __future__ import annotations

import gzip
import math
import struct
import zlib
from importlib.resources.abc import Traversable

import numpy as np
import torch

from genlab.data.errors import DataError

IMAGES_MAGIC = 2051  # unsigned bytes, 3 dims
LABELS_MAGIC = 2049  # unsigned bytes, 1 dim
GZIP_MAGIC = b"\x1f\x8b"

# split -> (images file, labels file), names without the optional ".gz"
IDX_SPLITS = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "test": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}
EXPECTED_FILES = [f"{name}[.gz]" for pair in IDX_SPLITS.values() for name in pair]

RawSplits = dict[str, tuple[torch.Tensor, torch.Tensor]]


def idx_file(directory: Traversable, name: str) -> Traversable | None:
    """``name.gz`` if present, else ``name``, else None (both forms are distributed)."""
    for candidate in (f"{name}.gz", name):
        path = directory / candidate
        if path.is_file():
            return path
    return None


def idx_present(directory: Traversable) -> bool:
    """True when all four IDX files of an MNIST-layout dataset are in ``directory``."""
    return all(idx_file(directory, name) for pair in IDX_SPLITS.values() for name in pair)


def _decompress(data: bytes, source: Traversable) -> bytes:
    if not data.startswith(GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{source}: corrupt or truncated gzip data ({exc})") from exc


def _check_magic(found: int, magic: int, source: Traversable) -> int:
    """Return the number of dims encoded in a valid magic number."""
    if found != magic:
        kind = "images" if magic == IMAGES_MAGIC else "labels"
        raise DataError(f"{source}: IDX magic number {found}, expected {magic} (uint8 {kind})")
    return magic & 0xFF


def read_idx(source: Traversable, magic: int) -> np.ndarray:
    """Read and validate a whole IDX file: magic, dims and that the payload matches the header."""
    data = _decompress(source.read_bytes(), source)
    if len(data) < 4:
        raise DataError(f"{source}: {len(data)} bytes, too short for an IDX header")
    ndim = _check_magic(int.from_bytes(data[:4], "big"), magic, source)
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DataError(f"{source}: truncated IDX header ({len(data)} of {header} bytes)")
    dims = struct.unpack(f">{ndim}I", data[4:header])
    expected, payload = math.prod(dims), len(data) - header
    if payload != expected:
        shape = "x".join(map(str, dims))
        state = "truncated" if payload < expected else "has trailing bytes"
        raise DataError(
            f"{source}: header says {shape} = {expected} bytes of data but the file holds "
            f"{payload} ({state})"
        )
    return np.frombuffer(data, np.uint8, offset=header).reshape(dims)


def _head(source: Traversable, n: int) -> bytes:
    """The first ``n`` decompressed bytes, without reading the rest of the file."""
    with source.open("rb") as fh:
        compressed = fh.read(2) == GZIP_MAGIC
        fh.seek(0)
        if not compressed:
            return fh.read(n)
        with gzip.GzipFile(fileobj=fh) as gz:
            return gz.read(n)


def read_idx_dims(source: Traversable, magic: int) -> tuple[int, ...]:
    """Only the header's dims: lets ``dataset_status`` size a dataset without decoding it."""
    try:
        head = _head(source, 16)
    except (OSError, EOFError, zlib.error) as exc:
        raise DataError(f"{source}: unreadable IDX header ({exc})") from exc
    ndim = _check_magic(int.from_bytes(head[:4], "big"), magic, source)
    if len(head) < 4 + 4 * ndim:
        raise DataError(f"{source}: truncated IDX header")
    return struct.unpack(f">{ndim}I", head[4 : 4 + 4 * ndim])


def _source(directory: Traversable, name: str) -> Traversable:
    path = idx_file(directory, name)
    if path is None:
        raise DataError(f"{directory}: missing {name}[.gz]")
    return path


def load_idx_pair(
    images_source: Traversable, labels_source: Traversable, num_classes: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Images (N,1,H,W) uint8 and labels (N,) int64, checked for agreement and label range."""
    images = read_idx(images_source, IMAGES_MAGIC)
    labels = read_idx(labels_source, LABELS_MAGIC)
    if len(images) != len(labels):
        raise DataError(
            f"{images_source} has {len(images)} images but {labels_source} has {len(labels)} labels"
        )
    if len(labels) and int(labels.max()) >= num_classes:
        raise DataError(
            f"{labels_source}: label {int(labels.max())} out of range 0..{num_classes - 1}"
        )
    n, h, w = images.shape
    return (
        torch.from_numpy(images.reshape(n, 1, h, w).copy()),
        torch.from_numpy(labels.astype(np.int64)),
    )


def load_idx_dir(directory: Traversable, num_classes: int = 10) -> RawSplits:
    """Load ``train`` and ``test`` from the four MNIST-named IDX files of ``directory``."""
    return {
        split: load_idx_pair(_source(directory, images), _source(directory, labels), num_classes)
        for split, (images, labels) in IDX_SPLITS.items()
    }


def probe_idx_dir(directory: Traversable) -> tuple[dict[str, int], tuple[int, int, int]]:
    """Split sizes and (C,H,W) from the image headers alone."""
    sizes: dict[str, int] = {}
    shape = (1, 0, 0)
    for split, (images, _labels) in IDX_SPLITS.items():
        n, h, w = read_idx_dims(_source(directory, images), IMAGES_MAGIC)
        sizes[split], shape = n, (1, h, w)
    return sizes, shape
