"""Seconds per epoch and validation numbers of fp32, bf16 and bf16 + channels_last training.

CIFAR-10 models of the shipped configs: the conv VAE of ``vae_cifar10_conv.yaml`` with a
Gaussian decoder (learnt global sigma: ``vae``) and with the config's own mixture of 5
discretised logistics (``vae-logistic``, whose fp32 likelihood is most of a step), the conv AE
of ``ae_cifar10_conv.yaml``, the DCGAN of ``dcgan_cifar10.yaml`` and the WGAN-GP of
``wgan-gp_cifar10.yaml`` (EMA generators), and the residual VAE of ``vae_stl10_resnet64.yaml``
(``resvae``; on CIFAR-10's 32 x 32 images, since STL-10 is not in ../shared/data), trained
through ``genlab.train`` on ``--limit`` training images of the JPEG tree (a seeded subset; all
5,000 validation images) for ``--epochs`` epochs per variant and seed. Reported: each epoch's
training seconds (the trainer's ``seconds``; the fastest epoch is compared, the first one
carries oneDNN's kernel set-up), the whole run's wall clock (validation, grids and checkpoints
included), the validation numbers of the last epoch and, with ``--fid``, the FID (shipped
cifarnet features) of that many samples; over several ``--seeds`` the FIDs' spread says what
noise is. Target: bf16 >= 1.8x per epoch.

    OMP_NUM_THREADS=1 python benchmarks/bench_precision.py --data-dir ../shared/data \
        [--models vae,dcgan] [--variants fp32,bf16,bf16+cl,bf16+cl+compile] [--limit 10000]
        [--epochs 2] [--seeds 0,1]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path
from typing import Any

import torch

from genlab import load
from genlab.training import train
from genlab.training.trainer import Trainer

MODELS = {
    "vae": {"name": "vae", "net": "conv", "channels": [32, 64, 128], "latent_dim": 128,
            "likelihood": "gaussian", "sigma_mode": "global", "sigma": 0.1},
    "vae-logistic": {"name": "vae", "net": "conv", "channels": [32, 64, 128], "latent_dim": 128,
                     "likelihood": "logistic", "mixtures": 5},
    "ae": {"name": "ae", "net": "conv", "channels": [32, 64, 128], "latent_dim": 128,
           "loss": "mse"},
    "resvae": {"name": "vae", "net": "resnet", "channels": [64, 128, 256, 512], "res_blocks": 1,
               "latent_dim": 256, "likelihood": "gaussian", "sigma_mode": "global",
               "sigma": 0.1, "beta": 0.01},
    "dcgan": {"name": "dcgan", "channels": [64, 128, 256], "latent_dim": 100,
              "loss": "non-saturating"},
    "wgan-gp": {"name": "wgan-gp", "channels": [64, 128, 256], "latent_dim": 128,
                "n_critic": 5, "gp_weight": 10.0},
}
TRAIN = {
    "vae": {"lr": 1e-3, "clip_grad": 50.0},
    "vae-logistic": {"lr": 1e-3, "clip_grad": 50.0},
    "ae": {"lr": 1e-3},
    "resvae": {"lr": 4e-4, "batch_size": 64},
    "dcgan": {"ema": 0.999},
    "wgan-gp": {"ema": 0.999, "batch_size": 64},
}
VARIANTS = {
    "fp32": {"precision": "fp32"},
    "bf16": {"precision": "bf16"},
    "bf16+cl": {"precision": "bf16", "channels_last": True},
    "bf16+cl+compile": {"precision": "bf16", "channels_last": True, "compile": True},
}
DEFAULT_VARIANTS = "fp32,bf16,bf16+cl"
TARGET = 1.8


def limit_training_images(n: int) -> None:
    """Train on ``n`` training images drawn by a seeded permutation (an image folder is sorted
    by class: its first images are all airplanes); validation keeps its whole split."""
    load_data = Trainer._load_data

    def limited(self: Trainer) -> None:
        load_data(self)
        keep = torch.randperm(len(self.train_labels), generator=torch.Generator().manual_seed(0))
        keep = keep[:n].sort().values
        self.train_images, self.train_labels = self.train_images[keep], self.train_labels[keep]

    Trainer._load_data = limited


def run(model: str, variant: str, seed: int, args: argparse.Namespace,
        out: Path) -> dict[str, Any]:
    """Train one variant; its epoch seconds, last validation numbers and FID."""
    config = {
        "model": MODELS[model],
        "data": {"dataset": f"folder:{Path(args.data_dir) / 'cifar10-jpg'}"},
        "train": {"epochs": args.epochs, "batch_size": 128, "progress": False, "seed": seed,
                  **TRAIN[model], **VARIANTS[variant]},
    }
    result = train(config, out=out)
    last = result.history[-1]
    found = {"seconds": [row["seconds"] for row in result.history],
             "wall": result.summary["seconds"], "precision": result.summary["precision"],
             "val": {k: v for k, v in last.items()
                     if k.startswith("val/") and not k.startswith("val/loss.")}}
    if args.fid > 0:
        from genlab.evaluation.evaluate import evaluate_run

        scores = evaluate_run(load(out), metrics=["fid"], n=args.fid)["metrics"]
        found["fid"] = scores["fid"]["fid"] if "fid" in scores else None
    return found


def report(model: str, results: dict[str, list[dict[str, Any]]]) -> None:
    """One block per variant: fastest epoch against fp32's, per-seed validation and FID."""
    def fastest(runs: list[dict[str, Any]]) -> float:
        return min(min(found["seconds"]) for found in runs)

    base = fastest(results["fp32"]) if "fp32" in results else None
    for variant, runs in results.items():
        speedup = f"  speedup {base / fastest(runs):.2f}x (target >= {TARGET}x)" if base else ""
        print(f"{model:7s} {variant:15s} ({runs[0]['precision']}){speedup}", flush=True)
        for found in runs:
            epochs = ", ".join(f"{s:.1f}" for s in found["seconds"])
            val = "  ".join(f"{k} {v:.4g}" for k, v in found["val"].items())
            fid = f"  FID {found['fid']:.2f}" if found.get("fid") is not None else ""
            print(f"   seed {found['seed']}: training s/epoch {epochs}; whole run "
                  f"{found['wall']:.1f}s  {val}{fid}", flush=True)
        fids = torch.tensor([f["fid"] for f in runs if f.get("fid") is not None])
        if len(fids) > 1:
            print(f"   FID over seeds {fids.mean():.2f} +- {fids.std():.2f}", flush=True)


def main() -> None:
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--models", default="vae,dcgan", help="comma list of: " + ", ".join(MODELS))
    p.add_argument("--variants", default=DEFAULT_VARIANTS,
                   help="comma list of: " + ", ".join(VARIANTS))
    p.add_argument("--limit", type=int, default=10_000, help="training images (of 45,000)")
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--fid", type=int, default=2000, help="samples for the FID (0: none)")
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--seeds", default="0", help="comma list: one run per seed and variant")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    limit_training_images(args.limit)
    seeds = [int(seed) for seed in args.seeds.split(",")]
    print(f"CIFAR-10, {args.limit} training images, {args.epochs} epochs per variant and seed "
          f"{seeds}, {args.threads} thread(s)")
    for model in args.models.split(","):
        results: dict[str, list[dict[str, Any]]] = {}
        for variant in args.variants.split(","):
            for seed in seeds:
                with tempfile.TemporaryDirectory() as tmp:
                    found = run(model, variant, seed, args, Path(tmp) / "run")
                results.setdefault(variant, []).append({**found, "seed": seed})
        report(model, results)


if __name__ == "__main__":
    main()
