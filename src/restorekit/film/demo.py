"""The film-grain section of ``make demo``: every grain engine on one photo, crops and spectra.

One photo gets Boolean grain (the defaults of ``restorekit grain render``: radius 0.5 px, blur
0.8 px), its Gaussian equivalent, an AV1 table fitted to the Boolean render and re-synthesised,
and the shipped learned engine. The section shows the same crop of each at 100 % and at 400 %
(grain is a pixel-scale texture: enlarged without interpolation), the radially averaged spectra
of the grain against the Boolean engine's, and the time each took.
"""

from __future__ import annotations

import html
import os
import time
from pathlib import Path

import numpy as np
import torch

__all__ = ["grain_section"]


def _render_all(x: torch.Tensor, quick: bool) -> list[tuple[str, torch.Tensor, float]]:
    from restorekit.film.av1 import av1_grain, rgb_to_av1_ycbcr
    from restorekit.film.boolean import BooleanGrain, render_boolean
    from restorekit.film.estimate import fit_av1_checked
    from restorekit.film.gaussian import GaussianGrain, render_gaussian
    from restorekit.film.learned import render_learned

    grain = BooleanGrain(radius=0.5, blur=0.8)
    out: list[tuple[str, torch.Tensor, float]] = []

    def timed(name: str, fn) -> torch.Tensor:
        start = time.perf_counter()
        y = fn()
        out.append((name, y, time.perf_counter() - start))
        return y

    boolean = timed("boolean", lambda: render_boolean(x, grain, torch.Generator().manual_seed(0)))
    curves = GaussianGrain.from_boolean(grain)
    timed("gaussian", lambda: render_gaussian(x, curves, torch.Generator().manual_seed(0)))
    # an AV1 table fitted to the Boolean render of this photo (its smooth copy as the clean one)
    ycc = rgb_to_av1_ycbcr(x[0].double().numpy() * 255)
    grain_ycc = rgb_to_av1_ycbcr((boolean - x)[0].double().numpy() * 255, offset=False)
    everywhere = np.ones(ycc.shape[1:], dtype=bool)
    params = fit_av1_checked(ycc, grain_ycc, everywhere, ar_lag=1 if quick else 3)
    timed("av1 (fitted)", lambda: av1_grain(x, params))
    timed("learned", lambda: render_learned(x, grain, torch.Generator().manual_seed(0)))
    return out


def grain_section(photo: str | os.PathLike, out: str | os.PathLike, quick: bool = False) -> str:
    """Render every engine on ``photo``, write the pictures into ``out``, return the HTML.

    Args:
        photo: an RGB image file.
        out: folder for the pictures (created).
        quick: a small crop of the photo (a smoke run for the tests).
    """
    from restorekit.io import read_image
    from restorekit.metrics.grain import radial_power_spectrum
    from restorekit.reports.figures import comparison_strip, crop_to_uint8
    from restorekit.reports.html import html_table

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    x = read_image(photo, mode="rgb")
    if quick:
        x = x[..., :96, :128]
    renders = _render_all(x, quick)
    H, W = x.shape[-2:]
    size = min(96, H, W)
    box = ((H - size) // 2, (W - size) // 2, size, size)
    small = min(32, size)
    box4 = (box[0] + (size - small) // 2, box[1] + (size - small) // 2, small, small)
    tiles = [("original", crop_to_uint8(x, box))]
    tiles += [(f"{n}\n{t:.2f} s", crop_to_uint8(y, box)) for n, y, t in renders]
    comparison_strip(tiles, out / "grain_100.png", zoom=1, columns=5)
    tiles4 = [("original", crop_to_uint8(x, box4))]
    tiles4 += [(n, crop_to_uint8(y, box4)) for n, y, _ in renders]
    comparison_strip(tiles4, out / "grain_400.png", zoom=4, columns=5)
    _plot_spectra(x, renders, out / "grain_spectra.png")
    rows = []
    ref = radial_power_spectrum((renders[0][1] - x).mean(1, keepdim=True), 16)[0, 0]
    for name, y, seconds in renders:
        g = (y - x).mean(1, keepdim=True)
        p = radial_power_spectrum(g, 16)[0, 0]
        err = ((p / ref - 1).abs() * ref / ref.sum()).sum().item()
        rows.append([name, f"{g.std().item() * 255:.1f}", f"{100 * err:.1f} %", f"{seconds:.2f}"])
    table = html_table(["engine", "grain std (0..255)", "spectrum vs boolean", "seconds"], rows)
    names = ("grain_100.png", "grain_400.png", "grain_spectra.png")
    rel = {k: html.escape(os.path.relpath(out / k, out.parent)) for k in names}
    return "\n".join(
        [
            "<h2>film grain</h2>",
            "<p class='note'>Boolean grain (Newson et al. 2017; radius 0.5 px, blur 0.8 px), its "
            "Gaussian equivalent (the Boolean model's closed-form variance and spectrum), an AV1 "
            "film-grain table fitted to the Boolean render (lag 3) and synthesised as a decoder "
            "would, and the shipped learned engine. Grain is random: compare textures and "
            "spectra, not pixels. Spectrum error: ring power ratio to the Boolean render's, "
            "weighted by its power share.</p>",
            table,
            f"<h3>100 %</h3><p><img src='{rel['grain_100.png']}' alt='grain at 100 %'></p>",
            f"<h3>400 %</h3><p><img src='{rel['grain_400.png']}' alt='grain at 400 %'></p>",
            f"<h3>spectra</h3><p><img src='{rel['grain_spectra.png']}' alt='grain spectra'></p>",
        ]
    )


def _plot_spectra(x: torch.Tensor, renders: list, path: Path) -> None:
    from matplotlib.figure import Figure

    from restorekit.metrics.grain import radial_power_spectrum, spectrum_bins
    from restorekit.reports.figures import save_figure

    fig = Figure(figsize=(6, 3.6))
    ax = fig.add_subplot()
    f = spectrum_bins(16).numpy()
    for name, y, _ in renders:
        p = radial_power_spectrum((y - x).mean(1, keepdim=True), 16)[0, 0].numpy() * 255**2
        ax.semilogy(f, p, label=name, lw=2.5 if name == "boolean" else 1.5)
    ax.set_xlabel("radial frequency (cycles / pixel)")
    ax.set_ylabel("grain power (0..255 scale)")
    ax.legend()
    fig.tight_layout()
    save_figure(fig, path, dpi=100)
