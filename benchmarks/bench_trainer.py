"""Seconds per epoch of genlab's trainer against a bare hand-written loop on full MNIST.

Same network (genlab's VAE module), loss, batch size, optimiser and dynamic binarisation; the
bare loop slices a uint8 tensor and steps Adam with nothing else. Target: genlab / bare <= 1.05.

    python benchmarks/bench_trainer.py --data-dir ../shared/data [--epochs 2] [--net mlp]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import torch

from genlab.data import load_dataset, to_float
from genlab.models.base import Batch
from genlab.models.registry import build_model
from genlab.training import train
from genlab.training.config import config_from_dict


def config(args: argparse.Namespace) -> dict:
    return {
        "model": {"name": "vae", "net": args.net, "latent_dim": 16, "likelihood": "bernoulli"},
        "data": {"dataset": "mnist", "data_dir": args.data_dir, "binarize": "dynamic"},
        "train": {"epochs": args.epochs, "batch_size": 128, "lr": 1e-3, "progress": False},
    }


def bare_epochs(args: argparse.Namespace) -> list[float]:
    cfg = config_from_dict(config(args))
    ds = load_dataset("mnist", data_dir=args.data_dir)
    images = ds.split("train").images
    labels = ds.split("train").labels
    torch.manual_seed(0)
    model = build_model(cfg.model, ds.shape, ds.num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    gen = torch.Generator().manual_seed(0)
    times = []
    for _ in range(args.epochs):
        t0 = time.perf_counter()
        perm = torch.randperm(len(images), generator=gen)
        for idx in perm.split(128):
            x = torch.bernoulli(to_float(images[idx]), generator=gen)
            out = model.loss(Batch(x, labels[idx]))
            opt.zero_grad(set_to_none=True)
            out.total.backward()
            opt.step()
        times.append(time.perf_counter() - t0)
    return times


def genlab_epochs(args: argparse.Namespace) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        result = train(config(args), out=Path(tmp) / "run")
    return [row["seconds"] for row in result.history]


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--net", default="mlp", choices=["mlp", "conv"])
    args = p.parse_args()
    bare = bare_epochs(args)
    ours = genlab_epochs(args)
    # Best epoch of each: the least disturbed by the rest of the machine.
    b, g = min(bare), min(ours)
    print(f"net={args.net} batch=128 full MNIST (50,000 train images), {args.epochs} epochs each")
    print(f"bare loop  s/epoch: {', '.join(f'{t:.2f}' for t in bare)}")
    print(f"genlab     s/epoch: {', '.join(f'{t:.2f}' for t in ours)}")
    print(f"genlab / bare (best epochs): {g / b:.3f}  (target <= 1.05)")


if __name__ == "__main__":
    main()
