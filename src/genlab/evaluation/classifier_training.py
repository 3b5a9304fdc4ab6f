"""Training the feature classifier on a dataset's train split, scored on its test split.

In-memory uint8 data, batched, Adam with a one-cycle learning rate; light augmentation
(random shifts of up to 2 pixels, plus horizontal flips for colour images, as is usual for
CIFAR-10 but wrong for digits). Deterministic for a seed on the CPU.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor
from torch.nn import functional as F

from genlab.data import BatchIterator, load_dataset
from genlab.devices import resolve_device
from genlab.errors import ConfigError
from genlab.evaluation.classifier import ClassifierConfig, ClassifierNet
from genlab.version import __version__

AUGMENTATIONS = ("none", "shift", "shift+flip")
SHIFT = 2


@dataclass
class TrainingOptions:
    """How the classifier is trained; recorded in its JSON."""

    epochs: int = 8
    batch_size: int = 128
    lr: float = 3e-3
    weight_decay: float = 1e-4
    seed: int = 0
    augment: str | None = None  # None: shift for grey images, shift+flip for colour ones
    widths: list[int] | None = None  # None: [32, 64] for grey, [64, 128, 256] for colour
    convs: list[int] | None = None  # None: [1, 2] for grey, [2, 2, 2] for colour
    feature_dim: int = 128


def augment_batch(x: Tensor, mode: str, generator: torch.Generator) -> Tensor:
    """Random shifts (zero padding, one offset per image, gathered at once) and flips."""
    if mode == "none":
        return x
    n, _, h, w = x.shape
    padded = F.pad(x, (SHIFT, SHIFT, SHIFT, SHIFT))
    dy, dx = torch.randint(0, 2 * SHIFT + 1, (2, n, 1), generator=generator).to(x.device)
    rows = dy + torch.arange(h, device=x.device)  # (n, h)
    cols = dx + torch.arange(w, device=x.device)
    if mode == "shift+flip":
        flip = torch.rand(n, 1, generator=generator).to(x.device) < 0.5
        cols = torch.where(flip, cols.flip(1), cols)
    batch = torch.arange(n, device=x.device)[:, None, None]
    return padded.permute(0, 2, 3, 1)[batch, rows[:, :, None], cols[:, None, :]].permute(0, 3, 1, 2)


@torch.no_grad()
def accuracy(net: ClassifierNet, images: Tensor, labels: Tensor, batch: int = 1000) -> float:
    """Fraction of ``images`` (uint8) classified as ``labels``."""
    net.eval()
    device = next(net.parameters()).device
    correct = sum(
        int((net(x.to(device).float() / 255).argmax(1).cpu() == y).sum())
        for x, y in zip(images.split(batch), labels.split(batch), strict=True)
    )
    return correct / len(labels)


def _options_for(shape: tuple[int, int, int], options: TrainingOptions) -> TrainingOptions:
    grey = shape[0] == 1
    augment = options.augment or ("shift" if grey else "shift+flip")
    if augment not in AUGMENTATIONS:
        raise ConfigError(f"unknown augmentation {augment!r}; choose one of {AUGMENTATIONS}")
    widths = options.widths or ([32, 64] if grey else [64, 128, 256])
    convs = options.convs or ([1] + [2] * (len(widths) - 1) if grey else [2] * len(widths))
    return TrainingOptions(**{**asdict(options), "augment": augment, "widths": widths,
                              "convs": convs})


def train_classifier(
    dataset: str,
    data_dir: str | None = None,
    options: TrainingOptions | None = None,
    device: str = "cpu",
    log: Any = None,
) -> tuple[ClassifierNet, float, dict[str, Any]]:
    """Train on all of ``dataset``'s train split (no validation hold-out) for a fixed number
    of epochs; returns the network, its test accuracy and the record for its JSON. ``log``,
    if given, is called with one line per epoch."""
    data = load_dataset(dataset, data_dir=data_dir, val_size=0)
    train, test = data.split("train"), data.split("test")
    _, h, w = data.shape
    if h != w:
        raise ConfigError(f"the classifier takes square images, {dataset} has {h} x {w}")
    net, test_accuracy, record = fit_classifier(
        train.images, train.labels, test.images, test.labels, data.class_names, options,
        device, log)
    return net, test_accuracy, {"dataset": dataset, **record}


def fit_classifier(
    train_images: Tensor,
    train_labels: Tensor,
    test_images: Tensor,
    test_labels: Tensor,
    class_names: list[str],
    options: TrainingOptions | None = None,
    device: str | torch.device = "cpu",
    log: Any = None,
    steps: int | None = None,
) -> tuple[ClassifierNet, float, dict[str, Any]]:
    """Train a classifier on in-memory uint8 images (N, C, H, W) and labels, scored on the
    test images: what ``train_classifier`` and the augmentation study share, so that every
    classifier genlab trains is trained alike. ``steps`` (optimiser steps; default
    ``options.epochs`` full epochs) lets arms of different sizes get the same budget."""
    shape = (int(train_images.shape[1]), int(train_images.shape[2]), int(train_images.shape[3]))
    opts = _options_for(shape, options or TrainingOptions())
    _check_training_data(train_images, train_labels, len(class_names), opts, steps)
    torch.manual_seed(opts.seed)
    config = ClassifierConfig(shape[0], shape[1], len(class_names), list(opts.widths or []),
                              list(opts.convs or []), opts.feature_dim)
    dev = resolve_device(str(device))
    net = ClassifierNet(config).to(dev, memory_format=torch.channels_last)
    gen = torch.Generator().manual_seed(opts.seed)
    batches = BatchIterator(train_images, train_labels, batch_size=opts.batch_size,
                            generator=gen, drop_last=True)
    start = time.perf_counter()
    _optimise(net, batches, opts, steps or opts.epochs * len(batches), gen, log)
    test_accuracy = accuracy(net, test_images, test_labels)
    record = {"class_names": list(class_names), "test_accuracy": test_accuracy,
              "test_images": len(test_labels), "train_images": len(train_labels),
              "training": asdict(opts), "train_seconds": round(time.perf_counter() - start, 1),
              "torch_threads": torch.get_num_threads(), "genlab_version": __version__}
    return net.eval(), test_accuracy, record


def _check_training_data(images: Tensor, labels: Tensor, num_classes: int,
                         opts: TrainingOptions, steps: int | None) -> None:
    """Clear errors for what would otherwise fail deep inside the loop (or silently)."""
    _, _, h, w = images.shape
    if h != w:
        raise ConfigError(f"the classifier takes square images, got {h} x {w}")
    if images.dtype != torch.uint8:
        raise ConfigError(f"the classifier trains on uint8 images, got {images.dtype}")
    if len(labels) != len(images):
        raise ConfigError(f"{len(images)} images but {len(labels)} labels")
    if len(images) < opts.batch_size:
        raise ConfigError(f"{len(images)} training images are fewer than one batch of "
                          f"{opts.batch_size}")
    if len(labels) and (int(labels.min()) < 0 or int(labels.max()) >= num_classes):
        raise ConfigError(f"training labels must be classes 0..{num_classes - 1} "
                          "(unlabelled images cannot train a classifier)")
    if steps is not None and steps < 1:
        raise ConfigError(f"the number of training steps must be positive, got {steps}")


def _optimise(net: ClassifierNet, batches: BatchIterator, opts: TrainingOptions, steps: int,
              gen: torch.Generator, log: Any) -> None:
    """AdamW with a one-cycle schedule for ``steps`` steps: whole epochs over ``batches``,
    the last one cut short when ``steps`` is not a multiple of the epoch length."""
    dev = next(net.parameters()).device
    optim = torch.optim.AdamW(net.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, opts.lr, total_steps=steps)
    epochs = -(-steps // len(batches))
    start, done = time.perf_counter(), 0
    for epoch in range(1, epochs + 1):
        net.train()
        total, seen = 0.0, 0
        for x, y in batches:
            x = augment_batch(x.to(dev).float() / 255, opts.augment or "none", gen)
            loss = F.cross_entropy(net(x), y.to(dev))
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            sched.step()
            total, seen, done = total + float(loss.detach()), seen + 1, done + 1
            if done == steps:
                break
        if log:
            log(f"epoch {epoch}/{epochs}: train loss {total / seen:.4f}, "
                f"{time.perf_counter() - start:.0f} s")
