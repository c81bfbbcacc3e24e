"""The classical baselines a user compares against, each from (or tested equal to) its library.

Demosaicing: bilinear and Malvar-He-Cutler in torch (equal to colour-demosaicing), Menon 2007
(colour-demosaicing), OpenCV bilinear / EA / VNG. Denoising: BM3D (bm3d), non-local means
(OpenCV, scikit-image), TV (scikit-image). Upscaling: MATLAB-compatible bicubic.
"""

from __future__ import annotations

from restorekit.classical.demosaic import (
    DEMOSAICERS,
    Demosaic,
    demosaic,
    demosaic_bilinear,
    demosaic_malvar,
    demosaic_menon,
    demosaic_opencv,
)
from restorekit.classical.denoise import (
    DENOISERS,
    denoise,
    denoise_bm3d,
    denoise_nlm_opencv,
    denoise_nlm_skimage,
    denoise_tv,
)
from restorekit.classical.upscale import UPSCALERS, Upscale, upscale, upscale_bicubic

__all__ = [
    "DEMOSAICERS",
    "DENOISERS",
    "UPSCALERS",
    "Demosaic",
    "Upscale",
    "demosaic",
    "demosaic_bilinear",
    "demosaic_malvar",
    "demosaic_menon",
    "demosaic_opencv",
    "denoise",
    "denoise_bm3d",
    "denoise_nlm_opencv",
    "denoise_nlm_skimage",
    "denoise_tv",
    "upscale",
    "upscale_bicubic",
]
