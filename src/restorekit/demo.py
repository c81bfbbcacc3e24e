"""``make demo``: every classical method on photos that ship with scikit-image, in one report.

The photos (astronaut, coffee, ...) come from ``skimage.data``, bundled with scikit-image, so the
demo needs no download and no data outside the installed packages. It mosaics and demosaics them
with every demosaicing method, adds Gaussian noise (sigma 25) and denoises with every denoiser,
downscales by 4 and upscales, renders film grain with every grain engine
(:func:`restorekit.film.demo.grain_section`), and writes ``report.html`` with the tables and
comparison crops.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from restorekit.io import from_numpy, write_image

__all__ = ["run_demo"]

PHOTOS = ("astronaut", "coffee", "chelsea")


def _write_photos(folder: Path, quick: bool) -> None:
    import skimage.data

    folder.mkdir(parents=True, exist_ok=True)
    for name in PHOTOS:
        arr = np.asarray(getattr(skimage.data, name)())
        if quick:
            arr = arr[:96, :128]
        write_image(folder / f"{name}.png", from_numpy(arr))


def run_demo(out: str | os.PathLike = "demo-out", quick: bool = False) -> Path:
    """Run the demo into ``out`` and return the path of ``report.html``.

    Args:
        out: output folder (created).
        quick: tiny crops and no BM3D: a smoke run of the same code path for the tests.
    """
    from restorekit.eval import run_benchmark
    from restorekit.reports import html_report
    from restorekit.tasks import DemosaicTask, DenoiseTask, SRTask

    out = Path(out)
    photos = out / "photos"
    _write_photos(photos, quick)
    results = []
    plan = [
        (DemosaicTask(), ["RGGB"], None),
        (DenoiseTask(), [25], ["nlm-opencv", "nlm-skimage", "tv"] if quick else None),
        (SRTask(), [4], None),
    ]
    for task, values, methods in plan:
        r = run_benchmark(
            task,
            [photos],
            task.conditions(values),
            methods=methods,
            figures_dir=out / "figures",
            command="restorekit demo",
        )
        r.write(out)
        results.append(r)
    from restorekit.film.demo import grain_section

    sections = [grain_section(photos / "coffee.png", out / "figures", quick=quick)]
    intro = (
        "Every classical method of restorekit on photos bundled with scikit-image "
        f"({', '.join(PHOTOS)}): Bayer RGGB demosaicing, Gaussian denoising at sigma 25 "
        "(0..255 scale), and x4 super-resolution (the shipped CNN, bicubic, nearest); and film "
        "grain from every grain "
        "engine. Produced by <code>make demo</code>."
    )
    return html_report(results, out / "report.html", "restorekit demo", intro, sections)
