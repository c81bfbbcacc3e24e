"""Image quality metrics with their conventions stated and tested.

Every metric takes float images ``(B, C, H, W)`` in [0, 1] (restored ``x`` first, reference ``y``
second), computes in float64 and returns one value per image, ``(B,)``, in ``x``'s dtype. None of
them rounds to 8 bit: the field reports numbers on 8-bit images, so quantise before measuring.

- :func:`psnr`, :func:`mse`, :func:`cpsnr` (demosaicing, 10-pixel border)
- :func:`ssim` (Wang et al. 2004, equal to scikit-image's Gaussian SSIM) and :func:`ms_ssim`
  (equal to pytorch-msssim in its default mode, defined on any size), both differentiable
- :func:`epi` and :func:`gcmse`, edge-preservation metrics for OCT / speckle denoising
- :func:`high_frequency_energy_ratio`, for an image or a residual (no reference)
- :func:`enl` and :func:`cnr`, no-reference OCT metrics over regions, with :func:`oct_regions`
  (a stated rule that picks the regions on a clean reference) and :func:`oct_scores`
- :func:`rgb_to_y`, :func:`rgb_to_ycbcr`, :func:`ycbcr_to_rgb`: BT.601 studio range as MATLAB
- :func:`ciede2000` (sRGB D65 -> CIELAB -> CIEDE2000, as colour-science), :func:`srgb_to_lab`

:data:`METRICS` maps names to the full-reference metrics ``f(x, y) -> (B,)`` for the config and CLI
edge; :func:`get_metric` looks one up with a helpful error. The no-reference OCT metrics are not in
it (they take regions, not a reference).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from restorekit._checks import closest_names
from restorekit.errors import RestorekitError
from restorekit.metrics.color import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb
from restorekit.metrics.colordiff import CIEDE2000, ciede2000, delta_e_map, srgb_to_lab
from restorekit.metrics.edges import EPI, GCMSE, epi, gcmse, laplacian
from restorekit.metrics.oct import CNR, ENL, OCTRegions, cnr, enl, oct_regions, oct_scores
from restorekit.metrics.psnr import CPSNR, MSE, PSNR, cpsnr, mse, psnr
from restorekit.metrics.spectrum import (
    HighFrequencyEnergyRatio,
    high_frequency_energy_ratio,
    radial_frequency,
)
from restorekit.metrics.ssim import (
    MS_SSIM_WEIGHTS,
    MSSSIM,
    SSIM,
    gaussian_window,
    ms_ssim,
    ms_ssim_levels,
    ssim,
)

__all__ = [
    "CIEDE2000",
    "CNR",
    "CPSNR",
    "ENL",
    "EPI",
    "GCMSE",
    "METRICS",
    "MSE",
    "MSSSIM",
    "MS_SSIM_WEIGHTS",
    "PSNR",
    "SSIM",
    "HighFrequencyEnergyRatio",
    "OCTRegions",
    "ciede2000",
    "cnr",
    "cpsnr",
    "delta_e_map",
    "enl",
    "epi",
    "gaussian_window",
    "gcmse",
    "get_metric",
    "high_frequency_energy_ratio",
    "laplacian",
    "ms_ssim",
    "ms_ssim_levels",
    "mse",
    "oct_regions",
    "oct_scores",
    "psnr",
    "radial_frequency",
    "rgb_to_y",
    "rgb_to_ycbcr",
    "srgb_to_lab",
    "ssim",
    "ycbcr_to_rgb",
]

#: Full-reference metrics by name, each ``f(x, y, **options) -> (B,)`` with default options.
METRICS: dict[str, Callable[..., torch.Tensor]] = {
    "psnr": psnr,
    "mse": mse,
    "cpsnr": cpsnr,
    "ssim": ssim,
    "ms_ssim": ms_ssim,
    "epi": epi,
    "gcmse": gcmse,
    "ciede2000": ciede2000,
}


def get_metric(name: str) -> Callable[..., torch.Tensor]:
    """Look up a full-reference metric in :data:`METRICS` by name (case-insensitive).

    Raises:
        RestorekitError: for an unknown name, listing the known ones closest first.

    Example:
        >>> get_metric("PSNR") is psnr
        True
        >>> get_metric("ssmi")
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: unknown metric 'ssmi'; known: ssim, ms_ssim, ...
    """
    key = str(name).strip().lower()
    if key in METRICS:
        return METRICS[key]
    known = ", ".join(closest_names(key, list(METRICS)))
    raise RestorekitError(f"unknown metric {name!r}; known: {known}")
