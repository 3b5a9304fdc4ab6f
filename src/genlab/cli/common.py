"""Helpers shared by commands that open a trained run and its data."""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import torch
from torch import Tensor

from genlab.data import ImageDataset, load_dataset
from genlab.data.prepare import eval_seed, select_input
from genlab.errors import ConfigError
from genlab.models.base import GenerativeModel
from genlab.training.checkpoint import model_from_checkpoint, read_checkpoint, resolve_checkpoint
from genlab.training.config import RunConfig, config_from_dict


@dataclass
class OpenRun:
    """A trained model with the config it was trained under."""

    model: GenerativeModel
    config: RunConfig

    def dataset(self, data_dir: str | None = None) -> ImageDataset:
        d = self.config.data
        return load_dataset(
            d.dataset,
            data_dir=data_dir or d.data_dir,
            val_size=d.val_size,
            split_seed=d.split_seed,
            size=d.size,
        )

    def images(self, ds: ImageDataset, split: str, indices: Tensor) -> tuple[Tensor, Tensor]:
        """Selected images of a split as model input (binarised as in validation), and labels."""
        part = ds.split(split)
        bad = indices[(indices < 0) | (indices >= len(part))]
        if bad.numel():
            raise ConfigError(
                f"index {int(bad[0])} is out of range for split {split!r} of {ds.name} "
                f"({len(part)} images)"
            )
        data = self.config.data
        x = select_input(part.images, indices, data.binarize, eval_seed(data.split_seed))
        return x.to(self.model.device), part.labels[indices].to(self.model.device)


def open_run(run: str, which: str = "best", device: str = "cpu") -> OpenRun:
    path = resolve_checkpoint(run, which)
    ckpt = read_checkpoint(path)
    model = model_from_checkpoint(ckpt, path, device)
    return OpenRun(model, config_from_dict(ckpt.meta["config"]))


def add_run_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", metavar="RUN", help="run directory (or a checkpoint file)")
    p.add_argument("--which", choices=["best", "last"], default="best", help="checkpoint to use")
    p.add_argument("--device", default="cpu", help="cpu or cuda (default: cpu)")
    p.add_argument("--data-dir", default=None, help="where datasets live (else $GENLAB_DATA)")


def parse_int_list(text: str | None, what: str) -> list[int] | None:
    if text is None:
        return None
    try:
        return [int(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"{what} expects comma-separated integers, got {text!r}") from None


def seeded(seed: int) -> torch.Generator:
    torch.manual_seed(seed)
    return torch.Generator().manual_seed(seed)
