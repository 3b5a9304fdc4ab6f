"""Quality target: conv VAE, Bernoulli likelihood, dynamically binarised MNIST, latent 32.

Trains within a CPU time budget (default 30 minutes) on 50,000 training images with early
stopping on the 10,000 validation images, then reports on the 10,000 test images (binarised by
one fixed Bernoulli draw, seed 1): the negative ELBO in nats per image (one posterior sample per
image, averaged over 5 passes) and the importance-weighted bound with k = 100 samples on the
first 2,000 test images. Target: test negative ELBO under 95 nats.

    python benchmarks/vae_mnist_quality.py --data-dir ../shared/data [--minutes 30] [--out runs/q]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from genlab import load
from genlab.data import load_dataset
from genlab.data.prepare import model_input
from genlab.training import train


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--minutes", type=float, default=30.0)
    p.add_argument("--out", default="runs/bench_vae_mnist_quality")
    p.add_argument("--resume", action="store_true")
    args = p.parse_args()
    config = {
        "model": {
            "name": "vae",
            "net": "conv",
            "channels": [32, 64, 128],
            "latent_dim": 32,
            "likelihood": "bernoulli",
        },
        "data": {"dataset": "mnist", "data_dir": args.data_dir, "binarize": "dynamic"},
        "train": {
            "epochs": 200,
            "batch_size": 128,
            "lr": 1e-3,
            "patience": 5,
            "time_limit": args.minutes,
            "progress": False,
        },
    }
    t0 = time.perf_counter()
    result = train(config, out=args.out, resume=args.resume)
    minutes = (time.perf_counter() - t0) / 60
    model = load(args.out, which="best").model
    test = load_dataset("mnist", data_dir=args.data_dir).split("test")
    x = model_input(test.images, "dynamic", seed=1)
    torch.manual_seed(0)
    with torch.no_grad():
        elbo = torch.stack([torch.cat([model.elbo(c) for c in x.split(1000)]) for _ in range(5)])
        iw = torch.cat([model.iw_bound(c, k=100) for c in x[:2000].split(50)])
    report = {
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "train_minutes": round(minutes, 1),
        "test_neg_elbo_nats": round(float(-elbo.mean()), 2),
        "test_neg_iw_bound_k100_nats_first2000": round(float(-iw.mean()), 2),
        "target": "neg ELBO < 95 nats",
    }
    print(json.dumps(report, indent=2))
    Path(args.out, "quality.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
