"""The reference-statistics cache: written once, reused, keyed, and robust to damage."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from genlab.evaluation.classifier import load_classifier
from genlab.evaluation.metrics import feature_stats
from genlab.evaluation.neighbours import knn_radii
from genlab.evaluation.reference import reference_set

KEY = {"dataset": "mnist-mini", "split": "test", "val_size": 500, "split_seed": 0, "size": None}


@pytest.fixture
def images() -> torch.Tensor:
    return torch.randint(0, 256, (60, 1, 28, 28), generator=torch.Generator().manual_seed(0),
                         dtype=torch.uint8)


def test_computed_once_then_read(tiny_classifier: Path, images, stats_cache: Path,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    clf = load_classifier(tiny_classifier)
    first = reference_set(clf, images, KEY)
    assert first.path is not None and first.path.parent == stats_cache
    assert first.path.name.startswith("mnist-mini-test-fid-tiny-")
    torch.testing.assert_close(first.stats.cov, feature_stats(first.features).cov)
    torch.testing.assert_close(first.radii, knn_radii(first.features))

    def fail(*args, **kwargs):
        raise AssertionError("features were recomputed")

    monkeypatch.setattr(type(clf), "features_and_probs", fail)
    again = reference_set(clf, images, KEY)
    assert again.key == first.key and again.stats.count == 60
    for a, b in [(again.features, first.features), (again.stats.mean, first.stats.mean),
                 (again.radii, first.radii), (again.probs, first.probs)]:
        torch.testing.assert_close(a, b)


def test_another_key_or_a_damaged_file_is_recomputed(tiny_classifier: Path, images,
                                                     stats_cache: Path) -> None:
    clf = load_classifier(tiny_classifier)
    first = reference_set(clf, images, KEY)
    other = reference_set(clf, images, {**KEY, "split_seed": 1})
    assert other.path != first.path and len(list(stats_cache.iterdir())) == 2
    first.path.write_bytes(b"not safetensors")
    repaired = reference_set(clf, images, KEY)
    torch.testing.assert_close(repaired.features, first.features)
    assert repaired.path.stat().st_size > 100


def test_other_images_under_the_same_key_are_not_read_from_the_cache(
        tiny_classifier: Path, images, stats_cache: Path) -> None:
    clf = load_classifier(tiny_classifier)
    first = reference_set(clf, images, KEY)
    other_images = images.flip(0)  # the same name, split and sizing: other pixels
    other = reference_set(clf, other_images, KEY)
    assert other.path != first.path
    torch.testing.assert_close(other.features, first.features.flip(0))
    assert reference_set(clf, images.clone(), KEY).path == first.path  # same values: shared


def test_no_cache_writes_nothing(tiny_classifier: Path, images, stats_cache: Path) -> None:
    assert reference_set(load_classifier(tiny_classifier), images, KEY, cache=False).path is None
    assert not stats_cache.exists()


def test_the_key_names_the_classes_a_run_keeps() -> None:
    from genlab.evaluation.reference import dataset_key
    from genlab.training.config import DataConfig

    whole = dataset_key("cifar10", "test", DataConfig(dataset="cifar10"))
    kept = dataset_key("cifar10", "test", DataConfig(dataset="cifar10", classes=["horse", "bird"]))
    assert "classes" not in whole and kept == {**whole, "classes": ["horse", "bird"]}
