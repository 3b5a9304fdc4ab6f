"""Atomic file writes for every artefact genlab produces: configs, metrics, figures, checkpoints.

Readers (and a later run after a crash) never see a half-written file. Depends on nothing of
genlab, so the data layer can use it too.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO


class WriteError(OSError):
    """An OSError while writing a file, whose message names it: ``cannot write PATH: No space
    left on device`` rather than a bare ``[Errno 28]``. ``errno`` and ``filename`` are kept."""

    def __str__(self) -> str:
        return f"cannot write {self.filename}: {self.strerror}"


def write_error(path: str | Path, exc: BaseException) -> WriteError:
    """``exc`` as a :class:`WriteError` naming ``path`` (an OSError's errno and reason kept)."""
    if isinstance(exc, WriteError):
        return exc
    if isinstance(exc, OSError):
        return WriteError(exc.errno, exc.strerror or str(exc), str(path))
    return WriteError(None, str(exc), str(path))


@contextlib.contextmanager
def naming(path: str | Path) -> Iterator[None]:
    """An OSError in the block is re-raised as a :class:`WriteError` naming ``path``."""
    try:
        yield
    except OSError as exc:
        raise write_error(path, exc) from exc


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temp path beside ``path``, renamed over ``path`` once the block completes: for
    writers that take a file name (safetensors' ``save_file``) or for a hard link.

    The temp file lives in the same directory so ``os.replace`` is atomic; on any exception,
    KeyboardInterrupt included, it is removed and ``path`` is left as it was. An OSError
    (a full disk, a read-only folder) comes out as a :class:`WriteError` naming ``path``.
    """
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with naming(path):
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            yield tmp
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise


def append_text(path: str | Path, text: str) -> None:
    """Append ``text`` (UTF-8) in one write: for line logs, where a kill cuts at most the last
    line; an OSError names ``path``."""
    with naming(path), open(path, "ab") as fh:
        fh.write(text.encode())


@contextlib.contextmanager
def atomic_write(path: str | Path) -> Iterator[BinaryIO]:
    """Yield a binary file beside ``path`` that replaces ``path`` only once the block completes
    (see :func:`atomic_path`)."""
    with atomic_path(path) as tmp, open(tmp, "xb") as fh:
        yield fh


def write_text(path: str | Path, text: str) -> Path:
    """Write ``text`` (UTF-8) atomically."""
    with atomic_write(path) as fh:
        fh.write(text.encode())
    return Path(path)


def jsonable(value: Any) -> Any:
    """Tensors, arrays and tuples as lists, floats rounded to 6 digits, NaN/Inf as null."""
    if hasattr(value, "tolist") and not isinstance(value, (int, float, str)):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    return value


def write_json(path: str | Path, data: Any) -> Path:
    """Write ``data`` as indented JSON atomically, converted by :func:`jsonable`."""
    return write_text(path, json.dumps(jsonable(data), indent=2))
