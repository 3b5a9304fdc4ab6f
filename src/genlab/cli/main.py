"""The ``genlab`` entry point: builds the argument parser from the command modules."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from genlab.data import DataError
from genlab.errors import GenlabError
from genlab.version import __version__

EPILOG = """examples:
  genlab datasets
  genlab show-data mnist-mini --split train -n 64 --out grid.png
  genlab train vae --dataset mnist-mini --net mlp --latent-dim 16 --epochs 5 --out runs/vae
  genlab sample runs/vae -n 64 --out samples.png
  genlab latent --help
"""


def build_parser() -> argparse.ArgumentParser:
    """Collect every command group into one parser."""
    from genlab.cli import data_cmds, latent_cmds, model_cmds

    parser = argparse.ArgumentParser(
        prog="genlab",
        description="genlab: a laboratory for image generative models.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"genlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (data_cmds, model_cmds, latent_cmds):
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors become a one-line message and exit status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except (GenlabError, DataError) as exc:
        print(f"genlab: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("genlab: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
