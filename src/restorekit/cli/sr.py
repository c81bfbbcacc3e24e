"""``restorekit upscale``: super-resolution (MATLAB-compatible bicubic for now)."""

from __future__ import annotations

import argparse

from restorekit.cli._common import Subparsers, _add_io, _check_method, _process

__all__ = ["UPSCALE_METHODS", "register"]

UPSCALE_METHODS = ("bicubic",)


def register(sub: Subparsers) -> None:
    """Add ``upscale`` to the subcommands ``sub``."""
    p = sub.add_parser("upscale", help="enlarge an image (MATLAB-compatible bicubic)")
    _add_io(p)
    p.add_argument("--scale", type=float, required=True, help="magnification, e.g. 2 or 4")
    p.add_argument("--method", default="bicubic", help=f"one of {', '.join(UPSCALE_METHODS)}")
    p.set_defaults(func=cmd_upscale)


def cmd_upscale(args: argparse.Namespace) -> None:
    """``restorekit upscale IN OUT --scale S``: MATLAB-compatible bicubic enlarging."""
    from restorekit._checks import check_positive
    from restorekit.classical.upscale import UPSCALERS

    scale = check_positive(args.scale, "--scale", allow_zero=False)
    _check_method(args.method, UPSCALERS, "upscale")
    method = UPSCALERS[args.method]
    _process(args, lambda x, src: method(x.double(), scale).clamp(0, 1))
