"""``restorekit serve``: the local web page with every task behind sliders."""

from __future__ import annotations

import argparse

from restorekit.cli._common import Subparsers
from restorekit.errors import RestorekitError

__all__ = ["register"]


def register(sub: Subparsers) -> None:
    """Add ``serve`` to the subcommands ``sub``."""
    p = sub.add_parser(
        "serve",
        help="a local web page: upload an image, move sliders, compare before/after at 100 %%",
        description="Serve the page on http://HOST:PORT (loopback unless told otherwise). It "
        "works offline; uploads are checked (size, type by content, pixels) and each browser "
        "tab sees only its own images.",
    )
    p.add_argument("--port", type=int, default=8765, help="port (default 8765)")
    p.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to bind (default 127.0.0.1: this machine only; 0.0.0.0 opens it to the "
        "network)",
    )
    p.set_defaults(func=cmd_serve)


def cmd_serve(args: argparse.Namespace) -> None:
    """``restorekit serve [--port P] [--host H]``."""
    if not 0 < args.port < 65536:
        raise RestorekitError(f"--port must be in 1..65535, got {args.port}")
    try:
        import uvicorn
    except ImportError:
        raise RestorekitError(
            "restorekit serve needs the 'serve' extra: pip install 'restorekit[serve]'"
        ) from None
    from restorekit.serve.app import create_app

    print(f"restorekit: open http://{args.host}:{args.port}/ in a browser (Ctrl+C stops)")
    uvicorn.run(create_app(), host=args.host, port=args.port, log_level="warning")
