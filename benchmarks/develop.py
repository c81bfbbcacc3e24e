"""Develop a camera raw with restorekit and with LibRaw, and compare the two.

restorekit's pipeline (``restorekit.io.raw.develop``: camera white balance, demosaicing, the
file's camera-to-sRGB matrix, sRGB curve) runs once per demosaicing method named on the command
line: ``learned`` (the shipped CNN) or any classical name of ``restorekit.classical.demosaic``.
The reference is LibRaw's own development (rawpy ``postprocess`` with the camera WB, no
auto-brightening, the sRGB curve, sRGB output, AHD).

A pipeline check develops with bilinear demosaicing and compares with LibRaw's bilinear (LINEAR):
away from the border the two should agree to LibRaw's 16-bit rounding, which shows that every
step but the demosaicing is the same.

Writes ``develop.md``, ``develop.json`` and ``develop_<name>.png`` (full images side by side,
then a zoomed crop of each) into ``--out``.

Usage (from the repository root)::

    .venv/bin/python benchmarks/develop.py                    # learned, mhc and menon
    .venv/bin/python benchmarks/develop.py bilinear mhc menon --repeats 3
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

from restorekit.errors import RestorekitError
from restorekit.eval.environment import machine_info, versions
from restorekit.io import atomic_write, from_numpy, to_numpy, write_image
from restorekit.io.raw import RawImage, develop, read_raw
from restorekit.metrics import psnr, ssim
from restorekit.reports import best_crop_box, crop_to_uint8, markdown_table

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_RAW = ROOT.parent / "shared" / "data" / "raw" / "kodak_dc50.kdc"
BORDER = 2  # pixels cropped for the "inside" PSNR: LibRaw interpolates the border differently


def _libraw(path: Path, algorithm: str) -> tuple[torch.Tensor, float]:
    """LibRaw's development as float (1, 3, H, W) in [0, 1], and the seconds postprocess took."""
    import rawpy

    with rawpy.imread(str(path)) as r:
        r.raw_image  # noqa: B018  (unpack outside the timing)
        start = time.perf_counter()
        out = r.postprocess(
            use_camera_wb=True,
            no_auto_bright=True,
            output_bps=16,
            gamma=(2.4, 12.92),
            output_color=rawpy.ColorSpace.sRGB,
            demosaic_algorithm=getattr(rawpy.DemosaicAlgorithm, algorithm),
            user_flip=0,
        )
        seconds = time.perf_counter() - start
    return from_numpy(out), seconds


def _as_16bit(x: torch.Tensor) -> torch.Tensor:
    """What a 16-bit file of ``x`` holds (LibRaw's output is 16-bit too)."""
    return from_numpy(to_numpy(x, 16))


def _scores(x: torch.Tensor, ref: torch.Tensor) -> dict[str, float]:
    b = BORDER
    return {
        "psnr": float(psnr(x, ref)),
        "psnr_inside": float(psnr(x[..., b:-b, b:-b], ref[..., b:-b, b:-b])),
        "ssim": float(ssim(x, ref)),
    }


def _demosaicer(method: str) -> Callable[[torch.Tensor, Any], torch.Tensor]:
    """The demosaicing function of the task's method table (``learned`` and the classical)."""
    from restorekit.tasks import DemosaicTask

    methods = DemosaicTask().methods()
    if method not in methods:
        raise RestorekitError(f"unknown demosaicing method {method!r}; known: {', '.join(methods)}")
    return methods[method]


def _time(
    raw: RawImage, method: str, repeats: int, noise: float | None = None
) -> tuple[torch.Tensor, dict[str, float]]:
    fn = _demosaicer(method)
    # warm-up (and the error, if any)
    out, _ = develop(raw, fn, method=method, orient=False, noise=noise)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        out, _ = develop(raw, fn, method=method, orient=False, noise=noise)
        times.append(time.perf_counter() - start)
    return out, {
        "median_s": statistics.median(times),
        "min_s": min(times),
        "max_s": max(times),
        "repeats": repeats,
    }


def _figure(images: list[tuple[str, torch.Tensor]], reference: torch.Tensor, path: Path) -> None:
    """Full images (halved if wider than 400 px) in one row, the same zoomed crop under each."""
    from PIL import Image, ImageDraw, ImageFont

    H, W = reference.shape[-2:]
    shrink = 2 if W > 400 else 1
    box = best_crop_box(reference, size=96)
    zoom = max(1, (W // shrink) // box[3])
    tw, th = W // shrink, H // shrink
    ch = box[2] * zoom
    pad, label_h = 6, 20
    canvas = Image.new(
        "RGB", (len(images) * (tw + pad) + pad, th + ch + 2 * label_h + 3 * pad), "white"
    )
    draw = ImageDraw.Draw(canvas)
    try:
        font = ImageFont.load_default(size=13)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    for i, (label, x) in enumerate(images):
        x0 = pad + i * (tw + pad)
        full = Image.fromarray(crop_to_uint8(x, (0, 0, H, W)))
        canvas.paste(full.reduce(shrink) if shrink > 1 else full, (x0, pad))
        draw.text((x0 + 2, pad + th + 2), label, fill="black", font=font)
        crop = Image.fromarray(crop_to_uint8(x, box)).resize((box[3] * zoom, ch), Image.NEAREST)
        y0 = 2 * pad + th + label_h
        canvas.paste(crop, (x0, y0))
        where = f"crop ({box[0]}, {box[1]}) {box[2]}x{box[3]} x{zoom}"
        draw.text((x0 + 2, y0 + ch + 2), where, fill="black", font=font)
    write_image(path, from_numpy(np.asarray(canvas)))


def _write_text(path: Path, text: str) -> None:
    atomic_write(path, text + "\n")


def _markdown(report: dict[str, Any]) -> str:
    m, v, r = report["machine"], report["versions"], report["raw"]
    rows: list[list[object]] = []
    for name, res in report["methods"].items():
        t = res["time"]
        if "noise_sigma_255" in res:
            name = f"{name} (noise {res['noise_sigma_255']:.2f})"
        rows.append(
            [
                name,
                res["psnr"],
                res["psnr_inside"],
                res["ssim"],
                f"{t['median_s']:.3f}",
                f"{t['min_s']:.3f} - {t['max_s']:.3f}",
            ]
        )
    ref = report["reference"]
    rows.append(
        [f"LibRaw {ref['algorithm']} (reference)", "-", "-", "-", f"{ref['seconds']:.3f}", "1 run"]
    )
    check = report["pipeline_check"]
    lines = [
        f"# Raw development: {Path(r['path']).name}",
        "",
        "restorekit's `develop` (camera WB, demosaicing, the file's camera-to-sRGB matrix, sRGB "
        "curve, clipping as LibRaw's highlight mode 0) against LibRaw's own development of the "
        f"same file: rawpy {ref['rawpy']} (LibRaw {ref['libraw']}) "
        "`postprocess(use_camera_wb=True, no_auto_bright=True, output_bps=16, "
        "gamma=(2.4, 12.92), output_color=sRGB, "
        f"demosaic_algorithm={ref['algorithm']}, user_flip=0)`. Both are compared as 16-bit "
        f"images; PSNR on [0, 1] over R, G, B; 'inside' crops {BORDER} pixels on every side; "
        "SSIM is restorekit's (Gaussian 11x11, mean over channels). The scores measure how close "
        "each demosaicer comes to LibRaw's picture, not to a ground truth (a raw has none).",
        "",
        f"Raw: {r['size'][1]}x{r['size'][0]}, CFA {r['cfa']}, {r['bits']}-bit (white "
        f"{r['white_level']}, black {r['black_levels']}), WB {r['wb_source']} {r['camera_wb']}, "
        f"matrix {r['matrix_source']}, flip {r['flip']}. Noise told the joint network: "
        f"{report['noise']['sigma_255']:.2f} on the 0..255 scale of the normalised raw "
        f"({report['noise']['given']}: estimated on the raw's CFA planes as `restorekit develop "
        "--noise auto` does).",
        "",
        f"Reproduce: `{report['command']}`",
        "",
        f"Machine: {m['cpu']}, {m['cpu_count']} cores ({m['torch_threads']} torch threads), "
        f"{m['ram_gb']} GB RAM, Python {m['python']}; "
        + ", ".join(f"{k} {val}" for k, val in v.items() if val != "not installed")
        + f". Date: {report['date']}.",
        "",
        markdown_table(
            [
                "method",
                f"PSNR vs LibRaw {ref['algorithm']} (dB)",
                "PSNR inside (dB)",
                "SSIM",
                "time median (s)",
                "time min - max (s)",
            ],
            rows,
        ),
        "",
        f"Time: `develop` from the loaded raw (white balance to sRGB), median of "
        f"{report['repeats']} runs after a warm-up; LibRaw: one `postprocess` of the unpacked raw. "
        f"Reading the file (`read_raw`) took {report['read_s']:.3f} s.",
        "",
        f"Pipeline check: restorekit with bilinear demosaicing against LibRaw LINEAR: "
        f"{check['psnr_inside']:.1f} dB inside, {check['psnr']:.1f} dB on the whole image "
        f"(max difference inside {check['max_abs_inside_16bit']:.0f}/65535).",
        "",
        f"![{Path(report['figure']).stem}]({Path(report['figure']).name})",
        "",
        "Top: each full image (halved); bottom: the same crop (the window with the most gradient "
        "energy in LibRaw's image), magnified with nearest neighbours.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "methods",
        nargs="*",
        default=["learned", "learned-joint", "mhc", "menon"],
        help="demosaicing methods (default learned learned-joint mhc menon)",
    )
    parser.add_argument(
        "--noise",
        default="auto",
        help="the raw noise level told the joint network (0..255 of the normalised raw), or "
        "'auto': estimated on the raw as `restorekit develop --noise auto` does (default)",
    )
    parser.add_argument("--raw", type=Path, default=DEFAULT_RAW, help="the raw file")
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks" / "results")
    parser.add_argument("--repeats", type=int, default=5, help="timed runs per method")
    parser.add_argument("--reference", default="AHD", help="LibRaw demosaicing algorithm")
    parser.add_argument("--name", default="dc50", help="suffix of the figure's file name")
    args = parser.parse_args(argv)
    try:
        import rawpy

        if args.repeats < 1:
            raise RestorekitError(f"--repeats must be >= 1, got {args.repeats}")
        start = time.perf_counter()
        raw = read_raw(args.raw)
        read_s = time.perf_counter() - start
        reference, ref_s = _libraw(args.raw, args.reference.upper())
        reference = _as_16bit(reference)
        from restorekit.classical.noise_level import estimate_raw_noise
        from restorekit.tasks import DemosaicTask

        if args.noise == "auto":
            noise = float(estimate_raw_noise(raw.mosaic.double())[0])
        else:
            noise = float(args.noise) / 255
        results: dict[str, Any] = {}
        images = []
        for method in args.methods:
            told = noise if DemosaicTask().takes_noise(method) else None
            out, timing = _time(raw, method, args.repeats, told)
            out = _as_16bit(out)
            results[method] = {**_scores(out, reference), "time": timing}
            if told is not None:
                results[method]["noise_sigma_255"] = told * 255
            images.append((method, out))
            print(f"{method}: {results[method]['psnr']:.2f} dB, {timing['median_s']:.3f} s")
        ours, _ = develop(raw, method="bilinear", orient=False)
        linear, _ = _libraw(args.raw, "LINEAR")
        ours, b = _as_16bit(ours), BORDER
        check = _scores(ours, linear)
        inside = (ours - linear)[..., b:-b, b:-b].abs().max().item() * 65535
        check["max_abs_inside_16bit"] = round(inside, 1)
    except RestorekitError as e:
        print(f"develop.py: error: {e}", file=sys.stderr)
        return 2

    args.out.mkdir(parents=True, exist_ok=True)
    figure = args.out / f"develop_{args.name}.png"
    _figure([*images, (f"LibRaw {args.reference.upper()}", reference)], reference, figure)
    report = {
        "raw": {
            "path": str(args.raw),
            "size": list(raw.shape),
            "cfa": raw.cfa.value,
            "bits": raw.bits,
            "white_level": raw.white_level,
            "black_levels": list(raw.black_levels),
            "camera_wb": list(raw.camera_wb),
            "wb_source": raw.wb_source,
            "matrix_source": raw.matrix_source,
            "flip": raw.flip,
        },
        "reference": {
            "algorithm": args.reference.upper(),
            "seconds": ref_s,
            "rawpy": rawpy.__version__,
            "libraw": raw.metadata["libraw_version"],
        },
        "methods": results,
        "pipeline_check": {"method": "bilinear", "reference": "LINEAR", **check},
        "read_s": read_s,
        "noise": {"given": args.noise, "sigma_255": noise * 255},
        "repeats": args.repeats,
        "figure": str(figure.relative_to(ROOT) if figure.is_relative_to(ROOT) else figure),
        "machine": machine_info(),
        "versions": {**versions(), "rawpy": rawpy.__version__},
        "command": shlex.join(["python", "benchmarks/develop.py", *(argv or sys.argv[1:])]),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    _write_text(args.out / "develop.json", json.dumps(report, indent=1))
    _write_text(args.out / "develop.md", _markdown(report))
    print(f"wrote {args.out / 'develop.md'}, develop.json and {figure.name}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
