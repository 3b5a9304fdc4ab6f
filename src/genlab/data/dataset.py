"""Datasets as in-memory uint8 tensors: names, loading, validation splits and status."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

import torch

from genlab.data import cifar, idx, stl10
from genlab.data.download import download_dataset
from genlab.data.errors import DataError
from genlab.data.folder import load_folder
from genlab.data.idx import RawSplits
from genlab.data.locate import default_data_dirs, find_dataset_dir, resolve_folder
from genlab.data.views import resize_images

MINI = "mnist-mini"
DEFAULT = MINI
SPLIT_ORDER = ("train", "val", "test", "unlabeled")
FOLDER_VAL_FRACTION = 10
MNIST_CLASSES = [str(i) for i in range(10)]
FASHION_CLASSES = [
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
    "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot",
]  # fmt: skip


@dataclass
class Split:
    """One split: ``images`` uint8 (N,C,H,W), ``labels`` int64 (N,), -1 where unlabeled."""

    images: torch.Tensor
    labels: torch.Tensor

    def __len__(self) -> int:
        return int(self.images.shape[0])


@dataclass
class ImageDataset:
    """A named set of splits sharing one image shape and one list of class names."""

    name: str
    splits: dict[str, Split]
    class_names: list[str]

    @property
    def shape(self) -> tuple[int, int, int]:
        """(C, H, W) of every image."""
        c, h, w = next(iter(self.splits.values())).images.shape[1:]
        return int(c), int(h), int(w)

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    def split(self, name: str) -> Split:
        """The split ``name``, or a DataError listing the available ones."""
        if name not in self.splits:
            raise DataError(
                f"dataset {self.name!r} has no split {name!r}; available: {', '.join(self.splits)}"
            )
        return self.splits[name]


@dataclass(frozen=True)
class Layout:
    """One form a named dataset is stored in: its folder under a data directory, what that
    holds (for messages), and how it is recognised, loaded and sized cheaply."""

    folder: str
    expected: list[str]
    present: Callable[[Path], bool]
    load: Callable[[Any], tuple[RawSplits, list[str]]]
    probe: Callable[[Any], tuple[dict[str, int], tuple[int, int, int]]]


@dataclass(frozen=True)
class Source:
    """How one named dataset is found: its layouts, preferred first, and its default val."""

    default_val: int
    layouts: tuple[Layout, ...]


def _idx_source(name: str, default_val: int, class_names: list[str]) -> Source:
    return Source(default_val, (Layout(
        name, idx.EXPECTED_FILES, idx.idx_present,
        lambda d: (idx.load_idx_dir(d, len(class_names)), list(class_names)),
        idx.probe_idx_dir,
    ),))


SOURCES: dict[str, Source] = {
    MINI: _idx_source(MINI, 1_000, MNIST_CLASSES),
    "mnist": _idx_source("mnist", 10_000, MNIST_CLASSES),
    "fashion-mnist": _idx_source("fashion-mnist", 10_000, FASHION_CLASSES),
    "cifar10": Source(5_000, (
        Layout("cifar10", cifar.EXPECTED_FILES, cifar.cifar_present, cifar.load_cifar10,
               cifar.probe_cifar10),
        Layout(cifar.JPEG_FOLDER, cifar.JPEG_EXPECTED, cifar.jpeg_present,
               cifar.load_cifar10_jpeg, cifar.probe_cifar10_jpeg),
    )),
    "stl10": Source(500, (
        Layout("stl10", stl10.EXPECTED_FILES, stl10.stl10_present, stl10.load_stl10,
               stl10.probe_stl10),
    )),
}
"""``cifar10`` is the archive in ``DIR/cifar10/`` or, where a data directory has none, the
image copy ``DIR/cifar10-jpg/``: directories in search order, the archive first in each."""


NATIVE_SIZES = {MINI: 28, "mnist": 28, "fashion-mnist": 28, "cifar10": 32, "stl10": 96}
"""The side of each named dataset's square images, known without reading them."""


def image_size(name: str, size: int | None = None) -> tuple[int, int] | None:
    """(height, width) of dataset ``name``'s images resized to ``size`` (None: as stored),
    where known before loading; None for an image folder at its own size."""
    side = size if size is not None else NATIVE_SIZES.get(name)
    return None if side is None else (side, side)


def dataset_names() -> list[str]:
    """Named datasets; ``folder:PATH`` loads any image folder as well."""
    return list(SOURCES)


def _mini_dir() -> Traversable:
    """The embedded mnist-mini files: the first 10,000 train / 2,000 test MNIST images."""
    return resources.files("genlab.data") / "mini"


def locate(name: str, data_dir: str | Path | None,
           download: bool) -> tuple[Traversable, Layout]:
    """Where named dataset ``name`` is and in which layout (downloading it if asked)."""
    source = SOURCES[name]
    if name == MINI:
        return _mini_dir(), source.layouts[0]
    found = [(layout.folder, layout.present) for layout in source.layouts]
    expected = [e for layout in source.layouts for e in layout.expected]
    try:
        directory, i = find_dataset_dir(found, expected, data_dir)
    except DataError:
        if not download:
            raise
        download_dataset(name, default_data_dirs(data_dir)[0])
        directory, i = find_dataset_dir(found, expected, data_dir)
    return directory, source.layouts[i]


def folder_default_val(sizes: dict[str, int]) -> int:
    """The val images an image folder holds out by default: a tenth of train (none without)."""
    return sizes.get("train", 0) // FOLDER_VAL_FRACTION


def _carves_val(sizes: dict[str, int], val_size: int) -> bool:
    """Whether ``val_size`` images are held out of train; raises if that leaves none."""
    if val_size < 0:
        raise DataError(f"val_size must be >= 0, got {val_size}")
    if not val_size or "train" not in sizes or "val" in sizes:
        return False
    n_train = sizes["train"]
    if val_size >= n_train:
        raise DataError(f"val_size {val_size} leaves no training images (train has {n_train})")
    return True


def split_sizes(sizes: dict[str, int], val_size: int) -> dict[str, int]:
    """Sizes after carving ``val_size`` from train (mirrors ``_carve_val`` without the data)."""
    sizes = dict(sizes)
    if _carves_val(sizes, val_size):
        sizes.update(train=sizes["train"] - val_size, val=val_size)
    if "unlabeled" in sizes:
        sizes["train+unlabeled"] = sizes["train"] + sizes["unlabeled"]
    return _ordered(sizes)


def _ordered(splits: dict[str, Any]) -> dict[str, Any]:
    """train, val, test, unlabeled first, then any other split in its original order."""
    first = [s for s in SPLIT_ORDER if s in splits]
    return {k: splits[k] for k in [*first, *(s for s in splits if s not in first)]}


def _keep_classes(splits: dict[str, Split], classes: list[str],
                  class_names: list[str]) -> dict[str, Split]:
    """Every split restricted to the images of ``classes``."""
    if not classes:
        raise DataError("data.classes lists no class; leave it out to keep them all")
    unknown = [c for c in classes if c not in class_names]
    if unknown:
        raise DataError(f"data.classes: no class {unknown[0]!r} in this dataset; its classes "
                        f"are {', '.join(class_names)}")
    wanted = torch.tensor([class_names.index(c) for c in classes])
    kept = {k: torch.isin(s.labels, wanted) for k, s in splits.items()}
    return {k: Split(s.images[kept[k]], s.labels[kept[k]]) for k, s in splits.items()}


def _carve_val(splits: dict[str, Split], val_size: int, seed: int) -> dict[str, Split]:
    """Hold out ``val_size`` train images chosen by a seeded permutation (sorted, so both parts
    keep the source order). Sources that already have a ``val`` split keep theirs."""
    if not _carves_val({k: len(s) for k, s in splits.items()}, val_size):
        return splits
    train = splits["train"]
    perm = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    val_idx, train_idx = perm[:val_size].sort().values, perm[val_size:].sort().values
    return {
        **splits,
        "train": Split(train.images.index_select(0, train_idx), train.labels[train_idx]),
        "val": Split(train.images.index_select(0, val_idx), train.labels[val_idx]),
    }


def _join_unlabeled(splits: dict[str, Split]) -> dict[str, Split]:
    """Add ``train+unlabeled``; ``train`` and ``unlabeled`` become views into it (no 2nd copy)."""
    if "unlabeled" not in splits or "train" not in splits:
        return splits
    train, unlabeled = splits["train"], splits["unlabeled"]
    both = Split(
        torch.cat([train.images, unlabeled.images]), torch.cat([train.labels, unlabeled.labels])
    )
    n = len(train)
    return {
        **splits,
        "train": Split(both.images[:n], both.labels[:n]),
        "unlabeled": Split(both.images[n:], both.labels[n:]),
        "train+unlabeled": both,
    }


def load_dataset(
    name: str = DEFAULT,
    *,
    data_dir: str | Path | None = None,
    val_size: int | None = None,
    split_seed: int = 0,
    size: int | None = None,
    download: bool = False,
    mode: str | None = None,
    classes: list[str] | None = None,
) -> ImageDataset:
    """Load a dataset fully into memory as uint8 (N,C,H,W) tensors.

    ``name``: one of ``dataset_names()`` or ``folder:PATH`` (PATH absolute, relative to the
    current directory, else to the first data directory holding it). ``val_size`` images are
    held out of train as ``val`` (default per dataset, 0 for none) by a permutation seeded with
    ``split_seed``. ``size`` resizes to size x size. ``mode`` ("L"/"RGB") applies to folders.
    A source with an ``unlabeled`` split (STL-10) also gets ``train+unlabeled`` (val excluded).
    ``classes`` (names) keeps only their images in every split, after the validation split is
    carved (the same split, restricted), their labels and the class list unchanged, so a
    classifier of the whole dataset still names them; unlabeled images are dropped.
    """
    if size is not None and size < 1:
        raise DataError(f"size must be positive, got {size}")
    if name.startswith("folder:"):
        path = name.removeprefix("folder:")
        if not path:
            raise DataError("folder: needs a path, e.g. folder:data/my-images")
        raw, class_names = load_folder(resolve_folder(path, data_dir), size=size, mode=mode)
        default_val = folder_default_val({k: len(x) for k, (x, _) in raw.items()})
    elif name in SOURCES:
        if mode is not None:
            raise DataError(f"mode applies to folder: datasets only, not {name!r}")
        directory, layout = locate(name, data_dir, download)
        raw, class_names = layout.load(directory)
        default_val = SOURCES[name].default_val
    else:
        raise DataError(
            f"unknown dataset {name!r}; valid names: {', '.join(dataset_names())}, folder:PATH"
        )
    splits = {k: Split(x, y) for k, (x, y) in raw.items()}
    splits = _carve_val(splits, default_val if val_size is None else val_size, split_seed)
    if classes is not None:
        splits = _keep_classes(splits, classes, class_names)
    if size is not None:
        splits = {k: Split(resize_images(s.images, size), s.labels) for k, s in splits.items()}
    return ImageDataset(name, _ordered(_join_unlabeled(splits)), class_names)
