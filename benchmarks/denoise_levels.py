"""Continuous-level denoising: PSNR / SSIM versus sigma for every method, in one script.

Parts (each writes ``<out>/denoise_levels/<part>.json``; ``--report`` merges what exists into
``denoise_levels.md`` / ``.json`` and the PSNR-versus-sigma plots). Two parts can run at once on
two cores: every method runs with one torch thread, so speeds are per core and comparable.

- ``gray``: Set12 and BSD68 at sigma 5, 10, ..., 75: the shipped gray model (through its
  calibration; at 15 / 25 / 50 also with the x8 self-ensemble), the per-level specialists at
  15 / 25 / 50 / 75 of the study backbone, each modulation scheme (AdaFM, FTN, DNI, through their
  calibrations, inside 15-75), NLM (scikit-image) at 15 / 25 / 50 / 75, and BM3D given the true
  sigma at 15 / 25 / 50.
- ``color``: CBSD68 and Kodak24 at sigma 5, ..., 75: the shipped colour model (and its x8
  self-ensemble at 15 / 25 / 50), NLM at 15 / 25 / 50 / 75, CBM3D at 25 on CBSD68.
- ``control``: on BSD68, the shipped gray model at the calibrated level versus the best level
  found on BSD68 itself (``--sigma S`` through the calibration), and ``--sigma auto``: the error
  of both noise estimators at each sigma and the PSNR when denoising with the estimate.
- ``notes``: the research notes' experiment (ResNet at std 0.2, FTN fine-tuned at 0.5-0.6) on
  BSD68 from 51 to 153.

The noisy images follow the benchmark convention (REFERENCE.md): ``np.random.seed(0)`` once per
(dataset, sigma), images in sorted order, noise in float64 on 0..255, not clipped; outputs clipped;
PSNR with data range 255; SSIM Gaussian 11x11.

Usage (from the repository root, after the runs it reads: configs/denoise/*.yaml, levels/, notes/)::

    .venv/bin/python benchmarks/denoise_levels.py --part gray &
    .venv/bin/python benchmarks/denoise_levels.py --part color ; wait
    .venv/bin/python benchmarks/denoise_levels.py --part control --part notes --report
"""

from __future__ import annotations

import argparse
import json
import math
import shlex
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from restorekit.eval import run_benchmark
from restorekit.eval.benchmark import BenchmarkResult, MethodRun
from restorekit.models import describe
from restorekit.models.control import LevelCalibration, denoise_learned, load_denoiser
from restorekit.reports import markdown_table
from restorekit.tasks import DenoiseTask

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
RUNS = ROOT / "runs"
SWEEP = [float(s) for s in range(5, 80, 5)]
STUDY_LEVELS = (15.0, 25.0, 50.0, 75.0)
SPECIALISTS = {
    15.0: "levels/base15",
    25.0: "levels/spec25",
    50.0: "levels/spec50",
    75.0: "levels/spec75",
}
SCHEMES = {"adafm": "levels/adafm75", "ftn": "levels/ftn75", "dni": "levels/dni.safetensors"}


class SweepTask(DenoiseTask):
    """The denoise task with the methods this script brings."""

    name = "denoise_levels"

    def __init__(self, methods: dict[str, Callable[[torch.Tensor, float], torch.Tensor]]) -> None:
        self._methods = methods

    def methods(self) -> dict[str, Callable[[torch.Tensor, float], torch.Tensor]]:
        return self._methods


def _model_file(run: str) -> Path:
    p = RUNS / run
    return p if p.suffix == ".safetensors" else p / "model.safetensors"


def _calibrated(model: torch.nn.Module, cal: LevelCalibration) -> Callable:
    return lambda x, s: denoise_learned(x, sigma=s * 255, model=model, calibration=cal)


def _fixed(model: torch.nn.Module, level: float) -> Callable:
    return lambda x, s: denoise_learned(x, level=level, model=model)


def _shipped(ensemble: int = 1) -> Callable:
    return lambda x, s: denoise_learned(x, sigma=s * 255, ensemble=ensemble)


#: ``--limit``: only the first N images of each dataset (a quick look, not a result)
LIMIT: int | None = None


def _run(
    methods: dict[str, Callable],
    folders: list[Path],
    sigmas: list[float],
    figures: Path | None = None,
    limit: int | None = None,
) -> BenchmarkResult:
    task = SweepTask(methods)
    return run_benchmark(
        task,
        folders,
        task.conditions(sigmas),
        figures_dir=figures,
        progress=True,
        limit=limit or LIMIT,
    )


def _merge(results: list[BenchmarkResult], name: str, command: str) -> BenchmarkResult:
    runs = [r for res in results for r in res.runs]
    order: dict[str, None] = {}
    for res in results:
        order.update(dict.fromkeys(res.methods))
    conds = sorted(
        {c for res in results for c in res.conditions}, key=lambda c: float(c.split("=")[1])
    )
    datasets = list(dict.fromkeys(d for res in results for d in res.datasets))
    return BenchmarkResult(
        task=name,
        convention=results[0].convention,
        metric_names=results[0].metric_names,
        datasets=datasets,
        conditions=conds,
        methods=list(order),
        runs=runs,
        command=command,
        figures=[f for res in results for f in res.figures],
    )


GRAY = [DATA / "test/gray/Set12", DATA / "test/gray/BSD68"]


def _study_methods() -> tuple[dict[str, Callable], dict[str, Callable], dict[str, Any]]:
    """The specialists and the modulated models of the study that are trained."""
    models: dict[str, Any] = {}
    specialists = {}
    for s, run in SPECIALISTS.items():
        f = _model_file(run)
        if f.is_file():
            model, _ = load_denoiser(f)
            specialists[f"specialist {s:g}"] = _fixed(model, 0.0)
            models[f"specialist {s:g}"] = describe(model, torch.rand(1, 1, 128, 128))
    schemes = {}
    for name, run in SCHEMES.items():
        f = _model_file(run)
        if f.is_file():
            model, cal = load_denoiser(f)
            if cal is None:
                print(f"{f}: no calibration, skipped", file=sys.stderr)
                continue
            schemes[name] = _calibrated(model, cal)
            models[name] = describe(model, torch.rand(1, 1, 128, 128))
            models[name]["calibration"] = cal.to_dict()
    return specialists, schemes, models


def part_study(out: Path, command: str) -> dict[str, Any]:
    """The specialists over the whole sweep, the modulated models inside 15-75."""
    specialists, schemes, models = _study_methods()
    results = []
    if specialists:
        results.append(_run(specialists, GRAY, SWEEP))
    if schemes:
        results.append(_run(schemes, GRAY, [s for s in SWEEP if 15 <= s <= 75]))
    merged = _merge(results, "denoise_levels_study", command)
    return {"result": merged.to_json(), "models": models}


def part_gray(out: Path, command: str) -> dict[str, Any]:
    """The shipped gray model over the sweep, NLM and BM3D, and the comparison crops."""
    from restorekit.classical.denoise import DENOISERS

    results = [_run({"learned (shipped)": _shipped()}, GRAY, SWEEP)]
    results.append(_run({"learned x8": _shipped(8)}, GRAY, [15.0, 25.0, 50.0]))
    nlm = {"nlm-skimage": DENOISERS["nlm-skimage"]}
    results.append(_run(nlm, GRAY, list(STUDY_LEVELS)))
    results.append(_run({"bm3d": DENOISERS["bm3d"]}, GRAY, [15.0, 25.0, 50.0]))
    # comparison crops of every method on the first BSD68 image (not timed into the tables)
    specialists, schemes, _ = _study_methods()
    every = {"learned (shipped)": _shipped(), **specialists, **schemes, **nlm}
    every["bm3d"] = DENOISERS["bm3d"]
    pictures = _run(every, [GRAY[1]], [25.0, 50.0], figures=out, limit=1)
    merged = _merge(results, "denoise_levels_gray", command)
    merged.figures = pictures.figures
    return {"result": merged.to_json()}


def part_color(out: Path, command: str) -> dict[str, Any]:
    from restorekit.classical.denoise import DENOISERS

    folders = [DATA / "test/color/CBSD68", DATA / "test/color/Kodak24"]
    results = [_run({"learned (shipped)": _shipped()}, folders, SWEEP)]
    results.append(_run({"learned x8": _shipped(8)}, folders, [15.0, 25.0, 50.0]))
    nlm = {"nlm-skimage": DENOISERS["nlm-skimage"]}
    results.append(_run(nlm, folders, list(STUDY_LEVELS)))
    results.append(_run({"cbm3d": DENOISERS["bm3d"]}, [folders[0]], [25.0]))
    every = {"learned (shipped)": _shipped(), **nlm, "cbm3d": DENOISERS["bm3d"]}
    pictures = _run(every, [folders[0]], [25.0], figures=out, limit=1)
    merged = _merge(results, "denoise_levels_color", command)
    merged.figures = pictures.figures
    return {"result": merged.to_json()}


def _bsd68(sigma: float) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(clean, noisy) pairs of BSD68 at ``sigma`` with the benchmark convention."""
    from restorekit.io import list_images, read_image

    rng = np.random.RandomState(0)
    pairs = []
    for p in list_images(DATA / "test/gray/BSD68")[:LIMIT]:
        clean = read_image(p, mode="gray").double()
        noisy = clean + sigma / 255 * torch.from_numpy(rng.randn(*clean.shape))
        pairs.append((clean, noisy))
    return pairs


def _psnr(model: torch.nn.Module, pairs: list, level: float) -> float:
    scores = []
    for clean, noisy in pairs:
        out = denoise_learned(noisy, level=level, model=model).clamp(0, 1)
        scores.append(10 * math.log10(1 / float((out - clean).pow(2).mean())))
    return float(np.mean(scores))


def part_control(out: Path, command: str) -> dict[str, Any]:
    from restorekit.classical.noise_level import estimate_noise_sigma
    from restorekit.models.control import _golden_max
    from restorekit.models.pretrained import load_pretrained_denoiser

    model, cal = load_pretrained_denoiser(1)
    rows = []
    for s in [5.0, 12.0, 15.0, 25.0, 37.0, 50.0, 63.0, 75.0]:
        pairs = _bsd68(s)
        a = cal.level_for(s)
        p_cal = _psnr(model, pairs, a)
        best_a, best_p = _golden_max(
            lambda t, pairs=pairs: _psnr(model, pairs, min(1.0, max(0.0, t))),
            max(0.0, a - 0.15),
            min(1.0, a + 0.15),
            8,
        )
        if p_cal > best_p:
            best_a, best_p = a, p_cal
        rows.append(
            {"sigma": s, "level": a, "psnr": p_cal, "best_level": best_a, "best_psnr": best_p}
        )
        print(rows[-1], flush=True)
    auto = []
    for s in SWEEP:
        pairs = _bsd68(s)
        row: dict[str, Any] = {"sigma": s}
        for method in ("pca", "wavelet"):
            est = [float(estimate_noise_sigma(n, method)[0]) * 255 for _, n in pairs]
            err = np.array(est) - s
            row[method] = {
                "mean_error": float(err.mean()),
                "mae": float(np.abs(err).mean()),
                "max_abs": float(np.abs(err).max()),
            }
            if method == "pca":
                psnr = []
                for (clean, noisy), e in zip(pairs, est, strict=True):
                    e = min(max(e, cal.range[0]), cal.range[1])
                    y = denoise_learned(noisy, level=cal.level_for(e), model=model).clamp(0, 1)
                    psnr.append(10 * math.log10(1 / float((y - clean).pow(2).mean())))
                row["psnr_auto"] = float(np.mean(psnr))
                row["psnr_true"] = _psnr(model, pairs, cal.level_for(s))
        auto.append(row)
        print(s, row, flush=True)
    return {"calibration": rows, "auto": auto, "command": command}


def part_notes(out: Path, command: str) -> dict[str, Any]:
    base_f, ftn_f = _model_file("notes/base"), _model_file("notes/ftn")
    base, _ = load_denoiser(base_f)
    ftn, cal = load_denoiser(ftn_f)
    rows = []
    for s in (51.0, 76.5, 102.0, 127.5, 140.25, 153.0):
        pairs = _bsd68(s)
        row = {"sigma": s, "base": _psnr(base, pairs, 0.0), "ftn level 1": _psnr(ftn, pairs, 1.0)}
        if cal is not None and cal.range[0] <= s <= cal.range[1]:
            row["ftn calibrated"] = _psnr(ftn, pairs, cal.level_for(s))
        rows.append(row)
        print(row, flush=True)
    return {
        "rows": rows,
        "models": {
            "base": describe(base, torch.rand(1, 1, 128, 128)),
            "ftn": describe(ftn, torch.rand(1, 1, 128, 128)),
        },
        "command": command,
    }


PARTS = {
    "gray": part_gray,
    "study": part_study,
    "color": part_color,
    "control": part_control,
    "notes": part_notes,
}


def _cell(res: dict, dataset: str, sigma: float, method: str, metric: str = "psnr") -> float | None:
    for r in res["runs"]:
        if (
            r["dataset"] == dataset
            and r["method"] == method
            and float(r["condition"].split("=")[1]) == sigma
        ):
            return r["metrics"][metric]
    return None


def _plot(res: dict, dataset: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.5))
    # the default cycle repeats after 10 methods; tab20 has 20 colours in dark/light pairs:
    # the dark ones first, then the light ones
    colours = plt.get_cmap("tab20").colors
    for i, method in enumerate(res["methods"]):
        pts = [(s, _cell(res, dataset, s, method)) for s in SWEEP]
        pts = [(s, v) for s, v in pts if v is not None]
        if not pts:
            continue
        style = {"color": colours[2 * (i % 10) + i // 10], "linestyle": "-"}
        if method == "learned (shipped)":
            style = {"color": "black", "linestyle": "-", "linewidth": 2}
        elif method.startswith("specialist"):
            style["linestyle"] = "--"
        if len(pts) < 5:
            style["linestyle"] = "none"
        ax.plot(
            *zip(*pts, strict=True),
            marker="o" if len(pts) < 5 else ".",
            label=method,
            markersize=5,
            **style,
        )
    others = [
        v
        for method in res["methods"]
        if not method.startswith("specialist")
        for v in (_cell(res, dataset, s, method) for s in SWEEP)
        if v is not None
    ]
    if others:  # specialists far from their level would squash the interesting range
        ax.set_ylim(bottom=min(others) - 1.5)
    ax.set_xlabel("sigma (0..255)")
    ax.set_ylabel("PSNR (dB)")
    ax.set_title(f"{dataset}: PSNR versus noise level")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def _study_section(res: dict, models: dict) -> list[str]:
    spec = {s: f"specialist {s:g}" for s in STUDY_LEVELS}
    if not all(m in res["methods"] for m in spec.values()):
        return ["The study runs (configs/denoise/levels) are not all trained yet.", ""]
    base = models[spec[15.0]]
    rows = []
    for scheme in ("adafm", "ftn", "dni"):
        if scheme not in res["methods"]:
            continue
        gaps = []
        for s in STUDY_LEVELS:
            v, ref = _cell(res, "BSD68", s, scheme), _cell(res, "BSD68", s, spec[s])
            gaps.append(v - ref)
        m = models[scheme]
        rows.append(
            [
                scheme,
                *[f"{g:+.2f}" for g in gaps],
                f"{max(abs(gaps[0]), abs(gaps[3])):.2f}",
                f"{max(abs(gaps[1]), abs(gaps[2])):.2f}",
                m["params"] - base["params"],
                f"{m['macs_per_pixel'] - base['macs_per_pixel']:.0f}",
            ]
        )
    head = [
        "scheme",
        "gap @15",
        "gap @25",
        "gap @50",
        "gap @75",
        "max gap, trained levels",
        "max gap, in between",
        "extra params",
        "extra MACs/pixel",
    ]
    return [
        "## Modulation versus specialists (BSD68)",
        "",
        "PSNR of each modulated model (15 = level 0, 75 = level 1, in between through its "
        "calibration) minus the specialist of the same backbone and budget trained at that sigma. "
        f"Backbone: {base['params']} parameters, {base['macs_per_pixel']:.0f} MACs/pixel. DNI "
        "stores two networks; FTN computes its kernels once per call.",
        "",
        markdown_table(head, rows),
        "",
    ]


def _sweep_tables(res: BenchmarkResult, key: str) -> list[str]:
    """Per dataset: PSNR and SSIM with a row per sigma and a column per method; then speed."""
    md = [
        f"## {key.capitalize()}: PSNR / SSIM versus sigma",
        "",
        f"Convention: {res.convention}",
        "",
    ]
    md += [res.provenance(), ""]
    sigmas = sorted({float(c.split("=")[1]) for c in res.conditions})
    for d in res.datasets:
        for metric, fmt in (("psnr", "{:.2f}"), ("ssim", "{:.4f}")):
            rows = []
            for s in sigmas:
                row: list[object] = [f"{s:g}"]
                for meth in res.methods:
                    r = res.run_for(d, f"sigma={s:g}", meth)
                    row.append(fmt.format(r.metrics[metric]) if r else "-")
                rows.append(row)
            unit = " (dB)" if metric == "psnr" else ""
            md += [
                f"### {d}: {metric}{unit}",
                "",
                markdown_table(["sigma", *res.methods], rows),
                "",
            ]
    rows = []
    for meth in res.methods:
        sp = res.speed(meth)
        rows.append([meth, f"{sp['median']:.3g}", f"{sp['q25']:.3g} - {sp['q75']:.3g}", sp["runs"]])
    md += [
        f"### {key.capitalize()}: speed (one torch thread)",
        "",
        "Megapixels of output per second over every image timed, median and quartiles (one call "
        "per image after an untimed warm-up).",
        "",
        markdown_table(["method", "MP/s median", "MP/s IQR", "images"], rows),
        "",
    ]
    md += [f"![{Path(f).stem}]({Path(f).name})" for f in res.figures] + [""]
    return md


def _from_json(d: dict[str, Any]) -> BenchmarkResult:
    runs = [
        MethodRun(**{k: r[k] for k in MethodRun.__dataclass_fields__ if k in r}) for r in d["runs"]
    ]
    fields = {k: d[k] for k in BenchmarkResult.__dataclass_fields__ if k in d and k != "runs"}
    fields["metric_names"] = tuple(fields["metric_names"])
    return BenchmarkResult(runs=runs, **fields)


def report(out: Path) -> None:
    folder = out / "denoise_levels"
    parts = {
        p: json.loads((folder / f"{p}.json").read_text())
        for p in PARTS
        if (folder / f"{p}.json").is_file()
    }
    md = [
        "# Continuous-level denoising",
        "",
        "Reproduce: see the usage in `benchmarks/denoise_levels.py`. Every method ran with one "
        "torch thread (speeds are per core).",
        "",
    ]
    tables = {
        "gray": [parts[k]["result"] for k in ("gray", "study") if k in parts],
        "color": [parts["color"]["result"]] if "color" in parts else [],
    }
    for key, found in tables.items():
        if not found:
            continue
        merged = _merge([_from_json(r) for r in found], f"denoise levels ({key})", "")
        merged.figures = [f for r in found for f in r.get("figures", [])]
        merged.machine, merged.versions, merged.date = (
            found[0]["machine"],
            found[0]["versions"],
            found[0]["date"],
        )
        res = merged.to_json()
        for d in res["datasets"]:
            _plot(res, d, out / f"denoise_levels-{d}.png")
        md += _sweep_tables(merged, key)
        md += [f"![{d}](denoise_levels-{d}.png)" for d in res["datasets"]] + [""]
        if key == "gray" and "study" in parts:
            md += _study_section(res, parts["study"]["models"])
    if "control" in parts:
        c = parts["control"]
        rows = [
            [
                f"{r['sigma']:g}",
                f"{r['level']:.3f}",
                f"{r['psnr']:.2f}",
                f"{r['best_level']:.3f}",
                f"{r['best_psnr']:.2f}",
                f"{r['best_psnr'] - r['psnr']:.3f}",
            ]
            for r in c["calibration"]
        ]
        md += [
            "## `--sigma S` through the calibration (shipped gray model, BSD68)",
            "",
            "The calibration was fitted on held-out Train400 crops; the best level here is "
            "searched on BSD68 itself (golden section within +-0.15 of the calibrated level).",
            "",
            markdown_table(
                ["sigma", "calibrated level", "PSNR", "best level", "best PSNR", "loss (dB)"], rows
            ),
            "",
        ]
        rows = [
            [
                f"{r['sigma']:g}",
                f"{r['pca']['mean_error']:+.2f}",
                f"{r['pca']['mae']:.2f}",
                f"{r['pca']['max_abs']:.2f}",
                f"{r['wavelet']['mean_error']:+.2f}",
                f"{r['wavelet']['mae']:.2f}",
                f"{r['psnr_true']:.2f}",
                f"{r['psnr_auto']:.2f}",
            ]
            for r in c["auto"]
        ]
        md += [
            "## `--sigma auto` (BSD68)",
            "",
            "Estimated minus true sigma (0..255) over the 68 images: patch PCA over weak-texture "
            "patches (the CLI's estimator) and the wavelet MAD rule; then the shipped gray "
            "model's PSNR with the true sigma and with the PCA estimate.",
            "",
            markdown_table(
                [
                    "sigma",
                    "PCA mean err",
                    "PCA MAE",
                    "PCA max",
                    "wavelet mean err",
                    "wavelet MAE",
                    "PSNR true sigma",
                    "PSNR auto",
                ],
                rows,
            ),
            "",
        ]
    if "notes" in parts:
        n = parts["notes"]
        cols = ["base", "ftn level 1", "ftn calibrated"]
        rows = [
            [f"{r['sigma']:g}", *[f"{r[c]:.2f}" if c in r else "-" for c in cols]]
            for r in n["rows"]
        ]
        md += [
            "## The research notes' experiment (BSD68)",
            "",
            "ResNet (6 layers, conv+BN+ReLU) trained at std 0.2 (51), FTN fine-tuned at "
            "std 0.5-0.6 (127.5-153) with the base frozen (configs/denoise/notes). PSNR (dB):",
            "",
            markdown_table(["sigma", *cols], rows),
            "",
        ]
    (out / "denoise_levels.md").write_text("\n".join(md) + "\n")
    (out / "denoise_levels.json").write_text(json.dumps(parts, indent=1) + "\n")
    print(f"wrote {out / 'denoise_levels.md'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", action="append", choices=list(PARTS), default=[])
    ap.add_argument("--report", action="store_true", help="merge the parts into the report")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--limit", type=int, default=None, help="first N images (a quick look)")
    ap.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch threads (keep 1 for the parts that time methods; control and notes do not)",
    )
    args = ap.parse_args()
    global LIMIT
    LIMIT = args.limit
    torch.set_num_threads(args.threads)
    out = Path(args.out)
    command = "python benchmarks/denoise_levels.py " + shlex.join(sys.argv[1:])
    for part in args.part:
        data = PARTS[part](out, command)
        path = out / "denoise_levels" / f"{part}.json"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(data, indent=1, allow_nan=True) + "\n")
        print(f"wrote {path}")
    if args.report:
        report(out)


if __name__ == "__main__":
    main()
