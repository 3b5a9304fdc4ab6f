import os
from pathlib import Path

import numpy as np
import pytest
import torch
from datafiles import write_image

from genlab.data import DataError, load_dataset
from genlab.data import folder as folder_mod
from genlab.data.folder import load_folder


def _grey(value: int, size: int = 8) -> np.ndarray:
    img = np.full((size, size), value, np.uint8)
    img[0, 1] = 255 - value  # asymmetric, to catch transposes
    return img


def _split_tree(root: Path) -> None:
    for split, n in (("train", 3), ("test", 2)):
        for c, name in enumerate(["zebra", "ant"]):  # unsorted on purpose
            for i in range(n):
                write_image(root / split / name / f"{i:03d}.png", _grey(10 * c + i))


def test_split_class_layout_png_grey(tmp_path: Path) -> None:
    _split_tree(tmp_path / "imgs")
    splits, names = load_folder(tmp_path / "imgs")
    assert names == ["ant", "zebra"]
    x, y = splits["train"]
    assert x.shape == (6, 1, 8, 8) and x.dtype == torch.uint8
    assert y.tolist() == [0, 0, 0, 1, 1, 1]  # ant (c=1 above) first
    assert torch.equal(x[0, 0], torch.from_numpy(_grey(10)))
    assert len(splits["test"][0]) == 4


def test_class_layout_all_train_and_default_val(tmp_path: Path) -> None:
    for c in range(2):
        for i in range(10):
            write_image(tmp_path / f"class{c}" / f"{i}.png", _grey(i))
    ds = load_dataset(f"folder:{tmp_path}")
    assert {k: len(v) for k, v in ds.splits.items()} == {"train": 18, "val": 2}
    assert ds.class_names == ["class0", "class1"]
    ds = load_dataset(f"folder:{tmp_path}", val_size=0)
    assert list(ds.splits) == ["train"]


def test_flat_layout_is_unlabeled(tmp_path: Path) -> None:
    for i in range(3):
        write_image(tmp_path / f"{i:05d}.png", _grey(i))
    (tmp_path / "notes.txt").write_text("not an image")
    (tmp_path / ".hidden.png").write_bytes(b"skipped")
    splits, names = load_folder(tmp_path)
    assert names == [] and splits["train"][1].tolist() == [-1, -1, -1]


def test_jpg_rgb(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    img = np.zeros((16, 16, 3), np.uint8)
    img[:8] = (200, 30, 90)
    img[8:] = rng.integers(0, 256, 3, dtype=np.uint8)
    write_image(tmp_path / "a" / "x.jpg", img, quality=100)
    write_image(tmp_path / "a" / "y.JPEG", img, quality=100)
    splits, _ = load_folder(tmp_path)
    x = splits["train"][0]
    assert x.shape == (2, 3, 16, 16)
    diff = (x[0].permute(1, 2, 0).int() - torch.from_numpy(img).int()).abs().float().mean()
    assert diff < 3  # JPEG is lossy


def test_mixed_modes_become_rgb_and_mode_can_be_forced(tmp_path: Path) -> None:
    write_image(tmp_path / "c" / "grey.png", _grey(50))
    write_image(tmp_path / "c" / "rgb.png", np.full((8, 8, 3), (10, 20, 30), np.uint8))
    x = load_folder(tmp_path)[0]["train"][0]
    assert x.shape == (2, 3, 8, 8)
    assert torch.equal(x[0, 0], x[0, 2]) and x[0, 0, 0, 0] == 50  # grey replicated
    assert x[1, :, 0, 0].tolist() == [10, 20, 30]
    grey = load_folder(tmp_path, mode="L")[0]["train"][0]
    assert grey.shape == (2, 1, 8, 8) and grey[1, 0, 0, 0] == 18  # ITU-R 601-2 luma: 18.15
    rgb = load_dataset(f"folder:{tmp_path}", mode="RGB", val_size=0).split("train").images
    assert rgb.shape == (2, 3, 8, 8)
    with pytest.raises(DataError, match="mode must be one of L, RGB"):
        load_folder(tmp_path, mode="CMYK")


def test_mixed_sizes_name_two_files_unless_size_given(tmp_path: Path) -> None:
    write_image(tmp_path / "c" / "a.png", _grey(1, size=8))
    write_image(tmp_path / "c" / "b.png", _grey(1, size=8))
    write_image(tmp_path / "c" / "c.png", _grey(1, size=12))
    with pytest.raises(DataError, match=r"a\.png is 8x8, .*c\.png is 12x12; pass size"):
        load_folder(tmp_path)
    x = load_folder(tmp_path, size=6)[0]["train"][0]
    assert x.shape == (3, 1, 6, 6)


def test_unreadable_image_named(tmp_path: Path) -> None:
    write_image(tmp_path / "c" / "good.png", _grey(1))
    (tmp_path / "c" / "bad.png").write_bytes(b"\x89PNG garbage")
    with pytest.raises(DataError, match=r"bad\.png: cannot read image"):
        load_folder(tmp_path)


def test_bad_layouts(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a directory"):
        load_folder(tmp_path / "missing")
    (tmp_path / "empty" / "cls").mkdir(parents=True)
    with pytest.raises(DataError, match="no image files"):
        load_folder(tmp_path / "empty")
    write_image(tmp_path / "mixed" / "loose.png", _grey(1))
    write_image(tmp_path / "mixed" / "cls" / "a.png", _grey(1))
    with pytest.raises(DataError, match="mixes image files and sub-folders"):
        load_folder(tmp_path / "mixed")
    with pytest.raises(DataError, match="folder: needs a path"):
        load_dataset("folder:")


def test_missing_split_lists_available(tmp_path: Path) -> None:
    _split_tree(tmp_path)
    ds = load_dataset(f"folder:{tmp_path}", val_size=1)
    assert list(ds.splits) == ["train", "val", "test"]
    with pytest.raises(DataError, match="has no split 'unlabeled'; available: train, val, test"):
        ds.split("unlabeled")


def _no_decode(*args: object) -> None:
    raise AssertionError("decoded although the cache is valid")


def test_cache_reused_and_invalidated(
    tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "imgs"
    _split_tree(root)
    first = load_folder(root)
    caches = list((isolated_env / "folders").glob("*.npz"))
    assert len(caches) == 1
    with monkeypatch.context() as m:
        m.setattr(folder_mod, "_decode_all", _no_decode)
        second = load_folder(root)
    assert second[1] == first[1]
    for split in first[0]:
        assert all(
            torch.equal(a, b) for a, b in zip(first[0][split], second[0][split], strict=True)
        )
    # a changed file (new mtime) invalidates the cache
    changed = root / "train" / "ant" / "000.png"
    write_image(changed, _grey(99))
    os.utime(changed, ns=(1, 1))
    with monkeypatch.context() as m:
        m.setattr(folder_mod, "_decode_all", _no_decode)
        with pytest.raises(AssertionError, match="decoded"):
            load_folder(root)
    assert load_folder(root)[0]["train"][0][0, 0, 0, 0] == 99
    # size and mode get their own cache entries
    load_folder(root, size=4)
    assert len(list((isolated_env / "folders").glob("*.npz"))) == 2


def test_corrupt_cache_is_rebuilt(tmp_path: Path, isolated_env: Path) -> None:
    _split_tree(tmp_path / "imgs")
    expected = load_folder(tmp_path / "imgs")[0]["train"][0]
    (cache,) = (isolated_env / "folders").glob("*.npz")
    cache.write_bytes(b"garbage")
    assert torch.equal(load_folder(tmp_path / "imgs")[0]["train"][0], expected)


@pytest.mark.parametrize("error", [RuntimeError, KeyboardInterrupt])
def test_no_partial_cache_after_failed_write(
    tmp_path: Path, isolated_env: Path, monkeypatch: pytest.MonkeyPatch, error: type
) -> None:
    _split_tree(tmp_path / "imgs")

    def half_write(fh, **arrays: np.ndarray) -> None:
        fh.write(b"PK\x03\x04 partial")
        raise error("interrupted mid-write")

    monkeypatch.setattr(folder_mod.np, "savez", half_write)
    with pytest.raises(error):
        load_folder(tmp_path / "imgs")
    assert list((isolated_env / "folders").iterdir()) == []


def test_unwritable_cache_only_warns(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _split_tree(tmp_path / "imgs")
    blocker = tmp_path / "file"
    blocker.write_text("a file where the cache dir should be")
    monkeypatch.setenv("GENLAB_CACHE", str(blocker))
    with pytest.warns(UserWarning, match="could not write image cache"):
        splits, _ = load_folder(tmp_path / "imgs")
    assert len(splits["train"][0]) == 6


def test_parallel_decode(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker-process path gives the same result and reports unreadable files."""
    _split_tree(tmp_path / "imgs")
    serial = load_folder(tmp_path / "imgs", size=5)[0]
    monkeypatch.setattr(folder_mod, "_PARALLEL_MIN", 1)
    monkeypatch.setattr(folder_mod, "_CHUNK", 3)
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path / "other-cache"))
    parallel = load_folder(tmp_path / "imgs", size=5)[0]
    assert torch.equal(serial["train"][0], parallel["train"][0])
    (tmp_path / "imgs" / "test" / "ant" / "zz.png").write_bytes(b"broken")
    with pytest.raises(DataError, match=r"zz\.png: cannot read image"):
        load_folder(tmp_path / "imgs", size=5)
