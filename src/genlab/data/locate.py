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
    name: str,
    expected: Sequence[str],
    present: Callable[[Path], bool],
    data_dir: str | Path | None = None,
) -> Path:
    """The first ``DIR/name`` where ``present`` holds, else a DataError saying where we looked."""
    searched = [base / name for base in default_data_dirs(data_dir)]
    for directory in searched:
        if present(directory):
            return directory
    raise DataError(
        f"dataset {name!r} not found: expected {', '.join(expected)} in one of: "
        f"{', '.join(str(d) for d in searched)}. Pass data_dir (--data-dir), set GENLAB_DATA, "
        "or use download=True."
    )
