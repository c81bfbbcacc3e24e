"""Ablation of the demosaicer's training data (issue 18): one data choice per row, equal budget.

Every row trains ``configs/demosaic/ablation.yaml`` (the shipped architecture, 64 channels x 4
inner convolutions, residual over Malvar-He-Cutler, L1, hard-patch mining; the same seed, steps,
batch and learning-rate schedule) on other training images:

- ``cbsd432``: CBSD432 as it is (4:2:0 JPEGs: the chroma is half resolution)
- ``cbsd432-x2``: CBSD432 downscaled x2 (bicubic), what the shipped clean model was trained on
- ``new-sets``: the lossless, full-chroma sets: SunHays80, WED-CDM100 and T91 (weights
  0.4 / 0.4 / 0.2)
- ``all``: CBSD432 x2 and the three new sets (weights 0.3 / 0.3 / 0.3 / 0.1), what the joint model
  trains on
- ``all-x2``: the same four with every set downscaled x2 (is it the sharpness of a reduced image,
  rather than its full chroma, that CBSD432 x2 gains?)

Each row is scored with the benchmark convention (RGGB, outputs clipped and rounded to 8 bit, CPSNR
with a 10-pixel border) on Kodak24, McMaster and a held-out part of the training folders: every
18th image of SunHays80, WED-CDM100 and T91 (lossless, so their ground truth has real full-chroma
detail), which no row trains on. The training time of each row is its wall time on this machine.

Writes ``demosaic_data_ablation.md`` and ``.json``; rows already trained are only re-scored.

Usage (from the repository root; about 5 minutes per row on one CPU core)::

    .venv/bin/python benchmarks/ablation_demosaic_data.py
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from ablation_demosaic import DATA, ROOT, _score, train_row, write_report

from restorekit.data import ImageBank
from restorekit.degrade import CFA, mosaic
from restorekit.io import atomic_write
from restorekit.metrics import cpsnr
from restorekit.reports import markdown_table

TRAIN = "../shared/data/train/color"
NEW = [f"{TRAIN}/SunHays80", f"{TRAIN}/WED-CDM100", f"{TRAIN}/T91"]

#: row name -> (label, config overrides)
ROWS: dict[str, tuple[str, dict[str, Any]]] = {
    "cbsd432": ("CBSD432 as it is (4:2:0 JPEG)", {"data.downscale": 1.0}),
    "cbsd432-x2": ("CBSD432 downscaled x2", {}),
    "new-sets": (
        "SunHays80 + WED-CDM100 + T91 (lossless)",
        {"data.train": NEW, "data.downscale": 1.0, "data.train_weights": [0.4, 0.4, 0.2]},
    ),
    "all": (
        "CBSD432 x2 + the three lossless sets",
        {
            "data.train": [f"{TRAIN}/CBSD432", *NEW],
            "data.downscale": [2.0, 1.0, 1.0, 1.0],
            "data.train_weights": [0.3, 0.3, 0.3, 0.1],
        },
    ),
    "all-x2": (
        "all four, every set downscaled x2",
        {
            "data.train": [f"{TRAIN}/CBSD432", *NEW],
            "data.downscale": 2.0,
            "data.train_weights": [0.3, 0.3, 0.3, 0.1],
        },
    ),
}


def _holdout_score(model: torch.nn.Module, images: list[torch.Tensor]) -> float:
    scores = []
    with torch.inference_mode():
        for x in images:
            gt = (x[None] * 255).round() / 255
            out = (model(mosaic(gt, CFA.RGGB), CFA.RGGB).clamp(0, 1) * 255).round() / 255
            scores.append(float(cpsnr(out.double(), gt.double(), crop=10)[0]))
    return sum(scores) / len(scores)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", nargs="+", default=list(ROWS), choices=list(ROWS))
    ap.add_argument("--steps", type=int, default=None, help="override the config's optim.steps")
    ap.add_argument("--runs", default="runs/ablation-data", help="where the training runs go")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--quiet", action="store_true")
    args = ap.parse_args(argv)

    holdout = ImageBank(
        [DATA / "train/color" / Path(p).name for p in NEW], holdout=18, split="holdout"
    ).images
    results = []
    for name in args.rows:
        label, overrides = ROWS[name]
        model, meta, overrides = train_row(name, label, overrides, args)
        row = {
            "row": name,
            "label": label,
            "holdout_lossless": _holdout_score(model, holdout),
            "kodak24": _score(model, DATA / "test/color/Kodak24"),
            "mcmaster": _score(model, DATA / "test/color/McMaster"),
            "train_steps": meta["train_steps"],
            "train_minutes": meta["train_seconds"] / 60,
            "config_changes": {k: v for k, v in overrides.items() if k != "run.out"},
        }
        results.append(row)
        print(json.dumps(row), file=sys.stderr, flush=True)

    out = Path(args.out)
    report = write_report(
        out / "demosaic_data_ablation.json",
        "ablation_demosaic_data.py",
        argv,
        results,
        what="learned demosaicer, training-data ablation, equal training budget per row",
        holdout="every 18th image of SunHays80, WED-CDM100 and T91 (trained on by no row)",
    )
    table = markdown_table(
        ["training data", "holdout (lossless)", "Kodak24", "McMaster", "train steps", "train min"],
        [
            [
                r["label"],
                f"{r['holdout_lossless']:.2f}",
                f"{r['kodak24']:.2f}",
                f"{r['mcmaster']:.2f}",
                r["train_steps"],
                f"{r['train_minutes']:.1f}",
            ]
            for r in results
        ],
    )
    m = report["machine"]
    md = (
        "# Learned demosaicer: training-data ablation\n\n"
        f"Each row trains `{report['config']}` (the shipped architecture; same seed, steps, batch "
        "and learning-rate schedule) on other training images, then is scored with the "
        f"benchmark convention: {report['convention']}, in dB. Holdout: {report['holdout']}. "
        "Training time is wall time on this machine (a shared 2-core machine: other work ran "
        "beside some rows).\n\n"
        f"{table}\n\n"
        f"Reproduce: `{report['command']}`\n\n"
        f"Machine: {m.get('cpu', '?')}, {m.get('cpu_count', '?')} cores; "
        f"torch {report['versions'].get('torch', '?')}. Date: {report['date']}.\n"
    )
    atomic_write(out / "demosaic_data_ablation.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
