"""The feature classifier: saving, loading, integrity, augmentation and the shipped weights."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from evaldata import needs_cifar, needs_mnist, shared_cifar, shared_data

from genlab.data import load_dataset
from genlab.errors import ConfigError
from genlab.evaluation.classifier import (
    ClassifierConfig,
    ClassifierNet,
    default_classifier,
    load_classifier,
    record_path,
    shipped_weights,
)
from genlab.evaluation.classifier_training import SHIFT, TrainingOptions, _options_for, accuracy
from genlab.evaluation.classifier_training import augment_batch as augment


def test_save_and_load_round_trip(tiny_classifier: Path) -> None:
    clf = load_classifier(tiny_classifier)
    record = json.loads(record_path(tiny_classifier).read_text())
    assert clf.name == "tiny" and clf.feature_space == "fid-tiny"
    assert clf.sha256 == record["sha256"] and len(clf.sha256) == 64
    images = torch.rand(5, 1, 28, 28)
    feats, probs = clf.features_and_probs(images)
    assert feats.shape == (5, 16) and probs.shape == (5, 10)
    torch.testing.assert_close(clf.features(images), feats)
    torch.testing.assert_close(probs.sum(1), torch.ones(5))
    torch.testing.assert_close(clf.probs((images * 255).round().to(torch.uint8)), probs,
                               atol=1e-2, rtol=0)


def test_changed_weights_are_refused(tiny_classifier: Path, tmp_path: Path) -> None:
    copy = tmp_path / "tiny.safetensors"
    data = bytearray(tiny_classifier.read_bytes())
    data[-1] ^= 1
    copy.write_bytes(bytes(data))
    record_path(copy).write_text(record_path(tiny_classifier).read_text())
    with pytest.raises(ConfigError, match="SHA-256"):
        load_classifier(copy)
    with pytest.raises(ConfigError, match="beside it"):
        load_classifier(tmp_path / "missing.safetensors")


def test_images_of_another_shape_are_refused(tiny_classifier: Path) -> None:
    clf = load_classifier(tiny_classifier)
    for shape in ((3, 32, 32), (1, 42, 42), (1, 56, 28)):  # colour, 1.5x, not square
        with pytest.raises(ConfigError, match=r"takes \(1, 28, 28\) images"):
            clf.features(torch.rand(2, *shape))


def test_square_multiples_are_scored_at_the_classifiers_size(tiny_classifier: Path) -> None:
    """A 56 x 56 image is area-averaged (2 x 2 means) to 28 x 28: the same numbers as the
    averaged image itself, uint8 or float."""
    clf = load_classifier(tiny_classifier)
    big = torch.rand(5, 1, 56, 56)
    small = torch.nn.functional.avg_pool2d(big, 2)
    assert clf.scale_of((1, 56, 56)) == 2 and clf.scale_of((1, 28, 28)) == 1
    torch.testing.assert_close(clf.probs(big), clf.probs(small), rtol=0, atol=1e-6)
    feats, probs = clf.features_and_probs(big)
    torch.testing.assert_close(feats, clf.features(small), rtol=0, atol=1e-5)
    torch.testing.assert_close(probs, clf.probs(small), rtol=0, atol=1e-6)
    as_bytes = (big * 255).round().to(torch.uint8)
    torch.testing.assert_close(clf.probs(as_bytes), clf.probs(as_bytes.float() / 255),
                               rtol=0, atol=1e-6)


def test_colour_architecture_builds_for_32_pixels() -> None:
    net = ClassifierNet(ClassifierConfig(channels=3, size=32, widths=[8, 8, 8], convs=[2, 2, 2]))
    assert net(torch.rand(2, 3, 32, 32)).shape == (2, 10)
    with pytest.raises(ConfigError, match="conv count"):
        ClassifierNet(ClassifierConfig(widths=[8, 8], convs=[1]))


def test_default_options_depend_on_colour() -> None:
    grey = _options_for((1, 28, 28), TrainingOptions())
    colour = _options_for((3, 32, 32), TrainingOptions())
    assert (grey.augment, grey.widths, grey.convs) == ("shift", [32, 64], [1, 2])
    assert (colour.augment, colour.widths, colour.convs) == ("shift+flip", [64, 128, 256],
                                                             [2, 2, 2])


def test_augmentation_shifts_each_image_within_the_pad() -> None:
    x = torch.zeros(64, 1, 12, 12)
    x[:, 0, 6, 6] = 1.0
    gen = torch.Generator().manual_seed(0)
    assert torch.equal(augment(x, "none", gen), x)
    moved = augment(x, "shift", gen)
    where = moved.flatten(1).argmax(1)
    rows, cols = where // 12, where % 12
    assert torch.equal(moved.sum((1, 2, 3)), torch.ones(64))  # no pixel lost far from a border
    assert ((rows - 6).abs() <= SHIFT).all() and ((cols - 6).abs() <= SHIFT).all()
    assert len(set(zip(rows.tolist(), cols.tolist(), strict=True))) > 10  # per-image offsets
    colour = torch.rand(8, 3, 6, 6)
    assert augment(colour, "shift+flip", gen).shape == colour.shape


def test_shipped_mnist_classifier_is_found_by_shape() -> None:
    path = default_classifier((1, 28, 28))
    assert path == shipped_weights() / "mnistnet.safetensors"
    assert path.stat().st_size < 1_000_000
    colour = default_classifier((3, 32, 32))
    assert colour == shipped_weights() / "cifarnet.safetensors"
    assert colour.stat().st_size < 4_000_000
    assert default_classifier((3, 64, 64)) == colour  # scored at 32 x 32 by 2 x 2 means
    assert default_classifier((3, 48, 48)) is None and default_classifier((1, 32, 32)) is None


@pytest.mark.slow
@needs_mnist
def test_shipped_mnist_classifier_reproduces_its_test_accuracy() -> None:
    path = default_classifier((1, 28, 28))
    clf = load_classifier(path)
    test = load_dataset("mnist", data_dir=shared_data(), val_size=0).split("test")
    recorded = clf.info["test_accuracy"]
    assert recorded >= 0.993
    assert accuracy(clf.net, test.images, test.labels) == pytest.approx(recorded, abs=2e-4)


@pytest.mark.slow
@needs_cifar
def test_shipped_cifar_classifier_reproduces_its_test_accuracy() -> None:
    clf = load_classifier(default_classifier((3, 32, 32)))
    data = load_dataset(f"folder:{shared_cifar()}", val_size=0)
    test = data.split("test")
    recorded = clf.info["test_accuracy"]
    assert recorded >= 0.85 and clf.info["test_images"] == len(test) == 10_000
    assert clf.class_names == data.class_names
    assert accuracy(clf.net, test.images, test.labels) == pytest.approx(recorded, abs=5e-4)
