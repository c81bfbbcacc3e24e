"""Super-resolution of images of unknown degradation, x4: the cycle study (issue 15).

Set14 and Kodak24, each HR image degraded by the study's "unknown" degradation (the
``data.degradation`` of ``configs/sr/cycle-x4.yaml``: anisotropic blur, MATLAB bicubic x4,
Gaussian noise, 8 bits, JPEG; its parameters drawn per image with the seed = the image's position in
sorted order, as the training runs' validation does), then upscaled by:

- ``bicubic``: MATLAB bicubic;
- ``supervised (bicubic)``: the shipped x4 model, trained on bicubic-only pairs;
- ``cycle (unpaired)``: the cycle-consistent model, trained on unpaired images
  (``restorekit train configs/sr/cycle-x4.yaml``'s model file, or ``--cycle FILE``);
- ``oracle``: the x4 model fine-tuned on pairs made by the true degradation (the upper bound).

Scores: PSNR and SSIM on the BT.601 Y channel with 4 pixels cropped (the SR convention of
``restorekit bench sr``), outputs rounded to 8 bits. Writes ``benchmarks/results/sr_cycle.md``,
``.json`` and one crop strip per dataset (100 % crops of the same region, zoomed 2x), and the
README's ``sr-cycle`` block.

    python benchmarks/sr_cycle.py [--cycle FILE] [--oracle FILE]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from restorekit.classical.upscale import upscale_bicubic
from restorekit.eval.environment import machine_info, versions
from restorekit.io import list_images, read_image
from restorekit.metrics import psnr, ssim
from restorekit.models import load_model
from restorekit.models.sr import load_upscaler, upscale_learned
from restorekit.reports import best_crop_box, comparison_strip, crop_to_uint8, markdown_table
from restorekit.tasks.base import quantize
from restorekit.train.config import load_config
from restorekit.train.sr import real_degradation, validation_lr

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data" / "test" / "color"
DATASETS = ("Set14", "Kodak24")
SCALE = 4


def _methods(cycle: Path, oracle: Path) -> dict[str, object]:
    sup = load_upscaler(SCALE)
    cyc, _ = load_model(cycle, expect="srnet")
    orc, _ = load_model(oracle, expect="srnet")
    return {
        "bicubic": lambda x: upscale_bicubic(x.double(), SCALE),
        "supervised (bicubic)": lambda x: upscale_learned(x, model=sup),
        "cycle (unpaired)": lambda x: upscale_learned(x, model=cyc),
        "oracle (true pairs)": lambda x: upscale_learned(x, model=orc),
    }


def run(cycle: Path, oracle: Path, out: Path) -> dict:
    cfg = load_config(ROOT / "configs" / "sr" / "cycle-x4.yaml")
    degradation = real_degradation(cfg.data.degradation, SCALE)
    methods = _methods(cycle, oracle)
    result: dict = {"degradation": cfg.data.degradation, "datasets": {}, "seconds": {}}
    for name in DATASETS:
        per: dict[str, dict[str, list[float]]] = {m: {"psnr_y": [], "ssim_y": []} for m in methods}
        tiles = []
        for i, path in enumerate(list_images(DATA / name)):
            x = read_image(path).double()
            H, W = x.shape[-2:]
            hr = x[..., : H - H % SCALE, : W - W % SCALE]
            lr = validation_lr(hr, SCALE, degradation, i)
            box = best_crop_box(hr) if i == 0 else None
            if box is not None:
                tiles += [
                    ("ground truth", crop_to_uint8(hr, box)),
                    ("input (LR, nearest)", crop_to_uint8(lr, box, SCALE)),
                ]
            for m, fn in methods.items():
                t0 = time.perf_counter()
                with torch.inference_mode():
                    sr = quantize(fn(lr).double())
                result["seconds"].setdefault(m, []).append(time.perf_counter() - t0)
                per[m]["psnr_y"].append(float(psnr(sr, hr, crop=SCALE, y_only=True)[0]))
                per[m]["ssim_y"].append(float(ssim(sr, hr, crop=SCALE, y_only=True)[0]))
                if box is not None:
                    tiles.append((m, crop_to_uint8(sr, box)))
        comparison_strip(tiles, out / f"sr_cycle-{name}.png", zoom=2, columns=3)
        result["datasets"][name] = {
            m: {k: statistics.mean(v) for k, v in s.items()} | {"per_image": s}
            for m, s in per.items()
        }
    for k, p in (("cycle", cycle), ("oracle", oracle)):
        meta = load_model(p)[1]
        result[f"{k}_model"] = {
            "file": str(p.relative_to(ROOT) if p.is_relative_to(ROOT) else p),
            "train_device": meta.get("train_device"),
            "train_steps": meta.get("train_steps"),
            "train_seconds": meta.get("train_seconds"),
        }
    return result


def report(result: dict, out: Path) -> list[str]:
    names = list(DATASETS)
    methods = list(result["datasets"][names[0]])
    rows = []
    for m in methods:
        row = [m]
        for d in names:
            s = result["datasets"][d][m]
            row.append(f"{s['psnr_y']:.2f} / {s['ssim_y']:.4f}")
        rows.append(row)
    ref = {d: result["datasets"][d] for d in names}
    gaps = []
    for d in names:
        c = ref[d]["cycle (unpaired)"]["psnr_y"]
        gaps.append(
            f"{d}: cycle - bicubic {c - ref[d]['bicubic']['psnr_y']:+.2f} dB, cycle - supervised "
            f"(bicubic) {c - ref[d]['supervised (bicubic)']['psnr_y']:+.2f} dB, cycle - oracle "
            f"{c - ref[d]['oracle (true pairs)']['psnr_y']:+.2f} dB"
        )
    deg = ", ".join(f"{k} {v}" for k, v in result["degradation"].items())
    cyc, orc = result["cycle_model"], result["oracle_model"]
    lines = [
        "# Super-resolution of unknown degradation, x4 (the cycle study)",
        "",
        f"Degradation (never told to the cycle model): {deg}; blur, MATLAB bicubic x4, noise, "
        "8 bits, JPEG, parameters drawn per image (seed = position in sorted order). "
        "PSNR (dB) / SSIM on BT.601 Y, 4 pixels cropped, outputs rounded to 8 bits.",
        "",
        "Reproduce: `python benchmarks/sr_cycle.py`",
        "",
        markdown_table(["method", *(f"{d} x4 PSNR / SSIM" for d in names)], rows),
        "",
        *(f"- {g}" for g in gaps),
        "",
        f"Models: cycle `{cyc['file']}` ({cyc['train_steps']} steps, {cyc['train_seconds']} s on "
        f"{cyc['train_device']}); oracle `{orc['file']}` ({orc['train_steps']} steps, "
        f"{orc['train_seconds']} s on {orc['train_device']}); both start from the shipped "
        "bicubic x4 model.",
        "",
        *(f"![{d}](sr_cycle-{d}.png)" for d in names),
        "",
    ]
    (out / "sr_cycle.md").write_text("\n".join(lines))
    (out / "sr_cycle.json").write_text(
        json.dumps({**result, "machine": machine_info(), "versions": versions()}, indent=1)
    )
    return lines


def _readme_block(lines: list[str]) -> None:
    from update_readme import write_block

    keep = [
        line.replace("](sr_cycle", "](benchmarks/results/sr_cycle")
        for line in lines[2:]
        if not line.startswith("Reproduce")
    ]
    intro = "From `benchmarks/sr_cycle.py` ([sr_cycle.md](benchmarks/results/sr_cycle.md)):"
    write_block("sr-cycle", "\n".join([intro, *keep]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--cycle", default=str(ROOT / "runs/sr/cycle-x4/model.safetensors"))
    ap.add_argument("--oracle", default=str(ROOT / "runs/sr/oracle-x4/model.safetensors"))
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    lines = report(run(Path(args.cycle).resolve(), Path(args.oracle).resolve(), out), out)
    _readme_block(lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
