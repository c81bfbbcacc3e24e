"""``restorekit demo``: the classical methods on bundled photos -> report.html."""

from __future__ import annotations

import argparse

from restorekit.cli._common import Subparsers

__all__ = ["register"]


def register(sub: Subparsers) -> None:
    """Add ``demo`` to the subcommands ``sub``."""
    p = sub.add_parser(
        "demo", help="run every classical method on bundled photos; writes report.html"
    )
    p.add_argument("--out", default="demo-out", help="output folder")
    p.add_argument("--quick", action="store_true", help="small crops and no BM3D (a smoke run)")
    p.set_defaults(func=cmd_demo)


def cmd_demo(args: argparse.Namespace) -> None:
    """``restorekit demo``: the classical methods on bundled photos -> report.html."""
    from restorekit.demo import run_demo

    path = run_demo(args.out, quick=args.quick)
    print(f"open {path} in a browser")
