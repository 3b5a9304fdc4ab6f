"""DDPM quality on full MNIST (Ho et al. 2020; DDIM sampling, Song et al. 2021).

Trains ``configs/ddpm_mnist.yaml`` within a time budget (default 35 minutes; the target allows
60 CPU-minutes) on the 55,000 training images, then, through genlab's evaluation suite:

* FID in the shipped MNIST classifier's features (``fid-mnistnet``) of 10,000 samples (DDIM,
  ``--steps`` steps, eta 0, classes balanced) against the 10,000 test images, the classifier's
  confidence and the entropy of its predicted classes (uniform: ln 10 = 2.303 nats), and the
  seconds the 10,000 samples took;
* the variational bound on ``--nll-images`` test images in 8-bit bits/dim, from ``--timesteps``
  of the 1,000 timesteps per image, with its standard error;
* the DDIM inversion round trip (encode, then decode; 50 steps each way): PSNR on
  ``--psnr-images`` test images.

Targets (issue 19): FID <= 8 with DDIM <= 100 steps, class entropy >= 2.28 nats.
``--samplers ddim:50,dpm-solver++:20,dpm-solver++:10`` scores the same run by each sampler
instead (FID, class entropy and wall seconds of ``--samples`` samples each); the issue-39
target: DPM-Solver++ (Lu et al. 2022) with <= 20 steps within 5% of DDIM-50's FID.

    python benchmarks/ddpm_mnist_quality.py --data-dir ../shared/data [--minutes 35] \
        [--steps 20] [--out runs/bench_ddpm]
    # the measurements alone, of a run trained elsewhere (e.g. the DDPM of study_mnist)
    python benchmarks/ddpm_mnist_quality.py --run runs/study-mnist/runs/ddpm-* --steps 50
    # the samplers compared on one run
    python benchmarks/ddpm_mnist_quality.py --run runs/bench_ddpm \
        --samplers ddim:50,dpm-solver++:20,dpm-solver++:10
    # reduced, for a busy machine: the embedded mnist-mini, 2,000 samples
    python benchmarks/ddpm_mnist_quality.py --dataset mnist-mini --val-size 1000 \
        --minutes 20 --samples 2000 --steps 10 --nll-images 50 --timesteps 20 --psnr-images 50
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
from genlab.evaluation.evaluate import reconstruction_metrics
from genlab.figures.images import save_image_grid
from genlab.training import train
from genlab.training.config import load_config

CONFIG = "configs/ddpm_mnist.yaml"


def trained(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """The shipped config on full MNIST, trained (or resumed) within the budget."""
    cfg = load_config(CONFIG).to_dict()
    cfg["data"].update(dataset=args.dataset, data_dir=args.data_dir, val_size=args.val_size)
    if args.prediction:
        cfg["model"]["prediction"] = args.prediction
    cfg["train"].update(epochs=200, time_limit=args.minutes, progress=False, patience=0)
    cfg["out"] = None
    out = Path(args.out)
    start = time.perf_counter()
    result = train(cfg, out=out, resume=(out / "checkpoints" / "last.safetensors").exists())
    minutes = (time.perf_counter() - start) / 60
    return load(out, which="last", data_dir=args.data_dir), {
        "epochs_run": len(result.history), "train_wall_minutes": round(minutes, 1),
        "final_val_mse": result.history[-1].get("val/mse") if result.history else None}


def existing(args: argparse.Namespace) -> tuple[Any, dict[str, Any]]:
    """A run trained elsewhere, as it is (its best checkpoint), with what its training took."""
    history = [json.loads(line) for line in Path(args.run, "metrics.jsonl").read_text()
               .splitlines() if line.strip()]
    epochs = [h for h in history if "val/mse" in h]
    return load(args.run, data_dir=args.data_dir), {
        "run": args.run, "epochs_run": len(epochs),
        "train_wall_minutes": round(sum(h["seconds"] for h in epochs) / 60, 1),
        "final_val_mse": epochs[-1]["val/mse"] if epochs else None}


def measured(run: Any, args: argparse.Namespace) -> dict[str, Any]:
    """FID/confidence of 10,000 DDIM samples, the bound, the inversion PSNR."""
    sampling = {"steps": args.steps, "eta": 0.0}
    save_image_grid(run.sample(100, seed=0, options=sampling), Path(args.out) / "samples.png",
                    nrow=10)
    quality = evaluate_run(run, metrics=["fid", "confidence"], n=args.samples,
                           sampling=sampling)
    fid = quality["metrics"]["fid"]
    bound = evaluate_run(run, metrics=["nll"], nll_images=args.nll_images,
                         iw_samples=args.timesteps)["metrics"]["nll"]
    dims = 28 * 28
    start = time.perf_counter()
    recon = reconstruction_metrics(run, "test", n=args.psnr_images)
    return {**summary(quality), "sampling": sampling, "samples": args.samples,
            "reference_images": fid["real"],
            "sampling_seconds": fid["sampling_seconds"],
            "bound_8bit_bpd": bound["nll_8bit_bpd"],
            "bound_8bit_bpd_sem": bound["nll_sem"] / (dims * 0.6931471805599453),
            "bound_images": bound["images"], "bound_method": bound["nll_method"],
            "inversion_psnr_db": recon["psnr_db"], "inversion_images": recon["images"],
            "inversion_seconds": round(time.perf_counter() - start, 1)}


def samplers_compared(run: Any, args: argparse.Namespace) -> dict[str, Any]:
    """FID, class entropy and seconds of each ``sampler:steps`` on the same run, same seed."""
    scores = {}
    for item in args.samplers.split(","):
        sampler, steps = item.split(":")
        sampling = {"sampler": sampler, "steps": int(steps), "eta": 0.0}
        quality = evaluate_run(run, metrics=["fid", "confidence"], n=args.samples,
                               sampling=sampling)
        scores[item] = {**summary(quality), "sampling": sampling, "samples": args.samples,
                        "sampling_seconds": quality["metrics"]["fid"]["sampling_seconds"]}
        print(item, json.dumps(scores[item]), flush=True)
    return scores


def sampler_verdict(scores: dict[str, Any]) -> str:
    """DPM-Solver++ at <= 20 steps within 5% of DDIM-50's FID (issue 39)."""
    base = scores.get("ddim:50")
    few = {k: v for k, v in scores.items()
           if k.startswith("dpm-solver++:") and v["sampling"]["steps"] <= 20}
    if base is None or not few:
        return "target needs ddim:50 and a dpm-solver++ with <= 20 steps"
    best = min(few, key=lambda k: few[k]["fid"])
    ratio = few[best]["fid"] / base["fid"]
    return (f"target: {best} FID {few[best]['fid']:.2f} vs ddim:50 {base['fid']:.2f} "
            f"(ratio {ratio:.3f}, <= 1.05): " + ("met" if ratio <= 1.05 else "NOT met"))


def verdict(report: dict[str, Any]) -> str:
    met = report["fid"] <= 8 and report["class_entropy"] >= 2.28
    return (f"target: FID {report['fid']:.2f} (<= 8) with DDIM {report['sampling']['steps']} "
            f"steps, class entropy {report['class_entropy']:.3f} (>= 2.28): "
            + ("met" if met else "NOT met"))


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--minutes", type=float, default=35.0, help="training budget (wall)")
    p.add_argument("--steps", type=int, default=20, help="DDIM steps of the FID samples")
    p.add_argument("--timesteps", type=int, default=50, help="timesteps per image of the bound")
    p.add_argument("--nll-images", type=int, default=200)
    p.add_argument("--psnr-images", type=int, default=200)
    p.add_argument("--dataset", default="mnist", help="mnist-mini for a quick, reduced run")
    p.add_argument("--val-size", type=int, default=5000)
    p.add_argument("--samples", type=int, default=10_000, help="samples of the FID")
    p.add_argument("--prediction", choices=["eps", "v"], default=None,
                   help="model.prediction (default: the config's)")
    p.add_argument("--out", default="runs/bench_ddpm")
    p.add_argument("--samplers", default=None, metavar="S:N,...",
                   help="compare samplers (e.g. ddim:50,dpm-solver++:20) instead")
    p.add_argument("--run", default=None, metavar="DIR",
                   help="measure this trained run instead of training one")
    args = p.parse_args()
    torch.manual_seed(0)
    Path(args.out).mkdir(parents=True, exist_ok=True)
    run, training = existing(args) if args.run else trained(args)
    if args.samplers:
        report = {**training, "samplers": samplers_compared(run, args)}
        report["verdict"] = sampler_verdict(report["samplers"])
    else:
        report = {**training, **measured(run, args)}
        report["verdict"] = verdict(report)
    print(json.dumps(report, indent=2))
    name = "samplers.json" if args.samplers else "quality.json"
    Path(args.out, name).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
