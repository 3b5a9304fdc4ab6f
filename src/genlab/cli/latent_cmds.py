"""``genlab latent ...`` (placeholder until the latent toolkit lands)."""

from __future__ import annotations

import argparse


def register(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("latent", help="latent-space tools")
    p.set_defaults(func=lambda args: p.print_help() or 1)
