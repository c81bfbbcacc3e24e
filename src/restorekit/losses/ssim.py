"""Structural losses: 1 - SSIM, 1 - MS-SSIM, and the mixed MS-SSIM + L1 loss of Zhao et al.

The losses call the metrics :func:`restorekit.metrics.ssim` and :func:`restorekit.metrics.ms_ssim`
(their conventions apply: Gaussian window 11 taps, sigma 1.5, K1 = 0.01, K2 = 0.03, valid-region
averages; MS-SSIM defined on any size, finite with finite gradients on flat and tiny images).
Images are float ``(B, C, H, W)`` with C 1 or 3.

``compute_dtype`` is passed to the metrics: ``torch.float64`` (default) makes the loss exactly
``1 - metric``; ``torch.float32`` (or ``"float32"``) runs the same computation in float32, 2-3x
faster on CPU and agreeing with float64 to a few 1e-6 (timings in :mod:`restorekit.metrics.ssim`).
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from restorekit.errors import RestorekitError
from restorekit.losses._common import check_reduction, reduce_batch
from restorekit.metrics import MS_SSIM_WEIGHTS, gaussian_window, ms_ssim, ms_ssim_levels, ssim
from restorekit.metrics._common import check_data_range
from restorekit.metrics.ssim import (
    COMPUTE_DTYPES,
    _blur,
    _check_constants,
    _check_mode,
    _check_weights,
    _check_window,
    check_compute_dtype,
)

__all__ = [
    "COMPUTE_DTYPES",
    "MSSSIMLoss",
    "MixedMSSSIML1Loss",
    "SSIMLoss",
    "check_compute_dtype",
    "mixed_ms_ssim_l1_loss",
    "ms_ssim_loss",
    "ssim_loss",
]


def _check_alpha(alpha: float) -> float:
    try:
        a = float(alpha)
    except (TypeError, ValueError):
        a = float("nan")
    if not 0.0 <= a <= 1.0:  # also refuses NaN
        raise RestorekitError(f"alpha must be a number in [0, 1], got {alpha!r}")
    return a


def ssim_loss(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: float = 1.0,
    win_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    compute_dtype: torch.dtype | str = torch.float64,
    reduction: str = "mean",
) -> torch.Tensor:
    """:math:`1 - \\mathrm{SSIM}(x, y)` per sample, with :func:`restorekit.metrics.ssim`.

    Args:
        x: restored image in [0, 1].
        y: target image in [0, 1].
        data_range: peak-to-peak range of the images.
        win_size: odd window size; H and W must be at least this large (use :func:`ms_ssim_loss`
            on smaller patches: it shrinks the window).
        sigma: standard deviation of the Gaussian window, in pixels.
        k1: luminance constant K1 (> 0).
        k2: contrast constant K2 (> 0).
        compute_dtype: ``torch.float64`` (default) or ``torch.float32`` (faster, see the module
            docstring), passed to the metric.
        reduction: ``"mean"`` over the batch (a scalar) or ``"none"`` (one value per sample).

    Returns:
        A scalar, or ``(B,)`` with ``reduction="none"``, in [0, 2], 0 for identical images, in
        ``x``'s dtype.

    Shape:
        ``(B, C, H, W), (B, C, H, W) -> ()`` or ``(B,)``, with C 1 or 3.

    Example:
        >>> x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        >>> ssim_loss(x, x)
        tensor(0.)
        >>> bool(ssim_loss(x, 1 - x) > 1)  # anticorrelated: SSIM < 0
        True
    """
    check_reduction(reduction)
    s = ssim(
        x, y, data_range=data_range, win_size=win_size, sigma=sigma, k1=k1, k2=k2,
        compute_dtype=compute_dtype,
    )  # fmt: skip
    return reduce_batch(1.0 - s, reduction)


def ms_ssim_loss(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: float = 1.0,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
    win_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    mode: str = "valid",
    compute_dtype: torch.dtype | str = torch.float64,
    reduction: str = "mean",
) -> torch.Tensor:
    """:math:`1 - \\text{MS-SSIM}(x, y)` per sample, with :func:`restorekit.metrics.ms_ssim`.

    Any patch size works: a 64x64 patch gets 3 scales, 32x32 two, 16x16 one (plain SSIM clamped
    at 0), and a patch smaller than the window a smaller window (:func:`restorekit.metrics.ms_ssim`
    says how). Value and gradient are finite on flat, tiny and identical patches, where other
    implementations give NaN.

    ``mode="valid"`` (default) gives ``1 - `` the reported metric; ``mode="same"`` pads before
    every filtering so border pixels weigh like the others, which suits small training patches.

    Args:
        x: restored image in [0, 1].
        y: target image in [0, 1].
        data_range: peak-to-peak range of the images.
        weights: per-scale exponents, finest first (Wang et al. 2003 by default).
        win_size: odd Gaussian window size.
        sigma: standard deviation of the window, in pixels.
        k1: luminance constant K1 (> 0).
        k2: contrast constant K2 (> 0).
        mode: ``"valid"`` or ``"same"``.
        compute_dtype: ``torch.float64`` (default) or ``torch.float32`` (2-3x faster on CPU,
            agrees to a few 1e-6; see the module docstring), passed to the metric.
        reduction: ``"mean"`` over the batch (a scalar) or ``"none"`` (one value per sample).

    Returns:
        A scalar, or ``(B,)`` with ``reduction="none"``, in [0, 1], 0 for identical images, in
        ``x``'s dtype.

    Shape:
        ``(B, C, H, W), (B, C, H, W) -> ()`` or ``(B,)``, with C 1 or 3, any H, W.

    Example:
        >>> flat = torch.full((2, 3, 8, 8), 0.5, requires_grad=True)
        >>> loss = ms_ssim_loss(flat, flat.detach().clone())
        >>> loss.backward()
        >>> loss, bool(torch.isfinite(flat.grad).all())
        (tensor(0., grad_fn=<MeanBackward0>), True)
    """
    check_reduction(reduction)
    s = ms_ssim(
        x, y, data_range=data_range, weights=weights, win_size=win_size, sigma=sigma, k1=k1,
        k2=k2, mode=mode, compute_dtype=compute_dtype,
    )  # fmt: skip
    return reduce_batch(1.0 - s, reduction)


def mixed_ms_ssim_l1_loss(
    x: torch.Tensor,
    y: torch.Tensor,
    alpha: float,
    data_range: float = 1.0,
    weights: Sequence[float] = MS_SSIM_WEIGHTS,
    win_size: int = 11,
    sigma: float = 1.5,
    k1: float = 0.01,
    k2: float = 0.03,
    mode: str = "valid",
    compute_dtype: torch.dtype | str = torch.float64,
    reduction: str = "mean",
) -> torch.Tensor:
    """The mixed MS-SSIM + L1 loss of Zhao, Gallo, Frosio and Kautz (2017), per sample.

    .. math::

        \\mathcal{L}^{\\mathrm{Mix}} = \\alpha\\,(1 - \\text{MS-SSIM}(x, y))
        + (1 - \\alpha)\\, \\overline{G * \\frac{|x - y|}{R}}

    The first term is :func:`ms_ssim_loss` with the same options. For the second, the per-pixel
    error :math:`|x - y| / R` (:math:`R` = ``data_range``) of every channel is filtered with the
    Gaussian window MS-SSIM uses at its finest scale (the separable ``win_size``-tap window of
    standard deviation ``sigma``, summing to 1, :func:`restorekit.metrics.gaussian_window`; on an
    image smaller than the window, the smaller window MS-SSIM then uses), with the same border
    ``mode``, and the filtered map is averaged over positions and channels:

    - ``mode="valid"``: only positions where the whole window fits, so this is a weighted mean of
      the error whose weights fall off within ``win_size // 2`` pixels of the border (as MS-SSIM
      weighs those pixels), and equal the plain mean's inside.
    - ``mode="same"``: half-sample symmetric padding; the window being symmetric, the average is
      then exactly the plain L1 loss :math:`\\overline{|x - y|} / R`.

    The paper writes :math:`G_{\\sigma_G^M} \\cdot \\mathcal{L}^{\\ell_1}` with the Gaussian of
    its coarsest scale, because it evaluates the loss at the centre pixel of each patch, where
    MS-SSIM's error is spread by that Gaussian. Here both terms are averaged over the whole image
    with the standard (pooled) MS-SSIM, and the weighting uses the window's own Gaussian at full
    resolution: the two terms then cover the same pixels.

    Args:
        x: restored image in [0, 1].
        y: target image in [0, 1].
        alpha: weight of the MS-SSIM term in [0, 1], required; the paper uses 0.84.
        data_range: peak-to-peak range of the images.
        weights: MS-SSIM per-scale exponents, finest first.
        win_size: odd Gaussian window size.
        sigma: standard deviation of the window, in pixels.
        k1: luminance constant K1 (> 0).
        k2: contrast constant K2 (> 0).
        mode: ``"valid"`` or ``"same"``, for both terms.
        compute_dtype: ``torch.float64`` (default) or ``torch.float32`` (faster), for both terms.
        reduction: ``"mean"`` over the batch (a scalar) or ``"none"`` (one value per sample).

    Returns:
        A scalar, or ``(B,)`` with ``reduction="none"``, >= 0, 0 for identical images, in ``x``'s
        dtype.

    Shape:
        ``(B, C, H, W), (B, C, H, W) -> ()`` or ``(B,)``, with C 1 or 3, any H, W.

    References:
        H. Zhao, O. Gallo, I. Frosio, J. Kautz, "Loss functions for image restoration with neural
        networks", IEEE Transactions on Computational Imaging 3(1), 2017.

    Example:
        >>> y = torch.full((1, 1, 16, 16), 0.5)
        >>> x = y + 0.1  # flat: MS-SSIM sees only the luminance difference
        >>> mixed_ms_ssim_l1_loss(x, y, alpha=0.0, mode="same")  # the L1 loss
        tensor(0.1000)
        >>> a = float(mixed_ms_ssim_l1_loss(x, y, alpha=0.84))
        >>> round(a, 6) == round(0.84 * float(ms_ssim_loss(x, y)) + 0.16 * 0.1, 6)
        True
    """
    a = _check_alpha(alpha)
    check_reduction(reduction)
    dtype = check_compute_dtype(compute_dtype)
    structural = 1.0 - ms_ssim(
        x, y, data_range=data_range, weights=weights, win_size=win_size, sigma=sigma, k1=k1,
        k2=k2, mode=mode, compute_dtype=dtype,
    )  # fmt: skip
    # The arguments are valid now (the MS-SSIM checked them): the window MS-SSIM used on this size.
    H, W = x.shape[-2:]
    _, k = ms_ssim_levels(H, W, len(weights), win_size)
    win = gaussian_window(k, sigma, dtype=dtype, device=x.device)
    err = (x.to(dtype) - y.to(dtype)).abs() / float(data_range)
    g_l1 = _blur(err, win, mode).flatten(1).mean(dim=1).to(x.dtype)
    return reduce_batch(a * structural + (1.0 - a) * g_l1, reduction)


class _Twin(nn.Module):
    """A module twin that keeps its function's keyword arguments in ``self.kwargs``."""

    kwargs: dict

    def extra_repr(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.kwargs.items())


class SSIMLoss(_Twin):
    """Module twin of :func:`ssim_loss`; takes the same keyword arguments."""

    def __init__(
        self,
        data_range: float = 1.0,
        win_size: int = 11,
        sigma: float = 1.5,
        k1: float = 0.01,
        k2: float = 0.03,
        compute_dtype: torch.dtype | str = torch.float64,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        _check_options(data_range, win_size, sigma, k1, k2)
        self.kwargs = {
            "data_range": data_range, "win_size": win_size, "sigma": sigma, "k1": k1, "k2": k2,
            "compute_dtype": check_compute_dtype(compute_dtype),
            "reduction": check_reduction(reduction),
        }  # fmt: skip

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ssim_loss(x, y, **self.kwargs)


class MSSSIMLoss(_Twin):
    """Module twin of :func:`ms_ssim_loss`; takes the same keyword arguments."""

    def __init__(
        self,
        data_range: float = 1.0,
        weights: Sequence[float] = MS_SSIM_WEIGHTS,
        win_size: int = 11,
        sigma: float = 1.5,
        k1: float = 0.01,
        k2: float = 0.03,
        mode: str = "valid",
        compute_dtype: torch.dtype | str = torch.float64,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        _check_options(data_range, win_size, sigma, k1, k2, weights, mode)
        self.kwargs = {
            "data_range": data_range, "weights": tuple(weights), "win_size": win_size,
            "sigma": sigma, "k1": k1, "k2": k2, "mode": mode,
            "compute_dtype": check_compute_dtype(compute_dtype),
            "reduction": check_reduction(reduction),
        }  # fmt: skip

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ms_ssim_loss(x, y, **self.kwargs)


class MixedMSSSIML1Loss(_Twin):
    """Module twin of :func:`mixed_ms_ssim_l1_loss`; ``alpha`` is required (paper: 0.84)."""

    def __init__(
        self,
        alpha: float,
        data_range: float = 1.0,
        weights: Sequence[float] = MS_SSIM_WEIGHTS,
        win_size: int = 11,
        sigma: float = 1.5,
        k1: float = 0.01,
        k2: float = 0.03,
        mode: str = "valid",
        compute_dtype: torch.dtype | str = torch.float64,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        _check_options(data_range, win_size, sigma, k1, k2, weights, mode)
        self.kwargs = {
            "alpha": _check_alpha(alpha), "data_range": data_range, "weights": tuple(weights),
            "win_size": win_size, "sigma": sigma, "k1": k1, "k2": k2, "mode": mode,
            "compute_dtype": check_compute_dtype(compute_dtype),
            "reduction": check_reduction(reduction),
        }  # fmt: skip

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return mixed_ms_ssim_l1_loss(x, y, **self.kwargs)


def _check_options(
    data_range: float,
    win_size: int,
    sigma: float,
    k1: float,
    k2: float,
    weights: Sequence[float] | None = None,
    mode: str | None = None,
) -> None:
    """Check a module's SSIM options when it is built, with the metric's own checks and messages."""
    check_data_range(data_range)
    _check_window(win_size, sigma)
    _check_constants(k1, k2)
    if weights is not None:
        _check_weights(weights, torch.device("cpu"))
    if mode is not None:
        _check_mode(mode)
