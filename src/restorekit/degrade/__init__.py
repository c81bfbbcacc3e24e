"""What the world did to an image: CFA mosaicking, noise, MATLAB-compatible bicubic downscaling,
Gaussian blur, JPEG, and the real-world super-resolution degradation that chains them.

Every random degradation takes a ``generator: torch.Generator | None`` and never touches the
global RNG.
"""

from __future__ import annotations

from restorekit.degrade.blur import Blur, blur, gaussian_kernel, sample_blur_kernel
from restorekit.degrade.cfa import (
    CFA,
    Mosaic,
    cfa_mask,
    mosaic,
    mosaic_sparse,
    parse_cfa,
    sparse_from_mosaic,
)
from restorekit.degrade.jpeg import JPEG, jpeg, sample_jpeg_quality
from restorekit.degrade.noise import (
    AddGaussianNoise,
    AddPoissonGaussianNoise,
    AddSpeckleNoise,
    add_gaussian_noise,
    add_poisson_gaussian_noise,
    add_speckle_noise,
    sample_gaussian_noise,
    sample_speckle,
)
from restorekit.degrade.real import RealDegradation, RealDegradationParams, degrade_real
from restorekit.degrade.resize import Downscale, Resize, downscale, imresize

__all__ = [
    "CFA",
    "JPEG",
    "AddGaussianNoise",
    "AddPoissonGaussianNoise",
    "AddSpeckleNoise",
    "Blur",
    "Downscale",
    "Mosaic",
    "RealDegradation",
    "RealDegradationParams",
    "Resize",
    "add_gaussian_noise",
    "add_poisson_gaussian_noise",
    "add_speckle_noise",
    "blur",
    "cfa_mask",
    "degrade_real",
    "downscale",
    "gaussian_kernel",
    "imresize",
    "jpeg",
    "mosaic",
    "mosaic_sparse",
    "parse_cfa",
    "sample_blur_kernel",
    "sample_gaussian_noise",
    "sample_jpeg_quality",
    "sample_speckle",
    "sparse_from_mosaic",
]
