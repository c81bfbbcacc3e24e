"""Film-grain engines: speed and memory, fidelity to the Boolean model, estimators, pictures.

Four parts (``--parts``, default all), each merged into ``film_grain.json`` so that one part can be
rerun alone; ``film_grain.md`` is written from the merged JSON every time.

- ``speed``: each engine on RGB pictures of 1 MP and 12 MP. The 12 MP picture is the 24 Kodak
  crops (500x500) laid out 8 x 3 and mirrored vertically to 4000x3000 (as ``tiling.py``); the
  1 MP picture is its top-left 1000x1000 crop. Engines: ``render_boolean`` (radius 0.5, blur 0.8;
  and radius 0.25, timed at 1 MP only and extrapolated per pixel to 12 MP), ``render_gaussian``
  (``GaussianGrain.from_boolean`` of radius 0.5, blur 0.8), ``av1_grain`` (a lag-3 table with
  luma and chroma points, fitted by ``fit_av1_table`` to Boolean grain on a grey ramp) and
  ``render_learned`` (the shipped model; skipped with a note when its weights are missing). Each
  is timed as the median of 3 calls (min and max beside it) after an untimed warm-up call on a
  32x32 crop. Every 12 MP call runs in a fresh process, whose peak resident memory
  (``ru_maxrss``, the whole process: Python, torch, the picture) is the memory figure. The
  pixel-wise ``render_boolean_reference`` (N = 800) is timed on 48x48 and 32x32 crops and
  scaled per pixel to 12 MP, for the fast engine's speed-up over it.
- ``fidelity``: the Gaussian and learned engines against the Boolean engine, on gray images
  (one channel; every engine renders each channel alone, so gray loses nothing) for
  (radius, radius_sigma, blur) = (0.4, 0, 0.7), (0.6, 0, 0.9), (0.8, 0, 1.2), and (0.6, 0.15, 0.9)
  for the learned engine only (the Gaussian engine needs a constant radius). (a) Flat fields at
  grey levels 0.1, 0.3, 0.5, 0.7, 0.9 (512x512): the variance ratio engine / Boolean, and the
  spectrum error sum_k w_k |P_engine(k) / P_boolean(k) - 1| over 16 rings to 0.5 cycles/pixel
  (``radial_power_spectrum``), w_k the Boolean ring's share of the power. (b) The 24 Kodak images
  as gray (the mean of R, G, B): the variance of the grain (render minus clean) per intensity
  (16 bins of the clean image, pooled over the images; bins of >= 5000 pixels compared), and the
  radial spectrum of the grain averaged over the images, with the same error. A second Boolean
  render with another seed, measured the same way, is each measurement's noise floor.
- ``estimate``: (a) ``block_statistics`` + ``fit_boolean`` on six flat fields (0.15 .. 0.9,
  256x256) rendered with three known settings and three seeds, and ``estimate_grain`` on a grainy
  RGB ramp (384x384): relative errors of the radius and the blur. (b) The AV1 fit against the real
  decoder, as ``tests/film/test_av1.py::test_fit_reproduces_dav1d_grain`` measures it (its scene,
  truth table and measures are imported from the test): aomenc codes a scene losslessly with a
  known lag-3 table, dav1d decodes its grain, ``fit_av1_table`` fits it, and the re-synthesised
  grain is compared with dav1d's (variance ratio per 32-level bin, spectrum error as mean |log
  ratio| over 15 rings against a lag-0 control).
- ``pictures``: a crop of kodim04 at 100 % and a detail at 400 % (nearest neighbour) for the
  clean image and every engine at (0.6, 0, 0.9) (AV1: a table fitted to that Boolean grain with
  ``fit_av1_checked``), and
  the radially averaged spectra and variance curves of the engines against Boolean for that
  setting (from the ``fidelity`` part's JSON).

Writes ``film_grain.md``, ``film_grain.json`` and ``film_grain-*.png`` into ``--out``.

Usage (from the repository root, on an otherwise idle machine; about 25 minutes on 2 cores)::

    .venv/bin/python benchmarks/film_grain.py
    .venv/bin/python benchmarks/film_grain.py --parts fidelity pictures   # rerun two parts
    .venv/bin/python benchmarks/film_grain.py --quick   # smoke run on tiny sizes, to a temp folder
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import resource
import shlex
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
KODAK = ROOT.parent / "shared" / "data" / "test" / "color" / "Kodak24"
PARTS = ("speed", "fidelity", "estimate", "pictures")
#: (radius, radius_sigma, blur) of the fidelity part; the last one for the learned engine only
SETTINGS = ((0.4, 0.0, 0.7), (0.6, 0.0, 0.9), (0.8, 0.0, 1.2), (0.6, 0.15, 0.9))
MIDDLE = (0.6, 0.0, 0.9)
LEVELS = (0.1, 0.3, 0.5, 0.7, 0.9)
RINGS = 16
BINS = 16
#: the issue's budgets: seconds for 12 MP RGB, and the speed-up of the fast Boolean engine
BUDGET_BOOLEAN_S = 40.0
BUDGET_FAST_S = 3.0
BUDGET_SPEEDUP = 50.0
BUDGET_MEMORY_MB = 2048.0
FIDELITY_BAR = 0.10
PICTURE = "kodim04.png"

Render = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


@dataclasses.dataclass(frozen=True)
class Sizes:
    """Picture sizes of a full run, or of a ``--quick`` smoke run."""

    large: tuple[int, int] = (3000, 4000)
    small: tuple[int, int] = (1000, 1000)
    reference: tuple[int, ...] = (48, 32)
    runs: int = 3
    flat: int = 512
    kodak_images: int = 24
    kodak_crop: int = 500
    min_count: int = 5000
    estimate_flat: int = 256
    estimate_seeds: int = 3
    ramp: int = 384
    av1_ramp: tuple[int, int] = (256, 1024)
    crop: tuple[int, int, int] = (110, 130, 256)  # top, left, side of the 100 % crop
    detail: tuple[int, int, int] = (64, 96, 64)  # top, left, side inside the crop, shown at 400 %


QUICK = Sizes(
    large=(192, 256),
    small=(96, 128),
    reference=(12, 8),
    runs=2,
    flat=64,
    kodak_images=2,
    kodak_crop=128,
    min_count=200,
    estimate_flat=64,
    estimate_seeds=1,
    ramp=192,
    av1_ramp=(64, 256),
    crop=(110, 130, 128),
    detail=(32, 48, 32),
)


def _key(setting: tuple[float, float, float]) -> str:
    return "r{}-s{}-b{}".format(*setting)


def _grain(setting: tuple[float, float, float], samples: int = 800) -> Any:
    from restorekit.film.boolean import BooleanGrain

    r, s, b = setting
    return BooleanGrain(radius=r, radius_sigma=s, blur=b, samples=samples)


def _kodak() -> list[torch.Tensor]:
    """The 24 Kodak crops, each ``(1, C, 500, 500)`` in [0, 1] (sRGB values)."""
    from restorekit.io import list_images, read_image

    return [read_image(p, mode="rgb") for p in list_images(KODAK)]


def _large_picture(sizes: Sizes) -> torch.Tensor:
    """``(1, 3, 3000, 4000)``: the Kodak crops 8 x 3, mirrored vertically (or a crop of it)."""
    tiles = [t[0] for t in _kodak()]
    rows = [torch.cat(tiles[r * 8 : (r + 1) * 8], dim=-1) for r in range(3)]
    top = torch.cat(rows, dim=-2)  # 1500 x 4000
    full = torch.cat([top, top.flip(-2)], dim=-2)[None]  # 3000 x 4000
    H, W = sizes.large
    return full[..., :H, :W].contiguous()


def _learned_model(path: str | None, quick: bool) -> tuple[torch.nn.Module | None, str]:
    """The learned engine's network and what it is: a given file, the shipped weights, an
    untrained network in ``--quick`` runs (to exercise the code), or None."""
    from restorekit.models.pretrained import PRETRAINED, load_pretrained

    if path:
        from restorekit.models.weights import load_model

        return load_model(path, expect=PRETRAINED["grain"][1])[0], f"model file {path}"
    shipped = ROOT / "src" / "restorekit" / "weights" / PRETRAINED["grain"][0]
    if shipped.is_file():
        return load_pretrained("grain"), "shipped weights"
    if quick:
        from restorekit.models.grain import GrainNet

        torch.manual_seed(0)  # the untrained network's initial weights, the same every run
        return GrainNet().eval(), "UNTRAINED GrainNet (quick smoke run: weights missing)"
    return None, f"skipped: {shipped.relative_to(ROOT)} does not exist yet (being trained)"


def _fit_av1(
    setting: tuple[float, float, float], sizes: Sizes, seed: int = 0, checked: bool = False
) -> Any:
    """An AV1 table (luma and chroma points) fitted to Boolean grain on a grey RGB ramp: at lag 3
    (the synthesis's heaviest case, for timing), or ``checked`` (``fit_av1_checked``: lag 3 or a
    shorter lag where re-synthesis shows the fit unsound, for pictures)."""
    from restorekit.film.av1 import fit_av1_table, rgb_to_av1_ycbcr
    from restorekit.film.boolean import render_boolean
    from restorekit.film.estimate import fit_av1_checked

    H, W = sizes.av1_ramp
    ramp = torch.linspace(0.03, 0.97, W).view(1, 1, 1, W).expand(1, 3, H, W).contiguous()
    out = render_boolean(ramp, _grain(setting), torch.Generator().manual_seed(seed))
    clean = rgb_to_av1_ycbcr(ramp[0].double().numpy() * 255)
    noise = rgb_to_av1_ycbcr((out - ramp)[0].double().numpy() * 255, offset=False)
    if checked:
        return fit_av1_checked(clean, noise, np.ones(clean.shape[1:], dtype=bool))
    return fit_av1_table(clean, noise, None, ar_lag=3, num_points=8, random_seed=seed)


def _speed_engines(av1: Any, model: torch.nn.Module | None) -> dict[str, Render]:
    from restorekit.film.av1 import av1_grain
    from restorekit.film.boolean import BooleanGrain, render_boolean, render_boolean_reference
    from restorekit.film.gaussian import GaussianGrain, render_gaussian
    from restorekit.film.learned import render_learned

    base = BooleanGrain(radius=0.5, blur=0.8)
    fine = BooleanGrain(radius=0.25, blur=0.8)
    gauss = GaussianGrain.from_boolean(base)
    engines: dict[str, Render] = {
        "boolean": lambda x, g: render_boolean(x, base, g),
        "boolean r0.25": lambda x, g: render_boolean(x, fine, g),
        "gaussian": lambda x, g: render_gaussian(x, gauss, g),
        "av1": lambda x, g: av1_grain(x, av1, g),
        "reference": lambda x, g: render_boolean_reference(x, base, g),
    }
    if model is not None:
        engines["learned"] = lambda x, g: render_learned(x, base, g, model=model)
    return engines


def _spread(times: list[float]) -> dict[str, Any]:
    return {
        "median": statistics.median(times),
        "min": min(times),
        "max": max(times),
        "runs": times,
    }


def _time_calls(fn: Render, x: torch.Tensor, runs: int) -> dict[str, Any]:
    fn(x[..., :32, :32], torch.Generator().manual_seed(99))  # warm-up, untimed
    times = []
    for i in range(runs):
        g = torch.Generator().manual_seed(i)
        start = time.perf_counter()
        fn(x, g)
        times.append(time.perf_counter() - start)
    return _spread(times)


def _maxrss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _child(args: argparse.Namespace) -> None:
    """One 12 MP render in this fresh process: its time and the process's peak memory."""
    from restorekit.film.av1 import AV1GrainParams

    torch.set_num_threads(args.threads)
    sizes = QUICK if args.quick else Sizes()
    tmp = Path(args.tmp)
    av1 = AV1GrainParams(**json.loads((tmp / "av1.json").read_text()))
    model = _learned_model(args.learned_model, args.quick)[0] if args.child == "learned" else None
    fn = _speed_engines(av1, model)[args.child]
    x = _large_picture(sizes)
    fn(x[..., :32, :32], torch.Generator().manual_seed(99))  # warm-up, untimed
    before = _maxrss_mb()
    start = time.perf_counter()
    fn(x, torch.Generator().manual_seed(args.run))
    seconds = time.perf_counter() - start
    result = {"seconds": seconds, "peak_rss_mb": _maxrss_mb(), "rss_before_mb": before}
    (tmp / f"{args.child}-{args.run}.json").write_text(json.dumps(result))


def part_speed(args: argparse.Namespace, sizes: Sizes) -> dict[str, Any]:
    from restorekit.eval.environment import PeakMemory

    model, model_note = _learned_model(args.learned_model, args.quick)
    av1 = _fit_av1((0.5, 0.0, 0.8), sizes)
    engines = _speed_engines(av1, model)
    big = _large_picture(sizes)
    H, W = sizes.small
    small = big[..., :H, :W].contiguous()
    mp_large, mp_small = big.shape[-2] * big.shape[-1] / 1e6, H * W / 1e6
    res: dict[str, Any] = {
        "learned_model": model_note,
        "av1_table": dataclasses.asdict(av1),
        "large": list(big.shape[-2:]),
        "small": [H, W],
        "mp_large": mp_large,
        "mp_small": mp_small,
        "engines": {},
    }
    names = [n for n in ("boolean", "boolean r0.25", "gaussian", "av1", "learned") if n in engines]
    for name in names:
        print(f"speed: {name} at {mp_small:.2g} MP", flush=True)
        with PeakMemory() as mem:
            t = _time_calls(engines[name], small, sizes.runs)
        res["engines"][name] = {"small": {**t, "peak_above_start_mb": mem.peak_mb}}
    with tempfile.TemporaryDirectory() as tmp:
        (Path(tmp) / "av1.json").write_text(json.dumps(dataclasses.asdict(av1)))
        for name in names:
            if name == "boolean r0.25":
                continue  # timed at 1 MP only (its budget grows as (0.5 / radius)^2)
            runs = []
            for i in range(sizes.runs):
                print(f"speed: {name} at {mp_large:.2g} MP, fresh process {i + 1}", flush=True)
                cmd = [sys.executable, __file__, "--child", name, "--run", str(i), "--tmp", tmp]
                cmd += ["--threads", str(args.threads)] + (["--quick"] if args.quick else [])
                if args.learned_model:
                    cmd += ["--learned-model", args.learned_model]
                subprocess.run(cmd, check=True)
                runs.append(json.loads((Path(tmp) / f"{name}-{i}.json").read_text()))
            res["engines"][name]["large"] = {
                **_spread([r["seconds"] for r in runs]),
                "peak_rss_mb": max(r["peak_rss_mb"] for r in runs),
                "rss_before_mb": max(r["rss_before_mb"] for r in runs),
                "processes": runs,
            }
    fine = res["engines"]["boolean r0.25"]
    fine["large_extrapolated_s"] = fine["small"]["median"] * mp_large / mp_small
    # the pixel-wise reference on small crops, scaled per pixel
    ref = {}
    for side in sizes.reference:
        crop = small[..., H // 2 : H // 2 + side, W // 2 : W // 2 + side].contiguous()
        print(f"speed: reference (N = 800) on {side}x{side}", flush=True)
        t = _time_calls(engines["reference"], crop, sizes.runs)
        per_pixel = t["median"] / (side * side)
        fast = res["engines"]["boolean"]
        ref[str(side)] = {
            **t,
            "seconds_per_pixel": per_pixel,
            "large_extrapolated_s": per_pixel * mp_large * 1e6,
            "speedup_large": per_pixel * mp_large * 1e6 / fast["large"]["median"],
            "speedup_small": per_pixel * mp_small * 1e6 / fast["small"]["median"],
        }
    res["reference"] = ref
    return res


# ----------------------------------------------------------------------------------------------
# Fidelity
# ----------------------------------------------------------------------------------------------


def _fidelity_engines(
    setting: tuple[float, float, float], model: torch.nn.Module | None
) -> dict[str, Render]:
    """Engines compared at one setting: the Boolean reference render first."""
    from restorekit.film.boolean import render_boolean
    from restorekit.film.gaussian import GaussianGrain, render_gaussian
    from restorekit.film.learned import render_learned

    grain = _grain(setting)
    engines: dict[str, Render] = {
        "boolean": lambda x, g: render_boolean(x, grain, g),
        "boolean (another seed)": lambda x, g: render_boolean(x, grain, g),
    }
    if grain.radius_sigma == 0:
        curves = GaussianGrain.from_boolean(grain)
        engines["gaussian"] = lambda x, g: render_gaussian(x, curves, g)
    if model is not None:
        engines["learned"] = lambda x, g: render_learned(x, grain, g, model=model)
    return engines


def _spectrum_error(p: torch.Tensor, ref: torch.Tensor) -> float:
    """sum_k w_k |p_k / ref_k - 1|, w_k = ref_k / sum(ref): rings weighted by their power."""
    w = ref / ref.sum()
    return float((w * (p / ref - 1).abs()).sum())


def _flat_stats(render: Render, size: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Variance ``(levels,)`` and radial spectrum ``(levels, rings)`` of grain on flat fields."""
    from restorekit.metrics.grain import radial_power_spectrum

    x = torch.tensor(LEVELS).view(-1, 1, 1, 1).expand(-1, 1, size, size).contiguous()
    g = (render(x, torch.Generator().manual_seed(seed)) - x).double()
    var = g.var(dim=(-2, -1), unbiased=False)[:, 0]
    return var, radial_power_spectrum(g, bins=RINGS)[:, 0]


def _kodak_stats(
    render: Render, images: list[torch.Tensor], seed: int, mean: Any = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pooled over the images: pixel count and grain variance per intensity bin, mean spectrum.

    The grain is the render minus ``mean(x)`` (default: minus ``x``): for the Boolean engine its
    mean render, the expected render over every draw of the disks
    (:func:`~restorekit.film.boolean.boolean_mean_render`), so that the filter's smoothing of the
    picture does not count as grain."""
    from restorekit.metrics.grain import intensity_moments, radial_power_spectrum

    count = s1 = s2 = spec = torch.zeros(1, dtype=torch.float64)
    for i, x in enumerate(images):
        g = render(x, torch.Generator().manual_seed(seed + i)) - (x if mean is None else mean(x))
        c, a, b = intensity_moments(x, g, bins=BINS)
        count, s1, s2 = count + c[0, 0], s1 + a[0, 0], s2 + b[0, 0]
        spec = spec + radial_power_spectrum(g, bins=RINGS)[0, 0]
    n = count.clamp(min=1)
    var = (s2 / n - (s1 / n) ** 2).clamp(min=0)
    return count, var, spec / len(images)


def part_fidelity(args: argparse.Namespace, sizes: Sizes) -> dict[str, Any]:
    from restorekit.film.boolean import boolean_mean_render

    model, model_note = _learned_model(args.learned_model, args.quick)
    side = sizes.kodak_crop
    images = [x.mean(1, keepdim=True)[..., :side, :side] for x in _kodak()]
    images = images[: sizes.kodak_images]
    res: dict[str, Any] = {
        "learned_model": model_note,
        "levels": list(LEVELS),
        "flat_size": sizes.flat,
        "kodak_images": len(images),
        "kodak_size": side,
        "kodak_gray": "mean of R, G, B (sRGB values)",
        "min_count": sizes.min_count,
        "bin_centres": [(k + 0.5) / BINS for k in range(BINS)],
        "settings": {},
    }
    seeds = {"boolean": 1000, "boolean (another seed)": 2000, "gaussian": 3000, "learned": 4000}
    for setting in SETTINGS:
        grain = _grain(setting)
        engines = _fidelity_engines(setting, model)
        if set(engines) == {"boolean", "boolean (another seed)"}:
            continue  # nothing to compare at this setting
        stats = {}
        for name, render in engines.items():
            print(f"fidelity: {_key(setting)} {name}", flush=True)
            start = time.perf_counter()
            var, spec = _flat_stats(render, sizes.flat, seeds[name])
            mean = (lambda x, gr=grain: boolean_mean_render(x, gr)) if "boolean" in name else None
            count, kvar, kspec = _kodak_stats(render, images, seeds[name], mean)
            stats[name] = {
                "flat_var": var,
                "flat_spectrum": spec,
                "kodak_count": count,
                "kodak_var": kvar,
                "kodak_spectrum": kspec,
                "seconds": time.perf_counter() - start,
            }
        ref = stats["boolean"]
        used = ref["kodak_count"] >= sizes.min_count
        # what of the Boolean engine's render - clean on Kodak is its filter's blur of the image
        # (deterministic detail loss, not grain), which the other engines do not do
        _, bvar, bspec = _kodak_stats(lambda x, g, gr=grain: boolean_mean_render(x, gr), images, 0)
        share = bvar / ref["kodak_var"].clamp(min=1e-30)
        out: dict[str, Any] = {
            "boolean": {k: v.tolist() if torch.is_tensor(v) else v for k, v in ref.items()},
            "kodak_bins_used": used.tolist(),
            "boolean_blur": {
                "kodak_var": bvar.tolist(),
                "kodak_var_share": share.tolist(),
                "kodak_spectrum": bspec.tolist(),
                "var_share_max": float(share[used].max()) if used.any() else math.nan,
                "var_share_mean": float(share[used].mean()) if used.any() else math.nan,
                "power_share": float(bspec.sum() / ref["kodak_spectrum"].sum()),
            },
            "engines": {},
        }
        for name, s in stats.items():
            if name == "boolean":
                continue
            flat_ratio = s["flat_var"] / ref["flat_var"]
            flat_err = [
                _spectrum_error(s["flat_spectrum"][i], ref["flat_spectrum"][i])
                for i in range(len(LEVELS))
            ]
            k_ratio = s["kodak_var"] / ref["kodak_var"].clamp(min=1e-30)
            dev = (k_ratio[used] - 1).abs()
            ring = s["kodak_spectrum"] / ref["kodak_spectrum"]
            out["engines"][name] = {
                "flat_var": s["flat_var"].tolist(),
                "flat_spectrum": s["flat_spectrum"].tolist(),
                "flat_var_ratio": flat_ratio.tolist(),
                "flat_spectrum_error": flat_err,
                "kodak_var": s["kodak_var"].tolist(),
                "kodak_var_ratio": k_ratio.tolist(),
                "kodak_spectrum": s["kodak_spectrum"].tolist(),
                "kodak_spectrum_ratio": ring.tolist(),
                "kodak_spectrum_error": _spectrum_error(s["kodak_spectrum"], ref["kodak_spectrum"]),
                "summary": {
                    "flat_var_max_dev": float((flat_ratio - 1).abs().max()),
                    "flat_var_mean_dev": float((flat_ratio - 1).abs().mean()),
                    "flat_spectrum_max": max(flat_err),
                    "flat_spectrum_mean": sum(flat_err) / len(flat_err),
                    "kodak_var_max_dev": float(dev.max()) if dev.numel() else math.nan,
                    "kodak_var_mean_dev": float(dev.mean()) if dev.numel() else math.nan,
                    "kodak_bins": int(used.sum()),
                    "kodak_spectrum_error": _spectrum_error(
                        s["kodak_spectrum"], ref["kodak_spectrum"]
                    ),
                    "kodak_spectrum_ring_max_dev": float((ring - 1).abs().max()),
                },
                "seconds": s["seconds"],
            }
        res["settings"][_key(setting)] = out
    return res


# ----------------------------------------------------------------------------------------------
# Estimators
# ----------------------------------------------------------------------------------------------


def _boolean_fits(sizes: Sizes) -> dict[str, Any]:
    from restorekit.film.boolean import render_boolean
    from restorekit.film.estimate import block_statistics, estimate_grain, fit_boolean

    levels = torch.tensor([0.15, 0.3, 0.45, 0.6, 0.75, 0.9])
    n = sizes.estimate_flat
    x = levels.view(-1, 1, 1, 1).expand(-1, 1, n, n).reshape(1, 1, -1, n).contiguous()
    mask = torch.ones(x.shape[-2] // 32, x.shape[-1] // 32, dtype=torch.bool)
    flat, ramp = [], []
    for setting in SETTINGS[:3]:
        grain = _grain(setting)
        for seed in range(sizes.estimate_seeds):
            print(f"estimate: fit_boolean {_key(setting)} seed {seed}", flush=True)
            out = render_boolean(x, grain, torch.Generator().manual_seed(seed))
            start = time.perf_counter()
            (stats,) = block_statistics(x, out - x, mask)
            fit, residual = fit_boolean(stats)
            flat.append(
                {
                    "setting": list(setting),
                    "seed": seed,
                    "radius": fit.radius,
                    "blur": fit.blur,
                    "radius_error": fit.radius / grain.radius - 1,
                    "blur_error": fit.blur / grain.blur - 1,
                    "residual": residual,
                    "seconds": time.perf_counter() - start,
                }
            )
        print(f"estimate: estimate_grain on an RGB ramp, {_key(setting)}", flush=True)
        m = sizes.ramp
        yy, xx = torch.meshgrid(torch.linspace(0, 1, m), torch.linspace(0, 1, m), indexing="ij")
        img = (0.15 + 0.7 * xx)[None, None].expand(1, 3, m, m).contiguous()
        out = render_boolean(img, grain, torch.Generator().manual_seed(0))
        start = time.perf_counter()
        est = estimate_grain(out)
        ramp.append(
            {
                "setting": list(setting),
                "flat_blocks": est.flat_blocks,
                "total_blocks": est.total_blocks,
                "channels": [
                    {
                        "radius": b.radius,
                        "blur": b.blur,
                        "radius_error": b.radius / grain.radius - 1,
                        "blur_error": b.blur / grain.blur - 1,
                        "residual": r,
                    }
                    for b, r in zip(est.boolean, est.boolean_residual, strict=True)
                ],
                "seconds": time.perf_counter() - start,
            }
        )
    return {"flat": flat, "ramp": ramp, "flat_size": n, "ramp_size": sizes.ramp}


def _av1_fit_against_dav1d() -> dict[str, Any]:
    """The measures of ``test_fit_reproduces_dav1d_grain``, as numbers (no pass/fail)."""
    # the scene, truth table, codec pair and measures are the test's own, imported so that the
    # numbers here are exactly what the test checks
    sys.path[:0] = [str(ROOT / "tests"), str(ROOT / "tests" / "film")]
    from test_av1 import _spectrum_error, _variance_ratios, dav1d_known_grain

    from restorekit.film.av1 import (
        apply_av1_grain,
        fit_av1_table,
    )

    out = {}
    for layout in ("mono", "420"):
        print(f"estimate: AV1 fit against dav1d, {layout}", flush=True)
        with tempfile.TemporaryDirectory() as tmp:
            case = dav1d_known_grain(Path(tmp), layout)
        clean, truth, seed = case.clean, case.truth, case.seed
        img, grain, image_arg, grain_arg = case.img, case.grain, case.image_arg, case.grain_arg
        n = len(img)
        h, w = clean[0].shape
        start = time.perf_counter()
        fit = fit_av1_table(image_arg, grain_arg, np.ones((h, w), bool), ar_lag=3, random_seed=seed)
        seconds = time.perf_counter() - start
        control = fit_av1_table(image_arg, grain_arg, None, ar_lag=0, random_seed=seed)
        ours = apply_av1_grain(*clean, fit)
        white = apply_av1_grain(*clean, control)
        fields = [(slice(0, h // 2), slice(k * w // 4, (k + 1) * w // 4)) for k in range(4)]
        chroma = [(slice(0, h // 4), slice(k * w // 8, (k + 1) * w // 8)) for k in range(4)]
        rows = []
        for k in range(n):
            g_ours = ours[k].astype(np.float64) - clean[k]
            g_white = white[k].astype(np.float64) - clean[k]
            intensity = img[0] if k == 0 else img[0][::2, ::2]
            f = fields if k == 0 else chroma
            rows.append(
                {
                    "plane": ("Y", "Cb", "Cr")[k],
                    "variance_ratios": _variance_ratios(intensity, grain[k], g_ours),
                    "control_variance_ratios": _variance_ratios(intensity, grain[k], g_white),
                    "spectrum_error": _spectrum_error(grain[k], g_ours, f),
                    "control_spectrum_error": _spectrum_error(grain[k], g_white, f),
                }
            )
        other = {}
        for s in (1, 2):
            a = apply_av1_grain(*clean, dataclasses.replace(fit, random_seed=s))[0]
            b = apply_av1_grain(*clean, dataclasses.replace(truth, random_seed=s))[0]
            other[str(s)] = _variance_ratios(
                img[0], b.astype(np.float64) - clean[0], a.astype(np.float64) - clean[0]
            )
        out[layout] = {
            "size": [h, w],
            "planes": rows,
            "other_seed_luma_variance_ratios": other,
            "fit_seconds": seconds,
        }
    return out


def part_estimate(args: argparse.Namespace, sizes: Sizes) -> dict[str, Any]:
    return {"boolean": _boolean_fits(sizes), "av1": _av1_fit_against_dav1d()}


# ----------------------------------------------------------------------------------------------
# Pictures
# ----------------------------------------------------------------------------------------------


def _label_tile(img: np.ndarray, label: str, font: Any) -> Any:
    from PIL import Image, ImageDraw

    tile = Image.fromarray(img)
    w, h = tile.size
    out = Image.new("RGB", (w, h + 22), "white")
    out.paste(tile, (0, 22))
    ImageDraw.Draw(out).text((4, 3), label, fill="black", font=font)
    return out


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    return (x[0].permute(1, 2, 0).clamp(0, 1) * 255).round().to(torch.uint8).numpy()


def _crops_figure(out: Path, sizes: Sizes, model: torch.nn.Module | None, av1: Any) -> str:
    from PIL import Image, ImageFont

    from restorekit.film.av1 import av1_grain
    from restorekit.film.boolean import render_boolean
    from restorekit.film.gaussian import GaussianGrain, render_gaussian
    from restorekit.film.learned import render_learned
    from restorekit.io import read_image

    x = read_image(KODAK / PICTURE, mode="rgb")
    grain = _grain(MIDDLE)
    renders = {"clean": x}
    renders["Boolean"] = render_boolean(x, grain, torch.Generator().manual_seed(1))
    gauss = GaussianGrain.from_boolean(grain)
    renders["Gaussian"] = render_gaussian(x, gauss, torch.Generator().manual_seed(2))
    if model is not None:
        renders["learned"] = render_learned(x, grain, torch.Generator().manual_seed(3), model=model)
    renders["AV1 (fitted)"] = av1_grain(x, av1, torch.Generator().manual_seed(4))
    top, left, side = sizes.crop
    dt, dl, ds = sizes.detail
    try:
        font = ImageFont.load_default(size=14)
    except TypeError:  # Pillow < 10.1: one bitmap size
        font = ImageFont.load_default()
    rows = [[], []]
    for name, y in renders.items():
        crop = _to_uint8(y[..., top : top + side, left : left + side])
        detail = crop[dt : dt + ds, dl : dl + ds].repeat(4, 0).repeat(4, 1)
        rows[0].append(_label_tile(crop, f"{name}, 100 %", font))
        rows[1].append(_label_tile(detail, f"{name}, 400 %", font))
    gap = 6
    w = max(t.size[0] for t in rows[0] + rows[1])
    h0, h1 = rows[0][0].size[1], rows[1][0].size[1]
    sheet = Image.new("RGB", (len(renders) * (w + gap) - gap, h0 + h1 + gap), "white")
    for i, (a, b) in enumerate(zip(*rows, strict=True)):
        sheet.paste(a, (i * (w + gap), 0))
        sheet.paste(b, (i * (w + gap), h0 + gap))
    name = f"film_grain-{Path(PICTURE).stem}.png"
    _save_png(sheet, out / name)
    return name


def _save_png(image: Any, path: Path) -> None:
    import io

    from restorekit.io.files import atomic_write

    buf = io.BytesIO()
    image.save(buf, format="PNG")
    atomic_write(path, buf.getvalue())


def _curves_figure(out: Path, fidelity: dict[str, Any]) -> str | None:
    import io

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from restorekit.io.files import atomic_write
    from restorekit.metrics.grain import spectrum_bins

    res = fidelity.get("settings", {}).get(_key(MIDDLE))
    if res is None:
        return None
    freq = spectrum_bins(RINGS).numpy()
    ref = res["boolean"]
    styles = {
        "boolean": {"color": "black", "linewidth": 2},
        "boolean (another seed)": {"color": "grey", "linestyle": ":"},
        "gaussian": {"color": "tab:blue", "linestyle": "--"},
        "learned": {"color": "tab:red", "linestyle": "-."},
    }
    curves = {"boolean": ref, **res["engines"]}
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    ax = axes[0]
    colours = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(LEVELS)))
    for name, c in curves.items():
        for i, u in enumerate(LEVELS):
            style = {**styles[name], "color": colours[i]}
            label = f"{name}, u = {u:g}" if name == "boolean" else (name if i == 2 else None)
            ax.semilogy(freq, c["flat_spectrum"][i], label=label, **style)
    ax.set_title("flat fields at grey level u: radial power spectrum")
    ax.set_xlabel("frequency (cycles/pixel)")
    ax.set_ylabel("power")
    ax.legend(fontsize=7, ncol=2)
    ax = axes[1]
    for name, c in curves.items():
        ax.semilogy(freq, c["kodak_spectrum"], label=name, **styles[name])
    ax.set_title("Kodak24 gray: spectrum of render - clean")
    ax.set_xlabel("frequency (cycles/pixel)")
    ax.legend(fontsize=8)
    ax = axes[2]
    centres = np.array(fidelity["bin_centres"])
    used = np.array(res["kodak_bins_used"])
    for name, c in curves.items():
        v = np.sqrt(np.array(c["kodak_var"])) * 255
        ax.plot(centres[used], v[used], marker=".", label=f"{name} (Kodak)", **styles[name])
        ax.plot(
            LEVELS,
            np.sqrt(np.array(c["flat_var"])) * 255,
            marker="o",
            linestyle="none",
            color=styles[name]["color"],
            label=f"{name} (flat fields)",
        )
    ax.set_title("grain std per intensity")
    ax.set_xlabel("clean intensity")
    ax.set_ylabel("std (0..255)")
    ax.legend(fontsize=7)
    for a in axes:
        a.grid(alpha=0.3)
    fig.suptitle("Grain engines vs Boolean, (radius, radius_sigma, blur) = (0.6, 0, 0.9)")
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=100)
    plt.close(fig)
    name = "film_grain-curves.png"
    atomic_write(out / name, buf.getvalue())
    return name


def part_pictures(args: argparse.Namespace, sizes: Sizes, report: dict[str, Any]) -> dict:
    model, model_note = _learned_model(args.learned_model, args.quick)
    print("pictures: fitting the AV1 table and rendering the crops", flush=True)
    av1 = _fit_av1(MIDDLE, sizes, checked=True)
    out = Path(args.out)
    files = [_crops_figure(out, sizes, model, av1)]
    curves = _curves_figure(out, report.get("fidelity", {}))
    if curves:
        files.append(curves)
    return {"learned_model": model_note, "files": files, "av1_table": dataclasses.asdict(av1)}


# ----------------------------------------------------------------------------------------------
# Report
# ----------------------------------------------------------------------------------------------


def _f(v: float | None, fmt: str = ".2f") -> str:
    return "-" if v is None or (isinstance(v, float) and math.isnan(v)) else format(v, fmt)


def _mark(ok: bool | None) -> str:
    return "-" if ok is None else ("yes" if ok else "**no**")


def _speed_md(s: dict[str, Any], quick: bool) -> list[str]:
    from restorekit.reports import markdown_table

    large, small = s["mp_large"], s["mp_small"]
    rows = []
    budgets = {
        "boolean": BUDGET_BOOLEAN_S,
        "boolean r0.25": BUDGET_BOOLEAN_S * 4,
        "gaussian": BUDGET_FAST_S,
        "av1": BUDGET_FAST_S,
        "learned": BUDGET_FAST_S,
    }
    labels = {
        "boolean": "Boolean, radius 0.5, blur 0.8",
        "boolean r0.25": "Boolean, radius 0.25, blur 0.8",
        "gaussian": "Gaussian (from_boolean 0.5 / 0.8)",
        "av1": "AV1 (lag 3, luma + chroma)",
        "learned": "learned (radius 0.5, blur 0.8)",
    }
    for name, e in s["engines"].items():
        sm, lg = e["small"], e.get("large")
        if lg:
            secs = lg["median"]
            big = f"{lg['median']:.2f} ({lg['min']:.2f} - {lg['max']:.2f})"
            mem = f"{lg['peak_rss_mb']:.0f} ({lg['rss_before_mb']:.0f})"
        else:
            secs = e["large_extrapolated_s"]
            big = f"{secs:.1f} (extrapolated from {small:.2g} MP)"
            mem = "-"
        ok = None if quick else secs <= budgets[name]
        mem_ok = None if quick or not lg else lg["peak_rss_mb"] < BUDGET_MEMORY_MB
        rows.append(
            [
                labels[name],
                f"{sm['median']:.3f} ({sm['min']:.3f} - {sm['max']:.3f})",
                f"{small / sm['median']:.2f}",
                f"{sm['peak_above_start_mb']:.0f}",
                big,
                f"{large / secs:.2f}",
                mem,
                f"<= {budgets[name]:g} s: {_mark(ok)}; < 2 GB: {_mark(mem_ok)}",
            ]
        )
    lines = [
        "## Speed and memory",
        "",
        f"RGB pictures of {small:.2g} MP ({s['small'][1]}x{s['small'][0]}) and {large:.2g} MP "
        f"({s['large'][1]}x{s['large'][0]}): the Kodak24 crops tiled 8 x 3 and mirrored "
        "vertically, and its top-left corner. Seconds are the median of "
        f"{len(next(iter(s['engines'].values()))['small']['runs'])} calls (min - max), after an "
        "untimed warm-up call on 32x32; the small picture's memory is the peak resident set "
        "above its level before the calls (sampled every 2 ms). Each large-picture call runs in "
        "a fresh process; its memory is that process's peak resident set (`ru_maxrss`: Python, "
        "torch and the picture included), the largest of its runs, and in brackets the peak "
        "before the timed call (after loading the picture and the warm-up). Radius 0.25 is timed "
        "on the small "
        "picture only and scaled per pixel; its budget is 40 s x (0.5 / 0.25)^2 = 160 s.",
        "",
        markdown_table(
            [
                "engine",
                f"s at {small:.2g} MP",
                f"MP/s at {small:.2g} MP",
                f"MB above start at {small:.2g} MP",
                f"s at {large:.2g} MP",
                f"MP/s at {large:.2g} MP",
                "peak RSS, MB (before the call)",
                "budget (12 MP)",
            ],
            rows,
        ),
        "",
        f"Learned engine: {s['learned_model']}.",
        "",
    ]
    ref_rows = []
    for side, r in s["reference"].items():
        ref_rows.append(
            [
                f"{side}x{side}",
                f"{r['median']:.2f} ({r['min']:.2f} - {r['max']:.2f})",
                f"{r['seconds_per_pixel'] * 1e3:.2f}",
                f"{r['large_extrapolated_s']:.0f} ({r['large_extrapolated_s'] / 3600:.1f} h)",
                f"{r['speedup_large']:.0f}x",
                f"{r['speedup_small']:.0f}x",
                _mark(None if quick else r["speedup_large"] >= BUDGET_SPEEDUP),
            ]
        )
    lines += [
        "The pixel-wise reference `render_boolean_reference` (N = 800 Monte Carlo samples, radius "
        "0.5, blur 0.8, RGB) on crops of the small picture, scaled per pixel to the large one; the "
        "speed-up is over the fast Boolean engine's measured time at that size.",
        "",
        markdown_table(
            [
                "reference crop",
                "s (min - max)",
                "ms / pixel",
                f"extrapolated s at {large:.2g} MP",
                f"speed-up at {large:.2g} MP",
                f"speed-up at {small:.2g} MP",
                f">= {BUDGET_SPEEDUP:g}x",
            ],
            ref_rows,
        ),
        "",
    ]
    return lines


def _fidelity_md(fd: dict[str, Any]) -> list[str]:
    from restorekit.reports import markdown_table

    rows, flat_rows, spec_rows, bin_rows = [], [], [], []
    for key, res in fd["settings"].items():
        setting = key.replace("r", "").replace("-s", ", ").replace("-b", ", ")
        for name, e in res["engines"].items():
            s = e["summary"]
            worst = max(
                s["flat_var_max_dev"],
                s["flat_spectrum_max"],
                s["kodak_var_max_dev"],
                s["kodak_spectrum_error"],
            )
            rows.append(
                [
                    f"({setting})",
                    name,
                    f"{100 * s['flat_var_max_dev']:.1f} / {100 * s['flat_var_mean_dev']:.1f}",
                    f"{100 * s['flat_spectrum_max']:.1f} / {100 * s['flat_spectrum_mean']:.1f}",
                    f"{100 * s['kodak_var_max_dev']:.1f} / {100 * s['kodak_var_mean_dev']:.1f} "
                    f"({s['kodak_bins']})",
                    f"{100 * s['kodak_spectrum_error']:.1f} "
                    f"({100 * s['kodak_spectrum_ring_max_dev']:.1f})",
                    "-" if name.startswith("boolean") else _mark(worst <= FIDELITY_BAR),
                ]
            )
            flat_rows.append([f"({setting})", name, *(f"{v:.3f}" for v in e["flat_var_ratio"])])
            spec_rows.append(
                [f"({setting})", name, *(f"{100 * v:.1f}" for v in e["flat_spectrum_error"])]
            )
            bin_rows.append(
                [
                    f"({setting})",
                    name,
                    *(
                        f"{v:.3f}" if ok else "-"
                        for v, ok in zip(e["kodak_var_ratio"], res["kodak_bins_used"], strict=True)
                    ),
                ]
            )
    blur_rows = [
        [
            "({})".format(key.replace("r", "").replace("-s", ", ").replace("-b", ", ")),
            f"{100 * b['var_share_max']:.1f} / {100 * b['var_share_mean']:.1f}",
            f"{100 * b['power_share']:.1f}",
        ]
        for key, res in fd["settings"].items()
        if (b := res.get("boolean_blur"))
    ]
    levels = [f"{u:g}" for u in fd["levels"]]
    return [
        "## Fidelity to the Boolean engine",
        "",
        f"Gray images. Flat fields: {fd['flat_size']}x{fd['flat_size']} at grey levels "
        f"{', '.join(levels)}. Kodak24: {fd['kodak_images']} images, gray = {fd['kodak_gray']}, "
        f"{fd['kodak_size']}x{fd['kodak_size']}; the grain is render minus clean, its variance "
        f"binned by the clean intensity ({BINS} bins, pooled over the images; bins of >= "
        f"{fd['min_count']} pixels compared), its radial spectrum ({RINGS} rings to 0.5 "
        "cycles/pixel) averaged over the images. Spectrum error: sum over rings of "
        "abs(P_engine / P_Boolean - 1) weighted by the Boolean ring's share of the power. Every "
        "number is in per cent, max / mean over the levels (flat) or bins (Kodak); the last "
        "Kodak column adds the largest single-ring deviation in brackets. The row 'boolean "
        "(another seed)' is the same engine again: the scatter of the measurement itself. "
        f"'Within 10 %': every column's max <= {100 * FIDELITY_BAR:g} % (the issue's bar for the "
        "learned engine).",
        "",
        markdown_table(
            [
                "(radius, radius_sigma, blur)",
                "engine",
                "flat: variance ratio, abs(r - 1) max / mean (%)",
                "flat: spectrum error max / mean (%)",
                "Kodak: variance per intensity, abs(r - 1) max / mean (%) (bins)",
                "Kodak: spectrum error (%) (worst ring)",
                "within 10 %",
            ],
            rows,
        ),
        "",
        f"Learned engine: {fd['learned_model']}.",
        "",
        "On Kodak, the Boolean engine's render is the picture seen through its filter plus "
        "grain: its mean render (the expected render over every draw of the disks, in closed "
        "form: `boolean_mean_render`) is the image blurred and, across edges, pushed towards the "
        "brighter side, while the Gaussian and learned engines add grain to the unfiltered image. "
        "So the Boolean grain above is its render minus that mean render, and the others' render "
        "minus the image. Were the mean render's difference from the image counted as grain, it "
        "would be this share of the Boolean measurement:",
        "",
        markdown_table(
            [
                "(radius, radius_sigma, blur)",
                "share of the variance per intensity, max / mean over bins (%)",
                "share of the grain power (%)",
            ],
            blur_rows,
        ),
        "",
        "Flat fields, variance ratio engine / Boolean per grey level:",
        "",
        markdown_table(["setting", "engine", *levels], flat_rows),
        "",
        "Flat fields, spectrum error (%) per grey level:",
        "",
        markdown_table(["setting", "engine", *levels], spec_rows),
        "",
        f"Kodak24, variance ratio engine / Boolean per intensity bin (centres; '-': fewer than "
        f"{fd['min_count']} pixels):",
        "",
        markdown_table(
            ["setting", "engine", *(f"{c:.3f}".rstrip("0") for c in fd["bin_centres"])], bin_rows
        ),
        "",
    ]


def _estimate_md(es: dict[str, Any]) -> list[str]:
    from restorekit.reports import markdown_table

    b = es["boolean"]
    flat_rows = [
        [
            f"({r['setting'][0]:g}, {r['setting'][2]:g})",
            r["seed"],
            f"{r['radius']:.3f}",
            f"{100 * r['radius_error']:+.1f}",
            f"{r['blur']:.3f}",
            f"{100 * r['blur_error']:+.1f}",
            f"{100 * r['residual']:.1f}",
        ]
        for r in b["flat"]
    ]
    ramp_rows = [
        [
            f"({r['setting'][0]:g}, {r['setting'][2]:g})",
            ch,
            f"{c['radius']:.3f}",
            f"{100 * c['radius_error']:+.1f}",
            f"{c['blur']:.3f}",
            f"{100 * c['blur_error']:+.1f}",
            f"{100 * c['residual']:.1f}",
            f"{r['flat_blocks']} / {r['total_blocks']}",
        ]
        for r in b["ramp"]
        for ch, c in zip("RGB", r["channels"], strict=False)
    ]
    av1_rows = []
    for layout, r in es["av1"].items():
        for p in r["planes"]:
            vr, cr = p["variance_ratios"], p["control_variance_ratios"]
            av1_rows.append(
                [
                    layout,
                    p["plane"],
                    f"{min(vr):.3f} - {max(vr):.3f} ({len(vr)})",
                    f"{100 * max(abs(v - 1) for v in vr):.1f}",
                    f"{min(cr):.3f} - {max(cr):.3f}",
                    f"{p['spectrum_error']:.3f}",
                    f"{p['control_spectrum_error']:.3f}",
                    f"{p['spectrum_error'] / p['control_spectrum_error']:.2f}",
                ]
            )
    other = "; ".join(
        f"{layout}, seed {s}: {min(v):.3f} - {max(v):.3f}"
        for layout, r in es["av1"].items()
        for s, v in r["other_seed_luma_variance_ratios"].items()
    )
    n = b["flat_size"]
    return [
        "## Estimators",
        "",
        f"Boolean, `block_statistics` + `fit_boolean`: six flat fields (0.15 .. 0.9, {n}x{n}, "
        "32x32 blocks) rendered with a known (radius, blur), constant radius; errors in per cent "
        "of the truth, residual = the fit's relative RMS residual.",
        "",
        markdown_table(
            [
                "truth (radius, blur)",
                "seed",
                "radius",
                "radius error (%)",
                "blur",
                "blur error (%)",
                "residual (%)",
            ],
            flat_rows,
        ),
        "",
        f"The whole `estimate_grain` on an RGB ramp 0.15 .. 0.85 ({b['ramp_size']}x"
        f"{b['ramp_size']}, grey, each channel its own Boolean grain, seed 0):",
        "",
        markdown_table(
            [
                "truth (radius, blur)",
                "channel",
                "radius",
                "radius error (%)",
                "blur",
                "blur error (%)",
                "residual (%)",
                "flat blocks",
            ],
            ramp_rows,
        ),
        "",
        "AV1, `fit_av1_table` against the real decoder (the measures of "
        "`tests/film/test_av1.py::test_fit_reproduces_dav1d_grain`): aomenc codes the test's "
        "192x256 scene (four flat fields above a ramp) losslessly with a known lag-3 table, "
        "dav1d decodes it with grain, the lag-3 fit (and a lag-0 control) is applied to the "
        "clean decode with the same seed. Variance ratio = fitted / dav1d's grain variance per "
        "32-level intensity bin (>= 500 pixels; the number of bins in brackets); spectrum error "
        "= mean abs(log ratio) of the radial spectra over 15 rings, averaged over the four flat "
        "fields.",
        "",
        markdown_table(
            [
                "layout",
                "plane",
                "variance ratio fit (bins)",
                "max abs(r - 1) (%)",
                "variance ratio control",
                "spectrum error fit",
                "spectrum error control",
                "fit / control",
            ],
            av1_rows,
        ),
        "",
        f"With other seeds, fitted vs true table, luma variance ratios: {other}.",
        "",
    ]


def _markdown(report: dict[str, Any]) -> str:
    lines = ["# Film-grain engines", ""]
    lines += [
        "Speed and memory of every engine, the Gaussian and learned engines' fidelity to the "
        "Boolean model (Newson et al. 2017), the estimators' errors, and pictures. "
        "Lengths (radius, blur) are in pixels; grey levels and grain on the [0, 1] scale.",
        "",
    ]
    for part in PARTS:
        if part not in report:
            lines += [f"## {part}: not run yet (`--parts {part}`)", ""]
            continue
        p = report[part]
        if part == "speed":
            lines += _speed_md(p, p["quick"])
        elif part == "fidelity":
            lines += _fidelity_md(p)
        elif part == "estimate":
            lines += _estimate_md(p)
        else:
            lines += ["## Pictures", "", f"Learned engine: {p['learned_model']}.", ""]
            lines += [f"![{f}]({f})" for f in p["files"]] + [""]
        m = p["machine"]
        lines += [
            f"*{part}: {p['date']}, {m['cpu']} ({m['cpu_count']} cores), torch threads "
            f"{p['threads']}, load average (1 min) {p['load_average'][0]:.2f} at the start, "
            f"{p['load_average'][1]:.2f} at the end, {p['seconds'] / 60:.1f} min"
            f"{', QUICK smoke run (tiny sizes)' if p['quick'] else ''}; "
            f"`{p['command']}`*",
            "",
        ]
    last = max((report[p] for p in PARTS if p in report), key=lambda p: p["date"], default=None)
    if last:
        v = last["versions"]
        lines += [
            "Versions: "
            + ", ".join(f"{k} {v[k]}" for k in ("restorekit", "torch", "numpy", "scipy"))
            + f"; Python {last['machine']['python']}, {last['machine']['os']}.",
            "",
        ]
    lines += [f"Reproduce: `{report['command']}`", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=None, help="results folder (default benchmarks/results)")
    ap.add_argument("--parts", nargs="+", choices=PARTS, default=list(PARTS))
    ap.add_argument("--quick", action="store_true", help="tiny sizes, a smoke run (< 1 minute)")
    ap.add_argument("--threads", type=int, default=2, help="torch threads (default 2)")
    ap.add_argument("--learned-model", default=None, help="a grain-net model file to benchmark")
    ap.add_argument("--child", help=argparse.SUPPRESS)
    ap.add_argument("--run", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--tmp", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args)
        return 0

    from restorekit.eval.environment import machine_info, versions
    from restorekit.io.files import atomic_write

    torch.set_num_threads(args.threads)
    if args.out is None:
        args.out = (
            tempfile.mkdtemp(prefix="film_grain-quick-")
            if args.quick
            else str(ROOT / "benchmarks" / "results")
        )
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    sizes = QUICK if args.quick else Sizes()
    command = shlex.join(["python", "benchmarks/film_grain.py", *(argv or sys.argv[1:])])
    path = out / "film_grain.json"
    report: dict[str, Any] = json.loads(path.read_text()) if path.is_file() else {}
    for part in PARTS:  # in this order: pictures reads the fidelity part's curves
        if part not in args.parts:
            continue
        start, load_before = time.perf_counter(), os.getloadavg()[0]
        if load_before > 0.5 and part == "speed":
            print(f"warning: load average {load_before:.2f}: the timings need an idle machine")
        if part == "speed":
            res = part_speed(args, sizes)
        elif part == "fidelity":
            res = part_fidelity(args, sizes)
        elif part == "estimate":
            res = part_estimate(args, sizes)
        else:
            res = part_pictures(args, sizes, report)
        res.update(
            {
                "seconds": time.perf_counter() - start,
                "load_average": [load_before, os.getloadavg()[0]],
                "quick": args.quick,
                "threads": torch.get_num_threads(),
                "command": command,
                "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
                "machine": machine_info(),
                "versions": versions(),
            }
        )
        report[part] = res
        report.update(
            {
                "what": "film-grain engines: speed, fidelity to the Boolean engine, estimators",
                "command": "python benchmarks/film_grain.py",
            }
        )
        # after every part, so a long run keeps what it has measured
        atomic_write(path, json.dumps(report, indent=1, allow_nan=True) + "\n")
        atomic_write(out / "film_grain.md", _markdown(report))
    md = _markdown(report)
    print(md)
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
