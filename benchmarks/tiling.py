"""Tiled inference of the shipped demosaicer on a 4000x3000 mosaic: exactness, memory, speed.

The 4000x3000 RGB test picture is the 24 Kodak crops (500x500) laid out 8 x 3 and mirrored
vertically to 6 rows; it is mosaicked with RGGB. Each measurement runs in a fresh process so that
its peak resident memory (``ru_maxrss``) is its own: whole-image inference, and tiled inference
with 512-pixel tiles. The outputs are compared (max absolute difference) and scored (CPSNR,
10-pixel border, 8-bit outputs).

Writes ``tiling.md`` and ``tiling.json`` into ``--out``.

Usage (from the repository root, about a minute)::

    .venv/bin/python benchmarks/tiling.py
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import torch

ROOT = Path(__file__).resolve().parents[1]
KODAK = ROOT.parent / "shared" / "data" / "test" / "color" / "Kodak24"


def _picture() -> torch.Tensor:
    from restorekit.io import list_images, read_image

    tiles = [read_image(p, mode="rgb")[0] for p in list_images(KODAK)]
    rows = [torch.cat(tiles[r * 8 : (r + 1) * 8], dim=-1) for r in range(3)]
    top = torch.cat(rows, dim=-2)  # 1500 x 4000
    return torch.cat([top, top.flip(-2)], dim=-2)[None]  # 3000 x 4000


def _child(mode: str, tile: int, out: Path) -> None:
    """Run one inference in this process and save the output and the measurements."""
    from restorekit.degrade import mosaic
    from restorekit.models.demosaic import demosaic_learned
    from restorekit.models.pretrained import load_pretrained

    raw = mosaic(_picture(), "RGGB")
    model = load_pretrained("demosaic")
    start = time.perf_counter()
    if mode == "whole":
        with torch.inference_mode():
            rgb = model(raw, "RGGB")
    else:
        rgb = demosaic_learned(raw, "RGGB", model=model, tile=tile)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    torch.save(rgb, out / f"{mode}.pt")
    (out / f"{mode}.json").write_text(json.dumps({"seconds": seconds, "peak_rss_mb": peak_mb}))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tile", type=int, default=512)
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results"))
    ap.add_argument("--child", choices=("whole", "tiled"), help=argparse.SUPPRESS)
    ap.add_argument("--tmp", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        _child(args.child, args.tile, Path(args.tmp))
        return 0

    from restorekit.eval.environment import machine_info, versions
    from restorekit.metrics import cpsnr
    from restorekit.reports import markdown_table

    with tempfile.TemporaryDirectory() as tmp:
        runs = {}
        for mode in ("tiled", "whole"):
            cmd = [sys.executable, __file__, "--child", mode, "--tile", str(args.tile)]
            subprocess.run([*cmd, "--tmp", tmp], check=True)
            runs[mode] = json.loads((Path(tmp) / f"{mode}.json").read_text())
        whole = torch.load(Path(tmp) / "whole.pt")
        tiled = torch.load(Path(tmp) / "tiled.pt")
    gt = _picture()
    diff = float((whole - tiled).abs().max())
    q = lambda x: (x.clamp(0, 1) * 255).round() / 255  # noqa: E731
    for mode, rgb in (("whole", whole), ("tiled", tiled)):
        runs[mode]["cpsnr"] = float(cpsnr(q(rgb).double(), gt.double(), crop=10)[0])
        runs[mode]["mp_per_s"] = 12.0 / runs[mode]["seconds"]
    report = {
        "what": "shipped demosaicer on a 4000x3000 RGGB mosaic, whole image vs tiles",
        "tile": args.tile,
        "max_abs_difference": diff,
        "runs": runs,
        "command": "python benchmarks/tiling.py"
        + (f" --tile {args.tile}" if args.tile != 512 else ""),
        "date": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "machine": machine_info(),
        "versions": versions(),
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "tiling.json").write_text(json.dumps(report, indent=2))
    table = markdown_table(
        ["inference", "peak RSS of the process (MB)", "seconds", "MP/s", "CPSNR (dB)"],
        [
            [
                name if name == "whole" else f"tiled ({args.tile}x{args.tile} cores)",
                f"{r['peak_rss_mb']:.0f}",
                f"{r['seconds']:.2f}",
                f"{r['mp_per_s']:.1f}",
                f"{r['cpsnr']:.2f}",
            ]
            for name, r in runs.items()
        ],
    )
    md = (
        "# Tiled inference: 4000x3000 mosaic\n\n"
        "The 24 Kodak crops laid out as one 4000x3000 picture, RGGB mosaic, the shipped "
        "demosaicer. Each row is a fresh process; peak RSS is the whole process (Python, torch, "
        "the 12 MP input and output included).\n\n"
        f"{table}\n\n"
        f"Largest absolute difference between tiled and whole-image outputs: {diff:.2e}.\n\n"
        f"Reproduce: `{report['command']}`\n"
    )
    (out / "tiling.md").write_text(md)
    print(md)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
