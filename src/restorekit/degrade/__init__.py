"""What the world did to an image: CFA mosaicking, noise, downscaling.

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
    add_gaussian_noise,
    add_poisson_gaussian_noise,
    sample_gaussian_noise,
)

__all__ = [
    "CFA",
    "AddGaussianNoise",
    "AddPoissonGaussianNoise",
    "add_gaussian_noise",
    "add_poisson_gaussian_noise",
    "sample_gaussian_noise",
    "Mosaic",
    "cfa_mask",
    "mosaic",
    "mosaic_sparse",
    "parse_cfa",
    "sparse_from_mosaic",
]
