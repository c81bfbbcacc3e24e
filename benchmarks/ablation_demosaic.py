"""Ablation of the learned demosaicer: one design choice changed per row, equal training budget.

Every row trains from ``configs/demosaic/ablation.yaml`` (the same data, seed, steps, batch and
learning-rate schedule) with one change, then is scored on Kodak24 and McMaster with the benchmark
convention (RGGB, outputs clipped and rounded to 8 bit, CPSNR with a 10-pixel border) and on the
held-out training images (the number a recipe choice should be made on: the test sets are for
reporting). Rows:

- ``baseline`` (the shipped recipe at a short budget, with 64 channels and 4 inner
  convolutions): 1-channel mosaic packed by pixel-unshuffle, residual over Malvar-He-Cutler,
  L1 loss, plain 3x3 convolutions, hard-patch mining
- ``3-channel sparse input``, ``direct (no residual)``, ``mixed MS-SSIM + L1 loss``,
  ``depthwise-separable``, ``no hard-patch mining``, ``residual over bilinear``, the saturation
  augmentation of the shipped model's second stage, and two widths and depths: the baseline with
  that one change

Writes ``demosaic_ablation.md`` and ``.json`` (and one training run folder per row under
``--runs``). Rows already trained (their ``model.safetensors`` exists) are only re-scored, so an
interrupted ablation continues where it stopped.

Usage (from the repository root; about 4 minutes per row on one CPU core)::

    .venv/bin/python benchmarks/ablation_demosaic.py
    .venv/bin/python benchmarks/ablation_demosaic.py --steps 300 --rows baseline mixed  # a look
"""

from __future__ import annotations

import argparse
import json
import shlex
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

from restorekit.degrade import CFA, mosaic
from restorekit.eval.environment import machine_info, versions
from restorekit.io import atomic_write, list_images, read_image
from restorekit.metrics import cpsnr
from restorekit.models import describe, load_model
from restorekit.reports import markdown_table
from restorekit.train import run_config

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
CONFIG = ROOT / "configs" / "demosaic" / "ablation.yaml"

#: row name -> (label, config overrides)
ROWS: dict[str, tuple[str, dict[str, Any]]] = {
    "baseline": ("baseline: 1-ch packed, residual MHC, L1, plain, mining", {}),
    "sparse": ("3-channel sparse input", {"model.args.input_mode": "sparse"}),
    "direct": ("direct (no residual)", {"model.args.base": "none"}),
    "mixed": (
        "mixed MS-SSIM + L1 loss (alpha 0.84)",
        {
            "loss.weights": {"mixed": 1.0},
            "loss.options": {"mixed": {"alpha": 0.84, "compute_dtype": "float32"}},
        },
    ),
    "separable": ("depthwise-separable convolutions", {"model.args.separable": True}),
    "no-mining": ("no hard-patch mining", {"data.mining": None}),
    "bilinear": ("residual over bilinear instead of MHC", {"model.args.base": "bilinear"}),
    "saturation": (
        "saturation augmentation (half the patches, colour contrast x1-3)",
        {
            "data.color_augment": True,
            "data.color_permute": False,
            "data.color_boost": 0.5,
            "data.color_saturation": 2.0,
        },
    ),
    "c80d2": (
        "80 channels, 2 inner convolutions",
        {"model.args.channels": 80, "model.args.depth": 2},
    ),
    "c96d2": (
        "96 channels, 2 inner convolutions",
        {"model.args.channels": 96, "model.args.depth": 2},
    ),
}


def _score(model: torch.nn.Module, folder: Path) -> float:
    scores = []
    with torch.inference_mode():
        for p in list_images(folder):
            gt = read_image(p, mode="rgb")
            out = model(mosaic(gt, CFA.RGGB), CFA.RGGB)
            out = (out.clamp(0, 1) * 255).round() / 255
            scores.append(float(cpsnr(out.double(), gt.double(), crop=10)[0]))
    return sum(scores) / len(scores)


def _speeds(
    models: dict[str, torch.nn.Module], rounds: int = 7, calls: int = 3
) -> dict[str, float]:
    """Megapixels/s of each model on a 500x500 mosaic: median over ``rounds`` x ``calls`` calls.

    The models take turns round by round, so a slow spell of this shared machine (speeds drift
    by 20-30 % between minutes here) touches every row alike instead of one.
    """
    raw = torch.rand(1, 1, 500, 500)
    times: dict[str, list[float]] = {name: [] for name in models}
    with torch.inference_mode():
        for model in models.values():  # warm-up: thread pool, allocator
            model(raw, CFA.RGGB)
        for _ in range(rounds):
            for name, model in models.items():
                for _ in range(calls):
                    start = time.perf_counter()
                    model(raw, CFA.RGGB)
                    times[name].append(time.perf_counter() - start)
    return {name: 0.25 / statistics.median(t) for name, t in times.items()}


def train_row(
    name: str, label: str, overrides: dict[str, Any], args: argparse.Namespace
) -> tuple[torch.nn.Module, dict[str, Any], dict[str, Any]]:
    """Train one row from ``CONFIG`` with ``overrides`` into ``<args.runs>/<name>`` unless its
    model file exists (an interrupted row resumes); return the model, its metadata and the
    overrides as applied."""
    overrides = {**overrides, "run.out": f"{args.runs}/{name}"}
    if args.steps:
        overrides["optim.steps"] = args.steps
    model_file = Path(args.runs) / name / "model.safetensors"
    if not model_file.is_file():
        print(f"== training row {name}: {label}", file=sys.stderr, flush=True)
        resume = (Path(args.runs) / name / "checkpoints" / "last.safetensors").is_file()
        run_config(CONFIG, resume=resume, overrides=overrides, progress=not args.quiet)
    model, meta = load_model(model_file, expect="demosaicnet")
    return model, meta, overrides


def write_report(
    path: Path, script: str, argv: list[str] | None, rows: list[dict], **fields: str
) -> dict[str, Any]:
    """The ablation's JSON report (the convention, config, command, date, machine, versions and
    rows) written to ``path``; returned for the Markdown."""
    command = f"python benchmarks/{script} " + " ".join(
        shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:])
    )
    report = {
        **fields,
        "convention": "RGGB; outputs clipped and rounded to 8 bit; CPSNR with a 10-pixel border",
        "config": str(CONFIG.relative_to(ROOT)),
        "command": command,
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": versions(),
        "rows": rows,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(report, indent=2))
    return report


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    ap.add_argument("--steps", type=int, default=None, help="override the config's optim.steps")
    ap.add_argument("--runs", default="runs/ablation", help="where the training runs go")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    results = []
    models: dict[str, torch.nn.Module] = {}
    for name in args.rows:
        label, overrides = ROWS[name]
        model, meta, overrides = train_row(name, label, overrides, args)
        info = describe(model)
        row = {
            "row": name,
            "label": label,
            "holdout_cpsnr": meta["val"].get("cpsnr"),
            "kodak24": _score(model, DATA / "test/color/Kodak24"),
            "mcmaster": _score(model, DATA / "test/color/McMaster"),
            "params": info["params"],
            "macs_per_pixel": info["macs_per_pixel"],
            "train_steps": meta["train_steps"],
            "train_minutes": meta["train_seconds"] / 60,
            "config_changes": {k: v for k, v in overrides.items() if k != "run.out"},
        }
        results.append(row)
        models[name] = model
        print(json.dumps(row), file=sys.stderr, flush=True)
    for row, mp_per_s in zip(results, _speeds(models).values(), strict=True):
        row["mp_per_s"] = mp_per_s

    out = Path(args.out)
    report = write_report(
        out / "demosaic_ablation.json",
        "ablation_demosaic.py",
        argv,
        results,
        what="learned demosaicer ablation, equal training budget per row",
    )
    table = markdown_table(
        [
            "variant",
            "holdout CPSNR",
            "Kodak24 CPSNR",
            "McMaster CPSNR",
            "params",
            "MACs/pixel",
            "train steps",
            "train min",
            "MP/s (500x500)",
        ],
        [
            [
                r["label"],
                f"{r['holdout_cpsnr']:.2f}",
                f"{r['kodak24']:.2f}",
                f"{r['mcmaster']:.2f}",
                f"{r['params']:,}",
                f"{r['macs_per_pixel']:,.0f}",
                r["train_steps"],
                f"{r['train_minutes']:.1f}",
                f"{r['mp_per_s']:.1f}",
            ]
            for r in results
        ],
    )
    m = report["machine"]
    md = (
        "# Learned demosaicer: ablation\n\n"
        f"Each row trains `{report['config']}` with one change (same data, seed, steps, batch, "
        "learning-rate schedule), then is scored with the benchmark convention: "
        f"{report['convention']}. Holdout = every 18th CBSD432 image, never trained on. "
        "Training time is wall time on this machine (the mixed loss costs more per step "
        "than L1). MP/s: median of 21 calls per row on a 500x500 mosaic, the rows taking turns "
        "(this shared machine's speed drifts by 20-30 % from minute to minute).\n\n"
        f"{table}\n\n"
        f"Reproduce: `{report['command']}`\n\n"
        f"Machine: {m.get('cpu', '?')}, {m.get('cpu_count', '?')} cores; "
        f"torch {report['versions'].get('torch', '?')}. Date: {report['date']}.\n"
    )
    atomic_write(out / "demosaic_ablation.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
