"""``restorekit upscale``: super-resolution, learned (the shipped models or a model file) or
classical (MATLAB-compatible bicubic, nearest neighbour)."""

from __future__ import annotations

import argparse

from restorekit.cli._common import (
    MAX_OUTPUT_MEGAPIXELS,
    Subparsers,
    _add_io,
    _add_max_megapixels,
    _check_method,
    _check_output_megapixels,
    _process,
)
from restorekit.errors import RestorekitError

TYPE_CHECKING = False  # typing.TYPE_CHECKING without importing typing: the CLI must start fast
if TYPE_CHECKING:
    from pathlib import Path

    import torch
    from torch import nn

__all__ = ["MAX_OUTPUT_MEGAPIXELS", "UPSCALE_METHODS", "register"]

UPSCALE_METHODS = ("learned", "bicubic", "nearest")

#: ``--model`` short names -> shipped models
SHORT_NAMES = {"x2": "sr-x2", "x3": "sr-x3", "x4": "sr-x4"}


def register(sub: Subparsers) -> None:
    """Add ``upscale`` to the subcommands ``sub``."""
    p = sub.add_parser(
        "upscale",
        help="enlarge an image (learned super-resolution, or bicubic / nearest)",
        description=(
            "Learned by default: the shipped upscaler of --scale (2, 3, 4; trained on MATLAB-"
            "bicubic downscaling), or a model file. "
            "--method bicubic | nearest take any scale >= 1."
        ),
    )
    _add_io(p)
    p.add_argument(
        "--scale", type=float, default=None, help="magnification, e.g. 2 or 4 (a model's own)"
    )
    p.add_argument("--method", default="learned", help=f"one of {', '.join(UPSCALE_METHODS)}")
    p.add_argument(
        "--model",
        default=None,
        help=f"learned: a shipped model ({', '.join(SHORT_NAMES)}) or a model file",
    )
    _add_max_megapixels(p)
    p.set_defaults(func=cmd_upscale)


def _learned_model(model: str | None, scale: float | None) -> nn.Module:
    """The network ``--model`` / ``--scale`` name, checked against each other."""
    from pathlib import Path

    from restorekit.models.sr import SHIPPED_SCALES, load_upscaler

    if scale is not None and scale != int(scale):
        raise RestorekitError(
            f"--scale {scale:g}: learned models upscale by an integer; use --method bicubic "
            "for other factors"
        )
    if model is None:
        if scale is None:
            raise RestorekitError("give --scale (the shipped upscalers: 2, 3, 4)")
        if int(scale) not in SHIPPED_SCALES:
            have = ", ".join(str(s) for s in SHIPPED_SCALES)
            raise RestorekitError(
                f"no shipped upscaler for --scale {scale:g}; the shipped scales: {have} "
                "(--method bicubic takes any)"
            )
        return load_upscaler(int(scale))
    if model in SHORT_NAMES:
        from restorekit.models.pretrained import load_pretrained

        net = load_pretrained(SHORT_NAMES[model])
    elif Path(model).is_file():
        from restorekit.models.weights import load_model

        net, meta = load_model(model, expect="srnet")
    else:
        raise RestorekitError(
            f"--model {model!r}: no shipped upscaler of that name ({', '.join(SHORT_NAMES)}) "
            "and no such file"
        )
    if scale is not None and int(scale) != net.scale:
        raise RestorekitError(
            f"--scale {scale:g}: the model {model} was trained for x{net.scale} only"
        )
    return net


def cmd_upscale(args: argparse.Namespace) -> None:
    """``restorekit upscale IN OUT --scale S [--method M] [--model NAME|FILE]``."""
    from restorekit._checks import check_positive

    _check_method(args.method, UPSCALE_METHODS, "upscale")
    scale = args.scale
    if scale is not None:
        scale = check_positive(scale, "--scale", allow_zero=False)
    check_positive(args.max_megapixels, "--max-megapixels", allow_zero=False)  # before any work
    if args.method == "learned":
        net = _learned_model(args.model, scale)
        scale = net.scale
    elif args.model is not None:
        raise RestorekitError("--model needs --method learned")
    elif scale is None:
        raise RestorekitError("give --scale")
    elif scale < 1:
        raise RestorekitError(f"--scale must be >= 1 to enlarge, got {scale:g}")

    def fn(x: torch.Tensor, src: Path) -> torch.Tensor:
        import math

        H, W = x.shape[-2:]
        size = (math.ceil(H * scale), math.ceil(W * scale))
        _check_output_megapixels(args, src, *size, f"the x{scale:g} output")
        if args.method == "learned":
            from restorekit.models.sr import upscale_learned

            if x.shape[1] != net.in_channels:
                if x.shape[1] != 1 or net.in_channels != 3:
                    raise RestorekitError(
                        f"'{src}' has {x.shape[1]} channels; the model takes {net.in_channels}"
                    )
                # a gray image through an RGB model: its three equal channels, back to one
                return upscale_learned(x.expand(-1, 3, -1, -1), model=net).mean(1, True).clamp(0, 1)
            return upscale_learned(x, model=net).clamp(0, 1)
        from restorekit.classical.upscale import UPSCALERS

        return UPSCALERS[args.method](x.double(), scale).clamp(0, 1)

    _process(args, fn)
