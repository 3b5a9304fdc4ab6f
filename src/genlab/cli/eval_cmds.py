"""``genlab evaluate RUN... | classifier train``: the evaluation suite from the command line.

``evaluate`` opens each run, calls ``genlab.evaluation.evaluate_run``, writes the result to
``RUN/evaluation.json`` and prints one table row per run. ``classifier train`` trains the CNN
whose features FID, KID and precision/recall use. Torch and the evaluation package are
imported by the handlers, so building the parser (``--help``) stays instant.
"""

from __future__ import annotations

import argparse
import math
from typing import Any

from genlab.cli import common as arg
from genlab.cli.sample_flags import add_sample_flags, sample_flag_values

MAX_SAMPLES = 100_000
EVALUATE_EXAMPLES = """examples:
  genlab evaluate runs/vae runs/pca runs/dcgan -n 10000 --metrics nll,fid,kid,pr,confidence
  genlab evaluate runs/wgan-gp --metrics fid,kid,pr --classifier cifarnet.safetensors \\
      --device cuda -n 5000 --seed 1
"""
CLASSIFIER_EXAMPLES = """examples:
  genlab classifier train --dataset mnist --data-dir ../shared/data --epochs 8 \\
      --out mnistnet.safetensors
  genlab classifier train --dataset folder:../shared/data/cifar10-jpg --epochs 30 \\
      --device cuda --out cifarnet.safetensors
"""
DEVICE_HELP = "cpu, cuda, cuda:N, mps or auto"
def _metric_args(p: argparse.ArgumentParser) -> None:
    """Options whose choices come from the evaluation package (imported on use)."""
    from genlab.evaluation.registry import DEFAULT_METRICS, METRICS, metric_help
    from genlab.evaluation.settings import NLL_IMAGES
    from genlab.models.parts.density import IW_SAMPLES

    def metric(text: str) -> str:
        if text not in METRICS:
            raise argparse.ArgumentTypeError(f"expects one of {', '.join(METRICS)}, got {text!r}")
        return text

    metric.__name__ = "a metric name"
    p.add_argument("--metrics", type=arg.listed(metric),
                   default=list(DEFAULT_METRICS), help=f"comma-separated: {metric_help()}")
    p.add_argument("-k", "--iw-samples", type=arg.int_range(1, 100_000), default=None,
                   help=f"samples per image for nll (default: each model's own: {IW_SAMPLES:,} "
                        "importance samples; a DDPM's bound 50 of its timesteps)")
    p.add_argument("--nll-images", type=arg.positive_int, default=NLL_IMAGES,
                   help="images of --split the likelihood is estimated on")


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def format_table(rows: list[tuple[str, dict[str, Any]]]) -> str:
    """One line per run (its ``evaluate_run`` result), one column per headline number, ``-``
    where a run has none; beside the likelihoods, the scale each run's compare on
    (``evaluation.registry``), and a likelihood only where its number is shown on it."""
    from genlab.evaluation import summary
    from genlab.evaluation.registry import HEADLINES, likelihood_scale

    runs = []
    for name, result in rows:
        scale = likelihood_scale(result["metrics"])
        runs.append((name, {"scale": scale, **{k: v for k, v in summary(result).items()
                                               if HEADLINES[k].shown_on(scale)}}))
    found = [k for k in HEADLINES if any(k in v for _, v in runs)]  # in the suite's order
    at = next((i for i, k in enumerate(found) if HEADLINES[k].scaled), None)
    columns = found if at is None else [*found[:at], "scale", *found[at:]]
    table = [["run", *columns]] + [[name, *(_cell(v.get(c)) for c in columns)] for name, v in runs]
    widths = [max(len(r[i]) for r in table) for i in range(len(table[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
                     for r in table)


def cmd_evaluate(args: argparse.Namespace) -> int:
    from genlab.evaluation import evaluate_run
    from genlab.evaluation.settings import EvaluationSettings
    from genlab.io import write_json
    from genlab.runs import open_run

    settings = EvaluationSettings(args.metrics, args.n, args.split, args.classifier,
                                  args.inception_weights, args.iw_samples, args.nll_images,
                                  args.seed, sample_flag_values(args))
    rows = []
    for name in args.runs:
        run = open_run(name, which=args.which, device=args.device, data_dir=args.data_dir)
        result = evaluate_run(run, settings, cache=not args.no_cache)
        out = write_json(run.directory / "evaluation.json", result)
        print(f"{name}: wrote {out}")
        for metric, why in result["skipped"].items():
            print(f"{name}: skipped {metric}: {why}")
        rows.append((name, result))
    print(format_table(rows))
    return 0


def cmd_classifier_train(args: argparse.Namespace) -> int:
    import torch

    from genlab.evaluation.classifier import record_path, save_classifier
    from genlab.evaluation.classifier_training import TrainingOptions, train_classifier

    if args.threads:
        torch.set_num_threads(args.threads)
    options = TrainingOptions(epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                              seed=args.seed, augment=args.augment, widths=args.widths)
    net, acc, record = train_classifier(args.dataset, args.data_dir, options, device=args.device,
                                        log=print)
    path = save_classifier(net, args.out, record)
    print(f"test accuracy {acc:.4f}; wrote {path} and {record_path(path)}")
    return 0


def add_evaluation_args(p: argparse.ArgumentParser) -> None:
    """What is measured and on what: shared by ``evaluate`` and ``report``."""
    p.add_argument("-n", type=arg.int_range(2, MAX_SAMPLES), default=10_000,
                   help="samples drawn (and real images used) per run")
    p.add_argument("--split", default="test", help="the real images compared with")
    p.add_argument("--classifier", metavar="PATH", default=None,
                   help="classifier weights (.safetensors with its .json), or 'inception' for "
                        "Inception-v3 features (pip install 'genlab[inception]'); default: the "
                        "classifier genlab ships for the run's image shape")
    p.add_argument("--inception-weights", metavar="PATH", default=None,
                   help="a local Inception-v3 weights file for --classifier inception "
                        "(else torch-fidelity downloads it, when online)")
    p.add_argument("--seed", type=arg.seed, default=0, help="seed of the samples and subsets")
    arg.defer(p, _metric_args)


def _evaluate_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("evaluate", help="FID, KID, precision/recall, NLL, ... of trained runs",
                       description="Evaluate trained runs: sample quality in a classifier's "
                       "features, likelihoods, reconstructions and classifier confidence. "
                       "Writes RUN/evaluation.json and prints a table.",
                       epilog=EVALUATE_EXAMPLES, formatter_class=arg.HelpFormatter)
    arg.add_run_args(p, many=True)
    add_evaluation_args(p)
    p.add_argument("--no-cache", action="store_true",
                   help="recompute the real images' statistics ($GENLAB_CACHE/stats)")
    arg.defer(p, add_sample_flags)
    p.set_defaults(func=cmd_evaluate)


def _classifier_parser(sub: argparse._SubParsersAction) -> None:
    group = sub.add_parser("classifier", help="train the feature classifier of FID/KID/PR",
                           description="The CNN classifier whose penultimate features FID, KID "
                           "and precision/recall are measured in.",
                           epilog=CLASSIFIER_EXAMPLES, formatter_class=arg.HelpFormatter)
    group.set_defaults(func=lambda args: group.print_help() or 1)
    ops = group.add_subparsers(dest="classifier_command", metavar="COMMAND")
    p = ops.add_parser("train", help="train a classifier and record its test accuracy",
                       description="Train on the dataset's whole train split; score on its "
                       "test split; write weights and a JSON record (SHA-256, config, accuracy).",
                       epilog=CLASSIFIER_EXAMPLES, formatter_class=arg.HelpFormatter)
    p.add_argument("--dataset", required=True,
                   help="dataset name or folder:PATH (it needs a test split)")
    p.add_argument("--out", required=True, metavar="PATH", help="weights file (.safetensors)")
    p.add_argument("--data-dir", default=None, help="where datasets live (else $GENLAB_DATA)")
    p.add_argument("--epochs", type=arg.positive_int, default=8, help="training epochs")
    p.add_argument("--batch-size", type=arg.positive_int, default=128, help="images per batch")
    p.add_argument("--lr", type=arg.positive, default=3e-3, help="peak one-cycle learning rate")
    p.add_argument("--widths", type=arg.listed(arg.positive_int), default=None,
                   help="channels per conv block (default: 32,64 grey; 64,128,256 colour)")
    p.add_argument("--augment", choices=["none", "shift", "shift+flip"], default=None,
                   help="default: shift for grey images, shift+flip for colour ones")
    p.add_argument("--seed", type=arg.seed, default=0, help="seed of weights and batches")
    p.add_argument("--device", type=arg.device, default="cpu", help=DEVICE_HELP)
    p.add_argument("--threads", type=arg.positive_int, default=None,
                   help="torch CPU threads (default: torch's choice)")
    p.set_defaults(func=cmd_classifier_train)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``evaluate`` and ``classifier train`` to the genlab parser."""
    _evaluate_parser(sub)
    _classifier_parser(sub)
