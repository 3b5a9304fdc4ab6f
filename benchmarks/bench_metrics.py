"""FID, KID and precision/recall of 10,000 vs 10,000 MNIST images in the shipped classifier's
features (``fid-mnistnet``). Target: the three metrics together under 10 s on 2 CPU cores.

The generated side is the first 10,000 MNIST training images (real against real: FID near 0)
or, with ``--run``, that many samples of a trained run. The real side is the 10,000 test
images, whose features, statistics and k-NN radii are what ``genlab evaluate`` caches; the
timings below are those of the metrics on features, with feature extraction timed apart.

    python benchmarks/bench_metrics.py --data-dir ../shared/data
    python benchmarks/bench_metrics.py --data-dir ../shared/data --run runs/vae --threads 2
    python benchmarks/bench_metrics.py --nll-run runs/vae_conv --nll-images 10000 -k 1000

``--nll-run`` times the importance-sampled log-likelihood (Burda et al. 2016) of
``--nll-images`` test images of a run (spread over the split; all of them by default) with
``-k`` samples each, batched as ``genlab evaluate`` does, and prints the time and the figure.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable
from typing import Any

import torch

from genlab.data import load_dataset
from genlab.evaluation.classifier import default_classifier, load_classifier
from genlab.evaluation.evaluate import likelihood_metrics
from genlab.evaluation.metrics import feature_stats, frechet_distance, kid
from genlab.evaluation.neighbours import knn_radii, manifold_scores
from genlab.runs import open_run


def timed(label: str, fn: Callable[[], Any]) -> tuple[Any, float]:
    start = time.perf_counter()
    value = fn()
    seconds = time.perf_counter() - start
    print(f"{label:<44} {seconds:6.2f} s")
    return value, seconds


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--data-dir", default="../shared/data")
    p.add_argument("--run", default=None, help="a trained MNIST run whose samples to score")
    p.add_argument("--classifier", default=None, help="default: the shipped mnistnet")
    p.add_argument("-n", type=int, default=10_000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--nll-run", default=None, help="a VAE run whose test likelihood to time")
    p.add_argument("--nll-images", type=int, default=10_000)
    p.add_argument("-k", type=int, default=1000, help="importance samples per image")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    if args.nll_run:
        time_likelihood(args)
        return
    clf = load_classifier(args.classifier or default_classifier((1, 28, 28)))
    data = load_dataset("mnist", data_dir=args.data_dir, val_size=0)
    real_images = data.split("test").images[: args.n]
    if args.run:
        fake_images = open_run(args.run).sample(args.n, seed=0)
    else:
        fake_images = data.split("train").images[: args.n]
    threads = torch.get_num_threads()
    print(f"{clf.feature_space}: {args.n:,} vs {args.n:,} images, {threads} threads")
    real, _ = timed("features of the real images", lambda: clf.features(real_images))
    fake, _ = timed("features of the generated images", lambda: clf.features(fake_images))
    (stats, radii), _ = timed("real statistics + k-NN radii (cached once)",
                              lambda: (feature_stats(real), knn_radii(real)))
    value, t_fid = timed("FID", lambda: frechet_distance(feature_stats(fake), stats))
    (kid_mean, kid_std), t_kid = timed("KID (100 subsets of 1,000)", lambda: kid(real, fake))
    scores, t_pr = timed("precision/recall/density/coverage (k = 3)",
                         lambda: manifold_scores(real, fake, real_radii=radii))
    timed("  the same without cached radii", lambda: manifold_scores(real, fake))
    total = t_fid + t_kid + t_pr
    print(f"{'FID + KID + PR (cached reference)':<44} {total:6.2f} s  (target < 10 s)")
    print(f"FID {value:.3f}   KID {kid_mean:.5f} +- {kid_std:.5f}   "
          + "   ".join(f"{k} {v:.3f}" for k, v in scores.as_dict().items() if k != "k"))


def time_likelihood(args: argparse.Namespace) -> None:
    run = open_run(args.nll_run, data_dir=args.data_dir)
    out, seconds = timed(f"NLL, {args.nll_images:,} test images x k = {args.k:,}",
                         lambda: likelihood_metrics(run, "test", args.nll_images, args.k))
    print(f"{run.config.model.name} ({run.config.model.net}): NLL {out['nll_nats']:.2f} nats "
          f"({out['nll_bpd']:.4f} bits/dim), -ELBO {out['neg_elbo_nats']:.2f}, binarisation "
          f"{out['binarize']}; {seconds / args.nll_images * 1000:.1f} ms per image")


if __name__ == "__main__":
    main()
