"""Classical denoisers, the baselines every learned denoiser is compared with.

Each takes a noisy image ``(B, C, H, W)`` (C = 1 or 3, values around [0, 1], not clipped) and the
noise standard deviation ``sigma`` on the [0, 1] scale, and returns the estimate (not clipped).
They run on the CPU through the library each comes from, one image at a time:

* ``bm3d``: BM3D / CBM3D, the ``bm3d`` package (Mäkinen, Azzari, Foi 2020), given the true sigma.
* ``nlm-opencv``: OpenCV ``fastNlMeansDenoising(Colored)`` on 8-bit input (OpenCV takes only
  uint8 there), filter strength ``h`` from sigma by the table in :func:`opencv_nlm_strength`;
  colour strengths measured on training images (:func:`opencv_nlm_colour_strengths`).
* ``nlm-skimage``: scikit-image ``denoise_nl_means`` (fast mode, 5x5 patches, 13x13 search,
  ``h = 0.6 sigma``) with sigma estimated from the image by ``estimate_sigma`` (wavelet MAD),
  as scikit-image's own example does; pass ``estimate=False`` to use the given sigma.
* ``tv``: scikit-image ``denoise_tv_chambolle`` with weight from sigma (:func:`tv_weight`).
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch

from restorekit._checks import check_image, check_positive, closest_names
from restorekit.errors import RestorekitError

__all__ = [
    "DENOISERS",
    "denoise",
    "denoise_bm3d",
    "denoise_nlm_opencv",
    "denoise_nlm_skimage",
    "denoise_tv",
    "opencv_nlm_colour_strengths",
    "opencv_nlm_strength",
    "tv_weight",
]


def _per_image(
    x: torch.Tensor, fn: Callable[[np.ndarray], np.ndarray], channels=(1, 3)
) -> torch.Tensor:
    """Apply ``fn`` (HxW or HxWx3 float64 -> same) to each image of the batch."""
    check_image(x, channels=channels, name="noisy image")
    out = []
    for img in x.detach().to("cpu", torch.float64):
        a = img[0].numpy() if img.shape[0] == 1 else img.permute(1, 2, 0).numpy()
        r = np.asarray(fn(np.ascontiguousarray(a)), dtype=np.float64)
        r = r[None] if r.ndim == 2 else r.transpose(2, 0, 1)
        out.append(torch.from_numpy(np.ascontiguousarray(r)))
    return torch.stack(out).to(device=x.device, dtype=x.dtype)


def _interp(sigma: float, table: tuple[tuple[float, float], ...]) -> float:
    xs, ys = zip(*table, strict=True)
    return float(np.interp(sigma, xs, ys))


def denoise_bm3d(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """BM3D for gray images, CBM3D (``bm3d_rgb``, opponent colour space) for RGB.

    Args:
        x: noisy image ``(B, 1 or 3, H, W)``, about [0, 1].
        sigma: the true noise standard deviation on the [0, 1] scale.

    Returns:
        The estimate, same shape.

    References:
        Dabov, Foi, Katkovnik, Egiazarian, "Image denoising by sparse 3-D transform-domain
        collaborative filtering", IEEE TIP 2007; the ``bm3d`` package (Mäkinen et al. 2020).

    Example:
        >>> x = torch.full((1, 1, 32, 32), 0.5)
        >>> denoise_bm3d(x, 0.1).shape
        torch.Size([1, 1, 32, 32])
    """
    s = check_positive(sigma, "sigma", allow_zero=False)
    import bm3d

    def run(a: np.ndarray) -> np.ndarray:
        if a.ndim == 2:
            return bm3d.bm3d(a, sigma_psd=s)
        return bm3d.bm3d_rgb(a, sigma_psd=s)

    return _per_image(x, run)


def opencv_nlm_strength(sigma: float) -> float:
    """OpenCV's ``h`` (0..255 scale) for a noise level ``sigma`` on the [0, 1] scale.

    Piecewise linear through (sigma 15, h 15), (25, 25), (50, 40) on the 0..255 scale, the
    settings of the reference table in REFERENCE.md; constant outside.

    Example:
        >>> opencv_nlm_strength(50 / 255)
        40.0
    """
    return _interp(sigma * 255, ((0, 0), (15, 15), (25, 25), (50, 40), (100, 70)))


def opencv_nlm_colour_strengths(sigma: float) -> tuple[float, float]:
    """OpenCV's colour NLM ``(h, hColor)`` (0..255 scale) for ``sigma`` on the [0, 1] scale.

    Measured on training images (``benchmarks/tune_nlm.py``: 12 CBSD432 crops, 8-bit noisy
    files, the best mean PSNR on a grid): (9, 10) at sigma 15, (15, 16) at 25, (26, 25) at 50;
    linear in between, through 0 below 15 and proportional (0.52, 0.5 sigma) above 50. With
    ``hColor = h`` and the gray table's ``h`` the colour planes are wiped out (1.0-1.8 dB lower
    on those crops).

    Example:
        >>> opencv_nlm_colour_strengths(25 / 255)
        (15.0, 16.0)
    """
    v = sigma * 255
    h = _interp(v, ((0, 0), (15, 9), (25, 15), (50, 26), (100, 52)))
    h_color = _interp(v, ((0, 0), (15, 10), (25, 16), (50, 25), (100, 50)))
    return h, h_color


def denoise_nlm_opencv(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Non-local means from OpenCV (``fastNlMeansDenoising`` / ``...Colored``).

    The input is clipped and rounded to 8 bit first: OpenCV's NLM accepts only uint8.
    Template window 7, search window 21 (OpenCV's defaults). Gray: ``h`` from
    :func:`opencv_nlm_strength`; colour (OpenCV filters CIELAB, converted from BGR, so the
    image is handed over as BGR): ``h`` and ``hColor`` from :func:`opencv_nlm_colour_strengths`.

    References:
        Buades, Coll, Morel, "A non-local algorithm for image denoising", CVPR 2005.

    Example:
        >>> denoise_nlm_opencv(torch.full((1, 3, 16, 16), 0.5), 0.1).shape
        torch.Size([1, 3, 16, 16])
    """
    s = check_positive(sigma, "sigma", allow_zero=False)
    import cv2

    h = opencv_nlm_strength(s)
    h_lum, h_color = opencv_nlm_colour_strengths(s)

    def run(a: np.ndarray) -> np.ndarray:
        u8 = np.clip(np.rint(a * 255), 0, 255).astype(np.uint8)
        if u8.ndim == 2:
            r = cv2.fastNlMeansDenoising(u8, None, h=h, templateWindowSize=7, searchWindowSize=21)
        else:
            bgr = np.ascontiguousarray(u8[..., ::-1])
            r = cv2.fastNlMeansDenoisingColored(bgr, None, h_lum, h_color, 7, 21)[..., ::-1]
        return r.astype(np.float64) / 255

    return _per_image(x, run)


def denoise_nlm_skimage(x: torch.Tensor, sigma: float, estimate: bool = True) -> torch.Tensor:
    """Non-local means from scikit-image, fast mode.

    Args:
        x: noisy image ``(B, 1 or 3, H, W)``.
        sigma: the noise level on the [0, 1] scale; used when ``estimate`` is False.
        estimate: estimate sigma from each image (``skimage.restoration.estimate_sigma``), as the
            reference numbers do.

    Example:
        >>> denoise_nlm_skimage(torch.full((1, 1, 16, 16), 0.5), 0.1).shape
        torch.Size([1, 1, 16, 16])
    """
    s = check_positive(sigma, "sigma", allow_zero=False)
    from skimage.restoration import denoise_nl_means, estimate_sigma

    def run(a: np.ndarray) -> np.ndarray:
        axis = -1 if a.ndim == 3 else None
        est = float(np.mean(estimate_sigma(a, channel_axis=axis))) if estimate else s
        est = max(est, 1e-6)
        return denoise_nl_means(
            a,
            h=0.6 * est,
            sigma=est,
            patch_size=5,
            patch_distance=6,
            fast_mode=True,
            channel_axis=axis,
        )

    return _per_image(x, run)


def tv_weight(sigma: float) -> float:
    """Chambolle TV weight for a noise level on the [0, 1] scale.

    ``0.75 sigma`` up to sigma 25/255, rising linearly to ``1.0 sigma`` at 50/255 and above
    (the settings of the reference table).

    Example:
        >>> round(tv_weight(50 / 255) * 255, 6)
        50.0
    """
    return sigma * _interp(sigma * 255, ((25, 0.75), (50, 1.0)))


def denoise_tv(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Total-variation denoising (Chambolle 2004) from scikit-image, weight from sigma.

    References:
        Chambolle, "An algorithm for total variation minimization and applications", 2004.

    Example:
        >>> denoise_tv(torch.full((1, 1, 16, 16), 0.5), 0.1).shape
        torch.Size([1, 1, 16, 16])
    """
    s = check_positive(sigma, "sigma", allow_zero=False)
    from skimage.restoration import denoise_tv_chambolle

    w = tv_weight(s)

    def run(a: np.ndarray) -> np.ndarray:
        return denoise_tv_chambolle(a, weight=w, channel_axis=-1 if a.ndim == 3 else None)

    return _per_image(x, run)


DENOISERS: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "bm3d": denoise_bm3d,
    "nlm-opencv": denoise_nlm_opencv,
    "nlm-skimage": denoise_nlm_skimage,
    "tv": denoise_tv,
}


def denoise(x: torch.Tensor, sigma: float, method: str = "bm3d") -> torch.Tensor:
    """Denoise with a classical method by its short name (see :data:`DENOISERS`).

    Example:
        >>> denoise(torch.zeros(1, 1, 8, 8), 0.1, method="tvv")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: unknown denoising method 'tvv'; known: tv, ...
    """
    if method not in DENOISERS:
        known = ", ".join(closest_names(method, list(DENOISERS)))
        raise RestorekitError(f"unknown denoising method {method!r}; known: {known}")
    return DENOISERS[method](x, sigma)
