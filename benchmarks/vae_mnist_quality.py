"""Quality target: conv VAE, Bernoulli likelihood, dynamically binarised MNIST, latent 32.

Trains within a CPU time budget (default 30 minutes) on 50,000 training images with early
stopping on the 10,000 validation images, then reports on the 10,000 test images (binarised by
one fixed Bernoulli draw, seed 1): the negative ELBO in nats per image (one posterior sample per
image, averaged over 5 passes) and the importance-weighted bound with k = 100 samples on the
first 2,000 test images. Target: test negative ELBO under 95 nats.

    python benchmarks/vae_mnist_quality.py --data-dir ../shared/data [--minutes 30] [--out runs/q]
"""

from __future__ import annotations

import torch
from budget import parser, report, train_within

from genlab import load
from genlab.data import load_dataset
from genlab.data.prepare import model_input


def main() -> None:
    args = parser(__doc__, 30.0, "runs/bench_vae_mnist_quality").parse_args()
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
            "batch_size": 128,
            "lr": 1e-3,
            "patience": 5,
        },
    }
    result, minutes = train_within(config, args)
    model = load(args.out, which="best").model
    test = load_dataset("mnist", data_dir=args.data_dir).split("test")
    x = model_input(test.images, "dynamic", seed=1)
    torch.manual_seed(0)
    with torch.no_grad():
        elbo = torch.stack([torch.cat([model.elbo(c) for c in x.split(1000)]) for _ in range(5)])
        iw = torch.cat([model.iw_bound(c, k=100) for c in x[:2000].split(50)])
    report(args.out, {
        "epochs_run": len(result.history),
        "best_epoch": result.best_epoch,
        "train_minutes": round(minutes, 1),
        "test_neg_elbo_nats": round(float(-elbo.mean()), 2),
        "test_neg_iw_bound_k100_nats_first2000": round(float(-iw.mean()), 2),
        "target": "neg ELBO < 95 nats",
    })


if __name__ == "__main__":
    main()
