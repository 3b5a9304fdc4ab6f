"""Image completion of 1,000 MNIST test images (left half observed): genlab's batched optimiser
against a loop that fits one image at a time, as a per-image notebook loop does.

The loop uses the same objective (the observed-pixel ELBO, one reparameterised sample per step),
starting point, Adam learning rate and per-image early stopping, with ``torch.optim.Adam`` on
one image's (mu, logvar). It is timed on a subset (``--loop-images``) and extrapolated to all
images. Both report each image's final ELBO with the same 64-sample estimator, inside the timing.
Target: batched at least 20x faster, mean ELBO within 1%. (That holds for the mlp decoder; a
conv decoder on a CPU is compute-bound, so batching gains less there: about 10x.)

    python benchmarks/bench_latent.py                       # trains an mlp VAE on mnist-mini
    python benchmarks/bench_latent.py --dataset mnist --data-dir ../shared/data
    python benchmarks/bench_latent.py --run runs/vae --images 1000 --loop-images 50
"""

from __future__ import annotations

import argparse
import json
import math
import tempfile
import time
from pathlib import Path

import torch

import genlab
from genlab.latent import complete, evaluate_elbo, make_mask
from genlab.latent.fit import INIT_LOGVAR, SMOOTHING, elbo_estimate, frozen, prior_frame
from genlab.latent.ops import condition
from genlab.models.core.base import GenerativeModel
from genlab.runs import open_run

FIT = {"steps": 1000, "lr": 0.05, "patience": 50, "tol": 0.01}


def train_vae(args: argparse.Namespace, directory: Path) -> str:
    config = {
        "model": {"name": "vae", "net": args.net, "latent_dim": 16, "hidden": [256]},
        "data": {"dataset": args.dataset, "data_dir": args.data_dir, "binarize": "dynamic"},
        "train": {"epochs": args.epochs, "batch_size": 128, "lr": 2e-3, "progress": False},
    }
    t0 = time.perf_counter()
    genlab.train(config, out=directory / "vae")
    print(f"trained a {args.net} VAE on {args.dataset} for {args.epochs} epochs "
          f"in {time.perf_counter() - t0:.1f}s")
    return str(directory / "vae")


def fit_one(
    model: GenerativeModel, x: torch.Tensor, y: torch.Tensor | None, mask: torch.Tensor, seed: int
) -> torch.Tensor:
    """The per-image loop body: one image, its own (mu, logvar) and Adam, early stopping on the
    running ELBO, then its final ELBO (64 samples, as ``fit_posterior`` reports it). Same
    parametrisation, start and stopping rule as ``fit_posterior``."""
    d = model.latent_dim
    loc, scale = prior_frame(model.prior(), d)
    u = torch.zeros(1, d, requires_grad=True)
    s = torch.full((1, d), INIT_LOGVAR, requires_grad=True)
    opt = torch.optim.Adam([u, s], lr=FIT["lr"])
    gen = torch.Generator().manual_seed(seed)
    best, running, bad = -math.inf, None, 0
    best_u, best_s = u.detach().clone(), s.detach().clone()
    for _ in range(FIT["steps"]):
        elbo = elbo_estimate(model, x, loc + scale * u, 2 * scale.log() + s, y, mask,
                             generator=gen)
        opt.zero_grad()
        (-elbo.sum()).backward()
        value = float(elbo.detach())
        running = value if running is None else SMOOTHING * running + (1 - SMOOTHING) * value
        if running > best + FIT["tol"]:
            best, bad = running, 0
            best_u, best_s = u.detach().clone(), s.detach().clone()
        else:
            bad += 1
        opt.step()
        if bad >= FIT["patience"]:
            break
    mu, logvar = loc + scale * best_u, 2 * scale.log() + best_s
    return evaluate_elbo(model, x, mu, logvar, y, mask, samples=64, seed=seed + 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--run", help="a trained run to use (else a VAE is trained first)")
    p.add_argument("--dataset", default="mnist-mini", help="mnist-mini (embedded) or mnist")
    p.add_argument("--data-dir", default=None)
    p.add_argument("--net", default="mlp", choices=["mlp", "conv"])
    p.add_argument("--epochs", type=int, default=5)
    p.add_argument("--images", type=int, default=1000, help="test images to complete")
    p.add_argument("--loop-images", type=int, default=30, help="images the loop is timed on")
    p.add_argument("--json", help="also write the numbers here")
    args = p.parse_args()
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as tmp:
        run = open_run(args.run or train_vae(args, Path(tmp)))
    model = run.model
    x, y = run.images("test", torch.arange(args.images))
    y = condition(model, y)
    _, h, w = model.shape
    mask = make_mask("left", len(x), h, w)
    print(f"completing {len(x)} test images (left half observed), "
          f"{torch.get_num_threads()} CPU threads")

    t0 = time.perf_counter()
    batched = complete(model, x, mask, y, **FIT, seed=0)
    batched_s = time.perf_counter() - t0
    k = min(args.loop_images, len(x))
    t0 = time.perf_counter()
    with frozen(model):
        loop_elbo = torch.cat([
            fit_one(model, x[i : i + 1], None if y is None else y[i : i + 1], mask, seed=i)
            for i in range(k)
        ])
    loop_per_image = (time.perf_counter() - t0) / k
    loop_s = loop_per_image * len(x)
    batched_elbo = batched.fit.elbo[:k]
    rel = abs(float(batched_elbo.mean() - loop_elbo.mean())) / abs(float(loop_elbo.mean()))
    numbers = {
        "images": len(x), "threads": torch.get_num_threads(),
        "batched_seconds": batched_s,
        "batched_mean_steps": float(batched.fit.steps.float().mean()),
        "loop_images_timed": k, "loop_seconds_per_image": loop_per_image,
        "loop_seconds_extrapolated": loop_s, "speedup": loop_s / batched_s,
        "batched_elbo_all": float(batched.fit.elbo.mean()),
        "batched_elbo_subset": float(batched_elbo.mean()),
        "loop_elbo_subset": float(loop_elbo.mean()),
        "elbo_relative_difference": rel,
        "hidden_mse": float(batched.hidden_mse.mean()),
    }
    print(f"batched: {batched_s:.1f}s for {len(x)} images "
          f"(mean {numbers['batched_mean_steps']:.0f} steps per image)")
    print(f"per-image loop: {loop_per_image * 1000:.0f} ms per image, timed on {k} images "
          f"and extrapolated to {len(x)}: {loop_s:.0f}s")
    print(f"speed-up: {numbers['speedup']:.1f}x (target >= 20x)")
    print(f"observed-half ELBO on the {k} timed images: batched {batched_elbo.mean():.2f}, "
          f"loop {loop_elbo.mean():.2f} nats ({100 * rel:.3f}% apart; target <= 1%)")
    print(f"batched ELBO over all {len(x)}: {numbers['batched_elbo_all']:.2f} nats; "
          f"hidden-half MSE per pixel {numbers['hidden_mse']:.4f}")
    if args.json:
        Path(args.json).write_text(json.dumps(numbers, indent=2))


if __name__ == "__main__":
    main()
