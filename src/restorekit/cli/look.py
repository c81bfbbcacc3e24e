"""``restorekit look apply|fit|convert`` (3D LUT looks) and ``restorekit film`` (look, tone and
grain: the whole digital-to-film pipeline)."""

from __future__ import annotations

import argparse
import sys

from restorekit.cli._common import Subparsers, _add_io, _process
from restorekit.cli.grain import add_boolean_grain_options
from restorekit.errors import RestorekitError

__all__ = ["LUT_SUFFIXES", "register"]

#: what ``--look`` and ``look convert`` read and write: .cube, or a Hald CLUT image
LUT_SUFFIXES = (".cube", ".png", ".tif", ".tiff")
#: ``restorekit.film.lut.INTERPOLATIONS``, spelled here so that the parser imports no torch
INTERPOLATIONS = ("tetrahedral", "trilinear")

FILM_GRAIN = ("learned", "boolean", "gaussian", "av1", "none")


def register(sub: Subparsers) -> None:
    """Add ``look`` (with ``apply``, ``fit``, ``convert``) and ``film`` to the subcommands."""
    from restorekit.cli._common import _Parser

    look = sub.add_parser(
        "look", help="film looks as 3D LUTs: apply a .cube or Hald CLUT, fit one, convert"
    )
    actions = look.add_subparsers(
        dest="look_command", metavar="ACTION", parser_class=_Parser, required=True
    )
    p = actions.add_parser(
        "apply",
        help="apply a look (.cube or Hald CLUT image) to an image or a folder",
        description="The look maps sRGB-encoded colours (as the image file holds them).",
    )
    _add_io(p)
    p.add_argument("--look", required=True, help="a .cube file or a Hald CLUT image")
    _add_look_options(p, INTERPOLATIONS)
    p.set_defaults(func=cmd_look_apply)

    p = actions.add_parser(
        "fit",
        help="learn a 3D LUT from example pairs (before, after) -> .cube",
        description="Fit a size^3 LUT to every pixel of the pairs: BEFORE_DIR and AFTER_DIR hold "
        "images with the same names (the suffix may differ: a.jpg pairs with a.png) and sizes. "
        "Regularised least squares with Zeng et al.'s smoothness and monotonicity terms.",
    )
    p.add_argument(
        "--pairs", nargs=2, required=True, metavar=("BEFORE_DIR", "AFTER_DIR"), help="folders"
    )
    p.add_argument("--out", required=True, help="the look to write: .cube, or a Hald .png/.tif")
    p.add_argument("--size", type=int, default=33, help="LUT entries per axis (default 33)")
    p.add_argument(
        "--method",
        default="tetrahedral",
        help=f"the interpolation it will be applied with: {', '.join(INTERPOLATIONS)}",
    )
    p.add_argument("--smoothness", type=float, default=1e-6, help="lambda_s (default 1e-6)")
    p.add_argument("--monotonicity", type=float, default=1.0, help="lambda_m (default 1)")
    p.set_defaults(func=cmd_look_fit)

    p = actions.add_parser(
        "convert",
        help="convert between .cube and Hald CLUT images",
        description="A .cube whose size is not a square L^2 (or with a shaper) is resampled "
        "(tetrahedral) onto the Hald level given by --level.",
    )
    p.add_argument("input", help="a .cube file or a Hald CLUT image")
    p.add_argument("output", help=".cube, or a Hald image .png / .tif")
    p.add_argument("--level", type=int, default=None, help="Hald level (default: as needed)")
    p.add_argument("--bits", type=int, choices=(8, 16), default=16, help="Hald bits (default 16)")
    p.set_defaults(func=cmd_look_convert)

    p = sub.add_parser(
        "film",
        help="digital to film: a look, then film tone, then grain",
        description="All in sRGB-encoded values: the look (a .cube or Hald CLUT), the tone "
        "preset (cross-talk and halation in linear light, then the characteristic curve), then "
        "grain (default: the learned engine; lengths in pixels).",
    )
    _add_io(p)
    p.add_argument("--look", default=None, help="a .cube file or a Hald CLUT image (optional)")
    _add_look_options(p, INTERPOLATIONS)
    p.add_argument("--tone", default="neutral", help="a tone preset (default neutral: none)")
    p.add_argument("--grain", default="learned", help=f"one of {', '.join(FILM_GRAIN)}")
    add_boolean_grain_options(p)
    p.add_argument("--table", default=None, help="--grain av1: an aomenc film grain table")
    p.add_argument(
        "--grain-amount",
        type=float,
        default=0.35,
        help="how much of the rendered grain to keep, 0..1 (default 0.35)",
    )
    p.add_argument("--seed", type=int, default=0, help="grain seed (default 0)")
    p.set_defaults(func=cmd_film, samples=800, zoom=1.0)


def _add_look_options(p: argparse.ArgumentParser, methods: tuple[str, ...]) -> None:
    p.add_argument(
        "--strength", type=float, default=1.0, help="blend with the input, 0..1 (default 1)"
    )
    p.add_argument(
        "--method", dest="interp", default="tetrahedral", help=f"one of {', '.join(methods)}"
    )


def _check_look_options(args: argparse.Namespace) -> None:
    from restorekit.cli._common import _check_method

    if not 0 <= args.strength <= 1:
        raise RestorekitError(f"--strength must be in [0, 1], got {args.strength:g}")
    _check_method(args.interp, INTERPOLATIONS, "LUT interpolation")


def _read_look(path: str):
    from restorekit.film.lut import read_lut

    return read_lut(path)


def _rgb(x, src) -> None:
    if x.shape[1] != 3:
        raise RestorekitError(f"'{src}' has {x.shape[1]} channel(s); looks need an RGB image")


def cmd_look_apply(args: argparse.Namespace) -> None:
    """``restorekit look apply IN OUT --look FILE [--strength S]``."""
    from restorekit.film.lut import apply_lut

    _check_look_options(args)
    lut = _read_look(args.look)

    def run(x, src):
        _rgb(x, src)
        return apply_lut(x, lut, args.interp, args.strength)

    _process(args, run)


def _check_lut_output(path: str) -> None:
    from pathlib import Path

    p = Path(path)
    if p.suffix.lower() not in LUT_SUFFIXES:
        raise RestorekitError(
            f"'{p}': a look is written as {', '.join(LUT_SUFFIXES)}, not {p.suffix or '(none)'}"
        )
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise RestorekitError(f"cannot write '{p}': folder '{folder}' does not exist")


def _write_look(path: str, lut, level: int | None = None, bits: int = 16) -> None:
    from pathlib import Path

    from restorekit.film.lut import write_cube, write_hald

    if Path(path).suffix.lower() == ".cube":
        write_cube(path, lut)
    else:
        write_hald(path, lut, level=level, bits=bits)


def cmd_look_fit(args: argparse.Namespace) -> None:
    """``restorekit look fit --pairs BEFORE AFTER --out LOOK.cube``."""
    from pathlib import Path

    from restorekit.film.look_fit import colour_samples, fit_lut
    from restorekit.io import list_images, read_image

    _check_lut_output(args.out)
    before_dir, after_dir = (Path(d) for d in args.pairs)
    before = list_images(before_dir)
    after = {p.stem: p for p in list_images(after_dir)}  # by name: 1.jpg pairs with 1.png
    missing = [p.name for p in before if p.stem not in after]
    if missing:
        raise RestorekitError(
            f"'{after_dir}' has no image named like {missing[0]!r} ({len(missing)} of "
            f"{len(before)} before images have no after image of the same name)"
        )

    def pairs():
        for p in before:
            x, y = read_image(p), read_image(after[p.stem])
            _rgb(x, p)
            _rgb(y, after[p.stem])
            if x.shape != y.shape:
                raise RestorekitError(
                    f"'{p.name}': before is {x.shape[-1]}x{x.shape[-2]}, after is "
                    f"{y.shape[-1]}x{y.shape[-2]}"
                )
            yield x, y

    samples = colour_samples(pairs())
    fit = fit_lut(
        samples,
        size=args.size,
        method=args.method,
        smoothness=args.smoothness,
        monotonicity=args.monotonicity,
        progress=lambda line: print(line, file=sys.stderr),
    )
    _write_look(args.out, fit.lut)
    print(
        f"fitted a {args.size}^3 LUT to {len(before)} pairs in {fit.seconds:.1f} s: RMSE "
        f"{fit.rmse * 255:.2f} / 255, {fit.decreasing} decreasing steps; wrote {args.out}"
    )


def cmd_look_convert(args: argparse.Namespace) -> None:
    """``restorekit look convert IN OUT``: .cube <-> Hald CLUT image."""
    _check_lut_output(args.output)
    lut = _read_look(args.input)
    _write_look(args.output, lut, level=args.level, bits=args.bits)


def cmd_film(args: argparse.Namespace) -> None:
    """``restorekit film IN OUT [--look F] [--tone P] [--grain E]``."""
    import torch

    from restorekit.cli.grain import _boolean_params, _check_render_args, _render
    from restorekit.film.pipeline import film_pipeline
    from restorekit.film.tone import tone_preset

    _check_look_options(args)
    if not 0 <= args.grain_amount <= 1:
        raise RestorekitError(f"--grain-amount must be in [0, 1], got {args.grain_amount:g}")
    if args.grain not in FILM_GRAIN:
        from restorekit._checks import closest_names

        known = ", ".join(closest_names(args.grain, list(FILM_GRAIN)))
        raise RestorekitError(f"unknown --grain {args.grain!r}; known: {known}")
    tone = tone_preset(args.tone)
    lut = _read_look(args.look) if args.look is not None else None
    av1 = None
    if args.grain != "none":
        args.engine = args.grain
        try:
            _check_render_args(args)
        except RestorekitError as e:  # name this command's flag
            raise RestorekitError(str(e).replace("--engine", "--grain")) from None
        if args.grain == "av1":
            from restorekit.film.av1 import read_grain_table

            av1 = read_grain_table(args.table)[0].params
        _boolean_params(args, 3)  # the grain parameters fail before any work
    elif args.table is not None:
        raise RestorekitError("--table needs --grain av1")

    def run(x, src):
        _rgb(x, src)
        grain = None
        if args.grain != "none":
            generator = torch.Generator().manual_seed(args.seed)
            params = _boolean_params(args, 3)
            grain = lambda t: _render(  # noqa: E731
                args.grain, t, params, av1, generator, 1.0, None
            )
        return film_pipeline(x, lut, args.strength, tone, grain, args.interp, args.grain_amount)

    _process(args, run)
