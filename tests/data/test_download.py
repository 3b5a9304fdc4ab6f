import hashlib
import io
import tarfile
from pathlib import Path
from urllib.error import URLError

import numpy as np
import pytest
from datafiles import idx_bytes

from genlab.data import DataError, load_dataset
from genlab.data import download as dl


class _Response(io.BytesIO):
    def __init__(self, data: bytes) -> None:
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def _serve(monkeypatch: pytest.MonkeyPatch, files: dict[str, bytes]) -> list[str]:
    """Patch the URL opener to serve ``files`` by URL suffix; returns the URLs requested."""
    requested: list[str] = []

    def fake_urlopen(url: str, timeout: float) -> _Response:
        requested.append(url)
        for suffix, data in files.items():
            if url.endswith(suffix):
                return _Response(data)
        raise URLError("no route to host")

    monkeypatch.setattr(dl, "urlopen", fake_urlopen)
    return requested


def _md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()


def test_fetch_good_checksum(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    payload = b"x" * 3_000_000
    _serve(monkeypatch, {"m2/f.bin": payload})
    resource = dl.Resource("f.bin", _md5(payload), ("http://m1", "http://m2"))  # m1 is down
    assert dl.fetch(resource, tmp_path).read_bytes() == payload
    assert [p.name for p in tmp_path.iterdir()] == ["f.bin"]


def test_fetch_bad_checksum_deletes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _serve(monkeypatch, {"f.bin": b"tampered"})
    resource = dl.Resource("f.bin", "0" * 32, ("http://m1",))
    with pytest.raises(DataError, match=r"http://m1/f\.bin: MD5 .* expected 0{32}; .*deleted"):
        dl.fetch(resource, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_all_mirrors_down(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _serve(monkeypatch, {})
    resource = dl.Resource("f.bin", "0" * 32, ("http://a", "http://b"))
    with pytest.raises(DataError, match=r"could not download f\.bin: http://a/f\.bin: .*http://b"):
        dl.fetch(resource, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_load_dataset_download_mnist(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    files = {}
    for prefix, n in (("train", 20), ("t10k", 5)):
        files[f"{prefix}-images-idx3-ubyte.gz"] = idx_bytes(np.zeros((n, 28, 28), np.uint8))
        files[f"{prefix}-labels-idx1-ubyte.gz"] = idx_bytes(np.zeros(n, np.uint8))
    resources = [dl.Resource(name, _md5(data), ("http://mirror",)) for name, data in files.items()]
    monkeypatch.setitem(dl.RESOURCES, "mnist", resources)
    requested = _serve(monkeypatch, files)
    with pytest.raises(DataError, match="not found"):
        load_dataset("mnist", data_dir=tmp_path)
    ds = load_dataset("mnist", data_dir=tmp_path, download=True, val_size=4)
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 16, "val": 4, "test": 5}
    assert len(requested) == 4
    load_dataset("mnist", data_dir=tmp_path, download=True, val_size=4)  # found: no new fetch
    assert len(requested) == 4


def test_stl10_archive_is_extracted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        info = tarfile.TarInfo("stl10_binary/class_names.txt")
        info.size = 3
        tar.addfile(info, io.BytesIO(b"cat"))
    archive = buf.getvalue()
    monkeypatch.setitem(
        dl.RESOURCES, "stl10", [dl.Resource("stl10_binary.tar.gz", _md5(archive), ("http://s",))]
    )
    _serve(monkeypatch, {"stl10_binary.tar.gz": archive})
    directory = dl.download_dataset("stl10", tmp_path)
    assert directory == tmp_path / "stl10"
    assert sorted(p.name for p in directory.iterdir()) == ["stl10_binary"]
    assert (directory / "stl10_binary" / "class_names.txt").read_text() == "cat"


def test_every_named_dataset_but_mini_is_downloadable() -> None:
    assert set(dl.RESOURCES) == {"mnist", "fashion-mnist", "cifar10", "stl10"}
    assert all(len(r.md5) == 32 for rs in dl.RESOURCES.values() for r in rs)
    with pytest.raises(DataError, match="no download for 'mnist-mini'"):
        dl.download_dataset("mnist-mini", Path("unused"))


def _two_files(monkeypatch: pytest.MonkeyPatch, served: dict[str, bytes]) -> None:
    """mnist as two resources, a.gz and b.gz; ``served`` says which the mirror has."""
    resources = [dl.Resource(n, _md5(b"data " + n.encode()), ("http://m",)) for n in ("a", "b")]
    monkeypatch.setitem(dl.RESOURCES, "mnist", resources)
    _serve(monkeypatch, served)


def test_a_failed_download_removes_the_folders_and_files_it_made(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _two_files(monkeypatch, {"/a": b"data a"})  # b is missing from the mirror
    root = tmp_path / "new" / "data"
    with pytest.raises(DataError, match="could not download b"):
        dl.download_dataset("mnist", root)
    assert list(tmp_path.iterdir()) == []  # no mnist/, no data/, no new/
    with pytest.raises(DataError, match="could not download b"):
        load_dataset("mnist", data_dir=root, download=True)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_download_leaves_what_was_there_before(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "mnist").mkdir()
    (tmp_path / "mnist" / "notes.txt").write_text("mine")
    _two_files(monkeypatch, {"/a": b"data a"})
    with pytest.raises(DataError):
        dl.download_dataset("mnist", tmp_path)
    assert [p.name for p in (tmp_path / "mnist").iterdir()] == ["notes.txt"]
    _two_files(monkeypatch, {"/a": b"data a", "/b": b"data b"})
    dl.download_dataset("mnist", tmp_path)
    assert sorted(p.name for p in (tmp_path / "mnist").iterdir()) == ["a", "b", "notes.txt"]
