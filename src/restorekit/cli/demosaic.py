"""``restorekit mosaic``, ``demosaic`` and ``develop``: Bayer mosaics and camera raws."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from restorekit.cli._common import (
    Subparsers,
    _add_io,
    _check_method,
    _check_output_file,
    _process,
)
from restorekit.errors import RestorekitError

# typing.TYPE_CHECKING without importing typing: the CLI must start fast.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    import torch

__all__ = ["DEMOSAIC_METHODS", "register"]

DEMOSAIC_METHODS = (
    "learned",
    "bilinear",
    "mhc",
    "menon",
    "opencv-bilinear",
    "opencv-ea",
    "opencv-vng",
)


def _add_demosaic_method(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--method",
        default="learned",
        help=f"one of {', '.join(DEMOSAIC_METHODS)} (default: learned, the shipped CNN)",
    )
    p.add_argument(
        "--model",
        default=None,
        metavar="FILE",
        help="with --method learned: a model file from `restorekit train` (default: the shipped)",
    )


def register(sub: Subparsers) -> None:
    """Add ``mosaic``, ``demosaic`` and ``develop`` to the subcommands ``sub``."""
    p = sub.add_parser("mosaic", help="sample an RGB image through a Bayer filter (1-channel raw)")
    _add_io(p)
    p.add_argument("--cfa", default="RGGB", help="Bayer layout: RGGB, BGGR, GRBG, GBRG")
    p.set_defaults(func=cmd_mosaic)

    p = sub.add_parser("demosaic", help="reconstruct RGB from a 1-channel Bayer mosaic image")
    _add_io(p)
    p.add_argument("--cfa", default="RGGB", help="Bayer layout: RGGB, BGGR, GRBG, GBRG")
    _add_demosaic_method(p)
    p.set_defaults(func=cmd_demosaic)

    p = sub.add_parser(
        "develop", help="develop a camera raw (DNG, NEF, CR2, ARW, KDC, ...) into an sRGB image"
    )
    p.add_argument("input", help="a camera raw file LibRaw reads (needs rawpy)")
    p.add_argument("output", help="the output image (.png, .tif, .jpg)")
    _add_demosaic_method(p)
    p.add_argument(
        "--wb",
        choices=("camera", "none"),
        default="camera",
        help="white balance: the camera's as shot (default) or none (raw camera colours)",
    )
    p.add_argument(
        "--bits", type=int, choices=(8, 16), default=8, help="output bit depth (default 8)"
    )
    p.set_defaults(func=cmd_develop)


def cmd_mosaic(args: argparse.Namespace) -> None:
    """``restorekit mosaic IN OUT --cfa RGGB``: RGB image -> 1-channel Bayer mosaic."""
    from restorekit.degrade import mosaic, parse_cfa

    cfa = parse_cfa(args.cfa)

    def fn(x: torch.Tensor, src: Path) -> torch.Tensor:
        if x.shape[1] != 3:
            raise RestorekitError(f"'{src}' has {x.shape[1]} channel(s); mosaic needs an RGB image")
        return mosaic(x, cfa)

    _process(args, fn)


def _as_mosaic(x: torch.Tensor, src: Path) -> torch.Tensor:
    import torch

    if x.shape[1] == 3 and torch.equal(x[:, :1].expand_as(x), x):
        return x[:, :1]  # a gray mosaic stored as RGB
    if x.shape[1] != 1:
        raise RestorekitError(
            f"'{src}' has {x.shape[1]} channels; demosaic needs a 1-channel Bayer mosaic "
            "(make one with `restorekit mosaic`)"
        )
    return x


def _demosaicer(args: argparse.Namespace) -> Callable[[torch.Tensor, object], torch.Tensor]:
    """The demosaicing function named by ``--method`` (and ``--model`` for ``learned``)."""
    from functools import partial

    from restorekit.tasks import DemosaicTask

    methods = DemosaicTask().methods()
    _check_method(args.method, methods, "demosaic")
    if args.model is not None:
        if args.method != "learned":
            raise RestorekitError("--model needs --method learned")
        from restorekit.models import load_model

        model, _ = load_model(args.model, expect="demosaicnet")
        return partial(methods["learned"], model=model)
    return methods[args.method]


def cmd_demosaic(args: argparse.Namespace) -> None:
    """``restorekit demosaic IN OUT --method learned --cfa RGGB``: mosaic -> RGB."""
    from restorekit.degrade import parse_cfa

    cfa = parse_cfa(args.cfa)
    method = _demosaicer(args)
    _process(args, lambda x, src: method(_as_mosaic(x, src), cfa).clamp(0, 1))


def cmd_develop(args: argparse.Namespace) -> None:
    """``restorekit develop IN OUT --method learned --wb camera --bits 8``: camera raw -> sRGB."""
    import time
    from pathlib import Path

    from restorekit.io import write_image
    from restorekit.io.raw import develop, read_raw

    src, dst = Path(args.input), Path(args.output)
    _check_output_file(dst)
    start = time.perf_counter()
    method = _demosaicer(args)
    raw = read_raw(src)
    rgb, info = develop(raw, method, white_balance=args.wb, method=args.method)
    bits = 8 if dst.suffix.lower() in (".jpg", ".jpeg") else args.bits
    write_image(dst, rgb, bits=bits)
    seconds = time.perf_counter() - start
    gains = ", ".join(f"{g:.3f}" for g in info["wb_gains"])
    print(
        f"{dst}: {rgb.shape[-1]}x{rgb.shape[-2]} {bits}-bit sRGB | CFA {info['cfa']} | "
        f"{raw.bits}-bit raw, black {'/'.join(f'{b:g}' for b in info['black_levels'])}, "
        f"white {info['white_level']} | WB {info['white_balance']} ({gains}) | "
        f"matrix {info['matrix']} | {info['method']} | {seconds:.2f} s"
    )
