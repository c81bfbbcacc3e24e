"""Estimating the standard deviation of additive white Gaussian noise from one noisy image.

- ``"pca"`` (the default): patch PCA over weak-texture patches. The covariance of ``d x d``
  patches has eigenvalues equal to sigma^2 in the directions the image does not use; the largest
  eigenvalues are dropped one at a time until the mean of the rest equals their median (Chen,
  Zhu, Heng, ICCV 2015), and that mean is sigma^2. Textured patches are first excluded, as Liu,
  Tanaka and Okutomi (2013) do: a patch is kept if its gradient energy is below the 99th
  percentile of what noise of the current estimate alone gives; three rounds. Colour images:
  the mean of the per-channel estimates. On BSD68 (0..255 scale) its mean absolute error is
  0.2-1.0, against 0.4-1.9 for the wavelet rule (``benchmarks/denoise_levels.py``).
- ``"wavelet"``: Donoho's median absolute deviation of the finest diagonal wavelet coefficients,
  ``median(|HH|) / 0.6745``, through scikit-image's ``estimate_sigma`` (averaged over channels).
  It is biased upwards by texture at low noise levels.

References:
    Chen, Zhu, Heng, "An efficient statistical method for image noise level estimation", ICCV 2015.
    Liu, Tanaka, Okutomi, "Single-image noise level estimation for blind denoising", IEEE TIP 2013.
    Donoho, Johnstone, "Ideal spatial adaptation by wavelet shrinkage", Biometrika 1994.
"""

from __future__ import annotations

import numpy as np
import torch

from restorekit._checks import check_image
from restorekit.errors import RestorekitError

__all__ = ["NOISE_ESTIMATORS", "estimate_noise_sigma"]

NOISE_ESTIMATORS = ("pca", "wavelet")


def _patches(img: np.ndarray, patch: int, stride: int) -> np.ndarray:
    """Every ``stride``-th overlapping ``patch x patch`` window of a 2-D image, as rows."""
    H, W = img.shape
    if patch > H or patch > W:
        raise RestorekitError(f"noise estimation needs an image of at least {patch}x{patch}")
    win = np.lib.stride_tricks.sliding_window_view(img, (patch, patch))[::stride, ::stride]
    return win.reshape(-1, patch * patch)


def _noise_variance(rows: np.ndarray) -> float:
    """Chen et al.'s rule: drop the largest covariance eigenvalues until the mean of the rest is
    their median (as many above as below); that mean is the noise variance."""
    rows = rows - rows.mean(axis=0)
    eig = np.clip(np.linalg.eigvalsh(rows.T @ rows / rows.shape[0]), 0, None)  # ascending
    for k in range(eig.size, 0, -1):
        rest = eig[:k]
        tau = rest.mean()
        if np.sum(rest > tau) == np.sum(rest < tau):
            return float(tau)
    return float(eig[0])


def _pca_sigma(img: np.ndarray, patch: int, stride: int, iterations: int = 3) -> float:
    """Patch-PCA noise level of a 2-D image over its weak-texture patches (see module doc)."""
    from scipy.special import gammaincinv

    rows = _patches(img, patch, stride)
    cube = rows.reshape(-1, patch, patch)
    # gradient energy: squared horizontal and vertical differences inside each patch
    energy = (np.diff(cube, axis=2) ** 2).sum(axis=(1, 2))
    energy += (np.diff(cube, axis=1) ** 2).sum(axis=(1, 2))
    terms = 2 * patch * (patch - 1)
    # for noise alone each difference is N(0, 2 sigma^2), so the energy is about
    # Gamma(terms / 2, scale 4 sigma^2): keep the patches below its 99th percentile
    quantile = 4 * gammaincinv(terms / 2, 0.99)
    var = _noise_variance(rows)
    for _ in range(iterations):
        chosen = rows[energy < var * quantile]
        if chosen.shape[0] < 8 * rows.shape[1]:
            break
        var = _noise_variance(chosen)
    return float(np.sqrt(var))


def estimate_noise_sigma(
    x: torch.Tensor, method: str = "pca", patch: int = 7, stride: int = 2
) -> torch.Tensor:
    """Estimate the Gaussian noise level of each image.

    Args:
        x: noisy image ``(B, C, H, W)``, C = 1 or 3, values around [0, 1].
        method: ``"pca"`` (Chen et al. 2015) or ``"wavelet"`` (Donoho's MAD, scikit-image).
        patch: the PCA patch size.
        stride: the PCA uses every ``stride``-th patch in each direction.

    Returns:
        ``(B,)`` float64 sigmas on the [0, 1] scale (multiply by 255 for the 0..255 scale).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = torch.full((1, 1, 128, 128), 0.5) + 0.1 * torch.randn(1, 1, 128, 128, generator=g)
        >>> round(float(estimate_noise_sigma(x)[0]), 2)
        0.1
    """
    check_image(x, channels=(1, 3))
    if method not in NOISE_ESTIMATORS:
        raise RestorekitError(
            f"unknown noise estimator {method!r}; known: {', '.join(NOISE_ESTIMATORS)}"
        )
    arr = x.detach().cpu().double().numpy()
    out = []
    for img in arr:
        if method == "pca":
            out.append(float(np.mean([_pca_sigma(c, patch, stride) for c in img])))
        else:
            from skimage.restoration import estimate_sigma

            out.append(float(estimate_sigma(img, channel_axis=0, average_sigmas=True)))
    return torch.tensor(out, dtype=torch.float64)
