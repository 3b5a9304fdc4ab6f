"""Quality target: the RealNVP flow (``configs/flow_mnist.yaml``) on uniformly dequantised
MNIST, exact test NLL <= 1.25 bits/dim on the 8-bit scale within 60 CPU-minutes of training.

Trains within a time budget (default 60 minutes; run it with OMP_NUM_THREADS=1 for CPU-minutes)
on the 50,000 training images with early stopping on the 10,000 validation images, then
reports the 8-bit bits/dim of the 10,000 test images (dequantised by one seeded uniform draw,
``genlab evaluate``'s nll) and the FID of 10,000 samples in the shipped MNIST classifier's
features (fid-mnistnet), beside the other families' (``--temperature`` for the samples).

    python benchmarks/flow_mnist_quality.py --data-dir ../shared/data [--minutes 60] \
        [--out runs/bench_flow_mnist] [--resume] [--temperature 1.0]
"""

from __future__ import annotations

from budget import parser, report, train_within

from genlab import load
from genlab.evaluation import evaluate_run, summary
from genlab.training.config import load_config

TARGET_BPD = 1.25


def main() -> None:
    p = parser(__doc__, 60.0, "runs/bench_flow_mnist")
    p.add_argument("--temperature", type=float, default=1.0)
    args = p.parse_args()
    config = load_config("configs/flow_mnist.yaml").to_dict()
    config["data"].update(dataset="mnist", data_dir=args.data_dir)
    result, minutes = train_within(config, args)
    run = load(args.out, which="best", data_dir=args.data_dir)
    found = evaluate_run(run, metrics=["nll", "fid"], nll_images=10_000, n=10_000, cache=False,
                         sampling={"temperature": args.temperature})
    bpd = found["metrics"]["nll"]["nll_8bit_bpd"]
    report(args.out, {
        "epochs_run": len(result.history), "best_epoch": result.best_epoch,
        "train_minutes": round(minutes, 1), "temperature": args.temperature,
        **summary(found),
        "target": f"test NLL <= {TARGET_BPD} bits/dim (8-bit): "
                  + ("met" if bpd <= TARGET_BPD else "NOT met"),
    })

if __name__ == "__main__":
    main()
