"""The ``restorekit`` command: parse, build objects, call the library.

Each command group lives in its own module of ``restorekit.cli`` with its parser(s) and its
command function(s) together; the module's ``register(sub)`` adds its subcommands and sets each
one's ``func``. This module only builds the top parser, registers the groups in the order of
:data:`COMMAND_MODULES` (the order of ``restorekit --help``) and dispatches. A new task adds one
module, one import and one entry to that tuple.

A user's mistake (a :class:`~restorekit.errors.RestorekitError`, a bad flag) ends in one line on
stderr and exit code 2; the library is imported lazily per subcommand so that ``--help`` and the
inference commands start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from restorekit.cli import bench, demo, demosaic, denoise, export, grain, look, serve, sr, train
from restorekit.cli._common import _Parser

__all__ = ["COMMAND_MODULES", "main"]

# The command groups, in the order their subcommands appear in ``restorekit --help``.
COMMAND_MODULES = (demosaic, denoise, sr, grain, look, bench, train, export, demo, serve)


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="restorekit",
        description="Image restoration: demosaicing, denoising, super-resolution, film grain and "
        "looks, with classical baselines and benchmarks.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for module in COMMAND_MODULES:
        module.register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``restorekit`` console script; returns the exit code."""
    parser = _build_parser()
    args = parser.parse_args(argv)
    if args.version:
        from restorekit import __version__

        print(__version__)
        return 0
    if args.command is None:
        parser.print_help()
        return 0
    from restorekit.errors import RestorekitError

    try:
        args.func(args)
    except RestorekitError as e:
        sys.stderr.write(f"restorekit {args.command}: error: {e}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("restorekit: interrupted\n")
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
