"""``--noise auto`` on noisy raws: how well the raw noise level is estimated, and what it costs.

For Kodak24 and McMaster mosaics at sigma 5, 10 and 15 (0..255 scale; Gaussian noise on the float
mosaic, numpy RandomState(0) once per (dataset, sigma), images in sorted order: the draws of
``restorekit bench demosaic``):

- the estimate of :func:`restorekit.classical.noise_level.estimate_raw_noise` (patch PCA over the
  flat blocks of the four CFA planes, pooled): its relative error per image, mean and worst;
- the shipped joint network's CPSNR (the benchmark convention: 8-bit outputs, 10-pixel border)
  told the true level and told the estimate: the difference is what ``--noise auto`` costs;
- the estimator's time per image.

Writes ``demosaic_noise.md`` and ``.json`` into ``--out``.

Usage (from the repository root; about 3 minutes)::

    .venv/bin/python benchmarks/demosaic_noise.py
"""

from __future__ import annotations

import argparse
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
SIGMAS = (5.0, 10.0, 15.0)
DATASETS = ("Kodak24", "McMaster")


def main(argv: list[str] | None = None) -> int:
    from restorekit.classical.noise_level import estimate_raw_noise
    from restorekit.eval.environment import machine_info, versions
    from restorekit.io import atomic_write, list_images, read_image, to_numpy
    from restorekit.models.demosaic import demosaic_joint
    from restorekit.reports import markdown_table
    from restorekit.tasks import DemosaicTask
    from restorekit.tasks.demosaic import condition_sigma

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)

    task = DemosaicTask()
    rows, per_image = [], {}
    for ds in DATASETS:
        images = [(p.stem, to_numpy(read_image(p))) for p in list_images(DATA / "test/color" / ds)]
        for cond in task.conditions(["RGGB"], noise=list(SIGMAS)):
            sigma = condition_sigma(cond)
            errors, true_db, auto_db, seconds = [], [], [], []
            for pair in task.pairs(images, cond):
                start = time.perf_counter()
                estimate = float(estimate_raw_noise(pair.input)[0]) * 255
                seconds.append(time.perf_counter() - start)
                errors.append(estimate / sigma - 1)
                true_db.append(
                    task.score(demosaic_joint(pair.input, "RGGB", sigma / 255), pair, cond)["cpsnr"]
                )
                auto_db.append(
                    task.score(demosaic_joint(pair.input, "RGGB", estimate / 255), pair, cond)[
                        "cpsnr"
                    ]
                )
                per_image[f"{ds} sigma={sigma:g} {pair.name}"] = {
                    "estimate": estimate,
                    "cpsnr_true_level": true_db[-1],
                    "cpsnr_auto": auto_db[-1],
                }
            e = np.array(errors)
            rows.append(
                {
                    "dataset": ds,
                    "sigma": sigma,
                    "mean_relative_error": float(e.mean()),
                    "worst_relative_error": float(e[np.abs(e).argmax()]),
                    "cpsnr_true_level": float(np.mean(true_db)),
                    "cpsnr_auto": float(np.mean(auto_db)),
                    "cost_db": float(np.mean(true_db) - np.mean(auto_db)),
                    "seconds_per_image": float(np.median(seconds)),
                }
            )
            print(json.dumps(rows[-1]), flush=True)

    report = {
        "what": "raw noise estimation (--noise auto) and its cost for the joint demosaicer",
        "estimator": "patch PCA (Chen et al. 2015) over the weak-texture 7x7 patches of the four "
        "CFA planes pooled, texture test at the 95th percentile, iterated until it settles",
        "convention": task.convention,
        "command": "python benchmarks/demosaic_noise.py",
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": versions(),
        "rows": rows,
        "per_image": per_image,
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write(out / "demosaic_noise.json", json.dumps(report, indent=1))
    table = markdown_table(
        [
            "dataset",
            "sigma",
            "mean error",
            "worst image",
            "joint, true level (dB)",
            "joint, --noise auto (dB)",
            "cost (dB)",
            "estimate s/image",
        ],
        [
            [
                r["dataset"],
                f"{r['sigma']:g}",
                f"{100 * r['mean_relative_error']:+.1f} %",
                f"{100 * r['worst_relative_error']:+.1f} %",
                f"{r['cpsnr_true_level']:.2f}",
                f"{r['cpsnr_auto']:.2f}",
                f"{r['cost_db']:.3f}",
                f"{r['seconds_per_image']:.2f}",
            ]
            for r in rows
        ],
    )
    m = report["machine"]
    md = (
        "# Raw noise estimation (`--noise auto`)\n\n"
        f"Estimator: {report['estimator']}. Noise and scores: {report['convention']}\n\n"
        f"{table}\n\n"
        "Errors are the estimate over the true level, minus 1; the worst image is the one "
        "farthest from the truth. The cost is the joint network's mean CPSNR told the true level "
        "minus told the estimate.\n\n"
        f"Reproduce: `{report['command']}`\n\n"
        f"Machine: {m.get('cpu', '?')}, {m.get('cpu_count', '?')} cores; "
        f"torch {report['versions'].get('torch', '?')}. Date: {report['date']}.\n"
    )
    atomic_write(out / "demosaic_noise.md", md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
