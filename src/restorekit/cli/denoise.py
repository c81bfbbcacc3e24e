"""``restorekit noise``, ``denoise``, ``calibrate`` and ``dni``: Gaussian noise, in and out."""

from __future__ import annotations

import argparse

from restorekit.cli._common import (
    Subparsers,
    _add_io,
    _check_method,
    _parse_level_or_auto,
    _process,
    _sigma01,
)
from restorekit.errors import RestorekitError

# typing.TYPE_CHECKING without importing typing: the CLI must start fast.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path
    from typing import Any

    import torch

__all__ = ["DENOISE_METHODS", "register"]

DENOISE_METHODS = ("bm3d", "nlm-opencv", "nlm-skimage", "tv")


def register(sub: Subparsers) -> None:
    """Add ``noise``, ``denoise``, ``calibrate`` and ``dni`` to the subcommands ``sub``."""
    p = sub.add_parser("noise", help="add white Gaussian noise (sigma on the 0..255 scale)")
    _add_io(p)
    p.add_argument(
        "--sigma", type=float, required=True, help="noise standard deviation, 0..255 scale"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed")
    p.set_defaults(func=cmd_noise)

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
        "--model",
        default=None,
        help="learned only: a shipped model's name (oct: retinal OCT B-scans, blind) or a trained "
        "denoiser model file (.safetensors)",
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
    p.set_defaults(func=cmd_denoise)

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
    p.set_defaults(func=cmd_calibrate)

    p = sub.add_parser("dni", help="deep network interpolation: one model file from two")
    p.add_argument("level0", help="the model file for level 0")
    p.add_argument("level1", help="the model file for level 1 (same network, fine-tuned)")
    p.add_argument("output", help="the DNI model file to write (.safetensors)")
    p.set_defaults(func=cmd_dni)


def cmd_noise(args: argparse.Namespace) -> None:
    """``restorekit noise IN OUT --sigma S --seed N``: add clipped Gaussian noise."""
    import torch

    from restorekit.degrade import add_gaussian_noise

    s = _sigma01(args.sigma)
    g = torch.Generator().manual_seed(args.seed)
    _process(args, lambda x, src: add_gaussian_noise(x, s, generator=g, clip=True))


def _parse_sigma(value: str | None) -> float | str | None:
    """``--sigma``: a number on the 0..255 scale, or ``auto``."""
    sigma = _parse_level_or_auto(value, "--sigma")
    if isinstance(sigma, float):
        _sigma01(sigma)
    return sigma


def cmd_denoise(args: argparse.Namespace) -> None:
    """``restorekit denoise IN OUT --sigma S|auto|--level A [--method M] [--ensemble N]``."""
    from restorekit.classical.denoise import DENOISERS

    sigma = _parse_sigma(args.sigma)
    methods = ("learned", *DENOISERS)
    _check_method(args.method, methods, "denoise")
    learned = args.method == "learned"
    for flag, given in (("--model", args.model is not None), ("--ensemble", args.ensemble > 1)):
        if given and not learned:
            raise RestorekitError(f"{flag} needs --method learned")
    custom = _resolve_model(args.model) if args.model is not None else None
    blind = custom is not None and _is_blind(custom[0], custom[1])
    if blind:
        if sigma is not None or args.level is not None:
            raise RestorekitError(
                f"the model {args.model} is blind (it estimates the noise itself): "
                "drop --sigma/--level"
            )
        args.level = 0.0
    elif args.level is not None:
        if not learned:
            raise RestorekitError("--level needs --method learned (classical methods take --sigma)")
        if sigma is not None:
            raise RestorekitError("give --sigma or --level, not both")
        if not 0 <= args.level <= 1:
            raise RestorekitError(f"--level (alpha) must be in [0, 1], got {args.level:g}")
    elif sigma is None:
        raise RestorekitError(
            "give the noise level: --sigma S (0..255), --sigma auto, or --level A"
        )

    def fn(x: torch.Tensor, src: Path) -> torch.Tensor:
        from restorekit.tasks.denoise import auto_sigma, denoise_image

        if x.shape[1] not in (1, 3):
            raise RestorekitError(f"'{src}' has {x.shape[1]} channels; denoise needs gray or RGB")
        s = sigma
        if s == "auto":
            s = auto_sigma(x)
            print(
                f"{src.name}: estimated noise sigma {s:.2f} (0..255; patch PCA, Chen et al. 2015)"
            )
        model, cal = custom if custom is not None else (None, None)
        if learned and model is not None and model.in_channels != x.shape[1]:
            raise RestorekitError(
                f"'{src}' has {x.shape[1]} channel(s); the model takes {model.in_channels}"
            )
        return denoise_image(x, s, args.method, model, cal, args.level, args.ensemble)

    _process(args, fn)


def _resolve_model(name: str) -> tuple[Any, Any]:
    """``--model``: a shipped denoiser's name, or a model file."""
    from pathlib import Path

    from restorekit.models.control import load_denoiser
    from restorekit.models.pretrained import PRETRAINED

    if name in PRETRAINED:
        from restorekit.models.pretrained import load_shipped_denoiser

        return load_shipped_denoiser(name)
    if not Path(name).is_file():
        from restorekit._checks import closest_names

        known = ", ".join(closest_names(name, [k for k in PRETRAINED if k in _DENOISERS]))
        raise RestorekitError(
            f"--model {name!r} names no shipped model (known: {known}) and no file"
        )
    return load_denoiser(name)


#: the shipped models that are denoisers
_DENOISERS = ("oct", "denoise-gray", "denoise-color")


def _is_blind(model: Any, calibration: Any) -> bool:
    """A denoiser that takes no noise level: not conditional, not modulated, no calibration."""
    return (
        calibration is None
        and not getattr(model, "conditional", False)
        and model.registry_name not in ("modulated", "dni")
    )


def cmd_calibrate(args: argparse.Namespace) -> None:
    """``restorekit calibrate MODEL --data FOLDER --sigma LO HI``: fit and store sigma -> level."""
    import json

    from safetensors.torch import save

    from restorekit.data import ImageBank
    from restorekit.io.files import atomic_write
    from restorekit.models.control import (
        calibrate_levels,
        center_crop,
        load_denoiser,
        sigma_grid,
    )
    from restorekit.models.weights import read_safetensors

    lo, hi = (float(v) for v in args.sigma)
    if not 0 < lo < hi <= 255:
        raise RestorekitError(f"--sigma needs LO HI with 0 < LO < HI <= 255, got {lo:g} {hi:g}")
    model, _ = load_denoiser(args.model)
    mode = "gray" if model.in_channels == 1 else "rgb"
    if args.holdout:
        bank = ImageBank(args.data, mode=mode, holdout=args.holdout, split="holdout")
    else:
        bank = ImageBank(args.data, mode=mode)
    crops = [center_crop(x[None], args.crop) for x in bank.images]
    grid = sigma_grid(lo, hi)
    cal = calibrate_levels(
        model, crops, grid, source=f"{len(crops)} crops of {args.data}", progress=print
    )
    tensors, meta = read_safetensors(args.model)
    meta["calibration"] = json.dumps(cal.to_dict())
    out = args.out or args.model
    atomic_write(out, save(tensors, metadata=meta))
    print(f"wrote the calibration ({len(grid)} sigmas, {lo:g}-{hi:g}) into {out}")


def cmd_dni(args: argparse.Namespace) -> None:
    """``restorekit dni LEVEL0 LEVEL1 OUT``: a deep-network-interpolation model from two files."""
    from restorekit.models import save_model
    from restorekit.models.modulation import dni_from_files

    net = dni_from_files(args.level0, args.level1)
    save_model(args.output, net, {"dni": [str(args.level0), str(args.level1)]})
    print(f"wrote {args.output}; calibrate it with `restorekit calibrate {args.output} ...`")
