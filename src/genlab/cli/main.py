"""The ``genlab`` entry point: builds the argument parser from the command modules.

The command modules import nothing heavy at import time and each command's costly options are
built only when that command is used (``common.Parser``), so ``genlab --help`` never loads torch.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

from genlab.cli.common import Parser
from genlab.errors import GenlabError
from genlab.version import __version__

EPILOG = """examples:
  genlab datasets
  genlab show-data mnist-mini --split train -n 64 --out grid.png
  genlab train vae --dataset mnist-mini --net mlp --latent-dim 16 --epochs 5 --out runs/vae
  genlab sample runs/vae -n 64 --out samples.png
  genlab latent --help
  genlab evaluate runs/vae --metrics nll,fid,confidence -n 2000
  genlab study configs/study_demo.yaml --out runs/demo
"""


def build_parser() -> Parser:
    """Collect every command group into one parser."""
    from genlab.cli import data_cmds, eval_cmds, explore_cmds, latent_cmds, model_cmds, study_cmds

    parser = Parser(
        prog="genlab",
        description="genlab: a laboratory for image generative models.",
        epilog=EPILOG,
    )
    parser.add_argument("--version", action="version", version=f"genlab {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in (data_cmds, model_cmds, latent_cmds, eval_cmds, study_cmds, explore_cmds):
        module.register(sub)
    return parser


def _user_error(exc: Exception) -> bool:
    """Errors a user can act on from the message alone: genlab's own, the data layer's (only
    raised once ``genlab.data`` is loaded, so it is not imported here) and file-system ones."""
    data = sys.modules.get("genlab.data.errors")
    return isinstance(exc, GenlabError | OSError) or bool(data and isinstance(exc, data.DataError))


def main(argv: Sequence[str] | None = None) -> int:
    """Run one command; user errors become a one-line message and exit status 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 1
    try:
        return int(args.func(args) or 0)
    except KeyboardInterrupt:
        print("genlab: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:
        if not _user_error(exc):
            raise
        print(f"genlab: error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
