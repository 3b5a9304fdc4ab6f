"""``genlab train | sample | reconstruct | models``.

Training flags are generated from the config dataclasses, so every YAML key has exactly one flag
(``model.latent_dim`` <-> ``--latent-dim``) and ``--set section.key=value`` reaches the rest.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import types
import typing
from pathlib import Path
from typing import Any

import torch
import yaml

from genlab.cli.common import add_run_args, parse_int_list
from genlab.errors import ConfigError
from genlab.models.catalog import describe_components
from genlab.models.registry import MODELS
from genlab.report.images import (
    save_image_grid,
    save_images_folder,
    save_images_npz,
    save_rows_figure,
)
from genlab.runs import open_run
from genlab.training import train
from genlab.training.config import (
    SECTIONS,
    apply_overrides,
    config_from_dict,
    load_config,
)

RECON_COLUMNS = 8

TRAIN_EXAMPLES = """examples:
  genlab train vae --dataset mnist-mini --likelihood bernoulli --binarize dynamic \\
      --net conv --latent-dim 32 --epochs 20 --out runs/vae
  genlab train pca --dataset folder:../shared/data/cifar10-jpg --explained-variance 0.95 \\
      --out runs/pca
  genlab train --config configs/vae_mnist_bernoulli.yaml --set train.epochs=5
  genlab train --resume runs/vae --epochs 40      # continue a run (or one that was killed)
"""


def _config_fields() -> dict[str, tuple[str, Any]]:
    """flag dest -> (section, annotation) for every config field of every section and family."""
    fields: dict[str, tuple[str, Any]] = {}
    for section, cls in SECTIONS.items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            if typing.get_origin(hints[f.name]) is not dict:  # train.optim: YAML or --set only
                fields[f.name] = (section, hints[f.name])
    for family in MODELS.values():
        hints = typing.get_type_hints(family.config_class)
        for f in dataclasses.fields(family.config_class):
            if f.name != "name":
                fields.setdefault(f.name, ("model", hints[f.name]))
    return fields


def _flag_type(annotation: Any) -> Any:
    """argparse type for a field: unwrap ``X | None``; lists are comma-separated values."""
    if typing.get_origin(annotation) in (typing.Union, types.UnionType):
        annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
    if typing.get_origin(annotation) is list:
        (item,) = typing.get_args(annotation)

        def parse_list(text: str) -> list:
            return [item(t) for t in text.split(",")]

        parse_list.__name__ = f"comma-separated {item.__name__}"
        return parse_list
    return annotation


def add_config_flags(p: argparse.ArgumentParser) -> None:
    groups = {s: p.add_argument_group(f"{s} options") for s in ("model", "data", "train")}
    for name, (section, annotation) in _config_fields().items():
        flag = "--" + name.replace("_", "-")
        dest = f"cfg_{name}"
        if annotation is bool:
            groups[section].add_argument(
                flag,
                dest=dest,
                action=argparse.BooleanOptionalAction,
                default=None,
                help=f"{section}.{name}",
            )
        else:
            groups[section].add_argument(
                flag,
                dest=dest,
                type=_flag_type(annotation),
                default=None,
                help=f"{section}.{name}",
                metavar=name.upper(),
            )


def raw_config(args: argparse.Namespace) -> dict[str, Any]:
    """Config file, then flags, then --set: later sources win."""
    raw: dict[str, Any] = {}
    if args.config:
        load_config(args.config)  # validates, with the file name in any error
        raw = yaml.safe_load(Path(args.config).read_text()) or {}
    elif args.resume:
        path = Path(args.resume) / "config.yaml"
        if not path.exists():
            raise ConfigError(f"cannot resume: {path} does not exist")
        raw = yaml.safe_load(path.read_text()) or {}
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    if args.model:
        raw.setdefault("model", {})["name"] = args.model
    for name, (section, _) in _config_fields().items():
        value = getattr(args, f"cfg_{name}")
        if value is not None:
            raw.setdefault(section, {})[name] = value
    if args.out:
        raw["out"] = args.out
    return apply_overrides(raw, args.set or [])


def cmd_train(args: argparse.Namespace) -> int:
    if args.resume and args.config:
        raise ConfigError("use either --resume RUN or --config FILE, not both")
    raw = raw_config(args)
    if not args.resume and not raw.get("model", {}).get("name") and not args.config:
        raise ConfigError("name a model (genlab train vae ...) or give --config FILE")
    config = config_from_dict(raw)
    out = args.resume or config.out
    result = train(config, out=out, resume=bool(args.resume))
    if result.summary:
        final = {
            k: round(v, 4)
            for k, v in result.summary["final"].items()
            if k.startswith(("val/", "train/"))
        }
        print(
            f"run {result.run_dir}: {result.summary['epochs_run']} epoch(s), "
            f"best epoch {result.best_epoch}, {json.dumps(final)}"
        )
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    run = open_run(args.run, args.which, args.device)
    labels = parse_int_list(args.labels, "--labels")
    bad = [v for v in labels or [] if not 0 <= v < run.model.num_classes]
    if bad:
        raise ConfigError(f"--labels: {bad[0]} is not a class (0..{run.model.num_classes - 1})")
    images = run.sample(args.n, labels=labels, seed=args.seed, mean=not args.draw)
    label_t = None  # the labels Run.sample drew with (--labels cycled to n), for the .npz
    if labels is not None:
        label_t = torch.tensor(labels).repeat(args.n // len(labels) + 1)[: args.n]
    out = Path(args.out)
    if args.format == "npz":
        save_images_npz(images, out, labels=label_t)
    elif args.format == "folder":
        save_images_folder(images, out)
    else:
        save_image_grid(images, out, title=f"{run.config.model.name} samples")
    print(f"wrote {args.n} samples to {out}")
    return 0


def cmd_reconstruct(args: argparse.Namespace) -> int:
    run = open_run(args.run, args.which, args.device, args.data_dir)
    ds = run.dataset
    idx = (
        torch.arange(args.n)
        if args.seed is None
        else torch.randperm(
            len(ds.split(args.split)), generator=torch.Generator().manual_seed(args.seed)
        )[: args.n]
    )
    x, y = run.images(args.split, idx)
    with torch.no_grad():
        recon = run.model.reconstruct(x, y if run.model.conditional else None)
    mse = float((recon - x).pow(2).flatten(1).sum(1).mean())
    # Pairs of rows (originals above their reconstructions), RECON_COLUMNS images wide.
    rows = [
        t
        for pair in zip(x.cpu().split(RECON_COLUMNS), recon.cpu().split(RECON_COLUMNS), strict=True)
        for t in pair
    ]
    save_rows_figure(
        rows,
        Path(args.out),
        row_labels=["original", "reconstruction"] * (len(rows) // 2),
        title=f"{run.config.model.name} on {ds.name}/{args.split}: "
        f"squared error {mse:.2f} per image (summed over pixels)",
    )
    print(f"wrote {args.out} (sum-of-squares error per image {mse:.3f})")
    return 0


def cmd_models(args: argparse.Namespace) -> int:
    for heading, entries in describe_components().items():
        print(heading)
        for name, text in entries.items():
            print(f"  {name:<22} {text}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    p = sub.add_parser(
        "train",
        help="train a model (or fit PCA / class means) into a run directory",
        description="Train a model. Flags map one to one onto config keys; see configs/.",
        epilog=TRAIN_EXAMPLES,
        formatter_class=fmt,
    )
    p.add_argument("model", nargs="?", choices=list(MODELS), help="model family")
    p.add_argument("--config", help="YAML run config")
    p.add_argument(
        "--resume", metavar="RUN", help="continue the run in RUN from its last checkpoint"
    )
    p.add_argument("--out", help="run directory to create")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override any config key, e.g. --set model.hidden=[512,256]",
    )
    add_config_flags(p)
    p.set_defaults(func=cmd_train)

    p = sub.add_parser(
        "sample",
        help="draw images from a trained model",
        epilog="examples:\n  genlab sample runs/vae -n 64 --out samples.png\n"
        "  genlab sample runs/cvae -n 100 --labels 0,1,2 --format npz --out s.npz",
        formatter_class=fmt,
    )
    add_run_args(p)
    p.add_argument("-n", type=int, default=64, help="number of images")
    p.add_argument("--labels", help="comma-separated class labels, cycled (conditional models)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--draw", action="store_true", help="sample pixels instead of the decoder mean")
    p.add_argument(
        "--format",
        choices=["png", "npz", "folder"],
        default="png",
        help="a grid PNG, an .npz of uint8 images, or a folder of PNGs",
    )
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser(
        "reconstruct",
        help="originals and reconstructions side by side",
        epilog="example:\n  genlab reconstruct runs/vae --split test -n 32 --out recon.png",
        formatter_class=fmt,
    )
    add_run_args(p)
    p.add_argument("--split", default="test")
    p.add_argument("-n", type=int, default=32)
    p.add_argument("--seed", type=int, default=None, help="pick random images (else the first n)")
    p.add_argument("--out", required=True)
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser("models", help="list models, likelihoods and backbones")
    p.set_defaults(func=cmd_models)
