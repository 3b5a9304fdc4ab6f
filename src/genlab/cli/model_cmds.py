"""``genlab train | sample | reconstruct | models``.

Training flags are generated from the config dataclasses (``cli/train_flags.py``), so every YAML
key has exactly one flag (``model.latent_dim`` <-> ``--latent-dim``) and ``--set
section.key=value`` reaches the rest. Torch, the models and matplotlib are imported by the
handlers, not here: building the parser (``--help``) stays instant.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from genlab.cli.common import (
    add_run_args,
    defer,
    index_list,
    int_list,
    int_range,
    run_source,
    seed,
)
from genlab.cli.sample_flags import add_sample_flags, sample_flag_values
from genlab.cli.train_flags import add_train_flags, flag_values
from genlab.errors import ConfigError

if TYPE_CHECKING:
    from genlab.runs import Run

RECON_COLUMNS = 8
MAX_SAMPLES = 100_000
"""At most this many samples per call (npz or folder); a PNG grid shows at most MAX_GRID."""
MAX_GRID = 1024
MAX_RECONSTRUCT = 10_000
"""Images one reconstruct call scores; its figure shows the first RECON_SHOWN of them."""
RECON_SHOWN = 256

TRAIN_EXAMPLES = """examples:
  genlab train vae --dataset mnist-mini --likelihood bernoulli --binarize dynamic \\
      --net conv --latent-dim 32 --epochs 20 --out runs/vae
  genlab train pca --dataset folder:../shared/data/cifar10-jpg --explained-variance 0.95 \\
      --out runs/pca
  genlab train --config configs/vae_mnist_bernoulli.yaml --set train.epochs=5
"""
SAMPLE_EXAMPLES = """examples:
  genlab sample runs/vae -n 64 --out samples.png
  genlab sample runs/cvae -n 100 --labels 0,1,2 --format npz --out s.npz
  genlab sample runs/ddpm -n 64 --sampler ddim --steps 50 --eta 0 --guidance 1 --seed 3 \
      --out ddim.png
"""
RECONSTRUCT_EXAMPLES = """examples:
  genlab reconstruct runs/pca --split val -n 16 --seed 1 --out recon-pca.png
  genlab reconstruct runs/vae --index 0-999 --out first-1000.png   # scored; 256 drawn
  genlab reconstruct runs/vae --class 7 -n 16 --out sevens.png
"""
MODELS_EXAMPLES = """examples:
  genlab models
  genlab train vae --help      # every option of a family, with its default
"""


def raw_config(args: argparse.Namespace) -> dict[str, Any]:
    """Config file, then flags, then --set: later sources win."""
    import yaml

    from genlab.training.config import apply_overrides, load_config, read_yaml, upgrade_stored_run

    raw: dict[str, Any] = {}
    if args.config:
        load_config(args.config)  # validates, with the file name in any error
        raw = yaml.safe_load(Path(args.config).read_text()) or {}
    elif args.resume:
        path = Path(args.resume) / "config.yaml"
        if not path.exists():
            raise ConfigError(f"cannot resume: {path} does not exist")
        raw = read_yaml(path, "the run's config") or {}
        if not isinstance(raw, dict):
            raise ConfigError(f"cannot resume: {path} holds no run config (a mapping of "
                              f"model, data, train), but {type(raw).__name__} {raw!r:.40}")
        if isinstance(raw.get("model") or {}, dict) and isinstance(raw.get("train") or {}, dict):
            raw = upgrade_stored_run(raw)
    raw = {k: dict(v) if isinstance(v, dict) else v for k, v in raw.items()}
    if args.model:
        raw.setdefault("model", {})["name"] = args.model
    for section, values in flag_values(args).items():
        raw.setdefault(section, {}).update(values)
    if args.out:
        raw["out"] = args.out
    for item in args.set or []:
        try:
            yaml.safe_load(item.partition("=")[2])
        except yaml.YAMLError:
            raise ConfigError(f"--set {item}: the value is not valid YAML") from None
    raw = apply_overrides(raw, args.set or [])
    for section in ("model", "data", "train"):
        if not isinstance(raw.get(section) or {}, dict):
            raise ConfigError(f"{section} must be a mapping of keys, got {raw[section]!r}")
    return raw


def cmd_train(args: argparse.Namespace) -> int:
    """Resolve the config (file, flags, --set) and train; one summary line at the end."""
    from genlab.training import train
    from genlab.training.callbacks import stop_note
    from genlab.training.config import config_from_dict

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
        note = stop_note(result.summary["stopped_by"] or "", result.history, result.best_epoch,
                         result.trained, config.train)
        if note:  # which callback ended the run, or why this session trained nothing
            print(note)
    return 0


def cmd_sample(args: argparse.Namespace) -> int:
    """Draw -n images from the run and write a titled grid, an .npz or a folder of PNGs."""
    import torch

    from genlab.figures.images import save_image_grid, save_images_folder, save_images_npz
    from genlab.runs import open_run

    if args.format == "png" and args.n > MAX_GRID:
        raise ConfigError(f"-n {args.n}: a PNG grid shows at most {MAX_GRID} images; "
                          "use --format npz or --format folder for more")
    run = open_run(args.run, args.which, args.device, args.data_dir)
    labels = args.labels
    if labels is not None and not run.model.conditional:
        raise ConfigError(f"--labels: {run.config.model.name} is unconditional; it samples "
                          "without labels (leave --labels out)")
    bad = [v for v in labels or [] if v >= run.model.num_classes]
    if bad:
        raise ConfigError(f"--labels: {bad[0]} is not a class (0..{run.model.num_classes - 1})")
    options = run.sample_options(sample_flag_values(args))
    images = run.sample(args.n, labels=labels, seed=args.seed, mean=not args.draw,
                        options=options)
    label_t = None  # the labels Run.sample drew with (--labels cycled to n), for the .npz
    if labels is not None:
        label_t = torch.tensor(labels).repeat(args.n // len(labels) + 1)[: args.n]
    out = Path(args.out)
    if args.format == "npz":
        save_images_npz(images, out, labels=label_t)
    elif args.format == "folder":
        save_images_folder(images, out)
    else:
        kind = "pixel draws" if args.draw else "draws" if vars(options) else "decoder means"
        given = ", ".join(f"{k} {v}" for k, v in dataclasses.asdict(options).items())
        what = f"{args.n} samples ({kind}, seed {args.seed}{', ' + given if given else ''})"
        save_image_grid(images, out, title=f"{run_source(run)}: {what}")
    print(f"wrote {args.n} samples to {out}")
    return 0


def cmd_reconstruct(args: argparse.Namespace) -> int:
    """Originals above their reconstructions, with the mean squared error in the title."""
    from genlab.figures.images import save_rows_figure
    from genlab.models.core.capabilities import Reconstructor, require
    from genlab.runs import open_run

    if args.index is not None and args.n is not None:
        raise ConfigError("-n counts the images of --class, --seed or the default selection; "
                          "--index names its own")
    if len(args.index or ()) > MAX_RECONSTRUCT:
        raise ConfigError(f"--index names {len(args.index):,} images; at most "
                          f"{MAX_RECONSTRUCT:,} per call")
    run = open_run(args.run, args.which, args.device, args.data_dir)
    require(run.model, Reconstructor, "reconstruct")
    sel = run.select(args.split, **_reconstruct_selection(run, args, args.n or 32))
    recon = run.reconstruct(sel.x, sel.y)
    mse = float((recon - sel.x.cpu()).pow(2).flatten(1).sum(1).mean())
    # Pairs of rows (originals above their reconstructions), RECON_COLUMNS images wide.
    shown = min(len(sel), RECON_SHOWN)
    pairs = zip(sel.x[:shown].cpu().split(RECON_COLUMNS), recon[:shown].split(RECON_COLUMNS),
                strict=True)
    rows = [t for pair in pairs for t in pair]
    count = f"{len(sel):,} {args.split} images" + (f", the first {shown} shown"
                                                   if shown < len(sel) else "")
    what = (f"{count} (above) and reconstructions (below), "
            f"squared error {mse:.2f} per image (summed over pixels)")
    save_rows_figure(rows, Path(args.out), row_labels=["original", "reconstruction"]
                     * (len(rows) // 2), title=f"{run_source(run)}: {what}")
    print(f"wrote {args.out}: {count}, sum-of-squares error per image {mse:.3f}")
    return 0


def _reconstruct_selection(run: Run, args: argparse.Namespace, n: int) -> dict[str, Any]:
    """``Run.select``'s arguments: --index, --class (its first n), n random images of
    --seed, or n taking the classes in turn."""
    if args.index is not None or args.cls is not None:
        return {"index": args.index, "cls": args.cls, "n": n}
    size = len(run.dataset.split(args.split))
    if n > size:
        raise ConfigError(f"-n {n}: split {args.split!r} of {run.dataset.name} has "
                          f"{size} images")
    if args.seed is None:
        return {"index": run.spanning(args.split, n)}
    import torch

    generator = torch.Generator().manual_seed(args.seed)
    return {"index": torch.randperm(size, generator=generator)[:n].tolist()}


def cmd_models(args: argparse.Namespace) -> int:
    """Every family, likelihood and backbone with its one-line description."""
    from genlab.models.catalog import describe_components

    for heading, entries in describe_components().items():
        print(heading)
        for name, text in entries.items():
            print(f"  {name:<22} {text}")
    return 0


def _add_family_flags(p: argparse.ArgumentParser) -> None:
    """The config flags, those of the family named first (``genlab train dcgan ...``) when
    one is."""
    seen = getattr(p, "args_seen", [])
    add_train_flags(p, seen[0] if seen else None)


def _train_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        usage="%(prog)s [MODEL] [--config FILE | --resume RUN] [--out DIR] [--set KEY=VALUE] "
        "[--FLAG VALUE ...]",
        help="train a model (or fit PCA / class means) into a run directory",
        description="Train a model. Flags map one to one onto config keys; see configs/.",
        epilog=TRAIN_EXAMPLES,
    )
    p.add_argument("--config", metavar="FILE", help="YAML run config (see configs/)")
    p.add_argument("--resume", metavar="RUN",
                   help="continue the run in RUN from its last checkpoint (or where it was "
                        "killed), e.g. --resume runs/vae --epochs 40")
    p.add_argument("--out", help="run directory to create")
    p.add_argument(
        "--set",
        action="append",
        metavar="KEY=VALUE",
        help="override any config key, e.g. --set model.hidden=[512,256]",
    )
    defer(p, _add_family_flags)
    p.set_defaults(func=cmd_train)


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``train``, ``sample``, ``reconstruct`` and ``models`` to the genlab parser."""
    _train_parser(sub)
    p = sub.add_parser("sample", help="draw images from a trained model",
                       description="Draw images from a trained model.", epilog=SAMPLE_EXAMPLES)
    add_run_args(p)
    p.add_argument("-n", type=int_range(1, MAX_SAMPLES), default=64,
                   help=f"number of images (a PNG grid shows at most {MAX_GRID})")
    p.add_argument("--labels", type=int_list,
                   help="comma-separated class labels, cycled (conditional models)")
    p.add_argument("--seed", type=seed, default=0, help="seed of the prior draws")
    p.add_argument("--draw", action="store_true", help="sample pixels instead of the decoder mean")
    p.add_argument(
        "--format",
        choices=["png", "npz", "folder"],
        default="png",
        help="a grid PNG, an .npz of uint8 images, or a folder of PNGs",
    )
    p.add_argument("--out", required=True, help="output file (png, npz) or folder")
    defer(p, add_sample_flags)
    p.set_defaults(func=cmd_sample)

    p = sub.add_parser("reconstruct", help="originals and reconstructions side by side",
                       description="Originals and their reconstructions, row above row.",
                       epilog=RECONSTRUCT_EXAMPLES)
    add_run_args(p)
    p.add_argument("--split", default="test", help="split the images come from")
    p.add_argument("-n", type=int_range(1, MAX_RECONSTRUCT), default=None,
                   help=f"number of images (default 32; the figure shows the first "
                        f"{RECON_SHOWN}, the error counts all)")
    g = p.add_mutually_exclusive_group()
    g.add_argument("--index", metavar="I,J-K,...", type=index_list,
                   help="indices into --split, ranges inclusive (0-999: the first 1,000)")
    g.add_argument("--class", dest="cls", metavar="CLASS",
                   help="the first -n images of a class (name or number) in --split")
    g.add_argument("--seed", type=seed, default=None,
                   help="pick -n random images with this seed (default: n images taking the "
                        "classes in turn)")
    p.add_argument("--out", required=True, help="output PNG")
    p.set_defaults(func=cmd_reconstruct)

    p = sub.add_parser("models", help="list models, likelihoods and backbones",
                       description="List model families, decoder likelihoods and backbones.",
                       epilog=MODELS_EXAMPLES)
    p.set_defaults(func=cmd_models)
