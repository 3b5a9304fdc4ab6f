"""Wall clock of genlab's trainer against a bare hand-written loop, same data, same validation.

Both sides load the dataset, build the same network (genlab's VAE module: the MLP
784-512-256-16 or the conv VAE of ``vae_mnist_quality.py``), train with Adam 1e-3, batch 128,
Bernoulli likelihood on dynamically binarised images, and validate every epoch on the same
fixed-draw validation split through ``model.evaluation``. The bare loop does nothing else;
genlab runs with its defaults on (epoch sample grids, checkpoints, metrics files, curves).
Targets (genlab / bare, whole runs): <= 1.10 on mnist-mini (10 epochs), <= 1.03 on full MNIST
(10 epochs: the target's own full-MNIST run took 5 minutes; at 3 epochs, 11 s for the MLP, the
curves.png drawn once at the end, 0.17 s, alone weighs 1.5%, and the MLP measured 1.026 of
medians, 1.034 of minimums).

    OMP_NUM_THREADS=1 python benchmarks/bench_trainer.py --data-dir ../shared/data \
        [--models mlp,conv] [--datasets mnist-mini,mnist] [--epochs-mini 10] [--epochs-full 10]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from genlab.data import load_dataset
from genlab.data.prepare import batch_input, eval_seed, fixed_draw
from genlab.devices import resolve_device
from genlab.models.core.base import Batch
from genlab.models.registry import build_model
from genlab.training import train
from genlab.training.config import config_from_dict

MODELS = {
    "mlp": {"net": "mlp", "hidden": [512, 256], "latent_dim": 16},
    "conv": {"net": "conv", "channels": [32, 64, 128], "latent_dim": 32},
}
TARGETS = {"mnist-mini": 1.10, "mnist": 1.03}


def config(model: str, dataset: str, epochs: int, data_dir: str | None) -> dict[str, Any]:
    return {
        "model": {"name": "vae", "likelihood": "bernoulli", **MODELS[model]},
        "data": {"dataset": dataset, "data_dir": data_dir, "binarize": "dynamic"},
        "train": {"epochs": epochs, "batch_size": 128, "lr": 1e-3, "progress": False},
    }


def bare_run(raw: dict[str, Any]) -> float:
    """Seconds for the whole bare run: data, model, epochs of Adam steps plus validation."""
    t0 = time.perf_counter()
    cfg = config_from_dict(raw)
    ds = load_dataset(cfg.data.dataset, data_dir=cfg.data.data_dir)
    train_split, val_split = ds.split("train"), ds.split("val")
    val_images = fixed_draw(val_split.images, "dynamic", eval_seed(0))
    torch.manual_seed(0)
    model = build_model(cfg.model, ds.shape, ds.num_classes)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)  # as genlab builds it
    gen = torch.Generator().manual_seed(0)
    images, labels = train_split.images, train_split.labels
    for _ in range(cfg.train.epochs):
        model.train()
        for idx in torch.randperm(len(images), generator=gen).split(128):
            out = model.loss(Batch(batch_input(images[idx], "dynamic", gen), labels[idx]))
            opt.zero_grad(set_to_none=True)
            out.total.backward()
            opt.step()
        model.eval()
        total = 0.0
        with torch.no_grad():
            for start in range(0, len(val_images), 1000):
                x = batch_input(val_images[start:start + 1000], "dynamic")
                for _, res in model.evaluation(Batch(x, val_split.labels[start:start + 1000])):
                    total += float(res.total) * len(x)
    return time.perf_counter() - t0


def genlab_run(raw: dict[str, Any]) -> float:
    """Seconds for ``genlab.train`` with its defaults, in a fresh run directory."""
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        train(raw, out=Path(tmp) / "run")
        return time.perf_counter() - t0


def measure(model: str, dataset: str, epochs: int, args: argparse.Namespace) -> float:
    """Alternate bare and genlab runs ``--repeat`` times; the ratio of the fastest of each
    (the runs least disturbed by the rest of the machine) is the one judged, the ratio of the
    medians is printed beside it (a bare run that got lucky moves the first, not the second)."""
    raw = config(model, dataset, epochs, args.data_dir)
    bare, ours = [], []
    for _ in range(args.repeat):
        bare.append(bare_run(raw))
        ours.append(genlab_run(raw))
    ratio = min(ours) / min(bare)
    target = TARGETS[dataset]
    verdict = "meets" if ratio <= target else "MISSES"
    medians = statistics.median(ours) / statistics.median(bare)
    print(f"{model:4s} {dataset:10s} {epochs:2d} epochs  bare {fmt(bare)}  genlab {fmt(ours)}  "
          f"ratio {ratio:.3f}  (target <= {target:.2f}: {verdict}; of medians {medians:.3f})",
          flush=True)
    return ratio


def fmt(times: list[float]) -> str:
    return "/".join(f"{t:.1f}s" for t in times)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--models", default="mlp,conv", help="comma list of: " + ", ".join(MODELS))
    p.add_argument("--datasets", default="mnist-mini,mnist", help="comma list of: "
                   + ", ".join(TARGETS))
    p.add_argument("--epochs-mini", type=int, default=10)
    p.add_argument("--epochs-full", type=int, default=10, help="epochs on full MNIST (slow)")
    p.add_argument("--repeat", type=int, default=1, help="alternating runs of each side")
    p.add_argument("--threads", type=int, default=1)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    # genlab tunes the process for any CPU device it resolves (allocator, subnormals); the bare
    # loop gets the same from the start, so that the ratio measures the trainer, not these.
    resolve_device("cpu")
    print(f"batch 128, Adam 1e-3, Bernoulli VAE, dynamic binarisation, {args.threads} thread(s); "
          "wall clock of whole runs (data, model, training, validation every epoch)")
    for dataset in args.datasets.split(","):
        epochs = args.epochs_mini if dataset == "mnist-mini" else args.epochs_full
        for model in args.models.split(","):
            measure(model, dataset, epochs, args)


if __name__ == "__main__":
    main()
