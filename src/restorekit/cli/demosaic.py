"""``restorekit mosaic``, ``demosaic`` and ``develop``: Bayer mosaics and camera raws."""

from __future__ import annotations

import argparse
from collections.abc import Callable

from restorekit.cli._common import (
    Subparsers,
    _add_io,
    _check_method,
    _check_output_file,
    _parse_level_or_auto,
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
    "learned-joint",
    "learned-joint-x8",
    "bilinear",
    "mhc",
    "menon",
    "opencv-bilinear",
    "opencv-ea",
    "opencv-vng",
    "menon+cbm3d",
    "bm3d+menon",
)
#: the methods that take a noise level (``--noise``); ``learned`` does when its model has a map
_NOISY_METHODS = ("menon+cbm3d", "bm3d+menon")


def _add_demosaic_method(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--method",
        default="learned",
        help=f"one of {', '.join(DEMOSAIC_METHODS)} (default: learned, the shipped CNN: the fast "
        "clean one, or with --noise the joint demosaicing-and-denoising one, learned-joint)",
    )
    p.add_argument(
        "--model",
        default=None,
        metavar="FILE",
        help="with --method learned: a model file from `restorekit train` (default: the shipped)",
    )
    p.add_argument(
        "--noise",
        default=None,
        metavar="SIGMA|auto",
        help="the raw's noise level, standard deviation on the 0..255 scale of its range, or "
        "'auto' to estimate it on the flat blocks of the CFA planes; for the joint learned model "
        "and the menon+cbm3d / bm3d+menon pipelines (default: a clean raw)",
    )
    p.add_argument(
        "--ensemble",
        type=int,
        choices=(1, 2, 4, 8),
        default=None,
        metavar="N",
        help="learned methods: average over N = 1, 2, 4 or 8 flips and transpositions of the "
        "mosaic (each with its own Bayer layout), N times slower; learned-joint-x8 is "
        "learned-joint with 8 (default: 1)",
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


def _parse_noise(value: str | None) -> float | str | None:
    """``--noise``: None, ``"auto"`` or a level >= 0 on the 0..255 scale."""
    sigma = _parse_level_or_auto(value, "--noise")
    if isinstance(sigma, float) and not 0 <= sigma < float("inf"):
        raise RestorekitError(f"--noise must be >= 0 (0..255 scale), got {value}")
    return sigma


def _demosaicer(
    args: argparse.Namespace,
) -> Callable[[torch.Tensor, object, torch.Tensor | float | None], torch.Tensor]:
    """The demosaicing function named by ``--method`` (and ``--model`` for ``learned``), called
    as ``fn(raw, cfa, noise)`` with ``noise`` on the raw's [0, 1] scale (None for clean).

    Raises:
        RestorekitError: ``--noise`` for a method that takes none, or none (or 0) for a pipeline
            that needs one.
    """
    from restorekit.tasks import DemosaicTask
    from restorekit.tasks.demosaic import LEARNED_METHODS

    methods = DemosaicTask().methods()
    _check_method(args.method, methods, "demosaic")
    fn = methods[args.method]
    noise = _parse_noise(args.noise)
    if args.model is not None and args.method != "learned":
        raise RestorekitError("--model needs --method learned")
    if args.method in LEARNED_METHODS:
        from restorekit.models import load_model
        from restorekit.models.demosaic import demosaic_learned
        from restorekit.models.pretrained import load_pretrained

        name, ensemble = LEARNED_METHODS[args.method]
        if args.ensemble is not None:
            if ensemble > 1 and args.ensemble != ensemble:
                raise RestorekitError(
                    f"--ensemble {args.ensemble}: {args.method} averages {ensemble}; use "
                    "--method learned-joint with --ensemble N"
                )
            ensemble = args.ensemble
        if args.model is not None:
            model = load_model(args.model, expect="demosaicnet")[0]
        else:  # a noisy raw goes to the joint network
            model = load_pretrained("demosaic-joint" if noise is not None else name)
        if noise is not None and not getattr(model, "noise_map", False):
            raise RestorekitError(
                "--noise: this learned demosaicer was trained on clean raws and takes no noise "
                "level"
            )
        return lambda raw, cfa, sigma: demosaic_learned(
            raw, cfa, model=model, noise=sigma, ensemble=ensemble
        )
    if args.ensemble is not None:
        raise RestorekitError(
            f"--ensemble: {args.method} is not a network; use a learned method "
            f"({', '.join(LEARNED_METHODS)})"
        )
    if args.method in _NOISY_METHODS:
        if noise is None or noise == 0:
            raise RestorekitError(
                f"--method {args.method} denoises: it needs --noise SIGMA (above 0) or auto"
            )
        # BM3D takes one level: a map (a camera raw's levels after white balance) gives its mean
        return lambda raw, cfa, sigma: fn(
            raw, cfa, float(sigma.mean() if hasattr(sigma, "mean") else sigma)
        )
    if noise is not None:
        raise RestorekitError(
            f"--noise: {args.method} is a demosaicer that takes no noise level; use --method "
            "learned, menon+cbm3d or bm3d+menon for a noisy raw"
        )
    return lambda raw, cfa, sigma: fn(raw, cfa)


def _noise_level(args: argparse.Namespace, raw: torch.Tensor, where: object) -> float | None:
    """``--noise`` on the raw's [0, 1] scale: as given, or estimated (``auto``, printed)."""
    import sys

    noise = _parse_noise(args.noise)
    if noise != "auto":
        return None if noise is None else noise / 255
    from restorekit.classical.noise_level import estimate_raw_noise

    sigma = float(estimate_raw_noise(raw.double())[0])
    print(f"{where}: estimated noise sigma {sigma * 255:.2f} (0..255 scale)", file=sys.stderr)
    return sigma


def cmd_demosaic(args: argparse.Namespace) -> None:
    """``restorekit demosaic IN OUT --method learned --cfa RGGB [--noise S|auto]``: mosaic ->
    RGB."""
    from restorekit.degrade import parse_cfa

    cfa = parse_cfa(args.cfa)
    method = _demosaicer(args)

    def fn(x: torch.Tensor, src: Path) -> torch.Tensor:
        raw = _as_mosaic(x, src)
        return method(raw, cfa, _noise_level(args, raw, src)).clamp(0, 1)

    _process(args, fn)


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
    noise = _noise_level(args, raw.mosaic, src)

    def demosaic_fn(mosaic: torch.Tensor, cfa: object, noise: object = None) -> torch.Tensor:
        return method(mosaic, cfa, noise)

    rgb, info = develop(raw, demosaic_fn, white_balance=args.wb, method=args.method, noise=noise)
    bits = 8 if dst.suffix.lower() in (".jpg", ".jpeg") else args.bits
    write_image(dst, rgb, bits=bits)
    seconds = time.perf_counter() - start
    gains = ", ".join(f"{g:.3f}" for g in info["wb_gains"])
    print(
        f"{dst}: {rgb.shape[-1]}x{rgb.shape[-2]} {bits}-bit sRGB | CFA {info['cfa']} | "
        f"{raw.bits}-bit raw, black {'/'.join(f'{b:g}' for b in info['black_levels'])}, "
        f"white {info['white_level']} | WB {info['white_balance']} ({gains}) | "
        f"matrix {info['matrix']} | {info['method']}"
        + (f" | noise {noise * 255:.2f}" if noise is not None else "")
        + f" | {seconds:.2f} s"
    )
