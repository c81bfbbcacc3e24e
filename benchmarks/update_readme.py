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
            if r is None:  # the method does not apply at this condition
                vals.append("-")
                continue
            v = r["metrics"][metric]
            vals.append(f"{v:.4f}" if v < 1.5 else f"{v:.2f}")
        by_condition = data.get("speed_mp_per_s_by_condition")
        if by_condition:  # another network per condition (an upscaler per scale)
            speed = " / ".join(
                f"{v['median']:.3g}" if v["runs"] else "-" for v in by_condition[m].values()
            )
        else:
            speed = f"{data['speed_mp_per_s'][m]['median']:.3g}"
        peak = data["peak_mem_mb"][m]
        lines.append(f"| {m} | " + " | ".join(vals) + f" | {speed} | {peak:.0f} |")
    return [*lines, ""]


def _block(title: str, head: list[str], rows: list[list[str]], stem: str, what: str) -> list[str]:
    """A bold title, a Markdown table and the link to the result's own report."""
    lines = [f"**{title}**", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    link = f"[{stem}.md](benchmarks/results/{stem}.md)"
    return [*lines, "", f"{what}: {link}.", ""]


def _budget(data: dict, what: str) -> str:
    steps = data["rows"][0]["train_steps"]
    return (
        f"Learned demosaicer: {what} (CPSNR dB; equal budget of {steps} steps x 16 patches per row)"
    )


def _ablation(data: dict) -> list[str]:
    head = [
        "variant",
        "holdout",
        "Kodak24",
        "McMaster",
        "params",
        "MACs/pixel",
        "train min",
        "MP/s",
    ]
    rows = [
        [
            r["label"], f"{r['holdout_cpsnr']:.2f}", f"{r['kodak24']:.2f}", f"{r['mcmaster']:.2f}",
            f"{r['params']:,}", f"{r['macs_per_pixel']:,.0f}", f"{r['train_minutes']:.1f}",
            f"{r['mp_per_s']:.1f}",
        ]
        for r in data["rows"]
    ]  # fmt: skip
    return _block(
        _budget(data, "ablation"), head, rows, "demosaic_ablation", "Reproduce and details"
    )


def _develop(data: dict) -> list[str]:
    rows = [
        [m, f"{r['psnr']:.2f}", f"{r['ssim']:.4f}", f"{r['time']['median_s']:.2f}"]
        for m, r in data["methods"].items()
    ]
    return _block(
        "Raw development of the Kodak DC50 raw: each demosaicer against LibRaw's own (AHD)",
        ["method", "PSNR vs LibRaw (dB)", "SSIM", "seconds"],
        rows,
        "develop",
        "Pictures and the pipeline check",
    )


def _data_ablation(data: dict) -> list[str]:
    head = ["training data", "holdout (lossless)", "Kodak24", "McMaster", "train min"]
    rows = [
        [
            r["label"], f"{r['holdout_lossless']:.2f}", f"{r['kodak24']:.2f}",
            f"{r['mcmaster']:.2f}", f"{r['train_minutes']:.1f}",
        ]
        for r in data["rows"]
    ]  # fmt: skip
    title = _budget(data, "training data")
    return _block(title, head, rows, "demosaic_data_ablation", "Reproduce and details")


def _raw_noise(data: dict) -> list[str]:
    head = ["dataset", "sigma", "mean error", "worst image", "true level (dB)", "auto (dB)"]
    rows = [
        [
            r["dataset"], f"{r['sigma']:g}", f"{100 * r['mean_relative_error']:+.1f} %",
            f"{100 * r['worst_relative_error']:+.1f} %", f"{r['cpsnr_true_level']:.2f}",
            f"{r['cpsnr_auto']:.2f}", f"{r['cost_db']:.3f}",
        ]
        for r in data["rows"]
    ]  # fmt: skip
    return _block(
        "`--noise auto` on noisy mosaics: the estimate and its cost for the joint network",
        [*head, "cost (dB)"],
        rows,
        "demosaic_noise",
        "Reproduce and details",
    )


def _tiling(data: dict) -> list[str]:
    runs = data["runs"]
    return [
        f"**Tiled inference, 4000x3000 mosaic ({data['tile']}-pixel tiles)**: largest difference "
        f"from whole-image inference {data['max_abs_difference']:.1e}; peak RSS of the whole "
        f"process {runs['tiled']['peak_rss_mb']:.0f} MB tiled vs {runs['whole']['peak_rss_mb']:.0f}"
        f" MB whole; {runs['tiled']['mp_per_s']:.1f} MP/s tiled "
        "([tiling.md](benchmarks/results/tiling.md)).",
        "",
    ]


def _extras() -> list[str]:
    """The learned demosaicer's other benchmark files, when they exist."""
    out: list[str] = []
    for name, render in (
        ("demosaic_ablation", _ablation),
        ("demosaic_data_ablation", _data_ablation),
        ("demosaic_noise", _raw_noise),
        ("develop", _develop),
        ("tiling", _tiling),
    ):
        path = RESULTS / f"{name}.json"
        if path.exists():
            out += render(json.loads(path.read_text()))
    return out


def section() -> str:
    parts = []
    spec = [
        (
            "sr",
            "psnr_y",
            "Super-resolution (bicubic degradation): PSNR on Y (dB), border = scale; "
            "MP/s of output per scale",
        ),
        (
            "demosaic",
            "cpsnr",
            "Demosaicing, RGGB: CPSNR (dB), 10-pixel border, 8-bit outputs; sigma=S: Gaussian "
            "noise of S (0..255) on the raw, the methods that take a level told S; MP/s per column",
        ),
        ("denoise", "psnr", "Gray denoising, Gaussian noise: PSNR (dB)"),
        ("denoise", "ssim", "Gray denoising: SSIM (Wang et al. 2004, Gaussian 11x11)"),
        ("denoise_bsd68/denoise", "psnr", "Gray denoising, BSD68: PSNR (dB)"),
        ("denoise_cbsd68/denoise", "psnr", "Colour denoising, CBSD68: PSNR (dB)"),
    ]
    for stem, metric, title in spec:
        path = RESULTS / f"{stem}.json"
        if not path.exists():
            continue
        data = json.loads(path.read_text())
        parts += _table(data, metric, title)
        if metric != "ssim":
            link = f"[{stem}.md](benchmarks/results/{stem}.md)"
            parts += [f"Full table, per-image values and crops: {link}.", ""]
        if stem == "demosaic":
            parts += _extras()
    machine = json.loads((RESULTS / "sr.json").read_text())["machine"]
    parts.append(
        f"Measured on {machine['cpu']} ({machine['cpu_count']} cores), torch threads "
        f"{machine['torch_threads']}. MP/s is the median over images of one call each."
    )
    return "\n".join(parts)


def write_block(name: str, body: str) -> bool:
    """Replace the text between ``<!-- name:begin -->`` and ``<!-- name:end -->`` in README.md
    with ``body``; False (README untouched) when the markers are missing."""
    readme = ROOT / "README.md"
    begin, end = f"<!-- {name}:begin -->", f"<!-- {name}:end -->"
    text = readme.read_text()
    if begin not in text or end not in text:
        return False
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{begin}\n{body}\n{end}{tail}")
    return True


def main() -> int:
    if not write_block("bench", section()):
        print(f"README.md has no {BEGIN} ... {END} block", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
