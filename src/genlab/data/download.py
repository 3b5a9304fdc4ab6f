"""Optional download of the public datasets from their official mirrors, checked by MD5."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from urllib.request import urlopen

from tqdm import tqdm

from genlab.data.errors import DataError
from genlab.io import atomic_write

_BLOCK = 1 << 20


@dataclass(frozen=True)
class Resource:
    filename: str
    md5: str
    mirrors: tuple[str, ...]  # base URLs, tried in order

    def urls(self) -> list[str]:
        return [f"{base.rstrip('/')}/{self.filename}" for base in self.mirrors]


_MNIST = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
_FASHION = (
    "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
    "https://raw.githubusercontent.com/zalandoresearch/fashion-mnist/master/data/fashion/",
)
RESOURCES: dict[str, list[Resource]] = {
    "mnist": [
        Resource("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873", _MNIST),
        Resource("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432", _MNIST),
        Resource("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3", _MNIST),
        Resource("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c", _MNIST),
    ],
    "fashion-mnist": [
        Resource("train-images-idx3-ubyte.gz", "8d4fb7e6c68d591d4c3dfef9ec88bf0d", _FASHION),
        Resource("train-labels-idx1-ubyte.gz", "25c81989df183df01b3e8a0aad5dffbe", _FASHION),
        Resource("t10k-images-idx3-ubyte.gz", "bef4ecab320f06d8554ea6380940ec79", _FASHION),
        Resource("t10k-labels-idx1-ubyte.gz", "bb300cfdad3c16e7a12a480ee83cd310", _FASHION),
    ],
    "cifar10": [
        Resource(
            "cifar-10-python.tar.gz",
            "c58f30108f718f92721af3b95e74349a",
            ("https://www.cs.toronto.edu/~kriz/",),
        )
    ],
    "stl10": [
        Resource(
            "stl10_binary.tar.gz",
            "91f7769df0f17e558f3565bffb0c7dfb",
            ("http://ai.stanford.edu/~acoates/stl10/",),
        )
    ],
}
_EXTRACT = {"stl10"}  # read from the extracted folder: its 2.7 GB member is not streamed twice


def fetch(resource: Resource, directory: Path) -> Path:
    """Download ``resource`` into ``directory`` (atomically), trying each mirror in turn.

    A checksum mismatch deletes the download and raises at once: a mirror serving wrong bytes is
    not something to paper over with another mirror.
    """
    dest = directory / resource.filename
    errors = []
    for url in resource.urls():
        try:
            with urlopen(url, timeout=60) as response, atomic_write(dest) as fh:
                total = int(response.headers.get("Content-Length") or 0) or None
                digest = hashlib.md5(usedforsecurity=False)
                with tqdm(total=total, unit="B", unit_scale=True, desc=resource.filename) as bar:
                    while block := response.read(_BLOCK):
                        fh.write(block)
                        digest.update(block)
                        bar.update(len(block))
                if digest.hexdigest() != resource.md5:
                    raise DataError(
                        f"{url}: MD5 {digest.hexdigest()}, expected {resource.md5}; "
                        "the download was deleted"
                    )
            return dest
        except OSError as exc:  # URLError, HTTPError and timeouts: try the next mirror
            errors.append(f"{url}: {exc}")
    raise DataError(f"could not download {resource.filename}: {'; '.join(errors)}")


def _extract(archive: Path, directory: Path) -> None:
    """Unpack into a temp dir beside the target, then move the top-level entries into place."""
    with tempfile.TemporaryDirectory(dir=directory, prefix=".extract-") as tmp:
        try:
            with tarfile.open(archive) as tar:
                tar.extractall(tmp, filter="data")
        except (tarfile.TarError, OSError, EOFError) as exc:
            raise DataError(f"{archive}: cannot extract ({exc})") from exc
        for entry in os.listdir(tmp):
            os.replace(os.path.join(tmp, entry), directory / entry)
    archive.unlink()


def _missing_dirs(directory: Path) -> list[Path]:
    """``directory`` and those of its parents that do not exist yet, deepest first."""
    missing = []
    while not directory.exists():
        missing.append(directory)
        directory = directory.parent
    return missing


def _remove_new(directory: Path, before: set[str], made: list[Path]) -> None:
    """Remove the entries of ``directory`` not in ``before``, then the folders in ``made``
    (quietly: cleaning up must not hide the error that called for it)."""
    with contextlib.suppress(OSError):
        for entry in set(os.listdir(directory)) - before:
            target = directory / entry
            if target.is_dir():
                shutil.rmtree(target)
            else:
                target.unlink()
    for folder in made:  # deepest first; each is empty once its children are gone
        with contextlib.suppress(OSError):
            folder.rmdir()


def download_dataset(name: str, root: Path) -> Path:
    """Fetch dataset ``name`` into ``root/name`` (the layout ``load_dataset`` searches).

    A download that fails removes what it created (the files it fetched, the folders it
    made), so a later search does not find an empty or half-filled dataset folder; files
    that were there before are left alone.
    """
    if name not in RESOURCES:
        raise DataError(f"no download for {name!r}; downloadable: {', '.join(RESOURCES)}")
    directory = Path(root).expanduser() / name
    made = _missing_dirs(directory)
    directory.mkdir(parents=True, exist_ok=True)
    before = set(os.listdir(directory))
    try:
        for resource in RESOURCES[name]:
            path = fetch(resource, directory)
            if name in _EXTRACT:
                _extract(path, directory)
    except BaseException:  # an interrupt too: it leaves the same half-made folder
        _remove_new(directory, before, made)
        raise
    return directory
