"""A small CNN classifier whose penultimate layer is the feature space of genlab's FID/KID/PR.

Inception-v3 features (the usual FID space) are meaningless on 28 x 28 digits and need
weights we cannot download, so genlab measures distances in the features of a classifier
trained on the dataset itself (``fid-mnistnet``, ``fid-cifarnet``), as is common for MNIST.
Weights are a safetensors file whose header holds the architecture; a JSON beside it records
the SHA-256 of that file, the training config and the test accuracy. The SHA-256 keys the
cached reference statistics, so statistics never outlive the weights they came from.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save
from torch import Tensor, nn

from genlab.errors import ConfigError
from genlab.evaluation.inception import NAME as INCEPTION
from genlab.evaluation.inception import InceptionFeatures, load_inception
from genlab.evaluation.unavailable import MetricUnavailable
from genlab.io import atomic_write, write_json

if TYPE_CHECKING:
    from genlab.runs import Run

FORMAT = "genlab-classifier/1"
BATCH = 1000


@dataclass
class ClassifierConfig:
    """The architecture: per block ``convs[i]`` 3x3 conv-BN-ReLU layers of ``widths[i]``
    channels and a 2x max-pool, then an adaptive 3x3 average pool, an FC layer of
    ``feature_dim`` (the features), dropout and the logits."""

    channels: int = 1
    size: int = 28
    num_classes: int = 10
    widths: list[int] = field(default_factory=lambda: [32, 64])
    convs: list[int] = field(default_factory=lambda: [1, 2])
    feature_dim: int = 128
    dropout: float = 0.3

    @property
    def shape(self) -> tuple[int, int, int]:
        return (self.channels, self.size, self.size)


class ClassifierNet(nn.Module):
    """The CNN; takes images in [0, 1] (grey or colour, the config's size)."""

    def __init__(self, config: ClassifierConfig) -> None:
        super().__init__()
        self.config = config
        layers: list[nn.Module] = []
        c = config.channels
        if len(config.convs) != len(config.widths):
            raise ConfigError(f"one conv count per width: {config.convs} vs {config.widths}")
        for w, n in zip(config.widths, config.convs, strict=True):
            for i in range(n):
                layers += [nn.Conv2d(c if i == 0 else w, w, 3, padding=1, bias=False),
                           nn.BatchNorm2d(w), nn.ReLU(inplace=True)]
            layers.append(nn.MaxPool2d(2))
            c = w
        layers += [nn.AdaptiveAvgPool2d(3), nn.Flatten(),
                   nn.Linear(c * 9, config.feature_dim), nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*layers)
        self.head = nn.Sequential(nn.Dropout(config.dropout),
                                  nn.Linear(config.feature_dim, config.num_classes))

    def features(self, x: Tensor) -> Tensor:
        """Penultimate activations (N, feature_dim); channels-last convolutions are about a
        third faster on the CPU."""
        return self.body((x * 2 - 1).contiguous(memory_format=torch.channels_last))

    def forward(self, x: Tensor) -> Tensor:
        """Class logits (N, num_classes)."""
        return self.head(self.features(x))


@dataclass
class Classifier:
    """A trained, loaded classifier: the network (in eval mode), its record and where it is."""

    net: ClassifierNet
    info: dict[str, Any]
    path: Path

    @property
    def name(self) -> str:
        return str(self.info["name"])

    @property
    def feature_space(self) -> str:
        """The name figures and caches use: ``fid-mnistnet`` for ``mnistnet``."""
        return f"fid-{self.name}"

    @property
    def sha256(self) -> str:
        return str(self.info["sha256"])

    @property
    def class_names(self) -> list[str]:
        return list(self.info.get("class_names", []))

    @cached_property
    def device(self) -> torch.device:
        return next(self.net.parameters()).device

    def scale_of(self, shape: tuple[int, ...]) -> int:
        """The factor images of ``shape`` are area-averaged by to the classifier's size
        (:func:`scale_factor`); any other shape is refused."""
        k = scale_factor(self.net.config.shape, tuple(shape))
        if k is None:
            raise ConfigError(f"classifier {self.name} takes {self.net.config.shape} images "
                              f"(or square multiples of them), got {tuple(shape)}")
        return k

    def _inputs(self, images: Tensor, batch: int) -> Iterator[Tensor]:
        """Batches of float [0, 1] images on the classifier's device at its size, one at a
        time (the shape is checked at once, before any batch is made)."""
        k = self.scale_of(tuple(images.shape[1:]))
        scaled = (lambda x: torch.nn.functional.avg_pool2d(x, k)) if k > 1 else (lambda x: x)
        return (scaled(_as_input(b, self.device)) for b in images.split(batch))

    @torch.no_grad()
    def features(self, images: Tensor, batch: int = BATCH) -> Tensor:
        """Features (N, feature_dim) on the CPU of float images in [0, 1] (or uint8)."""
        return torch.cat([self.net.features(b).cpu() for b in self._inputs(images, batch)])

    @torch.no_grad()
    def probs(self, images: Tensor, batch: int = BATCH) -> Tensor:
        """Softmax class probabilities (N, num_classes) on the CPU."""
        return torch.cat([self.net(b).softmax(1).cpu() for b in self._inputs(images, batch)])

    @torch.no_grad()
    def features_and_probs(self, images: Tensor, batch: int = BATCH) -> tuple[Tensor, Tensor]:
        """Both at once (one pass through the body)."""
        feats, probs = [], []
        for b in self._inputs(images, batch):
            f = self.net.features(b)
            feats.append(f.cpu())
            probs.append(self.net.head(f).softmax(1).cpu())
        return torch.cat(feats), torch.cat(probs)


def _as_input(images: Tensor, device: torch.device) -> Tensor:
    """uint8 [0, 255] or float [0, 1] images as float32 on ``device``."""
    x = images.to(device)
    return x.float() / 255 if x.dtype == torch.uint8 else x.float()


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def record_path(weights: Path) -> Path:
    """The JSON record beside a weights file: ``mnistnet.json`` for ``mnistnet.safetensors``."""
    return Path(weights).with_suffix(".json")


def save_classifier(net: ClassifierNet, path: str | Path, record: dict[str, Any]) -> Path:
    """Write the weights (architecture in the header) and the JSON record beside them."""
    path = Path(path)
    if path.suffix != ".safetensors":
        path = path.with_suffix(".safetensors")
    tensors = {k: v.detach().cpu().contiguous() for k, v in net.state_dict().items()}
    header = {"format": FORMAT, "config": json.dumps(asdict(net.config))}
    with atomic_write(path) as fh:
        fh.write(save(tensors, metadata=header))
    info = {"name": path.stem, "format": FORMAT, "sha256": file_sha256(path),
            "config": asdict(net.config), **record}
    write_json(record_path(path), info)
    return path


def load_classifier(path: str | Path, device: str | torch.device = "cpu") -> Classifier:
    """Load weights and record; refuses weights whose SHA-256 differs from the record's."""
    path = Path(path)
    record = record_path(path)
    if not path.is_file() or not record.is_file():
        raise ConfigError(f"classifier {path} needs the weights file and {record.name} beside it")
    info = json.loads(record.read_text())
    digest = file_sha256(path)
    if info.get("sha256") != digest:
        raise ConfigError(
            f"{path} has SHA-256 {digest[:12]}..., but {record.name} records "
            f"{str(info.get('sha256'))[:12]}...: the weights changed after training"
        )
    try:
        with safe_open(str(path), framework="pt") as fh:
            header = fh.metadata() or {}
        state = load_file(str(path), device="cpu")
    except (SafetensorError, OSError, ValueError) as exc:
        raise ConfigError(f"{path} is not a classifier weights file: {exc}") from None
    if header.get("format") != FORMAT:
        raise ConfigError(f"{path}: not a genlab classifier (format {header.get('format')!r})")
    net = ClassifierNet(ClassifierConfig(**json.loads(header["config"])))
    net.load_state_dict(state)
    return Classifier(net.to(device, memory_format=torch.channels_last).eval(), info, path)


def shipped_weights() -> Path:
    """The folder of classifiers that ship with genlab."""
    return Path(str(resources.files("genlab.evaluation") / "weights"))


def scale_factor(classifier: tuple[int, ...], images: tuple[int, ...]) -> int | None:
    """k where (C, H, W) ``images`` are (C, kH, kW) of a classifier's (C, H, W): 1 for its own
    shape, 2 for a 64 x 64 CIFAR-10 model scored at 32 x 32 by 2 x 2 means; None otherwise."""
    if len(images) != 3 or images[0] != classifier[0]:
        return None
    (h, w), (height, width) = classifier[1:], images[1:]
    if height % h or width % w or height // h != width // w:
        return None
    return height // h


def default_classifier(shape: tuple[int, ...]) -> Path | None:
    """A shipped classifier for images of ``shape`` (C, H, W), if genlab has one: one of that
    shape, else the one it is the smallest square multiple of (:func:`scale_factor`)."""
    folder = shipped_weights()
    fits = []
    for record in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        config = ClassifierConfig(**json.loads(record.read_text())["config"])
        weights = record.with_suffix(".safetensors")
        k = scale_factor(config.shape, tuple(shape))
        if weights.is_file() and k is not None:
            fits.append((k, weights))
    return min(fits)[1] if fits else None


Judge = Classifier | InceptionFeatures
"""A network whose features and class probabilities the sample metrics use."""


def open_classifier(run: Run, classifier: str | Path | None = None,
                    inception_weights: str | Path | None = None) -> Judge:
    """The given classifier (a weights file, or ``inception`` for Inception-v3 features),
    else the one genlab ships for the run's image shape."""
    if str(classifier) == INCEPTION:
        return load_inception(inception_weights, run.model.device)
    shape = tuple(run.model.shape)
    path = classifier or default_classifier(shape)
    if path is None:
        raise MetricUnavailable(
            f"no classifier for {shape} images ships with genlab: train one with `genlab "
            "classifier train --dataset D --out PATH` and pass --classifier PATH"
        )
    clf = load_classifier(path, run.model.device)
    try:
        clf.scale_of(shape)
    except ConfigError as why:
        raise MetricUnavailable(f"{why} (the run makes them)") from None
    return clf
