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

__all__ = ["NOISE_ESTIMATORS", "estimate_noise_sigma", "estimate_raw_noise"]

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


def _pca_sigma(
    images: list[np.ndarray],
    patch: int,
    stride: int,
    iterations: int = 3,
    quantile: float = 0.99,
) -> float:
    """Patch-PCA noise level over the weak-texture patches of one or more 2-D images (pooled;
    see the module docstring). The texture test keeps a patch whose gradient energy is below the
    ``quantile`` of what noise of the current estimate alone gives; ``iterations`` rounds at most
    (it stops early once the estimate no longer changes)."""
    from scipy.special import gammaincinv

    rows = np.concatenate([_patches(img, patch, stride) for img in images])
    cube = rows.reshape(-1, patch, patch)
    # gradient energy: squared horizontal and vertical differences inside each patch
    energy = (np.diff(cube, axis=2) ** 2).sum(axis=(1, 2))
    energy += (np.diff(cube, axis=1) ** 2).sum(axis=(1, 2))
    terms = 2 * patch * (patch - 1)
    # for noise alone each difference is N(0, 2 sigma^2), so the energy is about
    # Gamma(terms / 2, scale 4 sigma^2): keep the patches below its quantile
    threshold = 4 * gammaincinv(terms / 2, quantile)
    var = _noise_variance(rows)
    for _ in range(iterations):
        chosen = rows[energy < var * threshold]
        if chosen.shape[0] < 8 * rows.shape[1]:
            break
        new = _noise_variance(chosen)
        if abs(new - var) <= 1e-4 * var:
            var = new
            break
        var = new
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
            out.append(float(np.mean([_pca_sigma([c], patch, stride) for c in img])))
        else:
            from skimage.restoration import estimate_sigma

            out.append(float(estimate_sigma(img, channel_axis=0, average_sigmas=True)))
    return torch.tensor(out, dtype=torch.float64)


def estimate_raw_noise(
    raw: torch.Tensor, patch: int = 7, max_patches: int = 250_000
) -> torch.Tensor:
    """Estimate the Gaussian noise level of Bayer mosaics, on the flat blocks of the CFA planes.

    The mosaic is split into its four CFA planes (the samples of one position of the 2x2 tile:
    one colour, half the resolution each way), so the samples of a patch all see the same colour
    filter. The patches of the four planes are pooled into one patch-PCA estimate over the
    weak-texture ones (Chen et al. 2015, with Liu et al.'s gradient-energy test as in
    :func:`estimate_noise_sigma`), iterated until it settles, with the texture test at the 95th
    percentile of noise alone: at half resolution a plane holds more texture per patch than a
    photograph, and three rounds at the 99th percentile left weak texture in (on Kodak24 mosaics
    at sigma 5 that overestimated up to 2.3x). Every patch position is used up to
    ``max_patches`` (a larger raw is strided): on Kodak24 mosaics at sigma 5, 10 and 15, two noise
    draws each, the worst image is within 14 % (``benchmarks/demosaic_noise.py``). No CFA layout
    is needed: the four planes are the same whatever colour each one is.

    Args:
        raw: Bayer mosaics ``(B, 1, H, W)``, at least ``4 * patch`` pixels a side.
        patch: the PCA patch side (in plane samples).
        max_patches: the most patches pooled per image.

    Returns:
        ``(B,)`` float64 sigmas on the raw's [0, 1] scale.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> raw = 0.3 + 0.05 * torch.randn(1, 1, 128, 128, generator=g)
        >>> round(float(estimate_raw_noise(raw)[0]), 2)
        0.05
    """
    import math

    import torch.nn.functional as F

    check_image(raw, channels=1, name="raw", min_size=4 * patch)
    B, _, H, W = raw.shape
    planes = F.pixel_unshuffle(raw[..., : H - H % 2, : W - W % 2].double(), 2)  # (B, 4, H/2, W/2)
    h, w = planes.shape[-2:]
    stride = max(1, math.ceil(math.sqrt(4 * (h - patch + 1) * (w - patch + 1) / max_patches)))
    arr = planes.detach().cpu().numpy()
    return torch.tensor(
        [_pca_sigma(list(img), patch, stride, iterations=20, quantile=0.95) for img in arr],
        dtype=torch.float64,
    )
