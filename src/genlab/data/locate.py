"""Where dataset files are looked for and where decoded caches go."""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from pathlib import Path

from genlab.data.errors import DataError

HOME_DIR = Path("~/.cache/genlab")


def default_data_dirs(data_dir: str | Path | None = None) -> list[Path]:
    """Directories searched, in order: ``data_dir``, ``$GENLAB_DATA``, ``~/.cache/genlab``.

    Each holds one sub-folder per dataset (``DIR/mnist/``, ``DIR/cifar10/``...), so one setting
    serves every dataset. ``$GENLAB_DATA`` may list several directories (os.pathsep-separated).
    """
    candidates: list[str | Path] = []
    if data_dir is not None:
        candidates.append(data_dir)
    candidates += [p for p in os.environ.get("GENLAB_DATA", "").split(os.pathsep) if p]
    candidates.append(HOME_DIR)
    dirs: list[Path] = []
    for candidate in candidates:
        path = Path(candidate).expanduser()
        if path not in dirs:
            dirs.append(path)
    return dirs


def cache_dir() -> Path:
    """Root of genlab's caches: ``$GENLAB_CACHE`` if set (tests point it at a temp dir)."""
    return Path(os.environ.get("GENLAB_CACHE") or HOME_DIR).expanduser()


def find_dataset_dir(
    layouts: Sequence[tuple[str, Callable[[Path], bool]]],
    expected: Sequence[str],
    data_dir: str | Path | None = None,
) -> tuple[Path, int]:
    """The first ``DIR/folder`` where its ``present`` holds, and which of ``layouts`` (folder
    name, test) it is: data directories in search order, each tried for every layout in turn,
    so an earlier directory wins and within one the first layout does. Else a DataError saying
    where we looked."""
    dirs = default_data_dirs(data_dir)
    for base in dirs:
        for i, (folder, present) in enumerate(layouts):
            if present(base / folder):
                return base / folder, i
    searched = [str(base / folder) for base in dirs for folder, _ in layouts]
    raise DataError(
        f"dataset {layouts[0][0]!r} not found: expected {', '.join(expected)} in one of: "
        f"{', '.join(searched)}. Pass data_dir (--data-dir), set GENLAB_DATA, "
        "or use download=True."
    )


def resolve_folder(path: str | Path, data_dir: str | Path | None = None) -> Path:
    """The directory of a ``folder:PATH`` dataset: PATH as given when it is absolute or a
    directory relative to the current one (as typed), else PATH under the first data directory
    (:func:`default_data_dirs`) that holds it, so a config saying ``folder:cifar10-jpg`` runs
    from any folder. A DataError names every place looked."""
    given = Path(path).expanduser()
    if given.is_absolute() or given.is_dir():
        return given
    searched = [base / given for base in default_data_dirs(data_dir)]
    for candidate in searched:
        if candidate.is_dir():
            return candidate
    raise DataError(
        f"folder:{path}: no directory {str(path)!r} in the current directory ({Path.cwd()}) "
        f"nor in the data directories ({', '.join(map(str, searched))}); pass --data-dir "
        "(data.data_dir) or set GENLAB_DATA to the directory holding it"
    )
