"""Film looks: LUT apply speed, paired LUT fits, classical unpaired transfers, the film pipeline.

Parts (``--parts``, default all), merged into ``film_looks.json``; ``film_looks.md`` is written
from the merged JSON every time.

- ``speed``: ``apply_lut`` with a 33^3 LUT (tetrahedral and trilinear), ``restorekit film``'s
  pipeline (a 33^3 look, the ``soft-negative`` tone, learned grain at radius 0.5, blur 0.8) in
  memory, and the ``restorekit film`` command itself (a new process: start-up, reading and writing
  the PNG included), on a 12 MP RGB picture (the 24 Kodak images, 500x500 crops, 8 x 3,
  mirrored to 4000x3000): median of 3 calls (min, max) after a warm-up call on a 64x64 crop.
- ``paired``: for each of the three Hald looks in ``../shared/data/looks``: the first 100 sorted
  CBSD432 images (train) and the same images through the look (tetrahedral, rounded to 8 bits)
  -> ``colour_samples`` + ``fit_lut`` (33^3, tetrahedral, defaults), timed from the pairs in
  memory to the table. Kodak24 through the fitted LUT and through the true look, both rounded to
  8 bits: CIEDE2000 (``restorekit.metrics.ciede2000``: sRGB D65 -> CIELAB, as colour-science)
  pooled over all pixels, mean and 95th percentile; "nothing" is Kodak24 against the true look;
  "resampled" is the true look sampled on a 33^3 grid (the best a 33^3 table can do by nodes).
- ``unpaired``: CBSD432 sorted, the first 216 files as they are, the other 216 through the look
  (8 bits), never paired. Classical transfers learned from the two halves' pixels and baked into
  33^3 LUTs: per-channel histogram matching and Pitie et al.'s iterative distribution transfer
  (sliced OT, 30 rotations, seed 0). Kodak24 CIEDE2000 against the true look as above; and the
  control with no look at all (both halves plain), whose error is what content differences alone
  cost.
- ``pictures``: a 256x256 Kodak crop: input, true look, paired fit, the two unpaired transfers,
  and the film pipeline, at 100 %.

Usage (from the repository root; about 4 minutes here)::

    .venv/bin/python benchmarks/film_looks.py
    .venv/bin/python benchmarks/film_looks.py --parts paired   # rerun one part
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT.parent / "shared" / "data"
KODAK = DATA / "test" / "color" / "Kodak24"
CBSD = DATA / "train" / "color" / "CBSD432"
LOOKS = DATA / "looks"
PARTS = ("speed", "paired", "unpaired", "pictures")


def _quantize(x: torch.Tensor) -> torch.Tensor:
    return (x * 255).round() / 255


def _read(paths: list[Path]) -> list[torch.Tensor]:
    from restorekit.io import read_image

    return [read_image(p) for p in paths]


def _pixels(images: list[torch.Tensor]) -> torch.Tensor:
    return torch.cat([x.permute(0, 2, 3, 1).reshape(-1, 3) for x in images])


def _looks() -> list[Path]:
    looks = sorted(LOOKS.glob("*.png"))
    if not looks:
        sys.exit(f"no Hald looks in {LOOKS}")
    return looks


def _delta_e(outputs: list[torch.Tensor], truths: list[torch.Tensor]) -> dict[str, float]:
    """CIEDE2000 pooled over every pixel of the image pairs (8-bit quantised first)."""
    from restorekit.metrics import delta_e_map, srgb_to_lab

    d = torch.cat(
        [
            delta_e_map(srgb_to_lab(_quantize(o)), srgb_to_lab(_quantize(t))).flatten()
            for o, t in zip(outputs, truths, strict=True)
        ]
    )
    p95 = torch.quantile(
        d[torch.randperm(len(d), generator=torch.Generator().manual_seed(0))[:4_000_000]], 0.95
    )
    return {"mean": d.mean().item(), "p95": p95.item()}


def _timed(fn, runs: int = 3) -> dict[str, float]:
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return {"median": statistics.median(times), "min": min(times), "max": max(times)}


def _large_picture() -> torch.Tensor:
    kodak = _read(sorted(KODAK.glob("*.png")))
    rows = [
        torch.cat([k[..., :500, :500] for k in kodak[r * 8 : r * 8 + 8]], dim=-1) for r in range(3)
    ]
    top = torch.cat(rows, dim=-2)  # 1500 x 4000
    return torch.cat([top, top.flip(-2)], dim=-2)  # 3000 x 4000


def _film_call(look):
    from restorekit.film.boolean import BooleanGrain
    from restorekit.film.learned import render_learned
    from restorekit.film.pipeline import film_pipeline
    from restorekit.film.tone import tone_preset

    tone = tone_preset("soft-negative")

    def run(x: torch.Tensor) -> torch.Tensor:
        g = torch.Generator().manual_seed(0)
        grain = lambda t: render_learned(t, BooleanGrain(radius=0.5, blur=0.8), g)  # noqa: E731
        return film_pipeline(x, look, 1.0, tone, grain, grain_amount=0.35)

    return run


def part_speed() -> dict[str, Any]:
    from restorekit.film.lut import apply_lut, read_hald, resample_lut

    look = resample_lut(read_hald(_looks()[0]), 33)
    x = _large_picture()
    out: dict[str, Any] = {"megapixels": x.shape[-1] * x.shape[-2] / 1e6}
    for method in ("tetrahedral", "trilinear"):
        apply_lut(x[..., :64, :64], look, method)
        out[f"apply_{method}_s"] = _timed(lambda m=method: apply_lut(x, look, m))
    film = _film_call(look)
    film(x[..., :64, :64])
    out["film_pipeline_s"] = _timed(lambda: film(x))
    # the command itself, end to end: start-up, reading and writing the 12 MP PNG included
    import subprocess
    import tempfile

    from restorekit.film.lut import write_cube
    from restorekit.io import write_image

    with tempfile.TemporaryDirectory() as tmp:
        src, cube, dst = Path(tmp) / "in.png", Path(tmp) / "look.cube", Path(tmp) / "out.png"
        write_image(src, x, bits=8)
        write_cube(cube, look)
        command = [sys.executable, "-m", "restorekit.cli.main", "film", str(src), str(dst)]
        command += ["--look", str(cube), "--tone", "soft-negative"]  # learned grain by default
        out["film_command_s"] = _timed(lambda: subprocess.run(command, check=True))
    return out


def part_paired() -> dict[str, Any]:
    from restorekit.film.look_fit import colour_samples, fit_lut
    from restorekit.film.lut import apply_lut, read_hald, resample_lut

    train = _read(sorted(CBSD.iterdir())[:100])
    kodak = _read(sorted(KODAK.glob("*.png")))
    results = {}
    for path in _looks():
        true = read_hald(path)
        after = [_quantize(apply_lut(x, true)) for x in train]
        start = time.perf_counter()
        fit = fit_lut(colour_samples(zip(train, after, strict=True)), size=33)
        seconds = time.perf_counter() - start
        truth = [apply_lut(k, true) for k in kodak]
        results[path.stem] = {
            "fit_s": seconds,
            "rmse_255": fit.rmse * 255,
            "decreasing_steps": fit.decreasing,
            "monotonicity_rounds": fit.rounds,
            "fitted": _delta_e([apply_lut(k, fit.lut) for k in kodak], truth),
            "resampled_33": _delta_e([apply_lut(k, resample_lut(true, 33)) for k in kodak], truth),
            "nothing": _delta_e(kodak, truth),
        }
        print(path.stem, json.dumps(results[path.stem]), flush=True)
    return {"train": "CBSD432, first 100 sorted", "size": 33, "looks": results}


def part_unpaired() -> dict[str, Any]:
    from restorekit.film.lut import apply_lut, read_hald
    from restorekit.film.transfer import histogram_matching_lut, sliced_transfer_lut

    files = sorted(CBSD.iterdir())
    plain = _pixels(_read(files[:216]))
    other = _read(files[216:])
    kodak = _read(sorted(KODAK.glob("*.png")))

    def transfers(target: torch.Tensor) -> dict[str, Any]:
        g = torch.Generator().manual_seed(0)
        return {
            "histogram matching": histogram_matching_lut(plain, target),
            "sliced OT (Pitie 2007)": sliced_transfer_lut(plain, target, generator=g),
        }

    results: dict[str, Any] = {}
    for path in _looks():
        true = read_hald(path)
        truth = [apply_lut(k, true) for k in kodak]
        row = {"nothing": _delta_e(kodak, truth)}
        for name, lut in transfers(_pixels([_quantize(apply_lut(x, true)) for x in other])).items():
            row[name] = _delta_e([apply_lut(k, lut) for k in kodak], truth)
        row["bar"] = min(3.5, 0.45 * row["nothing"]["mean"])
        results[path.stem] = row
        print(path.stem, json.dumps(row), flush=True)
    control = {
        name: _delta_e([apply_lut(k, lut) for k in kodak], kodak)
        for name, lut in transfers(_pixels(other)).items()
    }
    return {"looks": results, "no_look_control": control}


def part_pictures(out: Path) -> dict[str, Any]:
    from restorekit.film.look_fit import colour_samples, fit_lut
    from restorekit.film.lut import apply_lut, read_hald, resample_lut
    from restorekit.film.transfer import histogram_matching_lut, sliced_transfer_lut
    from restorekit.reports.figures import comparison_strip, crop_to_uint8

    path = _looks()[0]
    true = read_hald(path)
    files = sorted(CBSD.iterdir())
    train = _read(files[:100])
    fit = fit_lut(colour_samples((x, _quantize(apply_lut(x, true))) for x in train))
    plain = _pixels(_read(files[:216]))
    target = _pixels([_quantize(apply_lut(x, true)) for x in _read(files[216:])])
    hist = histogram_matching_lut(plain, target)
    sliced = sliced_transfer_lut(plain, target, generator=torch.Generator().manual_seed(0))
    kodak = _read([KODAK / "kodim05.png", KODAK / "kodim23.png"])
    box = (150, 200, 256, 256)
    tiles = []
    for k in kodak:
        film = _film_call(resample_lut(true, 33))(k)
        for label, img in (
            ("input", k),
            (f"true look\n{path.stem}", apply_lut(k, true)),
            ("paired fit 33^3", apply_lut(k, fit.lut)),
            ("histogram matching\n(unpaired)", apply_lut(k, hist)),
            ("sliced OT (unpaired)", apply_lut(k, sliced)),
            ("film: look + soft-negative\n+ learned grain 0.35", film),
        ):
            tiles.append((label, crop_to_uint8(img, box)))
    name = "film_looks-crops.png"
    comparison_strip(tiles, out / name, zoom=1, columns=6)
    return {"crops": name, "box": box}


def _row(label: str, d: dict[str, float]) -> str:
    return f"{label} {d['mean']:.2f} / {d['p95']:.2f}"


def _markdown(r: dict[str, Any]) -> str:
    lines = ["# Film looks", "", f"Run {r.get('date', '?')} on {r.get('machine', '?')}.", ""]
    s = r.get("speed")
    if s:
        lines += [
            f"## Speed ({s['megapixels']:.0f} MP RGB, median of 3 [min, max])",
            "",
            "| what | seconds |",
            "|---|---|",
        ]
        for key, label in (
            ("apply_tetrahedral_s", "33^3 LUT, tetrahedral"),
            ("apply_trilinear_s", "33^3 LUT, trilinear"),
            ("film_pipeline_s", "film: look + tone + learned grain (in memory)"),
            ("film_command_s", "`restorekit film` command, PNG in and out"),
        ):
            t = s[key]
            lines.append(f"| {label} | {t['median']:.2f} [{t['min']:.2f}, {t['max']:.2f}] |")
        lines.append("")
    p = r.get("paired")
    if p:
        lines += [
            "## Paired fit (100 CBSD432 pairs -> 33^3 LUT; Kodak24, CIEDE2000 mean / p95)",
            "",
            "| look | fitted | resampled 33^3 | nothing | fit time (s) | decreasing steps |",
            "|---|---|---|---|---|---|",
        ]
        for name, v in p["looks"].items():
            lines.append(
                f"| {name} | {v['fitted']['mean']:.2f} / {v['fitted']['p95']:.2f} | "
                f"{v['resampled_33']['mean']:.2f} / {v['resampled_33']['p95']:.2f} | "
                f"{v['nothing']['mean']:.2f} / {v['nothing']['p95']:.2f} | {v['fit_s']:.1f} | "
                f"{v['decreasing_steps']} |"
            )
        lines.append("")
    u = r.get("unpaired")
    if u:
        names = [k for k in next(iter(u["looks"].values())) if k not in ("nothing", "bar")]
        lines += [
            "## Unpaired (CBSD432 halves, never paired; Kodak24 CIEDE2000 mean / p95)",
            "",
            "| look | nothing | " + " | ".join(names) + " | issue bar (mean) |",
            "|---|---|" + "---|" * len(names) + "---|",
        ]
        for look, v in u["looks"].items():
            cells = " | ".join(f"{v[n]['mean']:.2f} / {v[n]['p95']:.2f}" for n in names)
            lines.append(
                f"| {look} | {v['nothing']['mean']:.2f} / {v['nothing']['p95']:.2f} | {cells} | "
                f"{v['bar']:.2f} |"
            )
        control = "; ".join(f"{n} {d['mean']:.2f}" for n, d in u["no_look_control"].items())
        lines += ["", f"Control, no look in either half (content alone): {control}.", ""]
    pic = r.get("pictures")
    if pic:
        lines += ["## Pictures (100 %)", "", f"![crops]({pic['crops']})", ""]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument(
        "--parts", nargs="*", choices=PARTS, default=list(PARTS), help="none: rewrite the .md only"
    )
    args = ap.parse_args(argv)
    from restorekit.eval.environment import machine_info, versions

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / "film_looks.json"
    report = json.loads(path.read_text()) if path.exists() else {}
    report["date"] = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    info = machine_info()
    report["machine"] = f"{info.get('cpu', '?')}, {info.get('torch_threads', '?')} threads"
    report["versions"] = versions()
    for part in args.parts:
        print(f"== {part}", flush=True)
        if part == "speed":
            report["speed"] = part_speed()
        elif part == "paired":
            report["paired"] = part_paired()
        elif part == "unpaired":
            report["unpaired"] = part_unpaired()
        else:
            report["pictures"] = part_pictures(out)
        path.write_text(json.dumps(report, indent=2) + "\n")
    markdown = _markdown(report)
    (out / "film_looks.md").write_text(markdown + "\n")
    if out.resolve() == (ROOT / "benchmarks" / "results").resolve():
        sys.path.insert(0, str(ROOT / "benchmarks"))
        from update_readme import write_block

        body = markdown.split("\n", 2)[2].replace(
            "](film_looks-", "](benchmarks/results/film_looks-"
        )
        intro = (
            "From `benchmarks/film_looks.py` ([film_looks.md](benchmarks/results/film_looks.md)):"
        )
        write_block("film-looks", f"{intro}\n{body}")
    print(f"wrote {out / 'film_looks.md'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
