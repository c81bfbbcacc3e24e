"""``restorekit grain render|estimate|analyze``: film grain synthesis, estimation and analysis."""

from __future__ import annotations

import argparse
import sys

from restorekit.cli._common import (
    Subparsers,
    _add_max_megapixels,
    _check_output_file,
    _check_output_megapixels,
)
from restorekit.errors import RestorekitError

TYPE_CHECKING = False
if TYPE_CHECKING:
    import torch

__all__ = ["GRAIN_ENGINES", "register"]

GRAIN_ENGINES = ("boolean", "gaussian", "av1", "learned", "boolean-reference")
RESIDUAL_METHODS = ("gaussian", "denoiser", "bm3d")


def register(sub: Subparsers) -> None:
    """Add ``grain`` (with ``render``, ``estimate`` and ``analyze``) to the subcommands ``sub``."""
    from restorekit.cli._common import _Parser

    grain = sub.add_parser(
        "grain", help="film grain: render it on an image, estimate it from a scan, analyze it"
    )
    actions = grain.add_subparsers(
        dest="grain_command", metavar="ACTION", parser_class=_Parser, required=True
    )

    p = actions.add_parser(
        "render",
        help="add film grain to an image",
        description="Add film grain. Lengths are in input pixels; a comma list gives one value "
        "per channel (R,G,B), e.g. --radius 0.4,0.45,0.6.",
    )
    p.add_argument("input", help="an image file (gray or RGB)")
    p.add_argument("output", help="the output image")
    p.add_argument(
        "--engine",
        default="boolean",
        help="boolean (default: Newson et al. 2017, fast grain-wise renderer), gaussian "
        "(filtered noise with the Boolean model's spectrum and variance), av1 (AV1 film grain "
        "synthesis from --table), learned (the shipped CNN), boolean-reference (the paper's "
        "pixel-wise Monte Carlo algorithm; slow)",
    )
    add_boolean_grain_options(p)
    p.add_argument(
        "--samples",
        type=int,
        default=800,
        help="Monte Carlo samples N of --engine boolean-reference (default 800)",
    )
    p.add_argument("--zoom", type=float, default=1.0, help="output size / input size (default 1)")
    p.add_argument(
        "--amount",
        type=float,
        default=1.0,
        help="how much of the rendered grain to keep, 0..1 (default 1: all of it)",
    )
    p.add_argument("--table", default=None, help="--engine av1: an aomenc film grain table")
    p.add_argument(
        "--seed",
        type=int,
        default=None,
        help="random seed (default 0; for --engine av1 the default is the seed an aomenc stream "
        "of --table carries, so the result equals what a decoder shows)",
    )
    p.add_argument(
        "--bits",
        type=int,
        choices=(8, 16),
        default=None,
        help="output bit depth (default: input's)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    _add_max_megapixels(p)
    p.set_defaults(func=cmd_grain_render)

    p = actions.add_parser(
        "estimate",
        help="fit grain models (Boolean, Gaussian curves, AV1 table) to a grainy scan",
    )
    p.add_argument("scan", help="a grainy image (gray or RGB) with some flat regions")
    p.add_argument("--table", default=None, metavar="OUT.tbl", help="write the fitted AV1 table")
    p.add_argument("--json", default=None, metavar="OUT.json", help="write every fit as JSON")
    p.add_argument(
        "--denoiser",
        default="gaussian",
        help=f"how flat blocks are found: one of {', '.join(RESIDUAL_METHODS)} (default gaussian)",
    )
    p.add_argument("--block", type=int, default=32, help="flat-block size, pixels (default 32)")
    p.set_defaults(func=cmd_grain_estimate)

    p = actions.add_parser(
        "analyze", help="measure an image's grain: spectra, variance curves, masks -> HTML page"
    )
    p.add_argument("image", help="a grainy image (gray or RGB)")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the report (created)")
    p.add_argument(
        "--denoiser",
        default="gaussian",
        help=f"residual = image - denoised: one of {', '.join(RESIDUAL_METHODS)} "
        "(default gaussian)",
    )
    p.add_argument("--block", type=int, default=32, help="flat-block size, pixels (default 32)")
    p.set_defaults(func=cmd_grain_analyze)


def add_boolean_grain_options(p: argparse.ArgumentParser) -> None:
    """``--radius``, ``--radius-sigma`` and ``--blur``: the Boolean model's parameters (read by
    :func:`_boolean_params`), for ``grain render`` and ``film``."""
    p.add_argument("--radius", default="0.5", help="mean grain radius mu_r, pixels (default 0.5)")
    p.add_argument(
        "--radius-sigma",
        default="0",
        help="std of a log-normal radius sigma_r, pixels (default 0: constant radius)",
    )
    p.add_argument("--blur", default="0.8", help="Gaussian filter sigma_f, pixels (default 0.8)")


def _per_channel(text: str, name: str, channels: int) -> list[float]:
    """``--radius 0.5`` or ``--radius 0.4,0.5,0.6`` -> one float per channel."""
    try:
        values = [float(v) for v in str(text).split(",")]
    except ValueError:
        raise RestorekitError(f"{name} must be a number or a comma list, got {text!r}") from None
    if len(values) == 1:
        return values * channels
    if len(values) != channels:
        raise RestorekitError(f"{name} has {len(values)} values; the image has {channels} channels")
    return values


def _boolean_params(args: argparse.Namespace, channels: int) -> list:
    from restorekit.errors import RestorekitError as Err
    from restorekit.film.boolean import BooleanGrain

    radius = _per_channel(args.radius, "--radius", channels)
    spread = _per_channel(args.radius_sigma, "--radius-sigma", channels)
    blur = _per_channel(args.blur, "--blur", channels)
    out = []
    for r, s, b in zip(radius, spread, blur, strict=True):
        try:
            out.append(BooleanGrain(radius=r, radius_sigma=s, blur=b, samples=args.samples))
        except Err as e:  # name the flag, not the field
            msg = str(e).replace("radius_sigma", "--radius-sigma").replace("samples", "--samples")
            msg = msg.replace("radius must", "--radius must").replace("blur must", "--blur must")
            raise RestorekitError(msg) from None
    return out


def _progress_bar(total: int, quiet: bool, what: str):
    from tqdm import tqdm

    return tqdm(
        total=total,
        desc=what,
        unit="row",
        disable=quiet or not sys.stderr.isatty(),
        dynamic_ncols=True,
    )


def _check_render_args(args: argparse.Namespace) -> None:
    if args.engine not in GRAIN_ENGINES:
        from restorekit._checks import closest_names

        known = ", ".join(closest_names(args.engine, list(GRAIN_ENGINES)))
        raise RestorekitError(f"unknown grain engine {args.engine!r}; known: {known}")
    if args.samples < 1:
        raise RestorekitError(f"--samples must be >= 1, got {args.samples}")
    amount = getattr(args, "amount", 1.0)
    if not 0 <= amount <= 1:
        raise RestorekitError(f"--amount must be in [0, 1], got {amount:g}")
    if not args.zoom > 0 or args.zoom != args.zoom or args.zoom == float("inf"):
        raise RestorekitError(f"--zoom must be a finite number > 0, got {args.zoom:g}")
    if args.engine == "av1":
        if args.table is None:
            raise RestorekitError("--engine av1 needs --table T.tbl (an aomenc film grain table)")
        if args.zoom != 1:
            raise RestorekitError("--engine av1 renders at the frame's size: --zoom must be 1")
    elif args.table is not None:
        raise RestorekitError("--table needs --engine av1")


def cmd_grain_render(args: argparse.Namespace) -> None:
    """``restorekit grain render IN OUT --engine E``: add film grain."""
    from pathlib import Path

    import torch

    from restorekit.io import attach_alpha, read_image_with_depth, write_image

    _check_render_args(args)
    dst = Path(args.output)
    _check_output_file(dst)
    av1_params = None
    if args.engine == "av1":
        from restorekit.film.av1 import read_grain_table

        table = read_grain_table(args.table)
        entries = [e for e in table if e.params.update_parameters or e is table[0]]
        av1_params = entries[0].params
    x, bits = read_image_with_depth(args.input, mode="alpha")
    alpha = None
    if x.shape[1] == 4:  # grain on RGB, the alpha plane carried through
        x, alpha = x[:, :3], x[:, 3:]
    size = (max(1, round(x.shape[-2] * args.zoom)), max(1, round(x.shape[-1] * args.zoom)))
    _check_output_megapixels(args, args.input, *size, f"the --zoom {args.zoom:g} output")
    C = x.shape[1]
    if C not in (1, 3):
        raise RestorekitError(f"'{args.input}' has {C} channels; grain needs gray or RGB")
    generator = torch.Generator().manual_seed(args.seed or 0)
    params = _boolean_params(args, C) if av1_params is None else None
    if av1_params is not None:
        import dataclasses

        from restorekit.film.av1 import aomenc_stream_seed

        seed = aomenc_stream_seed(av1_params.random_seed) if args.seed is None else args.seed
        if not 0 <= seed < 65536:
            raise RestorekitError(f"--seed for --engine av1 must be in 0..65535, got {seed}")
        av1_params = dataclasses.replace(av1_params, random_seed=seed)
        generator = None
    out_rows = max(1, round(x.shape[-2] * args.zoom)) * C
    with _progress_bar(out_rows, args.quiet, f"grain ({args.engine})") as bar:
        y = _render(args.engine, x, params, av1_params, generator, args.zoom, bar.update)
    if args.amount != 1:
        from restorekit.film.pipeline import blend_grain

        y = blend_grain(x, y, args.amount)
    y = attach_alpha(y, alpha)
    out_bits = 8 if dst.suffix.lower() in (".jpg", ".jpeg") else (args.bits or bits)
    write_image(dst, y, bits=out_bits)


def _render(engine, x, params, av1_params, generator, zoom, progress) -> torch.Tensor:
    from restorekit.film.pipeline import render_grain

    if engine == "gaussian" and any(p.radius_sigma for p in params):
        raise RestorekitError(
            "--engine gaussian takes its curves from a constant-radius Boolean model: "
            "--radius-sigma must be 0"
        )
    return render_grain(engine, x, params, generator, zoom, progress, av1_params)


def _read_gray_or_rgb(path: str) -> torch.Tensor:
    from restorekit.io import read_image

    x = read_image(path)
    if x.shape[1] not in (1, 3):
        raise RestorekitError(f"'{path}' has {x.shape[1]} channels; grain needs gray or RGB")
    return x


def _check_block(block: int) -> None:
    if block < 8:
        raise RestorekitError(f"--block must be >= 8 pixels, got {block}")


def _check_residual_method(name: str) -> None:
    if name not in RESIDUAL_METHODS:
        from restorekit._checks import closest_names

        known = ", ".join(closest_names(name, list(RESIDUAL_METHODS)))
        raise RestorekitError(f"unknown --denoiser {name!r}; known: {known}")


def cmd_grain_estimate(args: argparse.Namespace) -> None:
    """``restorekit grain estimate SCAN [--table OUT.tbl] [--json OUT.json]``: print the fits."""
    import json
    from pathlib import Path

    from restorekit.film.estimate import estimate_grain
    from restorekit.io.files import atomic_write

    _check_residual_method(args.denoiser)
    _check_block(args.block)
    for out in (args.table, args.json):
        if out is not None and not Path(out).resolve().parent.is_dir():
            raise RestorekitError(f"cannot write '{out}': its folder does not exist")
    x = _read_gray_or_rgb(args.scan)
    result = estimate_grain(x, block=args.block, method=args.denoiser)
    print(result.summary())
    if args.table is not None:
        from restorekit.film.av1 import GrainTableEntry, write_grain_table

        write_grain_table(args.table, [GrainTableEntry(params=result.av1)])
        print(f"wrote {args.table}")
    if args.json is not None:
        atomic_write(args.json, json.dumps(result.to_dict(), indent=2) + "\n")
        print(f"wrote {args.json}")


def cmd_grain_analyze(args: argparse.Namespace) -> None:
    """``restorekit grain analyze IMG --out DIR``: plots and an HTML page of the grain."""
    from pathlib import Path

    from restorekit.film.analysis import analyze_grain, grain_residual, write_grain_report

    _check_residual_method(args.denoiser)
    _check_block(args.block)
    x = _read_gray_or_rgb(args.image)
    _, residual = grain_residual(x, method=args.denoiser)
    analysis = analyze_grain(x, residual, block=args.block, method=args.denoiser)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    page = write_grain_report(analysis, x, residual, out)
    print(f"open {page} in a browser")
