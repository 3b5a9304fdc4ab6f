from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from genlab.data import load_dataset
from genlab.figures import images as images_mod
from genlab.figures.images import (
    make_grid,
    save_image_grid,
    save_images_folder,
    save_images_npz,
    save_rows_figure,
    to_uint8,
)


@pytest.fixture(autouse=True)
def _isolated_cache(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GENLAB_CACHE", str(tmp_path_factory.mktemp("cache")))


def _numbered(n: int, c: int = 1, size: int = 4) -> torch.Tensor:
    """Image k is filled with the value 10*(k+1)."""
    return (
        (torch.arange(1, n + 1, dtype=torch.uint8) * 10).view(n, 1, 1, 1).expand(n, c, size, size)
    )


def test_make_grid_layout() -> None:
    grid = make_grid(_numbered(5), nrow=3, pad=2)
    assert grid.dtype == np.uint8 and grid.shape == (2 * 6 + 2, 3 * 6 + 2, 1)
    assert grid[2, 2, 0] == 10 and grid[2, 8, 0] == 20 and grid[8, 2, 0] == 40  # row-major
    assert grid[8, 14, 0] == 255  # the empty sixth cell
    assert grid[0, :, 0].tolist() == [255] * grid.shape[1]  # border
    rgb = make_grid(torch.ones(4, 3, 5, 5) * 0.5)  # floats, default square layout
    assert rgb.shape == (2 * 7 + 2, 2 * 7 + 2, 3) and rgb[3, 3].tolist() == [128, 128, 128]


def test_to_uint8_validation() -> None:
    assert to_uint8(torch.tensor([[[[1.5, -1.0]]]])).tolist() == [[[[255, 0]]]]
    for bad in (torch.zeros(2, 2, 4, 4), torch.zeros(4, 4), torch.zeros(0, 1, 2, 2)):
        with pytest.raises(ValueError):
            to_uint8(bad)


def test_plain_grid_is_pixel_exact_and_scaled(tmp_path: Path) -> None:
    path = save_image_grid(_numbered(4, size=8), tmp_path / "deep" / "dir" / "g.png", scale=2)
    with Image.open(path) as im:
        assert im.mode == "L" and im.size == ((2 * 10 + 2) * 2, (2 * 10 + 2) * 2)
        assert im.getpixel((5, 5)) == 10
    auto = save_image_grid(_numbered(4, c=3, size=8), tmp_path / "auto.png")
    with Image.open(auto) as im:
        assert im.mode == "RGB" and im.size == (22 * 12, 22 * 12)  # 96 // 8 = 12
    assert sorted(p.name for p in tmp_path.iterdir()) == ["auto.png", "deep"]  # no temp files


def test_labelled_grid_and_rows_figure(tmp_path: Path) -> None:
    ds = load_dataset("mnist-mini")
    split = ds.split("test")
    labels = [ds.class_names[i] for i in split.labels[:10]]
    path = save_image_grid(split.images[:10], tmp_path / "labels.png", labels=labels, title="t")
    with Image.open(path) as im:
        assert im.format == "PNG" and im.size[0] > 100
    with pytest.raises(ValueError, match="3 labels for 10 images"):
        save_image_grid(split.images[:10], tmp_path / "x.png", labels=labels[:3])
    rows = [split.images[:8], split.images[8:16].float() / 255, torch.rand(3, 3, 28, 28)]
    path = save_rows_figure(
        rows,
        tmp_path / "rows.png",
        row_labels=["a", "b", "c"],
        col_labels=list("01234567"),
        title="r",
    )
    assert path.is_file()
    with pytest.raises(ValueError, match="2 row labels for 3 rows"):
        save_rows_figure(rows, tmp_path / "bad.png", row_labels=["a", "b"])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["labels.png", "rows.png"]


def test_failed_write_leaves_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def broken_save(self: Image.Image, fh: object, **kwargs: object) -> None:
        fh.write(b"\x89PNG partial")  # type: ignore[attr-defined]
        raise KeyboardInterrupt

    monkeypatch.setattr(images_mod.Image.Image, "save", broken_save)
    with pytest.raises(KeyboardInterrupt):
        save_image_grid(_numbered(2), tmp_path / "g.png")
    assert list(tmp_path.iterdir()) == []


def test_npz_round_trip(tmp_path: Path) -> None:
    x = torch.rand(5, 3, 6, 6)
    path = save_images_npz(x, tmp_path / "s.npz", labels=torch.arange(5, dtype=torch.int32))
    with np.load(path) as npz:
        assert npz["images"].dtype == np.uint8 and npz["images"].shape == (5, 3, 6, 6)
        assert np.array_equal(npz["images"], to_uint8(x).numpy())
        assert npz["labels"].dtype == np.int64 and npz["labels"].tolist() == [0, 1, 2, 3, 4]
    with np.load(save_images_npz(x, tmp_path / "nolabels.npz")) as npz:
        assert npz.files == ["images"]


def test_images_folder_reads_back_as_a_dataset(tmp_path: Path) -> None:
    x = torch.randint(0, 256, (12, 1, 5, 5), dtype=torch.uint8)
    paths = save_images_folder(x, tmp_path / "samples")
    assert [p.name for p in paths[:2]] == ["00000.png", "00001.png"] and len(paths) == 12
    ds = load_dataset(f"folder:{tmp_path / 'samples'}", val_size=0)
    assert torch.equal(ds.split("train").images, x)
    assert ds.class_names == [] and ds.split("train").labels.tolist() == [-1] * 12
