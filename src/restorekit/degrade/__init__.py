"""What the world did to an image: CFA mosaicking, noise, MATLAB-compatible bicubic downscaling.

Every random degradation takes a ``generator: torch.Generator | None`` and never touches the
global RNG.
"""

from __future__ import annotations

from restorekit.degrade.cfa import (
    CFA,
    Mosaic,
    cfa_mask,
    mosaic,
    mosaic_sparse,
    parse_cfa,
    sparse_from_mosaic,
)
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
from restorekit.degrade.resize import Downscale, Resize, downscale, imresize

__all__ = [
    "CFA",
    "AddGaussianNoise",
    "AddPoissonGaussianNoise",
    "AddSpeckleNoise",
    "Downscale",
    "Mosaic",
    "Resize",
    "add_gaussian_noise",
    "add_poisson_gaussian_noise",
    "add_speckle_noise",
    "cfa_mask",
    "downscale",
    "imresize",
    "mosaic",
    "mosaic_sparse",
    "parse_cfa",
    "sample_gaussian_noise",
    "sample_speckle",
    "sparse_from_mosaic",
]
