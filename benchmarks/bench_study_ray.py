"""Wall clock of one study run one after another in this process against the default
process executor's worker pool and ``--executor ray`` (one thread per run).

The study: several small mnist-mini models (MLP autoencoder, VAE, conditional VAE, GAN, over
two seeds), each trained a few epochs and evaluated (NLL, reconstructions, FID with the
shipped classifier). ``--workers 1`` trains them one after another with one torch thread;
the pool (the default) runs one spawned worker per core, one thread each; Ray runs them as
tasks of one CPU each on the local instance it starts with every core of the machine (two at a
time on two cores), its start-up and shutdown included. Each side starts from an empty folder
and an empty cache of reference statistics. Target on 2 cores: one-after-another / Ray >= 1.3.

    OMP_NUM_THREADS=1 python benchmarks/bench_study_ray.py [--epochs 4]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import torch

from genlab.study.config import study_from_dict
from genlab.study.runner import Executor, run_study

MODELS = {
    "ae": {"model": {"name": "ae", "net": "mlp", "hidden": [256], "latent_dim": 16}},
    "vae": {"model": {"name": "vae", "net": "mlp", "hidden": [256], "latent_dim": 16,
                      "likelihood": "bernoulli"}, "data": {"binarize": "dynamic"}},
    "cvae": {"model": {"name": "cvae", "net": "mlp", "hidden": [256], "latent_dim": 8,
                       "likelihood": "bernoulli"}, "data": {"binarize": "dynamic"}},
    "gan": {"model": {"name": "gan", "latent_dim": 16}},
}
TARGET = 1.3


def study(epochs: int) -> dict[str, Any]:
    return {"name": "bench", "data": {"dataset": "mnist-mini"},
            "train": {"epochs": epochs, "batch_size": 128, "progress": False, "device": "cpu",
                      "epoch_samples": 0},
            "models": [{"label": k, "config": v} for k, v in MODELS.items()], "seeds": [0, 1],
            "evaluation": {"metrics": ["nll", "recon", "fid"], "n": 1000, "nll_images": 100,
                           "iw_samples": 50},
            "figures": {"samples": 64, "map_images": 200}}


def timed(executor: Executor, epochs: int) -> float:
    with tempfile.TemporaryDirectory(prefix="bench-study-") as tmp:
        os.environ["GENLAB_CACHE"] = str(Path(tmp) / "cache")  # no side reuses the other's
        t0 = time.perf_counter()
        run_study(study_from_dict(study(epochs)), Path(tmp), Path(tmp), log=lambda m: None,
                  executor=executor)
        return time.perf_counter() - t0


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--epochs", type=int, default=4)
    args = p.parse_args()
    torch.set_num_threads(1)
    os.environ.setdefault("RAY_USAGE_STATS_ENABLED", "0")
    ray_s = timed(Executor("ray"), args.epochs)
    pool_s = timed(Executor("process", cpus_per_run=1), args.epochs)
    local_s = timed(Executor("process", cpus_per_run=1, workers=1), args.epochs)
    print(f"study of {2 * len(MODELS)} runs ({args.epochs} epochs each) on {os.cpu_count()} "
          f"cores, load average {os.getloadavg()[0]:.1f} at the end")
    print(f"one after another, 1 thread:  {local_s:7.1f} s")
    print(f"worker pool, 1 thread each:   {pool_s:7.1f} s ({local_s / pool_s:.2f}x)")
    print(f"ray, 1 CPU per run:           {ray_s:7.1f} s (Ray's start-up included)")
    print(f"speed-up of ray: {local_s / ray_s:.2f}x (target >= {TARGET})")


if __name__ == "__main__":
    main()
