"""``genlab latent perturb | interpolate | centroid | toward-class | blend | grid | map | infer |
complete RUN ...``: the latent experiments (``genlab.latent.experiments``) on a trained run.

Every command opens the run, selects images (``--split`` with ``--index``, ``--class`` or
``--image``), calls one experiment, draws its result with ``genlab.report.latent`` and writes
``OUT/<command>.png`` plus ``OUT/<command>.json`` (the numbers behind the figure). This module
only parses, calls and writes: the science lives in ``genlab.latent``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from genlab.cli import common as arg
from genlab.cli import latent_flags as opts
from genlab.errors import ConfigError
from genlab.io import write_json, write_text

if TYPE_CHECKING:
    import torch

    from genlab.latent.moves import TrainingCodes
    from genlab.latent.results import ExperimentResult, LatentMap
    from genlab.runs import Run, Selection

ex = arg.LazyModule("genlab.latent.experiments")  # loads torch and every model: on first use
ev = arg.LazyModule("genlab.evaluation.believability")
Handler = Callable[["Run", argparse.Namespace, "torch.Generator"],
                   "ExperimentResult | LatentMap"]
SELECTION_KEYS = ("index", "cls", "image")
MAX_IMAGES = 10_000  # -n at most: a t-SNE map of 10,000 codes already takes minutes


@dataclass(frozen=True)
class LatentCommand:
    """One ``genlab latent`` command: its help, examples (one per line), the handler that turns
    arguments into an experiment call, its options and its default ``-n``. What it needs of a
    model is its experiment's, declared under its name in ``latent.requirements``."""

    name: str
    help: str
    example: str
    run: Handler
    add_options: Callable[[argparse.ArgumentParser], None]
    default_n: int


def _pool(run: Run, args: argparse.Namespace) -> TrainingCodes | None:
    """The training codes of ``--centroid-images`` images, or None: the experiment's default."""
    n = args.centroid_images
    return None if n is None else ex.training_codes(run, n)


COMMANDS: list[LatentCommand] = []
"""Every ``genlab latent`` command, in the order ``--help`` lists them (the order below)."""


def _command(name: str, text: str, example: str,
             add_options: Callable[[argparse.ArgumentParser], None],
             default_n: int) -> Callable[[Handler], Handler]:
    """Register the decorated handler as ``genlab latent <name>``, beside its code."""

    def register(handler: Handler) -> Handler:
        COMMANDS.append(LatentCommand(name, text, example, handler, add_options, default_n))
        return handler

    return register


# --- arguments -> experiment calls --------------------------------------------------------
def _chosen(args: argparse.Namespace, prefix: str) -> bool:
    """Whether any of ``--[prefix-]index``, ``--[prefix-]class``, ``--[prefix-]image`` is given."""
    return any(getattr(args, f"{prefix}{k}") is not None for k in SELECTION_KEYS)


def _select(
    run: Run, args: argparse.Namespace, prefix: str = "", n: int | None = None
) -> Selection:
    """The images named by ``--[prefix-]index``, ``--[prefix-]class`` or ``--[prefix-]image``
    (at most one), else ``-n`` images of ``--split`` spanning its classes."""
    flag = f"--{prefix}-" if prefix else "--"
    index = getattr(args, f"{prefix}index")
    cls, files = getattr(args, f"{prefix}cls"), getattr(args, f"{prefix}image")
    if sum(v is not None for v in (index, cls, files)) > 1:
        raise ConfigError(f"choose one of {flag}index, {flag}class and {flag}image")
    asked = n or args.n
    sel = run.select(args.split, asked, index=index, cls=cls, files=files)
    if cls is not None and len(sel) < asked:
        print(f"genlab: note: split {args.split!r} has {len(sel)} images of class {cls!r}; "
              f"took those {len(sel)} of the {asked:,} asked for", file=sys.stderr)
    return sel


def _fit_options(args: argparse.Namespace) -> ex.FitOptions:
    return ex.FitOptions(steps=args.max_steps, lr=args.lr, patience=args.patience, tol=args.tol,
                         n_samples=args.samples, seed=args.seed, optimizer=args.optimizer,
                         init=args.init)


@_command("perturb", "decode codes plus Gaussian noise of several sizes",
          "genlab latent perturb runs/vae --index 0,1,2,3 --sigmas 0.5,1,2 --out fig\n"
          "genlab latent perturb runs/pca --class 3 -n 6 --seed 1 --out fig\n"
          "genlab latent perturb runs/ae --sigma-scale relative --noise-mean 0.5 --out fig",
          opts.perturb_options, default_n=8)
def _perturb(run: Run, args: argparse.Namespace, gen: torch.Generator) -> ExperimentResult:
    noise = ex.CodeNoise(args.sigma_scale, args.noise_mean, args.spread_images)
    return ex.perturb(run, _select(run, args), args.sigmas, gen, noise=noise,
                      refine=args.refine)


@_command("interpolate", "lerp/slerp rows from images of each class to an anchor image",
          "genlab latent interpolate runs/vae --index 0 --steps 10 --method slerp --out fig\n"
          "genlab latent interpolate runs/vae --index 3 --to 5,8 --out fig",
          opts.interpolate_options, default_n=1)
def _interpolate(run: Run, args: argparse.Namespace, gen: torch.Generator) -> ExperimentResult:
    anchor = _select(run, args, n=1)
    others = (run.select(args.split, index=args.to) if args.to
              else ex.interpolation_partners(run, args.split, int(anchor.y[0])))
    return ex.interpolate(run, anchor, others, args.steps, args.method, refine=args.refine,
                          generator=gen)


@_command("centroid", "move codes toward their class centroid by steps alpha",
          "genlab latent centroid runs/ae --class 7 -n 6 --alphas 0,0.5,1 --out fig\n"
          "genlab latent centroid runs/vae --index 0,1,2 --out fig",
          opts.centroid_options, default_n=8)
def _centroid(run: Run, args: argparse.Namespace, gen: torch.Generator) -> ExperimentResult:
    return ex.centroid(run, _select(run, args), args.alphas, _pool(run, args), args.refine, gen)


@_command("toward-class", "move codes stochastically toward another class",
          "genlab latent toward-class runs/vae --class 1 --target 7 --noise 0.2 --out fig\n"
          "genlab latent toward-class runs/cvae -n 4 --target 9 --centroid --out fig",
          opts.toward_options, default_n=8)
def _toward_class(run: Run, args: argparse.Namespace, gen: torch.Generator) -> ExperimentResult:
    sel = _select(run, args)
    return ex.toward_class(run, sel, args.target, args.alphas, args.noise, args.centroid, gen,
                           _pool(run, args), args.refine)


@_command("blend", "blend two selections (pegasus) or do A + (B - C) arithmetic",
          "genlab latent blend runs/stl --a-class horse --b-class bird -n 64 --w 0.6 --flip 3,9 "
          "--out fig\n"
          "genlab latent blend runs/vae --a-index 0,1 --b-class 7 --c-class 1 --out fig",
          opts.blend_options, default_n=8)
def _blend(run: Run, args: argparse.Namespace, gen: torch.Generator) -> ExperimentResult:
    for prefix in ("a", "b"):
        if not _chosen(args, prefix):
            raise ConfigError(f"blend needs a selection {prefix.upper()}: "
                              f"--{prefix}-index, --{prefix}-class or --{prefix}-image")
    a, b = _select(run, args, "a"), _select(run, args, "b")
    if _chosen(args, "c"):
        return ex.arithmetic(run, a, b, _select(run, args, "c"), args.refine, gen)
    result = ex.blend(run, a, b, args.w, args.flip, args.flip_dims, args.refine, gen)
    result.numbers["called"] = ev.classify_blend(run, result, args.classifier)
    return result


@_command("grid", "decode a prior-quantile grid (2-D latents) or prior samples",
          "genlab latent grid runs/vae2d -n 20 --out fig\n"
          "genlab latent grid runs/vae --prior -n 8 --seed 2 --out fig",
          opts.grid_options, default_n=15)
def _grid(run: Run, args: argparse.Namespace, gen: torch.Generator) -> ExperimentResult:
    return ex.grid(run, args.n, args.edge, args.prior, args.label, gen)


@_command("map", "2-D map of posterior means by label (raw, pca, tsne) + CSV",
          "genlab latent map runs/vae -n 1000 --method tsne --out fig\n"
          "genlab latent map runs/vae2d --split val -n 500 --out fig",
          opts.map_options, default_n=1000)
def _map(run: Run, args: argparse.Namespace, gen: torch.Generator) -> LatentMap:
    """The map, and its points as ``OUT/map.csv`` (named in the JSON as ``csv``)."""
    from genlab.report.latent import map_csv

    result = ex.latent_map(run, _select(run, args), args.method, args.seed)
    result.numbers["csv"] = str(write_text(Path(args.out) / "map.csv", map_csv(result)))
    return result


@_command("infer", "fit q(z) per image through the decoder, no encoder; compare",
          "genlab latent infer runs/vae -n 10 --out fig\n"
          "genlab latent infer runs/gan --index 0,1,2 --max-steps 500 --lr 0.02 --out fig",
          opts.infer_options, default_n=10)
def _infer(run: Run, args: argparse.Namespace, gen: torch.Generator) -> ExperimentResult:
    return ex.infer(run, _select(run, args), _fit_options(args))


@_command("complete", "complete images from observed pixels (half, box, random, mask)",
          "genlab latent complete runs/vae -n 10 --mask left --out fig\n"
          "genlab latent complete runs/vae --index 4,5 --mask random --rate 0.7 --out fig",
          opts.complete_options, default_n=10)
def _complete(run: Run, args: argparse.Namespace, gen: torch.Generator) -> ExperimentResult:
    sel = _select(run, args)
    mask, what = ex.completion_mask(run, len(sel), args.mask, args.rate, args.box,
                                    args.mask_image, gen)
    return ex.complete(run, sel, mask, _fit_options(args), what, gen)


def _execute(command: LatentCommand, args: argparse.Namespace) -> int:
    """Open the run, refuse it before any work if the command's experiment (or ``--refine``)
    cannot run on its model (``latent.requirements``), run it with a generator seeded by
    ``--seed``, write its figure and its numbers (under a header saying what produced them)."""
    import torch

    from genlab.latent.refine import refine_levels
    from genlab.latent.requirements import check
    from genlab.report.latent import save_figure
    from genlab.runs import open_run

    run = open_run(args.run, args.which, args.device, args.data_dir)
    check(run.model, command.name)
    refine_levels(run.model, getattr(args, "refine", None), "--refine")
    result = command.run(run, args, torch.Generator().manual_seed(args.seed))
    out, name = Path(args.out), command.name
    config, space = run.config, getattr(run.model, "latent_space", None)
    png = save_figure(result, out / f"{name}.png", arg.run_source(run))
    header = {
        "command": name, "run": str(args.run), "checkpoint": args.which,
        "model": config.model.name, "latent_dim": getattr(run.model, "latent_dim", None),
        "latent_space": space.describe() if space else None,
        "dataset": config.data.dataset, "seed": args.seed,
    }
    record = write_json(out / f"{name}.json", {**header, **result.numbers})
    print(f"wrote {png} and {record}")
    return 0


# --- parser -------------------------------------------------------------------------------
LATENT_EPILOG = "commands (each writes OUT/<command>.png and OUT/<command>.json):\n" + "\n".join(
    f"  {c.name:<13} {c.help}\n      {c.example.splitlines()[0]}" for c in COMMANDS
)


def register(sub: argparse._SubParsersAction) -> None:
    fmt = arg.HelpFormatter
    latent = sub.add_parser(
        "latent", help="latent-space tools: perturb, interpolate, blend, maps, inference...",
        description="Latent-space tools for models with a decoder (pca, ae, vae, cvae, gans: "
                    "GANs get codes by inversion). Select images by --split and --index/--class.",
        epilog=LATENT_EPILOG, formatter_class=fmt,
    )
    latent.set_defaults(func=lambda args: latent.print_help() or 1)
    ops = latent.add_subparsers(dest="latent_command", metavar="COMMAND")
    for command in COMMANDS:
        name, n = command.name, command.default_n
        p = ops.add_parser(name, help=command.help, description=f"{command.help}.",
                           formatter_class=fmt, epilog="examples:\n" + "".join(
                               f"  {line}\n" for line in command.example.splitlines()))
        arg.add_run_args(p)
        p.add_argument("--out", required=True, metavar="DIR",
                       help=f"output directory for {name}.png and {name}.json")
        p.add_argument("--split", default="test", help="split to select images from")
        p.add_argument("-n", type=arg.int_range(1, MAX_IMAGES), default=n, help="number of images")
        p.add_argument("--seed", type=arg.seed, default=0, help="seed of every random draw")
        arg.defer(p, command.add_options)
        p.set_defaults(func=partial(_execute, command))
