"""Does the shipped sigma -> level calibration hold on 8-bit files as on float noise?

For the shipped gray denoiser on Set12, at sigma 15, 25 and 50 (numpy seed 0 per sigma, images
in sorted order, as the denoise benchmark): the mean PSNR at the calibrated level
(``--sigma S``) against the mean PSNR at the best level for these very images (an oracle: 11
levels, then 8 golden-section steps, as ``calibrate_levels`` searches), for

- float noise (``clean + sigma * randn``, not clipped), and
- 8-bit files (the same draws, clipped and rounded to 8 bits), the model told the same sigma.

The gap is what a user loses to the calibration. Writes ``calibration_8bit.md`` and ``.json``
into ``--out``.

Usage (from the repository root; about 5 minutes)::

    .venv/bin/python benchmarks/calibration_8bit.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
SET12 = ROOT.parent / "shared" / "data" / "test" / "gray" / "Set12"
SIGMAS = (15, 25, 50)


def main(argv: list[str] | None = None) -> int:
    from PIL import Image

    from restorekit.models.control import _golden_max, level_psnr
    from restorekit.models.pretrained import load_pretrained_denoiser

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    model, cal = load_pretrained_denoiser(1)
    clean = [np.asarray(Image.open(p).convert("L"), np.float64) for p in sorted(SET12.iterdir())]
    rows = {}
    for sigma in SIGMAS:
        rng = np.random.RandomState(0)
        draws = [c + sigma * rng.randn(*c.shape) for c in clean]
        for convention in ("float", "8-bit"):
            noisy = (
                draws if convention == "float" else [np.clip(np.round(d), 0, 255) for d in draws]
            )
            pairs = [
                (torch.from_numpy(c / 255)[None, None].float(),
                 torch.from_numpy(n / 255)[None, None].float())
                for c, n in zip(clean, noisy, strict=True)
            ]  # fmt: skip

            def f(a: float, pairs: list = pairs) -> float:
                return level_psnr(model, pairs, min(1.0, max(0.0, a)))

            coarse = [(f(i / 10), i / 10) for i in range(11)]
            p0, a0 = max(coarse)
            a, p = _golden_max(f, max(0.0, a0 - 0.1), min(1.0, a0 + 0.1), 8)
            if p0 >= p:
                a, p = a0, p0
            level = cal.level_for(sigma)
            calibrated = f(level)
            rows[f"{sigma} {convention}"] = {
                "calibrated_level": level,
                "calibrated_psnr": calibrated,
                "best_level": a,
                "best_psnr": p,
                "gap_db": p - calibrated,
            }
            print(sigma, convention, json.dumps(rows[f"{sigma} {convention}"]), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "calibration_8bit.json").write_text(json.dumps(rows, indent=2) + "\n")
    lines = [
        "# The shipped gray denoiser's calibration on float noise and on 8-bit files (Set12)",
        "",
        "| sigma | noise | calibrated level | PSNR | best level | PSNR | gap (dB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for key, r in rows.items():
        sigma, convention = key.split()
        lines.append(
            f"| {sigma} | {convention} | {r['calibrated_level']:.3f} | {r['calibrated_psnr']:.2f} "
            f"| {r['best_level']:.3f} | {r['best_psnr']:.2f} | {r['gap_db']:.3f} |"
        )
    (out / "calibration_8bit.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'calibration_8bit.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
