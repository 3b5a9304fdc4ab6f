"""What data there is, without decoding it: where a dataset is read from, its split sizes and
image shape from headers and file counts, and every image folder of the data directories
(``genlab datasets``; a study checks its data with :func:`dataset_path` before it writes)."""

from __future__ import annotations

import os
from importlib.resources.abc import Traversable
from pathlib import Path
from typing import Any

from genlab.data.dataset import MINI, SOURCES, folder_default_val, locate, split_sizes
from genlab.data.errors import DataError
from genlab.data.folder import EmptyFolder, probe_folder
from genlab.data.locate import default_data_dirs, resolve_folder

FOLDER = "folder:"
BUILT_IN = "(built in)"


def _unknown(name: str) -> DataError:
    return DataError(f"unknown dataset {name!r}; valid names: {', '.join(SOURCES)}, folder:PATH")


def dataset_path(name: str, data_dir: str | Path | None = None,
                 download: bool = False) -> Traversable:
    """The directory dataset ``name`` (a name or ``folder:PATH``) is read from, found as
    :func:`genlab.data.load_dataset` finds it (and downloaded if asked), else a DataError
    naming every place looked."""
    if name.startswith(FOLDER):
        return resolve_folder(name.removeprefix(FOLDER), data_dir)
    if name not in SOURCES:
        raise _unknown(name)
    return locate(name, data_dir, download)[0]


def probe_dataset(name: str, data_dir: str | Path | None = None) -> dict[str, Any]:
    """``path``, default ``splits`` sizes (val carved as when loaded) and ``shape`` (C,H,W)
    of dataset ``name``, from headers and file counts only."""
    if name.startswith(FOLDER):
        folder = resolve_folder(name.removeprefix(FOLDER), data_dir)
        sizes, shape, _ = probe_folder(folder)
        path: Traversable = folder
        default_val = folder_default_val(sizes)
    elif name in SOURCES:
        path, layout = locate(name, data_dir, download=False)
        sizes, shape = layout.probe(path)
        default_val = SOURCES[name].default_val
    else:
        raise _unknown(name)
    return {"path": BUILT_IN if name == MINI else str(path),
            "splits": split_sizes(sizes, default_val), "shape": shape}


def _row(name: str, data_dir: str | Path | None) -> dict[str, Any]:
    """One table row: found or not, and a found dataset's probe or the error reading it."""
    row: dict[str, Any] = {
        "name": name, "found": False, "path": None, "splits": {}, "shape": None, "error": None,
    }  # fmt: skip
    try:
        path = dataset_path(name, data_dir)
    except DataError:
        return row
    row.update(found=True, path=BUILT_IN if name == MINI else str(path))
    try:
        row.update(probe_dataset(name, data_dir))
    except (DataError, OSError) as exc:
        row["error"] = str(exc)
    return row


def image_folders(data_dir: str | Path | None = None) -> list[str]:
    """``folder:NAME`` of every image folder directly under a data directory (the first of a
    name, the one ``folder:NAME`` loads; named datasets' own folders left out), one holding
    images in a wrong layout included (its row says what is wrong)."""
    seen: set[str] = set(SOURCES)
    names = []
    for base in default_data_dirs(data_dir):
        if not base.is_dir():
            continue
        with os.scandir(base) as it:
            subdirs = sorted(e.name for e in it if e.is_dir() and not e.name.startswith("."))
        for sub in subdirs:
            if sub in seen or not _holds_images(base / sub):
                continue
            seen.add(sub)
            names.append(FOLDER + sub)
    return names


def _holds_images(directory: Path) -> bool:
    """Whether ``directory`` is an image folder at all (a cache or notes folder is not)."""
    try:
        probe_folder(directory)
    except EmptyFolder:
        return False
    except (DataError, OSError):
        return True  # images laid out wrongly: still an image folder, shown with its error
    return True


def dataset_status(data_dir: str | Path | None = None) -> list[dict[str, Any]]:
    """For each named dataset, then each image folder of the data directories: ``name``,
    ``found``, ``path``, default ``splits`` sizes, ``shape`` (C,H,W) and ``error`` (found but
    unreadable), from headers and file counts only."""
    return [_row(name, data_dir) for name in [*SOURCES, *image_folders(data_dir)]]
