"""CIFAR-10: the "python version" (pickled batches, read from the tar.gz or the extracted
folder), or failing that an image-folder copy of it (``cifar10-jpg/{train,test}/<class>/``)."""

from __future__ import annotations

import pickle
import tarfile
from pathlib import Path
from typing import IO, Any

import numpy as np
import torch

from genlab.data.errors import DataError
from genlab.data.folder import load_folder, probe_folder
from genlab.data.idx import RawSplits

ARCHIVE = "cifar-10-python.tar.gz"
EXTRACTED = "cifar-10-batches-py"
TRAIN_BATCHES = [f"data_batch_{i}" for i in range(1, 6)]
TEST_BATCH = "test_batch"
META = "batches.meta"
MEMBERS = [*TRAIN_BATCHES, TEST_BATCH, META]
EXPECTED_FILES = [ARCHIVE, f"or {EXTRACTED}/{{{','.join(MEMBERS)}}}"]
SHAPE = (3, 32, 32)
SIZES = {"train": 50_000, "test": 10_000}  # fixed by the format; lets status skip decoding
NUM_CLASSES = 10
CLASS_NAMES = ["airplane", "automobile", "bird", "cat", "deer",
               "dog", "frog", "horse", "ship", "truck"]  # fmt: skip
JPEG_FOLDER = "cifar10-jpg"
JPEG_EXPECTED = [f"or an image folder {JPEG_FOLDER}/{{train,test}}/<class>/*.jpg"]

# The globals a numpy-array pickle needs, and nothing else: a crafted file cannot run code.
_ALLOWED_GLOBALS = {
    ("numpy.core.multiarray", "_reconstruct"),
    ("numpy._core.multiarray", "_reconstruct"),
    ("numpy.core.numeric", "_frombuffer"),
    ("numpy._core.numeric", "_frombuffer"),
    ("numpy", "ndarray"),
    ("numpy", "dtype"),
    ("_codecs", "encode"),
}


class _ArrayUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        if (module, name) not in _ALLOWED_GLOBALS:
            raise pickle.UnpicklingError(f"global {module}.{name} is not allowed")
        return super().find_class(module, name)


def cifar_present(directory: Path) -> bool:
    """True when the archive or a complete extracted folder is in ``directory``."""
    extracted = directory / EXTRACTED
    return (directory / ARCHIVE).is_file() or all((extracted / m).is_file() for m in MEMBERS)


def _unpickle(fh: IO[bytes], source: str) -> dict[bytes, Any]:
    try:
        obj = _ArrayUnpickler(fh, encoding="bytes").load()
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError, AttributeError) as exc:
        raise DataError(f"{source}: not a CIFAR-10 pickle ({exc})") from exc
    if not isinstance(obj, dict):
        raise DataError(f"{source}: expected a pickled dict, found {type(obj).__name__}")
    return obj


def _read_members(directory: Path) -> dict[str, tuple[dict[bytes, Any], str]]:
    """member -> (unpickled dict, source for messages), from the extracted folder if complete,
    else in one streaming pass over the tar.gz (no extraction, no seeking back)."""
    extracted = directory / EXTRACTED
    if all((extracted / m).is_file() for m in MEMBERS):
        out = {}
        for member in MEMBERS:
            source = str(extracted / member)
            with open(source, "rb") as fh:
                out[member] = _unpickle(fh, source), source
        return out
    archive = directory / ARCHIVE
    out = {}
    try:
        with tarfile.open(archive, "r:gz") as tar:
            for info in tar:
                base = info.name.rsplit("/", 1)[-1]
                if info.isfile() and base in MEMBERS and base not in out:
                    fh = tar.extractfile(info)
                    assert fh is not None  # regular file
                    source = f"{archive}:{info.name}"
                    out[base] = _unpickle(fh, source), source
    except (tarfile.TarError, OSError, EOFError) as exc:
        raise DataError(f"{archive}: unreadable tar.gz ({exc})") from exc
    missing = [m for m in MEMBERS if m not in out]
    if missing:
        raise DataError(f"{archive}: missing members {', '.join(missing)}")
    return out


def _batch(obj: dict[bytes, Any], source: str) -> tuple[torch.Tensor, torch.Tensor]:
    """One batch dict -> images (N,3,32,32) uint8 and labels (N,) int64, validated."""
    if b"data" not in obj or b"labels" not in obj:
        raise DataError(f"{source}: expected keys b'data' and b'labels', found {sorted(obj)}")
    data = np.asarray(obj[b"data"])
    if data.dtype != np.uint8 or data.ndim != 2 or data.shape[1] != 3 * 32 * 32:
        raise DataError(f"{source}: b'data' is {data.dtype} {data.shape}, expected uint8 (N, 3072)")
    labels = np.asarray(obj[b"labels"], dtype=np.int64)
    if labels.shape != (len(data),):
        raise DataError(f"{source}: {len(data)} images but {labels.size} labels")
    if labels.size and (labels.min() < 0 or labels.max() >= NUM_CLASSES):
        bad = labels[(labels < 0) | (labels >= NUM_CLASSES)][0]
        raise DataError(f"{source}: label {bad} out of range 0..{NUM_CLASSES - 1}")
    images = torch.from_numpy(np.ascontiguousarray(data).reshape(-1, *SHAPE))
    return images, torch.from_numpy(labels)


def load_cifar10(directory: Path) -> tuple[RawSplits, list[str]]:
    """``train`` (50,000) and ``test`` (10,000) plus the class names from ``batches.meta``."""
    members = _read_members(directory)
    train = [_batch(*members[m]) for m in TRAIN_BATCHES]
    test = _batch(*members[TEST_BATCH])
    meta, meta_source = members[META]
    names = meta.get(b"label_names")
    if not isinstance(names, list) or len(names) != NUM_CLASSES:
        raise DataError(f"{meta_source}: expected b'label_names' with {NUM_CLASSES} entries")
    splits = {
        "train": (torch.cat([t[0] for t in train]), torch.cat([t[1] for t in train])),
        "test": test,
    }
    return splits, [n.decode() if isinstance(n, bytes) else str(n) for n in names]


def probe_cifar10(directory: Path) -> tuple[dict[str, int], tuple[int, int, int]]:
    """The canonical sizes: counting would mean unpickling 180 MB."""
    return dict(SIZES), SHAPE


def jpeg_present(directory: Path) -> bool:
    """True when ``directory`` has the ``train/`` and ``test/`` folders of an image copy."""
    return all((directory / split).is_dir() for split in SIZES)


def _check_jpeg(directory: Path, splits: list[str], shape: tuple[int, ...],
                class_names: list[str]) -> None:
    """An image copy stands in for the archive only with its splits, classes and size."""
    if class_names != CLASS_NAMES:
        raise DataError(f"{directory}: classes {', '.join(class_names) or '(none)'}; a CIFAR-10 "
                        f"copy has the ten folders {', '.join(CLASS_NAMES)}")
    if sorted(splits) != sorted(SIZES) or tuple(shape) != SHAPE:
        raise DataError(f"{directory}: splits {', '.join(splits)} of {'x'.join(map(str, shape))} "
                        f"images; a CIFAR-10 copy has train and test of 3x32x32")


def load_cifar10_jpeg(directory: Path) -> tuple[RawSplits, list[str]]:
    """The splits and classes of an image-folder copy (JPEG re-encodings: pixel values close
    to, not equal to, the archive's), checked to be CIFAR-10's."""
    splits, class_names = load_folder(directory)
    shape = next(iter(splits.values()))[0].shape[1:]
    _check_jpeg(directory, list(splits), tuple(shape), class_names)
    return splits, class_names


def probe_cifar10_jpeg(directory: Path) -> tuple[dict[str, int], tuple[int, int, int]]:
    """Split sizes counted and the shape of the first image, checked as :func:`load_...`."""
    sizes, shape, class_names = probe_folder(directory)
    _check_jpeg(directory, list(sizes), shape, class_names)
    return sizes, shape
