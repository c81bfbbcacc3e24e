"""Measure OpenCV's colour NLM strengths (h for luminance, hColor for colour) on training images.

OpenCV's ``fastNlMeansDenoisingColored`` filters luminance with ``h`` and the two colour planes
(in CIELAB) with ``hColor``. Using ``hColor = h`` wipes out colour detail; this script picks both
from measurements on training images, never on a test set: 12 CBSD432 images (train; every 36th
sorted file, a 256x256 centre crop), the denoise benchmark's noise convention (numpy seed 0,
float noise, then clipped and rounded to 8 bits as OpenCV needs), at sigma 15, 25 and 50. For
each sigma, every (h, hColor) on a grid is scored by the mean PSNR; the best pair is the
measurement that ``restorekit.classical.denoise.opencv_nlm_colour_strengths`` states.

Writes ``tune_nlm.md`` and ``tune_nlm.json`` into ``--out``.

Usage (from the repository root; about 2 minutes)::

    .venv/bin/python benchmarks/tune_nlm.py
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
TRAIN = ROOT.parent / "shared" / "data" / "train" / "color" / "CBSD432"
SIGMAS = (15, 25, 50)
H = (6, 9, 12, 15, 18, 22, 26, 30, 35, 40, 46)
H_COLOR = (2, 3, 4, 6, 8, 10, 13, 16, 20, 25, 32)
#: the strengths restorekit used before (h from REFERENCE.md's table, hColor = h)
BEFORE = {15: (15, 15), 25: (25, 25), 50: (40, 40)}


def _crops() -> list[np.ndarray]:
    from PIL import Image

    files = sorted(TRAIN.iterdir())[::36]
    out = []
    for f in files:
        a = np.asarray(Image.open(f).convert("RGB"))
        h, w = a.shape[:2]
        out.append(a[(h - 256) // 2 : (h + 256) // 2, (w - 256) // 2 : (w + 256) // 2])
    return out


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0**2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


def main(argv: list[str] | None = None) -> int:
    import cv2

    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args(argv)
    crops = _crops()
    report: dict = {"images": len(crops), "sigmas": {}}
    for sigma in SIGMAS:
        rng = np.random.RandomState(0)
        noisy = [np.clip(np.round(c + sigma * rng.randn(*c.shape)), 0, 255).astype(np.uint8)
                 for c in crops]  # fmt: skip

        def score(h: float, hc: float, noisy: list = noisy) -> float:
            values = []
            for c, n in zip(crops, noisy, strict=True):
                bgr = cv2.fastNlMeansDenoisingColored(n[..., ::-1].copy(), None, h, hc, 7, 21)
                values.append(_psnr(bgr[..., ::-1], c))
            return float(np.mean(values))

        grid = {f"{h},{hc}": score(h, hc) for h in H for hc in H_COLOR}
        best = max(grid, key=grid.get)
        report["sigmas"][str(sigma)] = {
            "best": best,
            "psnr": grid[best],
            "grid": grid,
            "before": {"h,hColor": "{},{}".format(*BEFORE[sigma]), "psnr": score(*BEFORE[sigma])},
        }
        print(sigma, best, round(grid[best], 2), flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tune_nlm.json").write_text(json.dumps(report, indent=2) + "\n")
    lines = [
        "# OpenCV colour NLM strengths, measured on training images",
        "",
        f"{len(crops)} CBSD432 crops (256x256), 8-bit noisy files; mean PSNR (dB).",
        "",
        "| sigma | best h, hColor | PSNR | before: h, hColor = h | PSNR |",
        "|---|---|---|---|---|",
    ]
    for sigma, r in report["sigmas"].items():
        b = r["before"]
        lines.append(
            f"| {sigma} | {r['best']} | {r['psnr']:.2f} | {b['h,hColor']} | {b['psnr']:.2f} |"
        )
    (out / "tune_nlm.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {out / 'tune_nlm.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
