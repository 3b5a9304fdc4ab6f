"""GAN quality on full MNIST: DCGAN (Radford et al. 2016) and WGAN-GP (Gulrajani et al. 2017).

Each family trains from its shipped config (``configs/dcgan_mnist.yaml``; WGAN-GP with the
DCGAN-sized critic on MNIST) within a CPU time budget (default 30 minutes each) on the 50,000
training images, then writes a 10 x 10 grid of samples from fixed noise and reports epochs,
minutes, and the mean pixel statistics of 10,000 samples against the test images (a sanity
check, not a quality metric). FID in the MNIST classifier's features, the classifier's mean
confidence and the entropy of predicted classes come from the evaluation suite
(``genlab evaluate``) once it exists; this script prints where to run it.

    python benchmarks/gan_mnist_quality.py --data-dir ../shared/data [--minutes 30] \
        [--families dcgan,wgan-gp] [--out runs/bench_gan]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from genlab import load
from genlab.data import load_dataset
from genlab.data.views import to_float
from genlab.report.images import save_image_grid
from genlab.training import train
from genlab.training.config import load_config

CONFIGS = {"dcgan": "configs/dcgan_mnist.yaml", "wgan-gp": "configs/dcgan_mnist.yaml"}


def config_for(family: str, data_dir: str, minutes: float) -> dict[str, Any]:
    """The shipped MNIST config of ``family`` on full MNIST with a time budget."""
    cfg = load_config(CONFIGS[family]).to_dict()
    cfg["model"]["name"] = family
    if family == "wgan-gp":  # the WGAN-GP defaults: n_critic 5, Adam 1e-4, betas (0, 0.9)
        cfg["model"].update(loss="wasserstein")
        cfg["train"].update(lr=None, betas=None)
    cfg["data"].update(dataset="mnist", data_dir=data_dir)
    cfg["train"].update(epochs=200, time_limit=minutes, progress=False, patience=0)
    cfg["out"] = None
    return cfg


def run_family(family: str, args: argparse.Namespace) -> dict[str, Any]:
    out = Path(args.out) / family
    t0 = time.perf_counter()
    result = train(config_for(family, args.data_dir, args.minutes), out=out,
                   resume=(out / "checkpoints" / "last.safetensors").exists())
    minutes = (time.perf_counter() - t0) / 60
    run = load(out, which="last")
    grid = run.sample(100, seed=0)
    save_image_grid(grid, out / "samples_10x10.png", nrow=10)
    samples = run.sample(10_000, seed=1)
    test = to_float(load_dataset("mnist", data_dir=args.data_dir).split("test").images)
    return {
        "family": family,
        "epochs_run": len(result.history),
        "train_minutes": round(minutes, 1),
        "grid": str(out / "samples_10x10.png"),
        "sample_mean_pixel": round(float(samples.mean()), 4),
        "test_mean_pixel": round(float(test.mean()), 4),
        "sample_pixel_std": round(float(samples.std()), 4),
        "test_pixel_std": round(float(test.std()), 4),
        "evaluate_with": f"genlab evaluate {out} --metrics fid,confidence (evaluation suite)",
    }


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--minutes", type=float, default=30.0, help="training budget per family")
    p.add_argument("--families", default="dcgan,wgan-gp")
    p.add_argument("--out", default="runs/bench_gan")
    args = p.parse_args()
    torch.manual_seed(0)
    reports = [run_family(f, args) for f in args.families.split(",")]
    print(json.dumps(reports, indent=2))
    Path(args.out, "quality.json").write_text(json.dumps(reports, indent=2))


if __name__ == "__main__":
    main()
