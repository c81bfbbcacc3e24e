"""Copy the headline numbers of benchmarks/results/*.json into README.md.

The README's benchmark section sits between two marker comments; this script rewrites it from the
JSON files written by ``restorekit bench``, so every number the README quotes comes from a run.

Usage: ``python benchmarks/update_readme.py`` (from the repository root).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
BEGIN, END = "<!-- bench:begin -->", "<!-- bench:end -->"


def _table(data: dict, metric: str, title: str) -> list[str]:
    cols = [(d, c) for d in data["datasets"] for c in data["conditions"]]
    runs = {(r["dataset"], r["condition"], r["method"]): r for r in data["runs"]}
    head = ["method", *[f"{d} {c}" for d, c in cols], "MP/s", "peak MB"]
    lines = [f"**{title}**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for m in data["methods"]:
        vals = []
        for d, c in cols:
            r = runs.get((d, c, m))
            v = r["metrics"][metric] if r else float("nan")
            vals.append(f"{v:.4f}" if v < 1.5 else f"{v:.2f}")
        speed = data["speed_mp_per_s"][m]["median"]
        peak = data["peak_mem_mb"][m]
        lines.append(f"| {m} | " + " | ".join(vals) + f" | {speed:.3g} | {peak:.0f} |")
    return [*lines, ""]


def section() -> str:
    parts = []
    spec = [
        ("sr", "psnr_y", "Super-resolution, bicubic: PSNR on Y (dB), border = scale"),
        ("demosaic", "cpsnr", "Demosaicing, RGGB: CPSNR (dB), 10-pixel border, 8-bit outputs"),
        ("denoise", "psnr", "Gray denoising, Gaussian noise: PSNR (dB)"),
        ("denoise", "ssim", "Gray denoising: SSIM (Wang et al. 2004, Gaussian 11x11)"),
    ]
    for task, metric, title in spec:
        path = RESULTS / f"{task}.json"
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        parts += _table(data, metric, title)
        if metric != "ssim":
            link = f"[{task}.md](benchmarks/results/{task}.md)"
            parts += [f"Full table, per-image values and crops: {link}.", ""]
    machine = json.loads(next(RESULTS.glob("*.json")).read_text())["machine"]
    parts.append(
        f"Measured on {machine['cpu']} ({machine['cpu_count']} cores), torch threads "
        f"{machine['torch_threads']}. MP/s is the median over images of one call each."
    )
    return "\n".join(parts)


def main() -> int:
    readme = ROOT / "README.md"
    text = readme.read_text()
    if BEGIN not in text or END not in text:
        print(f"README.md has no {BEGIN} ... {END} block", file=sys.stderr)
        return 1
    head, rest = text.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    readme.write_text(f"{head}{BEGIN}\n{section()}\n{END}{tail}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
