"""Opening a trained run and selecting the images to work on: what every front end shares.

The CLI, the latent experiments, benchmarks, tests (and the evaluation suite and the explorer)
open a run directory with :func:`open_run` (``genlab.load``), never through the CLI. A
:class:`Run` knows its model, the config it was trained under and its dataset, and turns a
selection (split with indices or a class, or image files) into model input binarised exactly
as validation was.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from genlab.data import ImageDataset, load_dataset
from genlab.data.prepare import eval_seed, model_input, select_input
from genlab.devices import resolve_device, seeded
from genlab.errors import CheckpointError, ConfigError
from genlab.models.core.base import GenerativeModel
from genlab.models.core.capabilities import Reconstructor, require
from genlab.models.core.sampling import SampleOptions, resolve_options
from genlab.progress import steps
from genlab.training.checkpoint import model_from_checkpoint, open_checkpoint
from genlab.training.config import RunConfig, config_from_dict, load_config


@dataclass
class Selection:
    """Selected images as model input, their labels (-1 where unknown), where they came from
    (``source``, for a JSON record) and one caption per image."""

    x: Tensor
    y: Tensor
    source: dict[str, Any]
    captions: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.x.shape[0])


@dataclass
class Run:
    """A trained model with the config it was trained under and the checkpoint it came from."""

    model: GenerativeModel
    config: RunConfig
    checkpoint: Path
    meta: dict[str, Any]
    data_dir: str | None = None

    # --- the data the run was trained on -------------------------------------------------
    @cached_property
    def dataset(self) -> ImageDataset:
        """The run's dataset (loaded on first use), split exactly as in training."""
        d = self.config.data
        return load_dataset(
            d.dataset,
            data_dir=self.data_dir or d.data_dir,
            val_size=d.val_size,
            split_seed=d.split_seed,
            size=d.size,
            classes=d.classes,
        )

    @property
    def class_names(self) -> list[str]:
        return list(self.dataset.class_names)

    def class_index(self, text: str | int) -> int:
        """A class by name (case-insensitive) or number; unknown -> the list of valid names."""
        names = self.class_names
        key = str(text).strip().lower()
        lowered = [n.lower() for n in names]
        if key in lowered:
            return lowered.index(key)
        if key.isdigit() and int(key) < len(names):
            return int(key)
        raise ConfigError(
            f"unknown class {text!r} for {self.dataset.name}; valid classes: {', '.join(names)} "
            f"(or a number 0..{len(names) - 1})"
        )

    def class_name(self, k: int) -> str:
        names = self.class_names
        return names[k] if 0 <= k < len(names) else "?"

    # --- model input ---------------------------------------------------------------------
    def images(self, split: str, indices: Tensor) -> tuple[Tensor, Tensor]:
        """Selected images of a split as model input (binarised as in validation), and labels."""
        part = self.dataset.split(split)
        indices = torch.as_tensor(indices).long()
        bad = indices[(indices < 0) | (indices >= len(part))]
        if bad.numel():
            raise self._out_of_range(split, int(bad[0]))
        data = self.config.data
        x = select_input(part.images, indices, data.binarize, eval_seed(data.split_seed))
        return x.to(self.model.device), part.labels[indices].to(self.model.device)

    def _out_of_range(self, split: str, index: int) -> ConfigError:
        size = len(self.dataset.split(split))
        return ConfigError(f"index {index} is out of range for split {split!r} of "
                           f"{self.dataset.name} ({size} images)")

    def spread(self, split: str, n: int, seed: int = 0) -> list[int]:
        """Indices of n images spread over a split: a seeded random subset in index order (all
        of them when n covers the split). Evaluations and study figures use it rather than
        the first n, which in a class-sorted image folder would all be one class."""
        size = len(self.dataset.split(split))
        if n >= size:
            return list(range(size))
        pick = torch.randperm(size, generator=torch.Generator().manual_seed(seed))[:n]
        return sorted(pick.tolist())

    def spanning(self, split: str, n: int) -> list[int]:
        """Indices of n images of a split taking the classes in turn: the first image of each
        class, then the second of each, ... The default selection, since the first n images
        of a class-sorted folder (CIFAR-10's JPEG tree) are all one class."""
        labels = self.dataset.split(split).labels
        return interleaved(labels, n).tolist()

    def file_input(self, paths: list[str]) -> Tensor:
        """Image files as model input: converted to the model's channels and size, binarised
        as validation images are."""
        images = load_image_files(paths, self.model.shape)
        data = self.config.data
        return model_input(images, data.binarize, eval_seed(data.split_seed)).to(self.model.device)

    def select(
        self,
        split: str = "test",
        n: int = 8,
        index: list[int] | None = None,
        cls: str | None = None,
        files: list[str] | None = None,
    ) -> Selection:
        """Images by ``index`` (into ``split``), by class (its first ``n``), or ``files``;
        with none of them, ``n`` images of ``split`` spanning its classes (:meth:`spanning`)."""
        if sum(v is not None for v in (index, cls, files)) > 1:
            raise ConfigError("choose one of index, class and image files")
        if files:
            x = self.file_input(files)
            y = torch.full((len(files),), -1, dtype=torch.long, device=x.device)
            return Selection(x, y, {"images": list(files)}, [Path(p).name for p in files])
        if n < 1:
            raise ConfigError(f"the number of images must be positive, got {n}")
        labels = self.dataset.split(split).labels
        if index is not None:
            if not index:
                raise ConfigError("the index list is empty")
            bad = [i for i in index if not 0 <= i < len(labels)]  # before a tensor overflows
            if bad:
                raise self._out_of_range(split, bad[0])
            chosen = torch.tensor(index)
        elif cls is not None:
            chosen = (labels == self.class_index(cls)).nonzero().squeeze(1)[:n]
            if chosen.numel() == 0:
                raise ConfigError(f"split {split!r} has no images of class {cls!r}")
        else:
            chosen = interleaved(labels, n)
        x, y = self.images(split, chosen)
        captions = [
            f"{split}[{i}] ({self.class_name(k)})" if k >= 0 else f"{split}[{i}]"
            for i, k in zip(chosen.tolist(), y.tolist(), strict=True)
        ]
        return Selection(x, y, {"split": split, "indices": chosen.tolist()}, captions)

    # --- generation ----------------------------------------------------------------------
    @torch.no_grad()
    def sample(
        self, n: int, labels: Tensor | list[int] | None = None, seed: int = 0, mean: bool = True,
        options: Mapping[str, Any] | SampleOptions | None = None, strict: bool = True,
    ) -> Tensor:
        """n generated images (n, C, H, W) in [0, 1] on the CPU, in chunks of 1,000, counted on
        ``genlab.progress`` (a DDPM's take minutes). Codes come from a generator seeded by
        ``seed``, pixel draws (``mean=False``) from the global RNG seeded alike for the call:
        the caller's RNG state is left as it was. ``options``: the family's sampling options
        (``models.core.sampling``; ``strict``: refuse keys it lacks)."""
        if n < 1:
            raise ConfigError(f"the number of samples must be positive, got {n}")
        opts = self.sample_options(options, strict)
        gen = torch.Generator().manual_seed(seed)
        label_t = None
        if labels is not None:
            label_t = torch.as_tensor(labels).long().reshape(-1)
            bad = label_t[(label_t < 0) | (label_t >= self.model.num_classes)]
            if label_t.numel() == 0 or bad.numel():
                raise ConfigError(
                    f"labels must be classes 0..{self.model.num_classes - 1}, got {labels}"
                )
            label_t = label_t.repeat(n // label_t.numel() + 1)[:n]
        out = []
        with seeded(seed, self.model.device), steps("sampling", n, "img") as advance:
            for chunk in torch.arange(n).split(1000):
                part = None if label_t is None else label_t[chunk]
                out.append(self.model.sample(len(chunk), labels=part, generator=gen,
                                             mean=mean, options=opts).cpu())
                advance(len(chunk))
        return torch.cat(out)

    def sample_options(self, values: Mapping[str, Any] | SampleOptions | None = None,
                       strict: bool = True) -> SampleOptions:
        """``values`` as this run's family's sampling options, checked (None: the defaults)."""
        cls = type(self.model).sample_options
        return resolve_options(cls, values, self.config.model.name, strict)

    @torch.no_grad()
    def reconstruct(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """The model's reconstructions of model input ``x`` (labels for conditional models),
        without autograd, on the CPU."""
        require(self.model, Reconstructor, "reconstruction")
        labels = condition(self.model, y)
        return torch.cat([
            self.model.reconstruct(part, None if labels is None else labels[i:i + 1000]).cpu()
            for i, part in zip(range(0, len(x), 1000), x.split(1000), strict=True)
        ])

    @property
    def directory(self) -> Path:
        """The run directory of ``RUN/checkpoints/best.safetensors``; a loose checkpoint
        file's own folder. Where ``evaluation.json`` and ``summary.json`` live."""
        folder = self.checkpoint.parent
        return folder.parent if folder.name == "checkpoints" else folder

    def describe(self) -> dict[str, Any]:
        """Model, dataset and training state, for JSON records and the report."""
        return {
            **self.model.describe(),
            "dataset": self.config.data.dataset,
            "checkpoint": str(self.checkpoint),
            "epoch": self.meta.get("epoch"),
        }


def condition(model: GenerativeModel, y: Tensor | None) -> Tensor | None:
    """The one rule for the labels of given images: ``y`` for a conditional family (which
    needs them), None for the others. (Labels to generate with: ``model.labels_for``.)"""
    if not model.conditional:
        return None
    if y is None or bool((y < 0).any()):
        raise ConfigError(
            f"the {model.config.name!r} model is conditional: its images need class labels "
            "(select dataset images by index or class)"
        )
    return y.to(model.device).long()


def interleaved(labels: Tensor, n: int) -> Tensor:
    """The first n indices of ``labels`` ordered by rank within their class, then class:
    class 0's first, class 1's first, ..., class 0's second, ... (unlabelled -1 is a class)."""
    order = torch.argsort(labels, stable=True)
    ordered = labels[order]
    rank = torch.arange(len(labels)) - torch.searchsorted(ordered, ordered)
    classes = int(labels.max() - labels.min()) + 1 if len(labels) else 1
    key = rank * classes + (ordered - (labels.min() if len(labels) else 0))
    return order[torch.argsort(key, stable=True)[:n]]


def open_run(
    run: str | Path, which: str = "best", device: str = "cpu", data_dir: str | None = None
) -> Run:
    """Open a run directory (or a checkpoint file) on ``device`` (``auto`` picks CUDA when
    present). Tensors are read onto the CPU first, so a GPU-trained run opens anywhere; a
    damaged checkpoint is refused (``training.checkpoint``), naming the run's other one where
    that is intact."""
    path, ckpt = open_checkpoint(run, which)
    model = model_from_checkpoint(ckpt, path, str(resolve_device(device)))
    config = config_from_dict(ckpt.meta["config"], stored=True)
    check_config_file(path, config)
    return Run(model, config, path, ckpt.meta, data_dir)


def check_config_file(checkpoint: Path, config: RunConfig) -> None:
    """The ``config.yaml`` of the run directory holding ``checkpoint`` must describe it (model
    and data): a checkpoint copied from another run would otherwise be used silently under the
    wrong family, dataset or image size."""
    path = checkpoint.parent.parent / "config.yaml"
    if checkpoint.parent.name != "checkpoints" or not path.is_file():
        return
    ours, theirs = _identity(config), _identity(load_config(path, stored=True))
    differ = [k for k in dict.fromkeys([*ours, *theirs]) if ours.get(k) != theirs.get(k)]
    if differ:
        shown = "; ".join(f"{k}: {ours.get(k)!r} vs {theirs.get(k)!r}" for k in differ[:4])
        more = f" and {len(differ) - 4} more" if len(differ) > 4 else ""
        raise CheckpointError(
            f"{checkpoint} disagrees with {path} (checkpoint vs config.yaml): {shown}{more}"
        )


def _identity(config: RunConfig) -> dict[str, Any]:
    """What makes a checkpoint this run's: every model field, the dataset and the image size."""
    return {
        **{f"model.{k}": v for k, v in asdict(config.model).items()},
        "data.dataset": config.data.dataset,
        "data.size": config.data.size,
    }


def load_image_files(paths: list[str], shape: tuple[int, ...]) -> Tensor:
    """Image files as uint8 (N, C, H, W), converted to C channels and resized to H x W."""
    import numpy as np
    from PIL import Image, UnidentifiedImageError

    c, h, w = shape
    arrays = []
    for path in paths:
        try:
            with Image.open(path) as img:
                img = img.convert("L" if c == 1 else "RGB")
                if img.size != (w, h):
                    img = img.resize((w, h), Image.Resampling.BILINEAR)
                arrays.append(np.asarray(img).reshape(h, w, c))
        except (FileNotFoundError, IsADirectoryError, UnidentifiedImageError) as exc:
            raise ConfigError(f"cannot read image {path}: {exc}") from None
    return torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
