"""The ``restorekit`` command: parse, build objects, call the library.

A user's mistake (a :class:`~restorekit.errors.RestorekitError`, a bad flag) ends in one line on
stderr and exit code 2; the library is imported lazily per subcommand so that ``--help`` and the
inference commands start fast.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

__all__ = ["main"]

DEMOSAIC_METHODS = (
    "learned",
    "bilinear",
    "mhc",
    "menon",
    "opencv-bilinear",
    "opencv-ea",
    "opencv-vng",
)
DENOISE_METHODS = ("bm3d", "nlm-opencv", "nlm-skimage", "tv")
UPSCALE_METHODS = ("bicubic",)
BENCH_TASKS = ("demosaic", "denoise", "sr")


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _add_io(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="an image file, or a folder of images")
    p.add_argument("output", help="the output file, or a folder (created) when input is a folder")
    p.add_argument(
        "--bits",
        type=int,
        choices=(8, 16),
        default=None,
        help="output bit depth (default: the input's)",
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


def _build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="restorekit",
        description="Image restoration: demosaicing, denoising, super-resolution, with classical "
        "baselines and benchmarks.",
    )
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)

    p = sub.add_parser("mosaic", help="sample an RGB image through a Bayer filter (1-channel raw)")
    _add_io(p)
    p.add_argument("--cfa", default="RGGB", help="Bayer layout: RGGB, BGGR, GRBG, GBRG")

    p = sub.add_parser("demosaic", help="reconstruct RGB from a 1-channel Bayer mosaic image")
    _add_io(p)
    p.add_argument("--cfa", default="RGGB", help="Bayer layout: RGGB, BGGR, GRBG, GBRG")
    _add_demosaic_method(p)

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

    p = sub.add_parser("noise", help="add white Gaussian noise (sigma on the 0..255 scale)")
    _add_io(p)
    p.add_argument(
        "--sigma", type=float, required=True, help="noise standard deviation, 0..255 scale"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed")

    p = sub.add_parser("denoise", help="remove Gaussian noise (any level, learned by default)")
    _add_io(p)
    p.add_argument(
        "--sigma",
        default=None,
        help="noise standard deviation on the 0..255 scale, or 'auto' to estimate it per image",
    )
    p.add_argument(
        "--level",
        type=float,
        default=None,
        help="learned only: the control level alpha in [0, 1] instead of a sigma",
    )
    p.add_argument(
        "--method",
        default="learned",
        help=f"learned (default) or one of {', '.join(DENOISE_METHODS)}",
    )
    p.add_argument(
        "--model", default=None, help="learned only: a trained denoiser model file (.safetensors)"
    )
    p.add_argument(
        "--ensemble",
        type=int,
        choices=(1, 2, 4, 8),
        default=1,
        metavar="N",
        help="learned only: average over N = 1, 2, 4 or 8 flips/transposes (N times slower, a "
        "little better)",
    )

    p = sub.add_parser(
        "calibrate", help="fit a continuous-level denoiser's sigma -> level map on a folder"
    )
    p.add_argument("model", help="a denoiser model file (.safetensors), updated in place")
    p.add_argument("--data", required=True, help="a folder of clean validation images")
    p.add_argument(
        "--sigma", nargs=2, type=float, required=True, metavar=("LO", "HI"), help="0..255 range"
    )
    p.add_argument(
        "--crop", type=int, default=128, help="use the central CROP x CROP of each image"
    )
    p.add_argument(
        "--holdout",
        type=int,
        default=0,
        help="use only every N-th image of --data (the held-out split of a training folder)",
    )
    p.add_argument("--out", default=None, help="write to this file instead of updating MODEL")

    p = sub.add_parser("dni", help="deep network interpolation: one model file from two")
    p.add_argument("level0", help="the model file for level 0")
    p.add_argument("level1", help="the model file for level 1 (same network, fine-tuned)")
    p.add_argument("output", help="the DNI model file to write (.safetensors)")

    p = sub.add_parser("upscale", help="enlarge an image (MATLAB-compatible bicubic)")
    _add_io(p)
    p.add_argument("--scale", type=float, required=True, help="magnification, e.g. 2 or 4")
    p.add_argument("--method", default="bicubic", help=f"one of {', '.join(UPSCALE_METHODS)}")

    p = sub.add_parser(
        "bench", help="compare every method of a task on datasets; writes Markdown, JSON and PNGs"
    )
    p.add_argument("task", help=f"one of {', '.join(BENCH_TASKS)}")
    p.add_argument(
        "--data",
        nargs="+",
        default=None,
        metavar="FOLDER",
        help="dataset folders (default: the task's test sets under --data-root)",
    )
    p.add_argument("--data-root", default="../shared/data", help="root of the shared test data")
    p.add_argument("--methods", nargs="+", default=None, help="methods to run (default: all)")
    p.add_argument(
        "--sigma", nargs="+", type=float, default=None, help="denoise: noise levels, 0..255"
    )
    p.add_argument("--scale", nargs="+", type=int, default=None, help="sr: scales")
    p.add_argument("--cfa", nargs="+", default=None, help="demosaic: Bayer layouts")
    p.add_argument("--limit", type=int, default=None, help="use the first N images of each dataset")
    p.add_argument("--out", default="benchmarks/results", help="where to write the reports")
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser("train", help="train a model from a YAML config (see configs/)")
    p.add_argument("config", help="a YAML training config, e.g. configs/demosaic/default.yaml")
    p.add_argument(
        "--resume", action="store_true", help="continue the run from its last checkpoint"
    )
    p.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="override config values, e.g. optim.steps=1000 run.out=runs/x (values are YAML)",
    )
    p.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="stop after this step (the schedule still spans optim.steps; --resume continues)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")

    p = sub.add_parser(
        "export",
        help="export a model file to ONNX (dynamic height and width), checked with onnxruntime",
    )
    p.add_argument(
        "model", help="a restorekit model file (.safetensors), or 'demosaic' for the shipped one"
    )
    p.add_argument("output", help="the .onnx file to write")
    p.add_argument("--cfa", default="RGGB", help="demosaic: the Bayer layout baked into the graph")

    p = sub.add_parser(
        "demo", help="run every classical method on bundled photos; writes report.html"
    )
    p.add_argument("--out", default="demo-out", help="output folder")
    p.add_argument("--quick", action="store_true", help="small crops and no BM3D (a smoke run)")
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
    from restorekit.cli import commands
    from restorekit.errors import RestorekitError

    try:
        getattr(commands, f"cmd_{args.command}")(args)
    except RestorekitError as e:
        sys.stderr.write(f"restorekit {args.command}: error: {e}\n")
        return 2
    except KeyboardInterrupt:
        sys.stderr.write("restorekit: interrupted\n")
        return 130
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
