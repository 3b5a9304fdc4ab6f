"""``genlab latent perturb | interpolate | centroid | toward-class | blend | grid | map | infer |
complete RUN ...``: the latent toolkit (``genlab.latent``) on a trained run.

Every command opens the run, selects images (``--split`` with ``--index``, ``--class`` or
``--image``), calls one ``genlab.latent`` function and writes ``OUT/<command>.png`` plus
``OUT/<command>.json`` (the numbers behind the figure). The selection, output and option code
lives here once; each command is one handler that returns its figure and numbers.

Conditional models (cvae) encode and decode each image with its own label. Where a move leaves
the image's class (interpolate, toward-class), decoding switches to the destination's label from
the half-way point on (alpha or t >= 0.5), so the end points are still exact reconstructions.
"""

from __future__ import annotations

import argparse
import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image, UnidentifiedImageError
from torch import Tensor

from genlab.cli.common import add_run_args, parse_int_list, seeded
from genlab.data import ImageDataset
from genlab.data.prepare import eval_seed, model_input
from genlab.errors import ConfigError
from genlab.io import atomic_write
from genlab.latent import (
    MASKS,
    arithmetic,
    blend,
    class_centroids,
    complete,
    decode,
    encode,
    encoder_posterior,
    evaluate_elbo,
    fit_posterior,
    flip_signs,
    interpolate,
    load_mask,
    make_mask,
    perturb,
    pick,
    project_2d,
    quantile_grid,
    toward,
    toward_noisy,
)
from genlab.latent.figures import observed_view, save_latent_map
from genlab.latent.maps import PROJECTIONS
from genlab.latent.ops import INTERPOLATIONS, require_decoder, require_encoder
from genlab.models.base import Encoder, GenerativeModel, has
from genlab.report.images import save_rows_figure
from genlab.runs import Run, open_run

CENTROID_IMAGES = 10_000
"""Training images whose codes define the class centroids and target pools (first N)."""


# --- selection --------------------------------------------------------------------------
@dataclass
class Selection:
    """Selected images as model input, their labels (-1 where unknown) and where they came
    from (for the JSON and the figure captions)."""

    x: Tensor
    y: Tensor
    source: dict[str, Any]
    captions: list[str] = field(default_factory=list)

    def __len__(self) -> int:
        return int(self.x.shape[0])


class Context:
    """One command invocation: its arguments, the opened run, the dataset (loaded on first use)
    and the seeded generator every random draw uses."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.run: Run = open_run(args.run, args.which, args.device, args.data_dir)
        self.gen = seeded(args.seed)

    @property
    def model(self) -> GenerativeModel:
        return self.run.model

    @cached_property
    def dataset(self) -> ImageDataset:
        return self.run.dataset

    def class_index(self, text: str) -> int:
        """A class by name (case-insensitive) or number; unknown -> the list of valid names."""
        names = self.dataset.class_names
        lowered = [n.lower() for n in names]
        if text.strip().lower() in lowered:
            return lowered.index(text.strip().lower())
        if text.strip().isdigit() and int(text) < len(names):
            return int(text)
        raise ConfigError(
            f"unknown class {text!r} for {self.dataset.name}; valid classes: {', '.join(names)} "
            f"(or a number 0..{len(names) - 1})"
        )

    def images(self, split: str, indices: Tensor) -> Selection:
        x, y = self.run.images(split, indices.long())
        captions = [f"{split}[{i}]" for i in indices.tolist()]
        return Selection(x, y, {"split": split, "indices": indices.tolist()}, captions)

    def select(self, prefix: str = "", n: int | None = None) -> Selection:
        """The images named by ``--[prefix-]index``, ``--[prefix-]class`` or ``--[prefix-]image``
        (at most one), else the first ``-n`` images of ``--split``."""
        a = self.args
        n = n or a.n
        if n < 1:
            raise ConfigError(f"-n must be positive, got {n}")
        flag = f"--{prefix}-" if prefix else "--"
        index = parse_int_list(getattr(a, f"{prefix}index"), f"{flag}index")
        cls = getattr(a, f"{prefix}cls")
        files = getattr(a, f"{prefix}image")
        if sum(v is not None for v in (index, cls, files)) > 1:
            raise ConfigError(f"choose one of {flag}index, {flag}class and {flag}image")
        if files:
            return self._files(files)
        labels = self.dataset.split(a.split).labels
        if index is not None:
            if not index:
                raise ConfigError(f"{flag}index is empty")
            chosen = torch.tensor(index)
        elif cls is not None:
            k = self.class_index(cls)
            chosen = (labels == k).nonzero().squeeze(1)[:n]
            if chosen.numel() == 0:
                raise ConfigError(f"split {a.split!r} has no images of class {cls!r}")
        else:
            chosen = torch.arange(min(n, len(labels)))
        sel = self.images(a.split, chosen)
        names = self.dataset.class_names
        sel.captions = [f"{c} ({names[k]})" if k >= 0 else c
                        for c, k in zip(sel.captions, sel.y.tolist(), strict=True)]
        return sel

    def _files(self, paths: list[str]) -> Selection:
        """Image files, converted to the model's channels and resized to its image size."""
        c, h, w = self.model.shape
        arrays = []
        for path in paths:
            try:
                with Image.open(path) as img:
                    img = img.convert("L" if c == 1 else "RGB")
                    if img.size != (w, h):
                        img = img.resize((w, h), Image.Resampling.BILINEAR)
                    arrays.append(np.asarray(img).reshape(h, w, c))
            except (FileNotFoundError, UnidentifiedImageError) as exc:
                raise ConfigError(f"cannot read image {path}: {exc}") from None
        images = torch.from_numpy(np.stack(arrays)).permute(0, 3, 1, 2).contiguous()
        data = self.run.config.data
        x = model_input(images, data.binarize, eval_seed(data.split_seed)).to(self.model.device)
        y = torch.full((len(paths),), -1, dtype=torch.long, device=self.model.device)
        return Selection(x, y, {"images": list(paths)}, [Path(p).name for p in paths])

    def class_name(self, k: int) -> str:
        names = self.dataset.class_names
        return names[k] if 0 <= k < len(names) else "?"

    def title(self, text: str) -> str:
        return f"{self.run.config.model.name}/{self.run.config.data.dataset}: {text}"

    def training_codes(self) -> tuple[Tensor, Tensor, Tensor]:
        """Codes, labels and indices of the first CENTROID_IMAGES training images."""
        split = self.run.config.data.train_split
        count = min(CENTROID_IMAGES, len(self.dataset.split(split)))
        idx = torch.arange(count)
        x, y = self.run.images(split, idx)
        return encode(self.model, x, y), y, idx


# --- output -----------------------------------------------------------------------------
@dataclass
class Output:
    """What a handler produces: ``draw(path)`` writes the PNG; ``numbers`` go to the JSON."""

    draw: Callable[[Path], object]
    numbers: dict[str, Any]


def _jsonable(value: Any) -> Any:
    if isinstance(value, Tensor | np.ndarray):
        value = value.tolist()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, float):
        return round(value, 6) if math.isfinite(value) else None
    return value


def _execute(name: str, handler: Callable[[Context], Output], args: argparse.Namespace) -> int:
    ctx = Context(args)
    out = handler(ctx)
    directory = Path(args.out)
    directory.mkdir(parents=True, exist_ok=True)
    png, report = directory / f"{name}.png", directory / f"{name}.json"
    out.draw(png)
    model = ctx.model
    header = {
        "command": name, "run": str(args.run), "checkpoint": args.which,
        "model": ctx.run.config.model.name, "latent_dim": model.latent_dim,
        "dataset": ctx.run.config.data.dataset, "seed": args.seed,
    }
    with atomic_write(report) as fh:
        fh.write(json.dumps(_jsonable({**header, **out.numbers}), indent=2).encode())
    print(f"wrote {png} and {report}")
    return 0


def _floats(text: str, what: str) -> list[float]:
    try:
        values = [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise ConfigError(f"{what} expects comma-separated numbers, got {text!r}") from None
    if not values:
        raise ConfigError(f"{what} is empty")
    return values


def _per_image_mse(a: Tensor, b: Tensor) -> Tensor:
    """Mean squared pixel difference per image, (N,)."""
    return (a - b).square().flatten(1).mean(1)


def _fit_options(args: argparse.Namespace) -> dict[str, Any]:
    return {"steps": args.max_steps, "lr": args.lr, "patience": args.patience, "tol": args.tol,
            "n_samples": args.samples, "seed": args.seed}


# --- commands ---------------------------------------------------------------------------
def cmd_perturb(ctx: Context) -> Output:
    """z + N(0, sigma^2 I) for several sigmas (seed 000)."""
    m, a = ctx.model, ctx.args
    sigmas = _floats(a.sigmas, "--sigmas")
    sel = ctx.select()
    z = encode(m, sel.x, sel.y)
    moved = perturb(z, sigmas, ctx.gen)  # (S, N, D)
    recon = decode(m, z, sel.y)
    images = decode(m, moved.flatten(0, 1), sel.y.repeat(len(sigmas))).unflatten(0, moved.shape[:2])
    rows = [sel.x, recon, *images]
    labels = ["original", "reconstruction", *[f"σ = {s:g}" for s in sigmas]]
    return Output(
        lambda p: save_rows_figure(rows, p, row_labels=labels, col_labels=sel.captions,
                                   title=ctx.title("z + N(0, σ²I)")),
        {"selection": sel.source, "labels": sel.y, "sigmas": sigmas,
         "pixel_mse_vs_reconstruction": [_per_image_mse(im, recon) for im in images],
         "code_shift_norm": (moved - z).norm(dim=-1)},
    )


def cmd_interpolate(ctx: Context) -> Output:
    """Rows from each image x (left) to the anchor x' (right), decodes between (seed 004, 15)."""
    m, a = ctx.model, ctx.args
    anchor = ctx.select(n=1)
    if len(anchor) != 1:
        raise ConfigError("interpolate takes one anchor image (one --index, or --class)")
    to = parse_int_list(a.to, "--to")
    if to:
        others = ctx.images(a.split, torch.tensor(to))
    else:
        labels = ctx.dataset.split(a.split).labels
        firsts = [
            int((labels == k).nonzero()[0]) for k in range(ctx.dataset.num_classes)
            if k != int(anchor.y[0]) and bool((labels == k).any())
        ]
        if not firsts:
            raise ConfigError(f"split {a.split!r} has no images of other classes; give --to")
        others = ctx.images(a.split, torch.tensor(firsts))
    k = len(others)
    z0 = encode(m, others.x, others.y)
    z1 = encode(m, anchor.x, anchor.y).expand(k, -1)
    path = interpolate(z0, z1, a.steps, a.method)  # (T, K, D)
    t = torch.linspace(0, 1, a.steps)
    y_path = torch.where(t.view(-1, 1).to(others.y.device) < 0.5, others.y, anchor.y[0])
    frames = decode(m, path.flatten(0, 1), y_path.flatten()).unflatten(0, path.shape[:2])
    rows = torch.cat(
        [others.x.unsqueeze(1), frames.transpose(0, 1), anchor.x.expand(k, 1, *m.shape)], dim=1
    )
    cols = ["x", *[f"t={v:.2g}" for v in t.tolist()], "x' (anchor)"]
    row_labels = [ctx.class_name(int(v)) for v in others.y.tolist()]
    return Output(
        lambda p: save_rows_figure(list(rows), p, row_labels=row_labels, col_labels=cols,
                                   title=ctx.title(f"{a.method} to {anchor.captions[0]}")),
        {"method": a.method, "t": t, "anchor": {**anchor.source, "label": anchor.y},
         "others": {**others.source, "labels": others.y}, "code_norms": path.norm(dim=-1).T},
    )


def cmd_centroid(ctx: Context) -> Output:
    """z + alpha (c_y - z) toward the image's class centroid on the training split (seed 000)."""
    m, a = ctx.model, ctx.args
    alphas = _floats(a.alphas, "--alphas")
    sel = ctx.select()
    if bool((sel.y < 0).any()):
        raise ConfigError("moving toward the class centroid needs labelled images")
    z = encode(m, sel.x, sel.y)
    codes, labels, _ = ctx.training_codes()
    centroids, counts = class_centroids(codes, labels, ctx.dataset.num_classes)
    moved = toward(z, centroids[sel.y], alphas)
    images = decode(m, moved.flatten(0, 1), sel.y.repeat(len(alphas))).unflatten(0, moved.shape[:2])
    rows = [sel.x, *images]
    labels_ = ["original", *[f"α = {v:g}" for v in alphas]]
    return Output(
        lambda p: save_rows_figure(rows, p, row_labels=labels_, col_labels=sel.captions,
                                   title=ctx.title("z + α(c_y − z)")),
        {"selection": sel.source, "labels": sel.y, "alphas": alphas,
         "centroid_images_per_class": counts,
         "distance_to_centroid": (z - centroids[sel.y]).norm(dim=-1)},
    )


def cmd_toward_class(ctx: Context) -> Output:
    """Move toward a (noisy) code of another class: a random training image or its centroid."""
    m, a = ctx.model, ctx.args
    alphas = _floats(a.alphas, "--alphas")
    target = ctx.class_index(a.target)
    sel = ctx.select()
    z = encode(m, sel.x, sel.y)
    codes, labels, indices = ctx.training_codes()
    of_class = labels == target
    pool, pool_idx = codes[of_class], indices[of_class.cpu()]
    if a.centroid:
        if len(pool) == 0:
            raise ConfigError(f"the training split has no images of class {a.target!r}")
        goal, picked = pool.mean(0, keepdim=True).expand_as(z), None
    else:
        chosen = pick(pool, len(z), ctx.gen)
        goal, picked = pool[chosen], pool_idx[chosen.cpu()]
    moved = toward_noisy(z, goal, alphas, a.noise, ctx.gen)
    y_target = torch.full_like(sel.y, target)
    y_moves = torch.cat([sel.y if v < 0.5 else y_target for v in alphas])
    images = decode(m, moved.flatten(0, 1), y_moves).unflatten(0, moved.shape[:2])
    goal_images = decode(m, goal, y_target)
    rows = [sel.x, goal_images, *images]
    name = ctx.class_name(target)
    labels_ = ["original", "target (centroid)" if a.centroid else "target (decoded)",
               *[f"α = {v:g}" for v in alphas]]
    return Output(
        lambda p: save_rows_figure(rows, p, row_labels=labels_, col_labels=sel.captions,
                                   title=ctx.title(f"toward class {name}, noise {a.noise:g}")),
        {"selection": sel.source, "labels": sel.y, "target_class": target,
         "target_name": name, "alphas": alphas, "noise": a.noise,
         "target": "centroid" if a.centroid else "random training image",
         "target_train_indices": picked},
    )


def cmd_blend(ctx: Context) -> Output:
    """w z_a + (1 - w) z_b with optional sign flips (seed 003), or z_a + (mean z_b - mean z_c)."""
    m, a = ctx.model, ctx.args
    for prefix in ("a", "b"):
        if all(getattr(a, f"{prefix}{k}") is None for k in ("index", "cls", "image")):
            raise ConfigError(f"blend needs a selection {prefix.upper()}: "
                              f"--{prefix}-index, --{prefix}-class or --{prefix}-image")
    sa, sb = ctx.select("a"), ctx.select("b")
    za, zb = encode(m, sa.x, sa.y), encode(m, sb.x, sb.y)
    arith = any(getattr(a, f"c{k}") is not None for k in ("index", "cls", "image"))
    if arith:
        sc = ctx.select("c")
        zc = encode(m, sc.x, sc.y)
        result = arithmetic(za, zb.mean(0, keepdim=True), zc.mean(0, keepdim=True))
        rows = [sa.x, decode(m, za, sa.y), decode(m, result, sa.y), sb.x, sc.x]
        labels_ = ["A", "A decoded", "A + (B − C)", "B", "C"]
        what = "latent arithmetic A + (mean B − mean C)"
        numbers = {"mode": "arithmetic", "a": sa.source, "b": sb.source, "c": sc.source,
                   "direction_norm": (zb.mean(0) - zc.mean(0)).norm()}
    else:
        if len(sb) not in (1, len(sa)) and len(sa) != 1:
            raise ConfigError(f"A has {len(sa)} images and B {len(sb)}: give equally many, or one")
        n = max(len(sa), len(sb))
        flip = _positions(a.flip, len(sb), "--flip")
        flip_dims = _positions(a.flip_dims, m.latent_dim, "--flip-dims")
        za, ya = za.expand(n, -1), sa.y.expand(n)
        result = blend(za, zb, a.w, flip, flip_dims)
        zb_flipped = flip_signs(zb, flip, flip_dims)
        rows = [sa.x, decode(m, za, ya), sb.x, decode(m, zb_flipped, sb.y), decode(m, result, ya)]
        flipped = " (sign flips)" if a.flip or a.flip_dims else ""
        labels_ = ["A", "A decoded", "B", f"B decoded{flipped}", f"w = {a.w:g}"]
        what = f"blend w·A + (1 − w)·B, w = {a.w:g}"
        numbers = {"mode": "blend", "w": a.w, "a": sa.source, "b": sb.source,
                   "flip": parse_int_list(a.flip, "--flip") or [],
                   "flip_dims": parse_int_list(a.flip_dims, "--flip-dims") or []}
    return Output(
        lambda p: save_rows_figure(rows, p, row_labels=labels_, title=ctx.title(what)),
        {**numbers, "result_code_norm": result.norm(dim=-1)},
    )


def _positions(text: str | None, size: int, what: str) -> Tensor | None:
    """Comma-separated positions -> a boolean mask of ``size``, or None."""
    positions = parse_int_list(text, what)
    if not positions:
        return None
    bad = [p for p in positions if not 0 <= p < size]
    if bad:
        raise ConfigError(f"{what}: position {bad[0]} is out of range (0..{size - 1})")
    mask = torch.zeros(size, dtype=torch.bool)
    mask[positions] = True
    return mask


def cmd_grid(ctx: Context) -> Output:
    """Decodes of a prior-quantile grid (2-D latents, seed 001 figs. 10-12) or prior samples."""
    m, a = ctx.model, ctx.args
    require_decoder(m, "the grid")
    if a.n < 2:
        raise ConfigError(f"-n (points per side) must be at least 2, got {a.n}")
    label = ctx.class_index(a.label) if m.conditional else -1
    if a.prior:
        z = m.sample_prior(a.n * a.n, ctx.gen)
    else:
        z = quantile_grid(m.prior(), m.latent_dim, a.n, a.edge)
    y = torch.full((len(z),), label, dtype=torch.long, device=m.device)
    rows = list(decode(m, z, y).unflatten(0, (a.n, a.n)))
    numbers: dict[str, Any] = {"mode": "prior samples" if a.prior else "quantile grid", "n": a.n}
    if m.conditional:
        numbers["label"] = label
    if a.prior:
        row_labels = col_labels = None
        what = f"{a.n * a.n} prior samples"
    else:
        axes = z.view(a.n, a.n, 2)
        z1, z2 = axes[0, :, 0], axes[:, 0, 1]
        col_labels = [f"{v:.2f}" for v in z1.tolist()]
        row_labels = [f"{v:.2f}" for v in z2.tolist()]
        what = f"manifold over prior quantiles {a.edge:g}..{1 - a.edge:g} (z1 →, z2 ↑)"
        numbers.update(edge=a.edge, z1=z1, z2=z2)
    return Output(
        lambda p: save_rows_figure(rows, p, row_labels=row_labels, col_labels=col_labels,
                                   title=ctx.title(what)),
        numbers,
    )


def cmd_map(ctx: Context) -> Output:
    """Posterior means coloured by label: raw plane, PCA or t-SNE (seed 004 task 3); + CSV."""
    m, a = ctx.model, ctx.args
    sel = ctx.select()
    z = encode(m, sel.x, sel.y)
    proj = project_2d(z, a.method, a.seed)
    csv_path = Path(a.out) / "map.csv"
    lines = ["index,label,class,x,y"]
    indices = sel.source.get("indices") or list(range(len(sel)))
    for i, k, (u, v) in zip(indices, sel.y.tolist(), proj.coords.tolist(), strict=True):
        lines.append(f"{i},{k},{ctx.class_name(k) if k >= 0 else ''},{u:.6g},{v:.6g}")
    with atomic_write(csv_path) as fh:
        fh.write(("\n".join(lines) + "\n").encode())
    title = ctx.title(f"{proj.method} map of {len(sel)} codes ({m.latent_dim}-D)")
    return Output(
        lambda p: save_latent_map(proj, sel.y, ctx.dataset.class_names, p, title),
        {"selection": sel.source, "method": proj.method, "axes": proj.axis_labels,
         "explained_variance": proj.explained_variance, "csv": str(csv_path),
         "images": len(sel)},
    )


def cmd_infer(ctx: Context) -> Output:
    """Per-image q(z) fitted through the frozen decoder vs the encoder (seed 004 task 4a)."""
    m, a = ctx.model, ctx.args
    sel = ctx.select()
    fit = fit_posterior(m, sel.x, sel.y, **_fit_options(a))
    rows = [sel.x, decode(m, fit.mu, sel.y)]
    names = ["original", "without encoder"]
    numbers: dict[str, Any] = {
        "selection": sel.source, "labels": sel.y, "elbo_without_encoder": fit.elbo,
        "mean_elbo_without_encoder": fit.elbo.mean(), "steps": fit.steps,
        "stopped_early": fit.stopped, **{f"fit_{k}": v for k, v in _fit_options(a).items()},
    }
    names[1] += f"\nELBO {fit.elbo.mean():.1f}"
    if has(m, Encoder):
        rows.append(decode(m, encode(m, sel.x, sel.y), sel.y))
        names.append("with encoder")
        posterior = encoder_posterior(m, sel.x, sel.y)
        if posterior is not None:
            enc = evaluate_elbo(m, sel.x, *posterior, sel.y, seed=a.seed + 1)
            names[2] += f"\nELBO {enc.mean():.1f}"
            numbers.update(elbo_with_encoder=enc, mean_elbo_with_encoder=enc.mean(),
                           mean_gain_over_encoder=(fit.elbo - enc).mean())
    # Seed 004 (figure 16) shows these as columns; rows keep wide selections readable.
    return Output(
        lambda p: save_rows_figure(rows, p, row_labels=names, col_labels=sel.captions,
                                   title=ctx.title("inference without the encoder")),
        numbers,
    )


def cmd_complete(ctx: Context) -> Output:
    """Fit the ELBO of the observed pixels, decode the rest (seed 004 task 4b)."""
    m, a = ctx.model, ctx.args
    sel = ctx.select()
    _, h, w = m.shape
    if a.mask_image:
        mask, kind = load_mask(a.mask_image, h, w), f"image {a.mask_image}"
    else:
        mask = make_mask(a.mask, len(sel), h, w, a.rate, a.box, ctx.gen)
        kind = {"centre": f"centre box {a.box:g} hidden",
                "random": f"{a.rate:.0%} of pixels hidden"}.get(a.mask, f"{a.mask} half observed")
    mask = mask.to(sel.x.device)
    done = complete(m, sel.x, mask, sel.y, **_fit_options(a))
    rows = [sel.x, observed_view(sel.x, mask), done.images]
    captions = [f"MSE {v:.3f}" for v in done.hidden_mse.tolist()]
    names = ["original", "observed", f"completion\nhidden MSE {done.hidden_mse.mean():.3f}"]
    return Output(
        lambda p: save_rows_figure(rows, p, row_labels=names, col_labels=captions,
                                   title=ctx.title(f"completion, {kind}")),
        {"selection": sel.source, "labels": sel.y, "mask": kind,
         "observed_fraction": mask.expand_as(sel.x).flatten(1).mean(1),
         "hidden_mse": done.hidden_mse, "mean_hidden_mse": done.hidden_mse.mean(),
         "elbo_observed": done.fit.elbo, "steps": done.fit.steps,
         **{f"fit_{k}": v for k, v in _fit_options(a).items()}},
    )


# --- parser -----------------------------------------------------------------------------
def _selection_args(p: argparse.ArgumentParser, prefix: str = "", what: str = "images") -> None:
    flag = f"--{prefix}-" if prefix else "--"
    g = p.add_argument_group(f"{what} (one of; default: the first -n of --split)")
    g.add_argument(f"{flag}index", dest=f"{prefix}index", metavar="I,J,...",
                   help="indices into --split")
    g.add_argument(f"{flag}class", dest=f"{prefix}cls", metavar="CLASS",
                   help="the first -n images of a class (name or number) in --split")
    g.add_argument(f"{flag}image", dest=f"{prefix}image", nargs="+", metavar="FILE",
                   help="image files (resized to the model's image size)")


def _fit_args(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group("optimiser (shared by infer and complete)")
    g.add_argument("--max-steps", type=int, default=1000, help="Adam steps at most (1000)")
    g.add_argument("--lr", type=float, default=0.05, help="Adam learning rate (0.05)")
    g.add_argument("--patience", type=int, default=50,
                   help="stop an image after this many steps without improvement (50)")
    g.add_argument("--tol", type=float, default=0.01, help="improvement that counts, nats (0.01)")
    g.add_argument("--samples", type=int, default=1, help="Monte Carlo samples per step (1)")


def _perturb_args(p: argparse.ArgumentParser) -> None:
    _selection_args(p)
    p.add_argument("--sigmas", default="0.25,0.5,1,2", help="noise scales (0.25,0.5,1,2)")


def _interpolate_args(p: argparse.ArgumentParser) -> None:
    _selection_args(p, what="anchor image")
    p.add_argument("--to", metavar="I,J,...",
                   help="indices of the left images (default: one of each other class)")
    p.add_argument("--steps", type=int, default=8, help="decodes per row, both ends included (8)")
    p.add_argument("--method", choices=list(INTERPOLATIONS), default="lerp")


def _centroid_args(p: argparse.ArgumentParser) -> None:
    _selection_args(p)
    p.add_argument("--alphas", default="0,0.25,0.5,0.75,1", help="step sizes (0,0.25,0.5,0.75,1)")


def _toward_args(p: argparse.ArgumentParser) -> None:
    _centroid_args(p)
    p.add_argument("--target", required=True, metavar="CLASS", help="target class, name or number")
    p.add_argument("--noise", type=float, default=0.1, help="std of the target's jitter (0.1)")
    p.add_argument("--centroid", action="store_true",
                   help="move toward the target class's centroid, not a random training image")


def _blend_args(p: argparse.ArgumentParser) -> None:
    for prefix, what in (("a", "selection A"), ("b", "selection B"),
                         ("c", "selection C (gives A + (mean B - mean C) instead of a blend)")):
        _selection_args(p, prefix, what)
    p.add_argument("--w", type=float, default=0.6, help="weight of A (0.6, as seed 003)")
    p.add_argument("--flip", metavar="I,J,...",
                   help="positions within B whose codes change sign (seed 003's dark wings)")
    p.add_argument("--flip-dims", metavar="D,...", help="latent dimensions of B that change sign")


def _grid_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("--prior", action="store_true",
                   help="n x n prior samples instead of the quantile grid (any latent size)")
    p.add_argument("--edge", type=float, default=0.05,
                   help="lowest prior quantile on each axis (0.05: the grid spans 5%%..95%%)")
    p.add_argument("--label", default="0", help="class to decode with (conditional models)")


def _map_args(p: argparse.ArgumentParser) -> None:
    _selection_args(p)
    p.add_argument("--method", choices=PROJECTIONS, default="auto",
                   help="auto: the raw plane for 2-D codes, else pca")


def _complete_args(p: argparse.ArgumentParser) -> None:
    _selection_args(p)
    p.add_argument("--mask", choices=list(MASKS), default="left",
                   help="; ".join(f"{k}: {v}" for k, v in MASKS.items()))
    p.add_argument("--rate", type=float, default=0.5, help="hidden fraction for --mask random")
    p.add_argument("--box", type=float, default=0.5, help="hidden box side for --mask centre")
    p.add_argument("--mask-image", metavar="PNG",
                   help="a mask image of the model's size: white observed, black hidden")
    _fit_args(p)


def _infer_args(p: argparse.ArgumentParser) -> None:
    _selection_args(p)
    _fit_args(p)


def _encoder_needed(op: str, handler: Callable[[Context], Output]) -> Callable[[Context], Output]:
    def checked(ctx: Context) -> Output:
        require_encoder(ctx.model, op)
        return handler(ctx)

    return checked


# name, help, example, handler, option adder, default -n, needs an encoder
COMMANDS: list[tuple[str, str, str, Callable[[Context], Output], Callable, int, bool]] = [
    ("perturb", "decode codes plus Gaussian noise of several sizes",
     "genlab latent perturb runs/vae --index 0,1,2,3 --sigmas 0.5,1,2 --out fig",
     cmd_perturb, _perturb_args, 8, True),
    ("interpolate", "lerp/slerp rows from images of each class to an anchor image",
     "genlab latent interpolate runs/vae --index 0 --steps 10 --method slerp --out fig",
     cmd_interpolate, _interpolate_args, 1, True),
    ("centroid", "move codes toward their class centroid by steps alpha",
     "genlab latent centroid runs/ae --class 7 -n 6 --alphas 0,0.5,1 --out fig",
     cmd_centroid, _centroid_args, 8, True),
    ("toward-class", "move codes stochastically toward another class",
     "genlab latent toward-class runs/vae --class 1 --target 7 --noise 0.2 --out fig",
     cmd_toward_class, _toward_args, 8, True),
    ("blend", "blend two selections (pegasus) or do A + (B - C) arithmetic",
     "genlab latent blend runs/stl --a-class horse --b-class bird -n 64 --w 0.6 --flip 3,9 "
     "--out fig",
     cmd_blend, _blend_args, 8, True),
    ("grid", "decode a prior-quantile grid (2-D latents) or prior samples",
     "genlab latent grid runs/vae2d -n 20 --out fig",
     cmd_grid, _grid_args, 15, False),
    ("map", "2-D map of posterior means by label (raw, pca, tsne) + CSV",
     "genlab latent map runs/vae -n 1000 --method tsne --out fig",
     cmd_map, _map_args, 1000, True),
    ("infer", "fit q(z) per image through the decoder, no encoder; compare",
     "genlab latent infer runs/vae -n 10 --out fig",
     cmd_infer, _infer_args, 10, False),
    ("complete", "complete images from observed pixels (half, box, random, mask)",
     "genlab latent complete runs/vae -n 10 --mask left --out fig",
     cmd_complete, _complete_args, 10, False),
]

LATENT_EPILOG = "commands (each writes OUT/<command>.png and OUT/<command>.json):\n" + "\n".join(
    f"  {name:<13} {text}\n      {example}" for name, text, example, *_ in COMMANDS
)


def register(sub: argparse._SubParsersAction) -> None:
    fmt = argparse.RawDescriptionHelpFormatter
    latent = sub.add_parser(
        "latent", help="latent-space tools: perturb, interpolate, blend, maps, inference...",
        description="Latent-space tools for any model with an encoder/decoder (pca, ae, vae, "
                    "cvae, ...). Images are selected by --split with --index or --class.",
        epilog=LATENT_EPILOG, formatter_class=fmt,
    )
    latent.set_defaults(func=lambda args: latent.print_help() or 1)
    ops = latent.add_subparsers(dest="latent_command", metavar="COMMAND")
    for name, text, example, handler, add_options, n, needs_encoder in COMMANDS:
        p = ops.add_parser(name, help=text, description=f"{text}.", formatter_class=fmt,
                           epilog=f"example:\n  {example}")
        add_run_args(p)
        p.add_argument("--out", required=True, metavar="DIR",
                       help=f"output directory for {name}.png and {name}.json")
        p.add_argument("--split", default="test", help="split to select images from (test)")
        p.add_argument("-n", type=int, default=n, help=f"number of images ({n})")
        p.add_argument("--seed", type=int, default=0, help="seed of every random draw (0)")
        add_options(p)
        run = _encoder_needed(name, handler) if needs_encoder else handler
        p.set_defaults(func=partial(_execute, name, run))
