import pytest
import torch
import torch.nn.functional as F

from genlab.data import (
    DataError,
    binarize_dynamic,
    binarize_static,
    binarize_threshold,
    discretize,
    load_dataset,
    resize_images,
    to_float,
)
from genlab.data import views as views_mod


@pytest.fixture(scope="module")
def mini_images() -> torch.Tensor:
    return load_dataset("mnist-mini", val_size=0).split("train").images[:2000]


def test_to_float() -> None:
    x = to_float(torch.tensor([[0, 51, 255]], dtype=torch.uint8))
    assert x.dtype == torch.float32 and torch.allclose(x, torch.tensor([[0.0, 0.2, 1.0]]))
    half = torch.tensor([0.5], dtype=torch.float64)
    assert to_float(half).dtype == torch.float32
    with pytest.raises(DataError, match="uint8 or float"):
        to_float(torch.tensor([1, 2]))


def test_binarize_threshold() -> None:
    x = torch.tensor([0.0, 0.5, 0.51, 1.0])
    assert binarize_threshold(x).tolist() == [0.0, 0.0, 1.0, 1.0]
    assert binarize_threshold(x, threshold=0.0).tolist() == [0.0, 1.0, 1.0, 1.0]


def test_binarize_static_fixed_by_seed(mini_images: torch.Tensor) -> None:
    a, b = binarize_static(mini_images, seed=3), binarize_static(mini_images, seed=3)
    assert a.dtype == torch.uint8 and torch.equal(a, b)
    assert set(a.unique().tolist()) <= {0, 255}
    assert not torch.equal(a, binarize_static(mini_images, seed=4))
    assert torch.all(a[mini_images == 0] == 0) and torch.all(a[mini_images == 255] == 255)
    assert abs(a.float().mean() - mini_images.float().mean()) / 255 < 0.005


def test_binarize_static_independent_of_chunking(
    mini_images: torch.Tensor, monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = binarize_static(mini_images, seed=0)
    monkeypatch.setattr(views_mod, "_CHUNK_ELEMENTS", 784 * 7 + 3)
    assert torch.equal(binarize_static(mini_images, seed=0), expected)


def test_binarize_dynamic_fresh_each_draw(mini_images: torch.Tensor) -> None:
    x = to_float(mini_images[:500])
    gen = torch.Generator().manual_seed(0)
    a, b = binarize_dynamic(x, gen), binarize_dynamic(x, gen)
    assert a.dtype == torch.float32 and set(a.unique().tolist()) <= {0.0, 1.0}
    assert not torch.equal(a, b)
    assert torch.equal(a, binarize_dynamic(x, torch.Generator().manual_seed(0)))
    assert abs(a.mean() - x.mean()) < 0.01


def test_discretize_bin_edges() -> None:
    x = torch.tensor([0.0, 0.2499, 0.25, 0.5, 0.99, 1.0])
    d = discretize(x, 4)
    assert d.dtype == torch.int64 and d.tolist() == [0, 0, 1, 2, 3, 3]
    assert discretize(torch.tensor([0.0, 1.0]), 256).tolist() == [0, 255]
    with pytest.raises(DataError, match="at least 2 bins"):
        discretize(x, 1)


def test_resize_uint8(monkeypatch: pytest.MonkeyPatch) -> None:
    x = torch.randint(0, 256, (7, 3, 96, 96), dtype=torch.uint8)
    y = resize_images(x, 64)
    assert y.shape == (7, 3, 64, 64) and y.dtype == torch.uint8
    ref = F.interpolate(x.float(), size=(64, 64), mode="bilinear", antialias=True)
    assert torch.equal(y, ref.round().clamp(0, 255).to(torch.uint8))
    monkeypatch.setattr(views_mod, "_CHUNK_ELEMENTS", 3 * 96 * 96 * 2)  # two images per chunk
    assert torch.equal(resize_images(x, 64), y)
    const = torch.full((2, 1, 10, 10), 77, dtype=torch.uint8)
    assert torch.all(resize_images(const, 23) == 77)
    assert resize_images(x, 96) is x


def test_resize_float_and_errors() -> None:
    x = torch.rand(2, 1, 8, 8)
    y = resize_images(x, (4, 6))
    assert y.dtype == torch.float32 and y.shape == (2, 1, 4, 6)
    with pytest.raises(DataError, match="positive"):
        resize_images(x, 0)
    with pytest.raises(DataError, match=r"\(N,C,H,W\)"):
        resize_images(x[0], 4)
