"""GAN quality on full MNIST: DCGAN (Radford et al. 2016) and WGAN-GP (Gulrajani et al. 2017).

Each family trains from its shipped config (``configs/dcgan_mnist.yaml``; WGAN-GP with the
DCGAN-sized critic on MNIST) within a CPU time budget (default 30 minutes each) on the 50,000
training images, then writes a 10 x 10 grid of samples from fixed noise and evaluates 10,000
samples against the 10,000 test images with the evaluation suite: FID in the shipped MNIST
classifier's penultimate features (``fid-mnistnet``), the classifier's mean max-softmax, and
the entropy of its predicted classes over the samples (mode coverage; uniform is ln 10 =
2.303 nats). Target: DCGAN's FID at most a third of the best VAE's on the same evaluation,
class entropy >= 2.25 nats. ``--vae RUN...`` evaluates VAE runs the same way for the ratio.

    python benchmarks/gan_mnist_quality.py --data-dir ../shared/data [--minutes 30] \
        [--families dcgan,wgan-gp] [--out runs/bench_gan] [--vae RUN...]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

import torch

from genlab import load
from genlab.evaluation import evaluate_run, summary
from genlab.figures.images import save_image_grid
from genlab.training import train
from genlab.training.config import load_config

CONFIGS = {"dcgan": "configs/dcgan_mnist.yaml", "wgan-gp": "configs/dcgan_mnist.yaml"}


def config_for(family: str, data_dir: str, minutes: float) -> dict[str, Any]:
    """The shipped MNIST config of ``family`` on full MNIST with a time budget."""
    cfg = load_config(CONFIGS[family]).to_dict()
    cfg["model"]["name"] = family
    if family == "wgan-gp":  # the WGAN-GP defaults: n_critic 5, Adam 1e-4, betas (0, 0.9),
        cfg["model"].update(loss="wasserstein", norm="layer")  # a layer-normalised critic
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
    run = load(out, which="last", data_dir=args.data_dir)
    save_image_grid(run.sample(100, seed=0), out / "samples_10x10.png", nrow=10)
    return {"family": family, "epochs_run": len(result.history),
            "train_minutes": round(minutes, 1), "grid": str(out / "samples_10x10.png"),
            **evaluated(run)}


def evaluated(run: Any) -> dict[str, Any]:
    """FID (mnistnet features), confidence and class entropy of 10,000 samples."""
    t0 = time.perf_counter()
    numbers = summary(evaluate_run(run, metrics=("fid", "confidence"), n=10_000))
    return {**numbers, "evaluation_seconds": round(time.perf_counter() - t0, 1)}


def verdict(reports: list[dict[str, Any]]) -> str:
    """The target: DCGAN's FID at most a third of the best reference VAE's, class entropy
    >= 2.25 nats."""
    gan = next((r for r in reports if r["family"] == "dcgan"), None)
    vaes = [r for r in reports if r["family"] == "vae (reference)"]
    if gan is None or not vaes:
        return "target: needs the dcgan family and at least one --vae run"
    best = min(vaes, key=lambda r: r["fid"])
    ratio = gan["fid"] / best["fid"]
    met = ratio <= 1 / 3 and gan["class_entropy"] >= 2.25
    return (f"target: DCGAN FID {gan['fid']:.1f} / best VAE's {best['fid']:.1f} ({best['run']}) "
            f"= {ratio:.2f} (<= 0.33), class entropy {gan['class_entropy']:.3f} (>= 2.25): "
            + ("met" if met else "NOT met"))


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--minutes", type=float, default=30.0, help="training budget per family")
    p.add_argument("--families", default="dcgan,wgan-gp")
    p.add_argument("--out", default="runs/bench_gan")
    p.add_argument("--vae", nargs="*", default=[],
                   help="trained VAE runs to evaluate the same way, for the ratio")
    args = p.parse_args()
    torch.manual_seed(0)
    reports = [run_family(f, args) for f in args.families.split(",") if f]
    for vae in args.vae:
        reports.append({"family": "vae (reference)", "run": vae,
                        **evaluated(load(vae, data_dir=args.data_dir))})
    print(json.dumps(reports, indent=2))
    print(verdict(reports))
    Path(args.out, "quality.json").write_text(json.dumps(reports, indent=2))


if __name__ == "__main__":
    main()
