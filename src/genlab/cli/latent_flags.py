"""The options of each ``genlab latent`` command, one function per command (its handler in
``latent_cmds`` names it); the selection and optimiser groups are shared between commands."""

from __future__ import annotations

import argparse

from genlab.cli import common as arg

MAX_STEPS = 1000  # decodes per interpolation row at most


def _selection_args(p: argparse.ArgumentParser, prefix: str = "", what: str = "images") -> None:
    flag = f"--{prefix}-" if prefix else "--"
    g = p.add_argument_group(f"{what} (one of; default: -n of --split taking its classes "
                             "in turn)")
    g.add_argument(f"{flag}index", dest=f"{prefix}index", metavar="I,J-K,...",
                   type=arg.index_list, help="indices into --split, ranges inclusive (0-999)")
    g.add_argument(f"{flag}class", dest=f"{prefix}cls", metavar="CLASS",
                   help="the first -n images of a class (name or number) in --split")
    g.add_argument(f"{flag}image", dest=f"{prefix}image", nargs="+", metavar="FILE",
                   help="image files (resized to the model's image size)")


def _fit_args(p: argparse.ArgumentParser) -> None:
    from genlab.latent.choices import FIT_INITS, FIT_OPTIMIZERS

    g = p.add_argument_group("optimiser (shared by infer and complete)")
    g.add_argument("--max-steps", type=arg.int_range(1, 10**5), default=1000, help="steps at most")
    g.add_argument("--optimizer", choices=FIT_OPTIMIZERS, default="adam",
                   help="adam, or plain sgd (seed 004: sgd, --lr 0.001, --init normal)")
    g.add_argument("--init", choices=FIT_INITS, default="mean",
                   help="q's start: the prior mean, or mean and log-variance drawn from N(0, 1) "
                        "(whitened by the prior)")
    g.add_argument("--lr", type=arg.real(0, 1, low_open=True), default=0.05,
                   help="step size (SGD's wants a smaller one)")
    g.add_argument("--patience", type=arg.positive_int, default=50,
                   help="stop an image after this many steps without improvement")
    g.add_argument("--tol", type=arg.non_negative, default=0.01, help="gain that counts, nats")
    g.add_argument("--samples", type=arg.int_range(1, 1000), default=1, help="MC samples per step")


def refine_arg(p: argparse.ArgumentParser) -> None:
    """``--refine T_STAR``: the moved codes also brought back to a learned diffusion prior."""
    p.add_argument("--refine", type=arg.real(0, 1, low_open=True), metavar="T_STAR",
                   help="also show the moved codes noised to level T_STAR and denoised by the "
                        "model's diffusion prior (SDEdit; diffusion-prior, latent-diffusion)")


def perturb_options(p: argparse.ArgumentParser) -> None:
    _selection_args(p)
    from genlab.latent.choices import SCALES, SPREAD_IMAGES

    refine_arg(p)
    p.add_argument("--sigmas", type=arg.listed(arg.non_negative), default="0.25,0.5,1,2",
                   help="noise sds, in the units --sigma-scale names")
    p.add_argument("--sigma-scale", choices=SCALES, default="absolute",
                   help="absolute: in the code's own units; relative: in units of each code "
                        "dimension's sd over training codes (prior draws without an encoder)")
    p.add_argument("--noise-mean", type=arg.real(), default=0.0, metavar="MU",
                   help="mean of the noise on every code value, in the same units (default 0)")
    p.add_argument("--spread-images", type=arg.int_range(2), default=SPREAD_IMAGES, metavar="N",
                   help="training codes whose sd is the unit of relative noise (default "
                        f"{SPREAD_IMAGES:,})")


def interpolate_options(p: argparse.ArgumentParser) -> None:
    _selection_args(p, what="anchor image")
    refine_arg(p)
    from genlab.latent.ops import INTERPOLATIONS

    p.add_argument("--to", metavar="I,J-K,...", type=arg.index_list,
                   help="indices into --split of the left images, one row each "
                        "(default: the first image of each other class)")
    p.add_argument("--steps", type=arg.int_range(2, MAX_STEPS), default=8,
                   help="decodes per row, both ends included")
    p.add_argument("--method", choices=list(INTERPOLATIONS), default="lerp",
                   help="straight line or great circle between the codes")


def centroid_options(p: argparse.ArgumentParser) -> None:
    _selection_args(p)
    refine_arg(p)
    p.add_argument("--alphas", type=arg.float_list, default="0,0.25,0.5,0.75,1", help="step sizes")
    p.add_argument("--centroid-images", type=arg.int_range(1), default=None, metavar="N",
                   help="training images whose codes give the class centroids and targets, as "
                        "a study's perturbations.centroid_images (default 10,000; fewer for a "
                        "model whose codes are dear: a DDPM's take 50 DDIM steps each)")


def toward_options(p: argparse.ArgumentParser) -> None:
    centroid_options(p)
    p.add_argument("--target", required=True, metavar="CLASS", help="target class, name or number")
    p.add_argument("--noise", type=arg.non_negative, default=0.1, help="std of the target's jitter")
    p.add_argument("--centroid", action="store_true",
                   help="move toward the target class's centroid, not a random training image")


def blend_options(p: argparse.ArgumentParser) -> None:
    for prefix, what in (("a", "selection A"), ("b", "selection B"),
                         ("c", "selection C (gives A + (mean B - mean C) instead of a blend)")):
        _selection_args(p, prefix, what)
    refine_arg(p)
    p.add_argument("--w", type=arg.real(), default=0.6, help="weight of A")
    p.add_argument("--flip", metavar="I,J,...", type=arg.int_list,
                   help="positions within B whose codes change sign (e.g. dark-winged birds)")
    p.add_argument("--flip-dims", metavar="D,...", type=arg.int_list,
                   help="latent dimensions of B that change sign")
    p.add_argument("--classifier", metavar="PATH", help="classifier that calls each blend A, B "
                   "or another class (default: the shipped one for the run's images)")


def grid_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prior", action="store_true",
                   help="n x n prior samples instead of the quantile grid (any latent size)")
    p.add_argument("--edge", type=arg.real(0, 0.5, low_open=True), default=0.05,
                   help="lowest prior quantile on each axis (0.05: the grid spans 5%%..95%%)")
    p.add_argument("--label", default="0", help="class to decode with (conditional models)")


def map_options(p: argparse.ArgumentParser) -> None:
    from genlab.latent.maps import PROJECTIONS

    _selection_args(p)
    p.add_argument("--method", choices=PROJECTIONS, default="auto",
                   help="auto: the raw plane for 2-D codes, else pca")


def complete_options(p: argparse.ArgumentParser) -> None:
    from genlab.latent.masks import MASKS

    _selection_args(p)
    p.add_argument("--mask", choices=list(MASKS), default="left",
                   help="; ".join(f"{k}: {v}" for k, v in MASKS.items()))
    p.add_argument("--rate", type=arg.fraction, default=0.5, help="hidden part for --mask random")
    p.add_argument("--box", type=arg.real(0, 1, low_open=True), default=0.5,
                   help="hidden box side for --mask centre, a fraction of the image side")
    p.add_argument("--mask-image", metavar="PNG",
                   help="a mask image of the model's size: white observed, black hidden")
    _fit_args(p)


def infer_options(p: argparse.ArgumentParser) -> None:
    _selection_args(p)
    _fit_args(p)
