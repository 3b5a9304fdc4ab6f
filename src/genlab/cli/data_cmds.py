"""``genlab datasets`` and ``genlab show-data``: what data is available, and what it looks like.

Torch and the data layer are imported by the handlers: building the parser stays instant.
"""

from __future__ import annotations

import argparse

from genlab.cli.common import int_range, seed

MAX_GRID = 1024
MAX_SIZE = 512

DATASETS_EXAMPLES = """examples:
  genlab datasets
  genlab datasets --data-dir ../shared/data

Datasets are looked for in --data-dir, then $GENLAB_DATA, then ~/.cache/genlab, each holding
one sub-folder per dataset (mnist/, fashion-mnist/, cifar10/, stl10/); cifar10 is the archive
in cifar10/ or, where a directory has none, the image copy cifar10-jpg/. Any image folder loads
as folder:PATH (split/class/*.png or class/*.png): PATH as typed when it exists, else under the
first of those directories holding it (folder:cifar10-jpg). Every image folder directly under
them is listed.
"""

SHOW_EXAMPLES = """examples:
  genlab show-data mnist-mini --split train -n 64 --out grid.png
  genlab show-data folder:cifar10-jpg --data-dir ../shared/data --split test -n 100 \
      --out cifar.png
  genlab show-data stl10 --split unlabeled --size 64 --data-dir ../shared/data --out stl.png
"""


def _format_splits(splits: dict[str, int]) -> str:
    return " / ".join(f"{name} {n:,}" for name, n in splits.items()) or "-"


def cmd_datasets(args: argparse.Namespace) -> int:
    """A table of every named dataset and image folder: found or not, where, split sizes,
    image shape."""
    from genlab.data import dataset_status, default_data_dirs

    rows = [
        (
            row["name"],
            "yes" if row["found"] else "no",
            _format_splits(row["splits"]),
            "x".join(map(str, row["shape"])) if row["shape"] else "-",
            row["error"] or row["path"] or "-",
        )
        for row in dataset_status(args.data_dir)
    ]
    header = ("dataset", "found", "splits (default val)", "shape", "location")
    widths = [max(len(r[i]) for r in [header, *rows]) for i in range(len(header) - 1)]
    for row in [header, *rows]:
        print("  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=False)), row[-1])
    print("\nsearched:", ", ".join(str(d) for d in default_data_dirs(args.data_dir)))
    print("also: folder:PATH loads any image folder (split/class/*.png or class/*.png), PATH "
          "relative to the current directory, else to the first searched one holding it")
    return 0


def cmd_show_data(args: argparse.Namespace) -> int:
    """A grid of -n random images of one split, captioned with their class names."""
    import torch

    from genlab.data import load_dataset
    from genlab.figures.images import save_image_grid

    ds = load_dataset(args.name, data_dir=args.data_dir, size=args.size)
    split = ds.split(args.split)
    generator = torch.Generator().manual_seed(args.seed)
    idx = torch.randperm(len(split), generator=generator)[: args.n]
    labels = [ds.class_names[i] if i >= 0 else "?" for i in split.labels[idx].tolist()]
    title = f"{ds.name} / {args.split} ({len(idx)} of {len(split):,})"
    path = save_image_grid(
        split.images[idx], args.out, labels=labels if ds.class_names else None, title=title
    )
    c, h, w = ds.shape
    print(f"wrote {path}: {len(idx)} images of {ds.name}/{args.split}, {c}x{h}x{w}")
    return 0


def register(sub: argparse._SubParsersAction) -> None:
    """Add ``datasets`` and ``show-data`` to the genlab command parser."""
    p = sub.add_parser(
        "datasets",
        help="list datasets and image folders: found or not, where, split sizes, image shape",
        description="List every named dataset and every image folder of the data "
        "directories: found or not, where, split sizes, image shape.",
        epilog=DATASETS_EXAMPLES,
    )
    p.add_argument("--data-dir", default=None, help="look here first (then $GENLAB_DATA)")
    p.set_defaults(func=cmd_datasets)

    p = sub.add_parser(
        "show-data",
        help="write a grid of dataset images with their class names",
        description="Write a PNG grid of randomly chosen images of one split, with class names.",
        epilog=SHOW_EXAMPLES,
    )
    p.add_argument(
        "name", metavar="NAME", help="dataset name (see `genlab datasets`) or folder:PATH"
    )
    p.add_argument("--split", default="train", help="split to show")
    p.add_argument("-n", type=int_range(1, MAX_GRID), default=64, help="number of images")
    p.add_argument("--out", required=True, help="output PNG path")
    p.add_argument("--data-dir", default=None, help="look here first (then $GENLAB_DATA)")
    p.add_argument("--seed", type=seed, default=0, help="which images are drawn")
    p.add_argument("--size", type=int_range(1, MAX_SIZE), default=None,
                   help="resize to SIZE x SIZE (default: the dataset's own size)")
    p.set_defaults(func=cmd_show_data)
