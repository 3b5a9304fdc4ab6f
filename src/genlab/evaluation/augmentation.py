"""The augmentation study: does adding a model's generated, labelled images to a fraction of
the real training data make a better classifier?

For each fraction f, a classifier is trained on a seeded random f of the run's (labelled)
training split, and again on that subset plus generated images; both are scored on the
dataset's test split. The subsets are nested (one permutation, its first f), and so are the
generated images (one seeded draw, its first n). Generated images are labelled by the class
a conditional model was asked for, or else by a classifier's argmax (the shipped one for the
image shape by default). It is the augmentation form of Ravuri & Vinyals' (2019) Classification
Accuracy Score. Every arm trains the same architecture with the same options, seed and input
augmentation (shifts); by default both arms of a fraction also get the same number of optimiser
steps, so that a gain comes from the data and not from a longer training.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genlab.errors import ConfigError
from genlab.evaluation.classifier import Classifier, open_classifier
from genlab.evaluation.classifier_training import TrainingOptions, fit_classifier
from genlab.evaluation.inception import NAME as INCEPTION
from genlab.evaluation.unavailable import MetricUnavailable
from genlab.runs import Run

FRACTIONS = (0.2, 0.5, 1.0)


def _demo_training() -> TrainingOptions:
    return TrainingOptions(epochs=5, batch_size=64, feature_dim=64)


@dataclass
class AugmentOptions:
    """How each arm's classifier is trained. ``training.widths`` / ``convs`` left None take
    the study's small network ([16, 32] with one conv each for grey images, [32, 64, 128] for
    colour) rather than the shipped classifiers' larger one: six classifiers are trained, and
    the comparison needs a fair budget, not the best accuracy. ``equal_steps``: both arms of a
    fraction train for ``training.epochs`` epochs of the real subset's steps (the augmented arm
    then sees each image fewer times); False: each arm trains ``epochs`` epochs of its own."""

    training: TrainingOptions = field(default_factory=_demo_training)
    equal_steps: bool = True

    def resolved(self, shape: tuple[int, int, int]) -> TrainingOptions:
        """The training options with the study's network filled in for ``shape``."""
        grey = shape[0] == 1
        widths = self.training.widths or ([16, 32] if grey else [32, 64, 128])
        convs = self.training.convs or [1] * len(widths)
        augment = self.training.augment or ("shift" if grey else "shift+flip")
        return replace(self.training, widths=list(widths), convs=list(convs), augment=augment)


@dataclass
class AugmentationSettings:
    """The study's knobs as flat fields (a study YAML's ``augmentation`` section): the real
    fractions, generated images per arm (None: as many as the real subset), the epochs of
    each classifier and whether both arms get the same number of steps."""

    fractions: list[float] = field(default_factory=lambda: list(FRACTIONS))
    generated: int | None = None
    epochs: int = 5
    equal_steps: bool = True

    def options(self) -> AugmentOptions:
        return AugmentOptions(replace(_demo_training(), epochs=self.epochs), self.equal_steps)


def augmentation_study(
    run: Run,
    fractions: Sequence[float] = FRACTIONS,
    generated: int | None = None,
    options: AugmentOptions | None = None,
    classifier: str | Path | None = None,
    seed: int = 0,
    device: str | None = None,
    log: Any = None,
    sampling: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Test accuracy of a classifier trained on each fraction of the real training split, with
    and without ``generated`` generated images (default: as many as the real subset; drawn
    with the ``sampling`` options the family has). Raises MetricUnavailable for an
    unconditional model without a classifier for its image shape."""
    start = time.perf_counter()
    fractions = _checked(fractions, generated)
    clf = None if run.model.conditional else _labeller(run, classifier)  # fail before work
    train, test = _labelled(run, run.config.data.train_split), run.dataset.split("test")
    opts = options or AugmentOptions()
    training = opts.resolved(run.dataset.shape)
    subsets = nested_subsets(len(train[1]), fractions, seed)
    counts = [len(i) if generated is None else generated for i in subsets]
    fake, fake_labels = _generate(run, max(counts), clf, seed, sampling)
    dev = device or str(run.model.device)
    rows = []
    for f, pick, g in zip(fractions, subsets, counts, strict=True):
        n, real_x, real_y = len(pick), train[0][pick], train[1][pick]
        arm = replace(training, batch_size=min(training.batch_size, n))
        steps = arm.epochs * (n // arm.batch_size) if opts.equal_steps else None
        _, acc_real, _ = fit_classifier(real_x, real_y, test.images, test.labels,
                                        run.class_names, arm, dev, steps=steps)
        _, acc_aug, _ = fit_classifier(torch.cat([real_x, fake[:g]]),
                                       torch.cat([real_y, fake_labels[:g]]), test.images,
                                       test.labels, run.class_names, arm, dev, steps=steps)
        rows.append({"fraction": f, "real_images": n, "generated_images": g,
                     "accuracy_real": acc_real, "accuracy_augmented": acc_aug,
                     "gain": round(acc_aug - acc_real, 6), "steps": steps})
        if log:
            log(f"fraction {f:g}: {n} real -> accuracy {acc_real:.4f}; + {g} generated -> "
                f"{acc_aug:.4f} ({time.perf_counter() - start:.0f} s)")
    return {"label_source": "conditional model" if clf is None else f"classifier {clf.name}",
            "fractions": rows, "train_split": run.config.data.train_split,
            "test_images": len(test), "seed": seed,
            "generated_class_counts": torch.bincount(
                fake_labels, minlength=len(run.class_names)).tolist(),
            "options": {**asdict(training), "equal_steps": opts.equal_steps},
            "seconds": round(time.perf_counter() - start, 1)}


def _checked(fractions: Sequence[float], generated: int | None) -> list[float]:
    """The fractions as floats, each in (0, 1]; a positive number of generated images."""
    values = [float(f) for f in fractions]
    if not values or any(not 0 < f <= 1 for f in values):
        raise ConfigError(f"fractions must be in (0, 1], got {list(fractions)}")
    if generated is not None and generated < 1:
        raise ConfigError(f"the number of generated images must be positive, got {generated}")
    return values


def nested_subsets(count: int, fractions: Sequence[float], seed: int = 0) -> list[Tensor]:
    """Indices of ``round(f * count)`` (at least one) of ``count`` images per fraction: the
    first ones of a single seeded permutation, so a smaller subset lies inside a larger one
    and the fractions differ only in how much data they add."""
    perm = torch.randperm(count, generator=torch.Generator().manual_seed(seed))
    return [perm[: max(1, round(f * count))] for f in fractions]


def _labeller(run: Run, classifier: str | Path | None) -> Classifier:
    """The classifier that labels an unconditional model's samples; it must know the
    dataset's classes, or its labels would mean nothing here."""
    if str(classifier) == INCEPTION:
        raise MetricUnavailable("labelling generated images needs a classifier of the "
                                "dataset's classes, not Inception-v3 features")
    clf = open_classifier(run, classifier)
    assert isinstance(clf, Classifier)
    if clf.class_names and clf.class_names != run.class_names:
        raise MetricUnavailable(
            f"classifier {clf.name} labels the classes {', '.join(clf.class_names)}, not "
            f"{run.dataset.name}'s; pass a classifier trained on {run.dataset.name}")
    if int(clf.net.config.num_classes) != len(run.class_names):
        raise MetricUnavailable(f"classifier {clf.name} has {clf.net.config.num_classes} "
                                f"classes, {run.dataset.name} {len(run.class_names)}")
    return clf


def _labelled(run: Run, split: str) -> tuple[Tensor, Tensor]:
    """The real uint8 images (not binarised) of ``split`` that have a label."""
    part = run.dataset.split(split)
    keep = (part.labels >= 0).nonzero().squeeze(1)
    if keep.numel() == 0:
        raise MetricUnavailable(f"split {split!r} of {run.dataset.name} has no labelled images")
    return part.images[keep], part.labels[keep]


def _generate(run: Run, n: int, clf: Classifier | None, seed: int,
              sampling: dict[str, Any] | None) -> tuple[Tensor, Tensor]:
    """n seeded samples as uint8 and their labels: the classes asked for, balanced, from a
    conditional model; else ``clf``'s argmax."""
    labels = torch.arange(n) % run.model.num_classes if clf is None else None
    images = run.sample(n, labels=labels, seed=seed, options=sampling, strict=False)
    images = (images.clamp(0, 1) * 255).round().to(torch.uint8)
    if labels is None:
        assert clf is not None
        labels = clf.probs(images).argmax(1).cpu()
    return images.cpu(), labels.long().cpu()
