"""Image folders (``split/class/*.png``, ``class/*.png`` or flat ``*.png``), cached as ``.npz``.

Decoding tens of thousands of small files takes seconds to a minute, so the decoded uint8 array
is cached under ``cache_dir()/folders/`` keyed by folder, size and mode, and invalidated by a
fingerprint of every file's path, size and mtime.
"""

from __future__ import annotations

import hashlib
import os
import struct
import warnings
import zipfile
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path
from typing import NamedTuple

import numpy as np
import torch
from PIL import Image
from tqdm import tqdm

from genlab.data.errors import DataError
from genlab.data.idx import RawSplits
from genlab.data.locate import cache_dir
from genlab.io import atomic_write

IMAGE_EXTENSIONS = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm", ".pbm"}
)
MODES = ("L", "RGB")
_GREY_MODES = frozenset({"1", "L", "LA", "La", "I", "I;16", "I;16B", "I;16L", "F"})
_CACHE_VERSION = 1
_CHUNK = 1000  # files per worker task
_PARALLEL_MIN = 4000  # below this, process start-up costs more than it saves
LAYOUT = "split/class/*.png, class/*.png or *.png"


class _File(NamedTuple):
    split: str
    label: int
    path: str
    size: int
    mtime_ns: int


def _suffix(name: str) -> str:
    return name[name.rfind(".") :].lower() if "." in name else ""


def _entries(directory: str | Path) -> tuple[list[os.DirEntry[str]], list[os.DirEntry[str]]]:
    """Sub-folders and image files of ``directory``, sorted by name, hidden entries skipped."""
    dirs, images = [], []
    with os.scandir(directory) as it:
        for entry in it:
            if entry.name.startswith("."):
                continue
            if entry.is_dir():
                dirs.append(entry)
            elif entry.is_file() and _suffix(entry.name) in IMAGE_EXTENSIONS:
                images.append(entry)
    dirs.sort(key=lambda e: e.name)
    images.sort(key=lambda e: e.name)
    return dirs, images


class EmptyFolder(DataError):
    """A directory with no image files at all: not an image folder (``genlab datasets`` skips
    it), as opposed to one whose images are laid out wrongly."""


_Groups = dict[str, dict[str, list[os.DirEntry[str]]]]


def _groups(root: Path) -> _Groups:
    """split -> class -> image entries, from the layout alone (nothing is stat'ed or opened).

    Layouts: ``split/class/*`` (classes shared across splits), ``class/*`` (all ``train``), or
    flat ``*`` (all ``train``, class "", no classes).
    """
    if not root.is_dir():
        raise DataError(f"{root}: not a directory (expected {LAYOUT})")
    dirs, images = _entries(root)
    if dirs and images:
        raise DataError(f"{root}: mixes image files and sub-folders (expected {LAYOUT})")
    if images:
        return {"train": {"": images}}
    sub = {d.name: _entries(d.path) for d in dirs}
    if not any(subdirs for subdirs, _ in sub.values()):
        return {"train": {name: files for name, (_, files) in sub.items()}}
    groups: _Groups = {}
    for split, (classes, loose) in sub.items():
        if loose:
            raise DataError(
                f"{root / split}: mixes image files and class folders (expected {LAYOUT})"
            )
        groups[split] = {c.name: _entries(c.path)[1] for c in classes}
    return groups


def _class_names(groups: _Groups, root: Path) -> list[str]:
    """The sorted class names; an EmptyFolder error when no split holds an image."""
    if not any(entries for by_class in groups.values() for entries in by_class.values()):
        raise EmptyFolder(f"{root}: no image files ({', '.join(sorted(IMAGE_EXTENSIONS))})")
    return sorted({c for by_class in groups.values() for c in by_class if c})


def scan_folder(root: Path) -> tuple[list[_File], list[str]]:
    """Every image file with its split and label (-1 in a flat folder), and the class names."""
    groups = _groups(root)
    class_names = _class_names(groups, root)
    index = {name: i for i, name in enumerate(class_names)}
    files = []
    for split, by_class in groups.items():
        for name, entries in by_class.items():
            for entry in entries:
                st = entry.stat()
                files.append(
                    _File(split, index.get(name, -1), entry.path, st.st_size, st.st_mtime_ns)
                )
    return files, class_names


def probe_folder(root: Path) -> tuple[dict[str, int], tuple[int, int, int], list[str]]:
    """Split sizes, (C,H,W) and class names without decoding: the shape is the first image's,
    from its header (a folder mixing greyscale and colour loads as colour)."""
    groups = _groups(root)
    class_names = _class_names(groups, root)
    sizes = {split: sum(map(len, by_class.values())) for split, by_class in groups.items()}
    first = next(e for by_class in groups.values() for es in by_class.values() for e in es)
    try:
        with Image.open(first.path) as im:
            channels, (width, height) = (1 if im.mode in _GREY_MODES else 3), im.size
    except (OSError, ValueError, SyntaxError) as exc:
        raise DataError(f"{first.path}: cannot read image ({exc})") from exc
    return {k: n for k, n in sizes.items() if n}, (channels, height, width), class_names


def _fingerprint(root: Path, files: list[_File]) -> str:
    start = len(os.path.join(root, ""))  # entry paths all begin with it; relpath() is slow
    lines = "".join(f"{f.path[start:]}\t{f.size}\t{f.mtime_ns}\n" for f in files)
    return hashlib.sha256(lines.encode()).hexdigest()


def _decode(path: str, mode: str | None, size: int | None) -> np.ndarray:
    """One image as (H,W) for greyscale or (H,W,3) for colour, in the requested mode and size."""
    try:
        with Image.open(path) as im:
            target = mode or ("L" if im.mode in _GREY_MODES else "RGB")
            im = im.convert(target)
            if size is not None and im.size != (size, size):
                im = im.resize((size, size), Image.Resampling.BILINEAR)  # antialiased
            return np.asarray(im)
    except (OSError, ValueError, SyntaxError) as exc:  # PIL raises all three on bad files
        raise DataError(f"{path}: cannot read image ({exc})") from exc


def _decode_chunk(paths: list[str], mode: str | None, size: int | None) -> list[np.ndarray]:
    return [_decode(p, mode, size) for p in paths]


def _decode_all(paths: list[str], mode: str | None, size: int | None) -> list[np.ndarray]:
    """Decode in worker processes when there are many files (PIL decoding holds the GIL)."""
    chunks = [paths[i : i + _CHUNK] for i in range(0, len(paths), _CHUNK)]
    workers = min(os.cpu_count() or 1, 8)
    pool = ProcessPoolExecutor(workers) if len(paths) >= _PARALLEL_MIN and workers > 1 else None
    results = (pool.map if pool else map)(
        _decode_chunk, chunks, [mode] * len(chunks), [size] * len(chunks)
    )
    out: list[np.ndarray] = []
    try:
        with tqdm(total=len(paths), unit="img", desc="decoding images", disable=None) as bar:
            for arrays in results:
                out += arrays
                bar.update(len(arrays))
    finally:
        if pool:
            pool.shutdown(cancel_futures=True)
    return out


def _stack(arrays: list[np.ndarray], files: list[_File], root: Path) -> np.ndarray:
    """(N,C,H,W) uint8: C=1 when every image is greyscale, else greyscale ones are replicated."""
    first = arrays[0].shape[:2]
    for array, f in zip(arrays, files, strict=True):
        if array.shape[:2] != first:
            raise DataError(
                f"{root}: images differ in size: {files[0].path} is {first[1]}x{first[0]}, "
                f"{f.path} is {array.shape[1]}x{array.shape[0]}; pass size=N to resize them all"
            )
    if all(a.ndim == 2 for a in arrays):
        return np.stack(arrays)[:, None]
    rgb = np.stack([a if a.ndim == 3 else np.repeat(a[:, :, None], 3, axis=2) for a in arrays])
    return np.ascontiguousarray(rgb.transpose(0, 3, 1, 2))


def _cache_file(root: Path, size: int | None, mode: str | None) -> Path:
    key = f"{root.resolve()}|size={size}|mode={mode}|v{_CACHE_VERSION}"
    return cache_dir() / "folders" / f"{hashlib.sha256(key.encode()).hexdigest()[:24]}.npz"


def _map_member(path: Path, member: str) -> np.ndarray:
    """Memory-map an uncompressed ``.npy`` member of an ``.npz``: no copy, pages load on use.

    This is what makes a cached load of 60,000 images take well under a second.
    """
    with zipfile.ZipFile(path) as zf, open(path, "rb") as fh:
        info = zf.getinfo(member)
        if info.compress_type != zipfile.ZIP_STORED:
            raise ValueError(f"{member} is compressed")
        fh.seek(info.header_offset + 26)  # local header: name and extra lengths at bytes 26..29
        name_len, extra_len = struct.unpack("<HH", fh.read(4))
        fh.seek(info.header_offset + 30 + name_len + extra_len)
        version = np.lib.format.read_magic(fh)
        read_header = np.lib.format.read_array_header_1_0
        if version != (1, 0):
            read_header = np.lib.format.read_array_header_2_0
        shape, fortran, dtype = read_header(fh)
        offset = fh.tell()
    order = "F" if fortran else "C"
    return np.memmap(path, dtype=dtype, mode="c", offset=offset, shape=shape, order=order)


def _read_cache(path: Path, fingerprint: str) -> dict[str, np.ndarray] | None:
    """The cached arrays if the cache exists, is readable and matches the folder, else None."""
    try:
        with np.load(path, allow_pickle=False) as npz:
            if str(npz["fingerprint"]) != fingerprint:
                return None
            arrays = {key: npz[key] for key in npz.files if key != "images"}
        arrays["images"] = _map_member(path, "images.npy")
    except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):
        return None
    if arrays["images"].shape[0] != arrays["labels"].shape[0]:
        return None
    return arrays


def load_folder(
    root: str | Path, size: int | None = None, mode: str | None = None
) -> tuple[RawSplits, list[str]]:
    """Splits and class names of an image folder; ``size`` resizes to size x size while decoding,
    ``mode`` ("L" or "RGB") forces one colour mode (default: L if all images are greyscale)."""
    root = Path(root).expanduser()
    if mode is not None and mode not in MODES:
        raise DataError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    files, class_names = scan_folder(root)
    fingerprint = _fingerprint(root, files)
    cache = _cache_file(root, size, mode)
    arrays = _read_cache(cache, fingerprint)
    if arrays is None:
        images = _stack(_decode_all([f.path for f in files], mode, size), files, root)
        split_names = list(dict.fromkeys(f.split for f in files))
        arrays = {
            "images": images,
            "labels": np.array([f.label for f in files], dtype=np.int64),
            "split_names": np.array(split_names),
            "split_sizes": np.array([sum(f.split == s for f in files) for s in split_names]),
            "class_names": np.array(class_names, dtype=str),
            "fingerprint": np.array(fingerprint),
        }
        try:
            with atomic_write(cache) as fh:
                np.savez(fh, **arrays)
        except OSError as exc:  # a read-only or full cache dir only costs speed next time
            warnings.warn(f"could not write image cache {cache}: {exc}", stacklevel=2)
    images, labels = torch.from_numpy(arrays["images"]), torch.from_numpy(arrays["labels"])
    sizes = arrays["split_sizes"].tolist()
    splits = {
        str(name): (x, y)
        for name, x, y in zip(
            arrays["split_names"], images.split(sizes), labels.split(sizes), strict=True
        )
    }
    return splits, [str(c) for c in arrays["class_names"]]
