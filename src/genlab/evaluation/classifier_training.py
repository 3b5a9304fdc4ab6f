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
    opts = _options_for(data.shape, options or TrainingOptions())
    torch.manual_seed(opts.seed)
    c, h, w = data.shape
    if h != w:
        raise ConfigError(f"the classifier takes square images, {dataset} has {h} x {w}")
    config = ClassifierConfig(c, h, data.num_classes, list(opts.widths), list(opts.convs),
                              opts.feature_dim)
    dev = resolve_device(device)
    net = ClassifierNet(config).to(dev, memory_format=torch.channels_last)
    optim = torch.optim.AdamW(net.parameters(), lr=opts.lr, weight_decay=opts.weight_decay)
    gen = torch.Generator().manual_seed(opts.seed)
    batches = BatchIterator(train.images, train.labels, batch_size=opts.batch_size,
                            generator=gen, drop_last=True)
    steps = opts.epochs * len(batches)
    sched = torch.optim.lr_scheduler.OneCycleLR(optim, opts.lr, total_steps=steps)
    start = time.perf_counter()
    for epoch in range(1, opts.epochs + 1):
        net.train()
        total = 0.0
        for x, y in batches:
            x = augment_batch(x.to(dev).float() / 255, opts.augment, gen)
            loss = F.cross_entropy(net(x), y.to(dev))
            optim.zero_grad(set_to_none=True)
            loss.backward()
            optim.step()
            sched.step()
            total += float(loss.detach())
        if log:
            log(f"epoch {epoch}/{opts.epochs}: train loss {total / len(batches):.4f}, "
                f"{time.perf_counter() - start:.0f} s")
    test_accuracy = accuracy(net, test.images, test.labels)
    record = {"dataset": dataset, "class_names": data.class_names, "test_accuracy": test_accuracy,
              "test_images": len(test), "train_images": len(train), "training": asdict(opts),
              "train_seconds": round(time.perf_counter() - start, 1),
              "torch_threads": torch.get_num_threads(), "genlab_version": __version__}
    return net.eval(), test_accuracy, record
