"""The augmentation study and the in-memory classifier training it is built on.

Most tests replace the training by a recorder (the study's plumbing is what they check: which
images, labels and budgets each arm gets); two train for real, on tiny budgets.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import torch

import genlab
from genlab.data import load_dataset
from genlab.data.dataset import FASHION_CLASSES
from genlab.errors import ConfigError
from genlab.evaluation import augmentation
from genlab.evaluation.augmentation import AugmentOptions, augmentation_study, nested_subsets
from genlab.evaluation.classifier import (
    ClassifierConfig,
    ClassifierNet,
    load_classifier,
    save_classifier,
)
from genlab.evaluation.classifier_training import TrainingOptions, accuracy, fit_classifier
from genlab.evaluation.evaluate import MetricUnavailable
from genlab.models.registry import build_model
from genlab.runs import Run
from genlab.training.config import config_from_dict

TINY = AugmentOptions(TrainingOptions(epochs=1, batch_size=32, feature_dim=16))


@pytest.fixture
def arms(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    """Each call of the study's ``fit_classifier``, recorded instead of trained."""
    calls: list[dict[str, Any]] = []

    def record(images: torch.Tensor, labels: torch.Tensor, *args: Any,
               **kwargs: Any) -> tuple[None, float, dict[str, Any]]:
        calls.append({"images": images, "labels": labels, "options": args[3], **kwargs})
        return None, 0.5, {}

    monkeypatch.setattr(augmentation, "fit_classifier", record)
    return calls


@pytest.fixture
def one_thread() -> Iterator[None]:
    """Tiny convolutions gain nothing from threads, and on a shared machine two threads can
    make them ten times slower (waiting on each other); one keeps these tests at seconds."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.usefixtures("one_thread")
def test_fit_classifier_learns_digits_from_2000_images() -> None:
    data = load_dataset("mnist-mini", val_size=8000)
    train, test = data.split("train"), data.split("test")
    options = AugmentOptions(TrainingOptions(epochs=2, batch_size=64)).resolved(data.shape)
    net, acc, record = fit_classifier(train.images, train.labels, test.images, test.labels,
                                      data.class_names, options)
    assert len(train) == 2000 and acc > 0.5  # 0.77 measured; chance is 0.1
    assert acc == accuracy(net, test.images, test.labels)
    assert record["train_images"] == 2000 and record["test_images"] == len(test)
    assert record["training"]["widths"] == [16, 32] and record["class_names"] == data.class_names


@pytest.mark.usefixtures("one_thread")
def test_fit_classifier_trains_the_steps_asked_for_and_refuses_bad_data() -> None:
    images = torch.randint(0, 256, (100, 1, 12, 12), dtype=torch.uint8)
    labels = torch.arange(100) % 3
    options = TrainingOptions(epochs=1, batch_size=32, widths=[4], convs=[1], feature_dim=8)
    lines: list[str] = []
    fit_classifier(images, labels, images, labels, ["a", "b", "c"], options, log=lines.append,
                   steps=7)  # 3 batches an epoch: two whole epochs and one step
    assert [line.split(":")[0] for line in lines] == ["epoch 1/3", "epoch 2/3", "epoch 3/3"]
    with pytest.raises(ConfigError, match="unlabelled"):
        fit_classifier(images, labels - 1, images, labels, ["a", "b", "c"], options)
    with pytest.raises(ConfigError, match="fewer than one batch"):
        fit_classifier(images[:10], labels[:10], images, labels, ["a", "b", "c"], options)
    with pytest.raises(ConfigError, match="uint8"):
        fit_classifier(images.float(), labels, images, labels, ["a", "b", "c"], options)


def test_subsets_are_nested_and_seeded() -> None:
    small, large, full = nested_subsets(1000, (0.2, 0.5, 1.0), seed=3)
    assert (len(small), len(large), len(full)) == (200, 500, 1000)
    assert torch.equal(large[:200], small) and torch.equal(full[:500], large)
    assert torch.equal(full.sort().values, torch.arange(1000))
    assert torch.equal(nested_subsets(1000, (0.2,), seed=3)[0], small)
    assert not torch.equal(nested_subsets(1000, (0.2,), seed=4)[0], small)


def test_cvae_samples_are_labelled_by_the_classes_asked_for(
        runs: dict[str, str], arms: list[dict[str, Any]]) -> None:
    run = genlab.load(runs["cvae"])
    result = augmentation_study(run, fractions=(0.1, 0.25), options=TINY, seed=1)
    assert result["label_source"] == "conditional model"
    assert result["generated_class_counts"] == [50] * 10  # 500 drawn, balanced
    train = run.dataset.split("train")
    real_small, aug_small, real_large, aug_large = arms
    picks = nested_subsets(len(train), (0.1, 0.25), seed=1)
    assert torch.equal(real_small["images"], train.images[picks[0]])  # real, not binarised
    assert real_small["images"].unique().numel() > 2
    assert torch.equal(real_large["labels"], train.labels[picks[1]])
    assert torch.equal(aug_small["images"][:200], real_small["images"])
    assert torch.equal(aug_small["labels"][200:], torch.arange(200) % 10)
    assert torch.equal(aug_large["images"][500:][:200], aug_small["images"][200:])  # one draw
    assert aug_large["images"].dtype == torch.uint8 and len(aug_large["images"]) == 1000
    rows = result["fractions"]
    assert [(r["fraction"], r["real_images"], r["generated_images"]) for r in rows] == [
        (0.1, 200, 200), (0.25, 500, 500)]
    assert [r["steps"] for r in rows] == [200 // 32, 500 // 32]
    assert [a["steps"] for a in arms] == [6, 6, 15, 15]  # both arms of a fraction alike
    assert all(a["options"] == arms[0]["options"] for a in arms)
    assert result["options"]["widths"] == [16, 32] and result["options"]["augment"] == "shift"


def test_a_fixed_number_of_generated_images_and_equal_epochs(
        runs: dict[str, str], arms: list[dict[str, Any]]) -> None:
    run = genlab.load(runs["mean"])  # the class-mean baseline samples like any model
    options = AugmentOptions(TINY.training, equal_steps=False)
    result = augmentation_study(run, fractions=(0.05,), generated=30, options=options)
    assert [len(a["labels"]) for a in arms] == [100, 130]
    assert [a["steps"] for a in arms] == [None, None]
    assert result["fractions"][0]["gain"] == 0.0 and result["seed"] == 0


def test_an_unconditional_vae_is_labelled_by_the_classifier(
        runs: dict[str, str], tiny_classifier: Path, arms: list[dict[str, Any]]) -> None:
    run = genlab.load(runs["vae"])
    result = augmentation_study(run, fractions=(0.1,), options=TINY, classifier=tiny_classifier)
    assert result["label_source"] == "classifier tiny"
    generated, labels = arms[1]["images"][200:], arms[1]["labels"][200:]
    expected = load_classifier(tiny_classifier).probs(generated).argmax(1)
    assert torch.equal(labels, expected)
    assert sum(result["generated_class_counts"]) == 200


def test_the_shipped_classifier_labels_by_default(gan_run: Run,
                                                  arms: list[dict[str, Any]]) -> None:
    result = augmentation_study(gan_run, fractions=(0.01,), options=TINY)
    assert result["label_source"] == "classifier mnistnet"
    assert len(arms) == 2 and len(arms[1]["labels"]) == 2 * len(arms[0]["labels"])


def test_no_labels_for_an_unconditional_model_is_refused(
        runs: dict[str, str], tmp_path: Path, arms: list[dict[str, Any]]) -> None:
    config = config_from_dict({"model": {"name": "gan"}, "data": {"dataset": "stl10"}})
    model = build_model(config.model, (3, 48, 48), 10).eval()
    colour = Run(model, config, tmp_path / "untrained.safetensors", {})
    with pytest.raises(MetricUnavailable, match=r"no classifier for \(3, 48, 48\) images"):
        augmentation_study(colour)
    fashion = save_classifier(ClassifierNet(ClassifierConfig(widths=[4], convs=[1])),
                              tmp_path / "fashion.safetensors",
                              {"dataset": "fashion", "class_names": FASHION_CLASSES})
    with pytest.raises(MetricUnavailable, match="not mnist-mini's"):
        augmentation_study(genlab.load(runs["vae"]), classifier=fashion)
    for bad in ((), (0.0,), (1.5,)):
        with pytest.raises(ConfigError, match=r"\(0, 1\]"):
            augmentation_study(genlab.load(runs["cvae"]), fractions=bad)
    assert arms == []  # refused before any training


@pytest.mark.usefixtures("one_thread")
def test_the_study_is_deterministic_for_a_seed(runs: dict[str, str]) -> None:
    run = genlab.load(runs["cvae"])
    first = augmentation_study(run, fractions=(0.1, 0.2), options=TINY, seed=2)
    again = augmentation_study(run, fractions=(0.1, 0.2), options=TINY, seed=2)
    first.pop("seconds"), again.pop("seconds")
    assert first == again
    for row in first["fractions"]:
        assert 0 <= row["accuracy_real"] <= 1 and 0 <= row["accuracy_augmented"] <= 1
        assert row["gain"] == pytest.approx(row["accuracy_augmented"] - row["accuracy_real"])
