"""The subcommands. Each parses nothing: it takes the parsed arguments, builds objects and calls
the library. Heavy libraries are imported inside the command that needs them."""

from __future__ import annotations

import argparse
import shlex
import sys
from collections.abc import Callable
from pathlib import Path

import torch

from restorekit._checks import check_positive, closest_names
from restorekit.errors import RestorekitError
from restorekit.io import IMAGE_SUFFIXES, list_images, read_image_with_depth, write_image


def _check_method(name: str, known: dict | tuple, what: str) -> None:
    if name not in known:
        raise RestorekitError(
            f"unknown {what} method {name!r}; known: {', '.join(closest_names(name, list(known)))}"
        )


def _jobs(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    """(input, output) file pairs: one file, or every image of a folder into an output folder."""
    src, dst = Path(args.input), Path(args.output)
    if src.is_dir():
        files = list_images(src)
        if dst.exists() and not dst.is_dir():
            raise RestorekitError(f"'{dst}': input is a folder, so the output must be a folder")
        dst.mkdir(parents=True, exist_ok=True)
        return [(f, dst / f.name) for f in files]
    _check_output_file(dst)
    return [(src, dst)]


def _check_output_file(dst: Path) -> None:
    """Fail before any work if ``dst`` is not a writable image path."""
    if dst.suffix.lower() not in IMAGE_SUFFIXES:
        raise RestorekitError(
            f"'{dst}': unsupported output type {dst.suffix or '(none)'}; use one of "
            f"{', '.join(IMAGE_SUFFIXES)}"
        )
    folder = dst.parent if str(dst.parent) else Path(".")
    if not folder.is_dir():
        raise RestorekitError(f"cannot write '{dst}': folder '{folder}' does not exist")


def _process(args: argparse.Namespace, fn: Callable[[torch.Tensor, Path], torch.Tensor]) -> None:
    """Read each input, apply ``fn``, write atomically at the input's bit depth (or --bits)."""
    from tqdm import tqdm

    jobs = _jobs(args)
    show = len(jobs) > 1 and sys.stderr.isatty()
    for src, dst in tqdm(jobs, desc=args.command, unit="image", disable=not show):
        x, bits = read_image_with_depth(src)
        y = fn(x, src)
        out_bits = args.bits or bits
        if dst.suffix.lower() in (".jpg", ".jpeg"):
            out_bits = 8
        write_image(dst, y, bits=out_bits)


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


def _sigma01(sigma: float) -> float:
    s = check_positive(sigma, "--sigma", allow_zero=False)
    if s > 255:
        raise RestorekitError(f"--sigma is on the 0..255 scale and must be <= 255, got {sigma}")
    return s / 255


def cmd_noise(args: argparse.Namespace) -> None:
    """``restorekit noise IN OUT --sigma S --seed N``: add clipped Gaussian noise."""
    from restorekit.degrade import add_gaussian_noise

    s = _sigma01(args.sigma)
    g = torch.Generator().manual_seed(args.seed)
    _process(args, lambda x, src: add_gaussian_noise(x, s, generator=g, clip=True))


def _parse_sigma(value: str | None) -> float | str | None:
    """``--sigma``: a number on the 0..255 scale, or ``auto``."""
    if value is None or value == "auto":
        return value
    try:
        sigma = float(value)
    except ValueError:
        raise RestorekitError(
            f"--sigma must be a number (0..255 scale) or 'auto', got {value!r}"
        ) from None
    _sigma01(sigma)
    return sigma


def cmd_denoise(args: argparse.Namespace) -> None:
    """``restorekit denoise IN OUT --sigma S|auto|--level A [--method M] [--ensemble N]``."""
    from restorekit.classical.denoise import DENOISERS

    sigma = _parse_sigma(args.sigma)
    methods = ("learned", *DENOISERS)
    _check_method(args.method, methods, "denoise")
    learned = args.method == "learned"
    if args.level is not None:
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
    for flag, given in (("--model", args.model is not None), ("--ensemble", args.ensemble > 1)):
        if given and not learned:
            raise RestorekitError(f"{flag} needs --method learned")
    custom = None
    if args.model is not None:
        from restorekit.models.control import load_denoiser

        custom = load_denoiser(args.model)

    def fn(x: torch.Tensor, src: Path) -> torch.Tensor:
        if x.shape[1] not in (1, 3):
            raise RestorekitError(f"'{src}' has {x.shape[1]} channels; denoise needs gray or RGB")
        s = sigma
        if s == "auto":
            from restorekit.classical.noise_level import estimate_noise_sigma

            s = float(estimate_noise_sigma(x.double())[0]) * 255
            print(
                f"{src.name}: estimated noise sigma {s:.2f} (0..255; patch PCA, Chen et al. 2015)"
            )
            s = min(max(s, 0.5), 255.0)
        if not learned:
            return DENOISERS[args.method](x.double(), s / 255).clamp(0, 1)
        from restorekit.models.control import denoise_learned
        from restorekit.models.pretrained import load_pretrained_denoiser

        model, cal = custom if custom is not None else load_pretrained_denoiser(x.shape[1])
        if model.in_channels != x.shape[1]:
            raise RestorekitError(
                f"'{src}' has {x.shape[1]} channel(s); the model takes {model.in_channels}"
            )
        steer = {"level": args.level} if args.level is not None else {"sigma": s}
        out = denoise_learned(x, **steer, model=model, calibration=cal, ensemble=args.ensemble)
        return out.clamp(0, 1)

    _process(args, fn)


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


def cmd_upscale(args: argparse.Namespace) -> None:
    """``restorekit upscale IN OUT --scale S``: MATLAB-compatible bicubic enlarging."""
    from restorekit.classical.upscale import UPSCALERS

    scale = check_positive(args.scale, "--scale", allow_zero=False)
    _check_method(args.method, UPSCALERS, "upscale")
    method = UPSCALERS[args.method]
    _process(args, lambda x, src: method(x.double(), scale).clamp(0, 1))


def cmd_bench(args: argparse.Namespace) -> None:
    """``restorekit bench TASK``: every method on the task's datasets -> Markdown, JSON, PNG."""
    from restorekit.eval import run_benchmark
    from restorekit.tasks import get_task

    task = get_task(args.task)
    values = {"denoise": args.sigma, "sr": args.scale, "demosaic": args.cfa}[task.name]
    conditions = task.conditions(values)
    if args.data:
        folders = [Path(d) for d in args.data]
    else:
        root = Path(args.data_root)
        folders = [root / d for d in task.default_datasets]
    for f in folders:
        if not f.is_dir():
            raise RestorekitError(f"dataset folder '{f}' not found (set --data or --data-root)")
    if args.limit is not None and args.limit < 1:
        raise RestorekitError(f"--limit must be >= 1, got {args.limit}")
    command = "restorekit " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result = run_benchmark(
        task,
        folders,
        conditions,
        methods=args.methods,
        limit=args.limit,
        figures_dir=args.out,
        progress=not args.quiet,
        command=command,
    )
    json_path, md_path = result.write(args.out)
    print(result.to_markdown())
    print(f"\nwrote {md_path} and {json_path}", file=sys.stderr)


def cmd_demo(args: argparse.Namespace) -> None:
    """``restorekit demo``: the classical methods on bundled photos -> report.html."""
    from restorekit.demo import run_demo

    path = run_demo(args.out, quick=args.quick)
    print(f"open {path} in a browser")


def _overrides(pairs: list[str]) -> dict[str, object]:
    import yaml

    out: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise RestorekitError(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise RestorekitError(f"--set {key}: {value!r} is not a YAML value") from None
    return out


def cmd_train(args: argparse.Namespace) -> None:
    """``restorekit train CONFIG [--resume]``: train, checkpoint, validate, save the model."""
    from restorekit.train import run_config

    if args.max_steps is not None and args.max_steps < 1:
        raise RestorekitError(f"--max-steps must be >= 1, got {args.max_steps}")
    result = run_config(
        args.config,
        resume=args.resume,
        overrides=_overrides(args.set),
        progress=not args.quiet,
        max_steps=args.max_steps,
    )
    scores = ", ".join(f"{k} {v:.3f}" for k, v in result.val.items())
    print(
        f"{result.out}: {result.steps} steps in {result.seconds / 60:.1f} min"
        + (f", validation {scores}" if scores else "")
    )


def cmd_export(args: argparse.Namespace) -> None:
    """``restorekit export MODEL OUT.onnx``: ONNX with dynamic size, checked with onnxruntime."""
    from restorekit.degrade import parse_cfa
    from restorekit.models import load_model
    from restorekit.models.export import export_onnx, onnx_max_difference
    from restorekit.models.pretrained import load_pretrained

    cfa = parse_cfa(args.cfa)
    if args.model == "demosaic":
        model = load_pretrained("demosaic")
    else:
        model, _ = load_model(args.model, expect="demosaicnet")
    path = export_onnx(model, args.output, cfa)
    raw = torch.rand(1, 1, 61, 90, generator=torch.Generator().manual_seed(0))
    diff = onnx_max_difference(path, model, raw, cfa)
    print(
        f"{path}: dynamic (N, 1, H, W) -> (N, 3, H, W), CFA {cfa}; onnxruntime vs torch on "
        f"a 61x90 raw: max abs difference {diff:.2e}"
    )
