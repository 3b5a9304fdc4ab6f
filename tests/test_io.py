"""Atomic writes: an interrupted or failing write leaves the old file, and names the file."""

from __future__ import annotations

import errno
import os
from pathlib import Path

import pytest

from genlab import io as gio
from genlab.io import WriteError, append_text, write_json, write_text

ENOSPC = OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))


def full_disk(*args: object, **kwargs: object) -> None:
    raise ENOSPC


def test_a_full_disk_names_the_file_and_leaves_the_old_one(tmp_path: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_text(tmp_path / "a.json", "old")
    monkeypatch.setattr(gio.os, "replace", full_disk)
    with pytest.raises(WriteError) as failed:
        write_json(path, {"new": 1})
    assert str(failed.value) == f"cannot write {path}: No space left on device"
    assert failed.value.errno == errno.ENOSPC and failed.value.filename == str(path)
    assert isinstance(failed.value, OSError)  # the CLI's one-line message, exit 2
    assert path.read_text() == "old" and [p.name for p in tmp_path.iterdir()] == ["a.json"]


def test_an_unwritable_folder_and_an_append_name_their_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(WriteError, match=f"cannot write {tmp_path / 'file' / 'x.txt'}: "):
        write_text(tmp_path / "file" / "x.txt", "a")  # its folder is a file
    append_text(tmp_path / "log.jsonl", "1\n")
    monkeypatch.setattr("builtins.open", full_disk)
    with pytest.raises(WriteError, match=f"cannot write {tmp_path / 'log.jsonl'}: No space"):
        append_text(tmp_path / "log.jsonl", "2\n")
