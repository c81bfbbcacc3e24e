"""Self-supervised denoising against the supervised model and the classical baselines, one script.

Parts (each writes ``<out>/selfsup/<part>.json``; ``--report`` merges what exists into
``selfsup.md`` / ``selfsup.json`` and the crops):

- ``bsd``: BSD68 at sigma 25, the benchmark convention (REFERENCE.md: ``np.random.seed(0)`` once,
  images in sorted order, noise in float64 on 0..255, not clipped; outputs clipped; PSNR data range
  255, SSIM Gaussian 11x11). The four runs of ``configs/selfsup/bsd-*.yaml``: the supervised model,
  Noise2Noise, Neighbor2Neighbor and TCFL, one backbone, one budget (steps, batch, patch).
- ``oct-select``: Duke18 (Fang et al., IEEE TMI 2013). The classical baselines' parameter is
  chosen on training scans (frame 0 of subjects 01-03 against their averages, best mean PSNR):
  BM3D on the 8-bit scan (sigma on 0..255), BM3D on the log image ``log1p(255 x) / log 256``
  (sigma on that scale), NLM (OpenCV, its strength from sigma).
- ``oct-baselines``: each baseline with its selected parameter on the test scans.
- ``oct-models``: the OCT runs of ``configs/selfsup/oct-*.yaml`` (TCFL, Noise2Noise,
  Neighbor2Neighbor) and the shipped ``oct`` model on the test scans.

OCT scores: test frame ``SS_0`` against the subject's registered average ``SS``, 8-bit, outputs
rounded to 8 bit; PSNR (data range 255), SSIM (Wang et al., Gaussian 11x11), EPI (edge
preservation, Sattar et al. 1997, against the average), GCMSE, and the no-reference CNR (dB) and
ENL over the regions of :func:`restorekit.metrics.oct_regions` picked on the average (a 30x30
background window in the vitreous, the four brightest non-overlapping 30x30 windows as signal).
Speed: median seconds per scan over the four test scans, one thread.

Usage (from the repository root, after the runs)::

    .venv/bin/python benchmarks/selfsup.py --part bsd --part oct-select --part oct-baselines \
        --part oct-models --report
"""

from __future__ import annotations

import argparse
import json
import math
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from restorekit.eval.environment import machine_info, versions
from restorekit.io import read_image
from restorekit.metrics import epi, gcmse, psnr, ssim
from restorekit.metrics.oct import oct_regions, oct_scores
from restorekit.models.control import denoise_learned, load_denoiser
from restorekit.reports import markdown_table
from restorekit.reports.figures import comparison_strip, crop_to_uint8

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
OCT = DATA / "oct" / "Duke18"
RUNS = ROOT / "runs" / "selfsup"
RECIPES = {
    "supervised": "bsd-supervised",
    "Noise2Noise": "bsd-noise2noise",
    "Neighbor2Neighbor": "bsd-neighbor2neighbor",
    "TCFL": "bsd-tcfl",
}
OCT_RUNS = {
    "TCFL": "oct-tcfl",
    "Noise2Noise": "oct-noise2noise",
    "Neighbor2Neighbor": "oct-neighbor2neighbor",
}
SELECTION_SUBJECTS = ("01", "02", "03")
BM3D_GRID = (70.0, 90.0, 110.0, 130.0, 150.0)
NLM_GRID = (30.0, 50.0, 70.0, 90.0)
#: BM3D on log1p(255 x) / log 256: the noise there is about 0.15-0.3 (zeros of the dark
#: background make it heavy-tailed)
LOG_GRID = (0.1, 0.2, 0.3, 0.45)


def _learned(path: Path) -> Callable[[torch.Tensor], torch.Tensor]:
    model, _ = load_denoiser(path)
    return lambda x: denoise_learned(x, level=0.0, model=model)


def _timed(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor
) -> tuple[torch.Tensor, float]:
    t = time.perf_counter()
    out = fn(x)
    return out, time.perf_counter() - t


def _q8(x: torch.Tensor) -> torch.Tensor:
    """Round to 8 bit, as a saved result is."""
    return (x.clamp(0, 1) * 255).round() / 255


# -- part a: BSD68 at sigma 25 ---------------------------------------------------------------------
def part_bsd(out: Path) -> dict[str, Any]:
    paths = sorted((DATA / "test" / "gray" / "BSD68").glob("*.png"))
    rng = np.random.RandomState(0)
    pairs = []
    for p in paths:
        clean = read_image(p, mode="gray").double()
        noisy = clean + 25 / 255 * torch.from_numpy(rng.randn(*clean.shape[-2:]))[None, None]
        pairs.append((p.stem, noisy.float(), clean.float()))
    rows: dict[str, Any] = {}
    crops: list[tuple[str, np.ndarray]] = []
    name0, noisy0, clean0 = pairs[2]
    box = (100, 200, 96, 96)
    crops.append(("noisy sigma 25", crop_to_uint8(noisy0.clamp(0, 1), box)))
    for label, run in RECIPES.items():
        path = RUNS / run / "model.safetensors"
        if not path.is_file():
            print(f"skip {label}: {path} missing", file=sys.stderr)
            continue
        fn = _learned(path)
        ps, ss, ts = [], [], []
        for _, noisy, clean in pairs:
            res, sec = _timed(fn, noisy)
            res = res.clamp(0, 1)
            ps.append(float(psnr(res, clean)[0]))
            ss.append(float(ssim(res, clean)[0]))
            ts.append(sec)
        info = _meta(path)
        rows[label] = {
            "psnr": statistics.fmean(ps),
            "ssim": statistics.fmean(ss),
            "seconds_per_image": statistics.median(ts),
            "train_steps": info.get("train_steps"),
            "train_seconds": info.get("train_seconds"),
            "train_device": info.get("train_device"),
            "config": f"configs/selfsup/{run}.yaml",
        }
        with torch.no_grad():
            crops.append(
                (
                    f"{label}\n{rows[label]['psnr']:.2f} dB",
                    crop_to_uint8(fn(noisy0).clamp(0, 1), box),
                )
            )
        print(f"bsd {label}: {rows[label]['psnr']:.3f} dB", file=sys.stderr)
    crops.append(("clean", crop_to_uint8(clean0, box)))
    comparison_strip(crops, out / "selfsup-bsd68.png", zoom=2, columns=6)
    sup = rows.get("supervised", {}).get("psnr")
    for r in rows.values():
        r["gap_db"] = None if sup is None else sup - r["psnr"]
    return {"dataset": "BSD68", "sigma": 25, "image_for_crops": name0, "methods": rows}


def _meta(path: Path) -> dict[str, Any]:
    from restorekit.models.weights import read_safetensors

    _, meta = read_safetensors(path)
    out = {}
    for k in ("train_steps", "train_seconds", "train_device"):
        if k in meta:
            out[k] = json.loads(meta[k])
    return out


# -- part b: Duke18 OCT -------------------------------------------------------------------------
def _oct_pairs(
    split: str, subjects: tuple[str, ...] | None = None
) -> list[tuple[str, torch.Tensor, torch.Tensor]]:
    folder = OCT / split
    pairs = []
    for c in sorted((folder / "clean").glob("*.png")):
        if subjects is not None and c.stem not in subjects:
            continue
        noisy = read_image(folder / "noisy" / f"{c.stem}_0.png", mode="gray")
        pairs.append((c.stem, noisy, read_image(c, mode="gray")))
    return pairs


def _bm3d(x: torch.Tensor, sigma255: float) -> torch.Tensor:
    from restorekit.classical.denoise import denoise_bm3d

    return denoise_bm3d(x.double(), sigma255 / 255).float()


_LOG = math.log(256.0)


def _bm3d_log(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """BM3D on ``log1p(255 x) / log 256`` (in [0, 1]), mapped back."""
    from restorekit.classical.denoise import denoise_bm3d

    t = torch.log1p(255 * x.double().clamp_min(0)) / _LOG
    d = denoise_bm3d(t, sigma)
    return (torch.expm1(d * _LOG) / 255).float()


def _nlm(x: torch.Tensor, sigma255: float) -> torch.Tensor:
    from restorekit.classical.denoise import denoise_nlm_opencv

    return denoise_nlm_opencv(x.double(), sigma255 / 255).float()


def _baselines() -> dict[str, tuple[Callable, tuple[float, ...]]]:
    return {
        "BM3D": (_bm3d, BM3D_GRID),
        "BM3D (log)": (_bm3d_log, LOG_GRID),
        "NLM": (_nlm, NLM_GRID),
    }


def part_oct_select(out: Path) -> dict[str, Any]:
    """Each baseline's parameter, chosen on training scans (best mean PSNR)."""
    train = _oct_pairs("train", SELECTION_SUBJECTS)
    done = out / "selfsup" / "oct-select.json"  # written after each method: a rerun goes on
    selection: dict[str, Any] = json.loads(done.read_text())["selection"] if done.is_file() else {}
    for name, (fn, grid) in _baselines().items():
        if name in selection:
            continue
        scores = {}
        for s in grid:
            scores[s] = statistics.fmean(float(psnr(_q8(fn(n, s)), c)[0]) for _, n, c in train)
            print(f"select {name} {s}: {scores[s]:.3f}", file=sys.stderr)
        best = max(scores, key=scores.get)
        selection[name] = {"grid": {str(k): v for k, v in scores.items()}, "best": best}
        done.write_text(json.dumps({"selection": selection}, indent=1))
    return {"selection": selection}


def part_oct_baselines(out: Path) -> dict[str, Any]:
    """The baselines with their selected parameters (part oct-select) on the test scans."""
    p = out / "selfsup" / "oct-select.json"
    if not p.is_file():
        raise SystemExit("run --part oct-select first")
    selection = json.loads(p.read_text())["selection"]
    grids = _baselines()
    test = _oct_pairs("test")
    methods: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {"noisy": lambda x: x}
    for name, sel in selection.items():
        methods[name] = lambda x, f=grids[name][0], s=sel["best"]: f(x, s)
    return {"selection": selection, "methods": _score_oct(methods, test, out)}


def part_oct_models(out: Path) -> dict[str, Any]:
    test = _oct_pairs("test")
    methods: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {}
    for label, run in OCT_RUNS.items():
        path = RUNS / run / "model.safetensors"
        if path.is_file():
            methods[label] = _learned(path)
    from restorekit.models.pretrained import PRETRAINED, pretrained_path

    if "oct" in PRETRAINED:
        try:
            methods["shipped oct"] = _learned(pretrained_path("oct"))
        except Exception as e:
            print(f"skip shipped oct: {e}", file=sys.stderr)
    return {"methods": _score_oct(methods, test, out)}


def _score_oct(
    methods: dict[str, Callable[[torch.Tensor], torch.Tensor]],
    pairs: list[tuple[str, torch.Tensor, torch.Tensor]],
    out: Path,
) -> dict[str, Any]:
    torch.set_num_threads(1)
    rows: dict[str, Any] = {}
    for name, fn in methods.items():
        per: dict[str, list[float]] = {
            k: [] for k in ("psnr", "ssim", "epi", "gcmse", "cnr", "enl", "seconds")
        }
        for subject, noisy, clean in pairs:
            res, sec = _timed(fn, noisy)
            res = _q8(res)
            regions = oct_regions(clean)
            per["psnr"].append(float(psnr(res, clean)[0]))
            per["ssim"].append(float(ssim(res, clean)[0]))
            per["epi"].append(float(epi(res, clean)[0]))
            per["gcmse"].append(float(gcmse(res, clean)[0]))
            nr = oct_scores(res, regions)
            per["cnr"].append(nr["cnr"])
            per["enl"].append(nr["enl"])
            per["seconds"].append(sec)
            if subject == pairs[0][0]:
                _save_crop(out, name, res)
        rows[name] = {
            k: (statistics.median(v) if k == "seconds" else statistics.fmean(v))
            for k, v in per.items()
        }
        rows[name]["psnr_per_subject"] = per["psnr"]
        print(
            f"oct {name}: {rows[name]['psnr']:.3f} dB, EPI {rows[name]['epi']:.3f}, "
            f"{rows[name]['seconds']:.2f} s",
            file=sys.stderr,
        )
    return rows


_CROP_BOX = (40, 330, 160, 192)  # top, left, height, width: layers and choroid of test scan 11


def _crop_file(out: Path, name: str) -> Path:
    safe = name.replace(" ", "_").replace("(", "").replace(")", "")
    return out / "selfsup-crops" / f"{safe}.npy"


def _save_crop(out: Path, name: str, res: torch.Tensor) -> None:
    """The crop of the first test scan's result, 8 bit, for the report."""
    path = _crop_file(out, name)
    path.parent.mkdir(parents=True, exist_ok=True)
    np.save(path, crop_to_uint8(res, _CROP_BOX))


# -- report -------------------------------------------------------------------------------------
def report(out: Path) -> None:
    parts = {}
    for name in ("bsd", "oct-baselines", "oct-models"):
        p = out / "selfsup" / f"{name}.json"
        if p.is_file():
            parts[name] = json.loads(p.read_text())
    lines = ["# Self-supervised denoising: Noise2Noise, Neighbor2Neighbor, TCFL", ""]
    lines.append("Produced by `benchmarks/selfsup.py` (see its docstring for the conventions).")
    if "bsd" in parts:
        b = parts["bsd"]
        lines += ["", "## (a) BSD68 at sigma 25: equal backbone and budget", ""]
        lines.append(
            "Backbone `unet-denoiser` (16/32/64 channels, 2 blocks, 262k parameters); 3000 "
            "steps of 16 patches of 64x64 for every recipe; Train400 for training (TCFL: noisy "
            "patches from one half, its unpaired clean patches from the other). Gap: supervised "
            "PSNR minus the recipe's."
        )
        rows = [
            [
                k,
                f"{v['psnr']:.2f}",
                f"{v['ssim']:.4f}",
                f"{v['gap_db']:.2f}",
                f"{v['train_seconds'] / 60:.0f} min",
                v["train_device"],
            ]
            for k, v in b["methods"].items()
        ]
        lines += [
            "",
            markdown_table(["recipe", "PSNR", "SSIM", "gap (dB)", "training", "trained on"], rows),
        ]
        lines += ["", "![BSD68 crops](selfsup-bsd68.png)"]
    methods: dict[str, Any] = {}
    for name in ("oct-baselines", "oct-models"):
        if name in parts:
            methods.update(parts[name]["methods"])
    if methods:
        lines += ["", "## (b) Duke18 OCT test: frame 0 against the registered average", ""]
        if "oct-baselines" in parts:
            sel = parts["oct-baselines"]["selection"]
            lines.append(
                "Baseline parameters chosen on training subjects "
                f"{', '.join(SELECTION_SUBJECTS)}: "
                + "; ".join(f"{k} {v['best']:g}" for k, v in sel.items())
                + " (BM3D and NLM sigma on 0..255, BM3D (log) sigma on the log scale)."
            )
        rows = [
            [
                k,
                f"{v['psnr']:.2f}",
                f"{v['ssim']:.3f}",
                f"{v['epi']:.3f}",
                f"{v['gcmse']:.4g}",
                f"{v['cnr']:.2f}",
                f"{v['enl']:.1f}",
                f"{v['seconds']:.2f}",
            ]
            for k, v in methods.items()
        ]
        lines += [
            "",
            markdown_table(
                ["method", "PSNR", "SSIM", "EPI", "GCMSE", "CNR (dB)", "ENL", "s / scan"], rows
            ),
        ]
        for label, run in OCT_RUNS.items():
            stopped = RUNS / run / "stopped.txt"
            if label not in methods and stopped.is_file():
                lines += [
                    "",
                    f"{label} (`configs/selfsup/{run}.yaml`) has no model: "
                    + stopped.read_text().strip(),
                ]
        tiles = []
        for k in methods:
            f = _crop_file(out, k)
            if f.is_file():
                tiles.append((f"{k}\n{methods[k]['psnr']:.2f} dB", np.load(f)))
        clean = read_image(OCT / "test" / "clean" / "11.png", mode="gray")
        tiles.append(("registered average", crop_to_uint8(clean, _CROP_BOX)))
        comparison_strip(tiles, out / "selfsup-oct.png", zoom=2, columns=4)
        lines += [
            "",
            "Crops at 200 % of test subject 11 (rows 40-199, columns 330-521):",
            "",
            "![OCT crops](selfsup-oct.png)",
        ]
    lines += ["", f"Machine: {machine_info().get('cpu', '')}; versions: {json.dumps(versions())}"]
    (out / "selfsup.md").write_text("\n".join(lines) + "\n")
    _readme_block(lines)
    (out / "selfsup.json").write_text(
        json.dumps({"parts": parts, "machine": machine_info(), "versions": versions()}, indent=1)
    )
    print(f"wrote {out / 'selfsup.md'}")


def _readme_block(lines: list[str]) -> None:
    """Copy the two tables (and their crops, linked) into README.md's selfsup block."""
    readme = ROOT / "README.md"
    begin, end = "<!-- selfsup:begin -->", "<!-- selfsup:end -->"
    text = readme.read_text()
    if begin not in text or end not in text:
        return
    keep = []
    for line in lines[3:]:
        if line.startswith("Machine:"):
            continue
        if line.startswith("## "):  # the README's own headings stay on top
            line = f"**{line[3:]}**"
        keep.append(line.replace("](selfsup", "](benchmarks/results/selfsup"))
    block = "\n".join(
        ["From `benchmarks/selfsup.py` ([selfsup.md](benchmarks/results/selfsup.md)):", *keep]
    )
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    readme.write_text(f"{head}{begin}\n{block}\n{end}{tail}")


PARTS = {
    "bsd": part_bsd,
    "oct-select": part_oct_select,
    "oct-baselines": part_oct_baselines,
    "oct-models": part_oct_models,
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--part", action="append", default=[], choices=sorted(PARTS))
    ap.add_argument("--report", action="store_true")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    args = ap.parse_args()
    torch.set_num_threads(1)
    out = Path(args.out)
    (out / "selfsup").mkdir(parents=True, exist_ok=True)
    for part in args.part:
        result = PARTS[part](out)
        (out / "selfsup" / f"{part}.json").write_text(json.dumps(result, indent=1))
    if args.report:
        report(out)


if __name__ == "__main__":
    main()
