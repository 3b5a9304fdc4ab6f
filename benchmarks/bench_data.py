"""Data-layer timings, run by hand: ``python benchmarks/bench_data.py [--shared DIR]``.

Prints seconds to load full MNIST, the CIFAR-10 JPEG folder (first decode into a fresh temp
cache, then the cached load) and the batch throughput of BatchIterator against a plain
``x[idx]`` loop over the same permutation.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import torch

from genlab.data import BatchIterator, load_dataset

SHARED = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"


def best_of(repeats: int, fn: Callable[[], object]) -> float:
    """Fastest of ``repeats`` runs, in seconds (the least disturbed by other load)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def batch_rates(images: torch.Tensor, labels: torch.Tensor, batch_size: int) -> tuple[float, float]:
    """Images per second for one epoch: BatchIterator, and x[idx] over the same permutation.

    Epochs of the two alternate, so a burst of load from elsewhere hits both alike.
    """
    n = len(images)

    def iterator_epoch() -> None:
        it = BatchIterator(
            images, labels, batch_size=batch_size, generator=torch.Generator().manual_seed(0)
        )
        for _batch in it:
            pass

    def plain_epoch() -> None:
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(0))
        for start in range(0, n, batch_size):
            idx = perm[start : start + batch_size]
            images[idx], labels[idx]

    ours = plain = float("inf")
    for _ in range(7):
        ours = min(ours, best_of(1, iterator_epoch))
        plain = min(plain, best_of(1, plain_epoch))
    return n / ours, n / plain


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--shared", type=Path, default=SHARED, help="the shared data directory")
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    cifar = f"folder:{args.shared / 'cifar10-jpg'}"
    rows = []

    mnist = best_of(3, lambda: load_dataset("mnist", data_dir=args.shared))
    rows.append(("MNIST full load (70k, IDX gz)", f"{mnist:.2f} s", "< 1 s"))

    with tempfile.TemporaryDirectory() as cache:
        os.environ["GENLAB_CACHE"] = cache
        first = best_of(1, lambda: load_dataset(cifar))
        cached = best_of(3, lambda: load_dataset(cifar))
        ds = load_dataset(cifar)
    rows.append(("CIFAR-10 folder, first load (60k JPEG)", f"{first:.1f} s", "< 60 s"))
    rows.append(("CIFAR-10 folder, cached load", f"{cached:.2f} s", "< 1 s"))

    train = ds.split("train")
    ours, plain = batch_rates(train.images, train.labels, args.batch_size)
    label = f"batches of {args.batch_size}, CIFAR train"
    rows.append((f"BatchIterator, {label}", f"{ours:,.0f} img/s", ""))
    rows.append((f"plain x[idx] loop, {label}", f"{plain:,.0f} img/s", ""))
    rows.append(("BatchIterator / plain", f"{ours / plain:.2f}", ">= 0.90"))

    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'result':>16}  target")
    for name, value, target in rows:
        print(f"{name:<{width}}  {value:>16}  {target}")


if __name__ == "__main__":
    main()
