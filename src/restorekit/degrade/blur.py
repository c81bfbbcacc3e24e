"""Gaussian blur: isotropic and anisotropic kernels, their random draw, and the blur itself.

The kernels are the ones of the "unknown degradation" super-resolution literature (BSRGAN,
Real-ESRGAN, SRResCycGAN's synthetic data): a 2-D Gaussian with covariance

.. math::
    \\Sigma = R_\\theta \\begin{pmatrix} \\sigma_x^2 & 0 \\\\ 0 & \\sigma_y^2 \\end{pmatrix}
    R_\\theta^T, \\qquad
    R_\\theta = \\begin{pmatrix} \\cos\\theta & -\\sin\\theta \\\\
    \\sin\\theta & \\cos\\theta \\end{pmatrix},

sampled at the integer offsets ``(u, v)`` (``u`` along the width, ``v`` along the height, both
from ``-(size // 2)`` to ``size // 2``) and normalised to sum 1. The axis of :math:`\\sigma_x`
points along ``(u, v) = (\\cos\\theta, \\sin\\theta)``: ``theta`` turns it from the width axis
towards the height axis (downwards on screen). This is BasicSR's ``bivariate_Gaussian``.

:func:`blur` convolves with reflect padding (``d c b | a b c d | c b a``, the edge pixel not
repeated): torch's ``"reflect"``, OpenCV's default ``BORDER_REFLECT_101`` and SciPy's ``"mirror"``
(SciPy's ``"reflect"`` repeats the edge pixel and is torch's missing ``"symmetric"``).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from restorekit._checks import check_image, check_positive
from restorekit.errors import RestorekitError

__all__ = ["Blur", "blur", "gaussian_kernel", "sample_blur_kernel"]


def _check_size(size: int) -> int:
    if isinstance(size, bool) or not isinstance(size, int) or size < 1 or size % 2 == 0:
        raise RestorekitError(f"kernel size must be an odd integer >= 1, got {size!r}")
    return size


def _check_angle(theta: float) -> float:
    try:
        t = float(theta)
    except (TypeError, ValueError):
        raise RestorekitError(f"theta must be a number (radians), got {theta!r}") from None
    if not math.isfinite(t):
        raise RestorekitError(f"theta must be a finite number (radians), got {theta!r}")
    return t


def _check_range(value_range: tuple[float, float], name: str) -> tuple[float, float]:
    """``(lo, hi)`` as floats with ``0 < lo <= hi``, both finite."""
    try:
        lo, hi = (float(v) for v in value_range)
    except (TypeError, ValueError):
        raise RestorekitError(f"{name} must be a pair (lo, hi), got {value_range!r}") from None
    check_positive(lo, f"{name} lo", allow_zero=False)
    check_positive(hi, f"{name} hi", allow_zero=False)
    if lo > hi:
        raise RestorekitError(f"{name} must have lo <= hi, got {value_range!r}")
    return lo, hi


def gaussian_kernel(
    size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0
) -> torch.Tensor:
    """A sampled 2-D Gaussian, isotropic or anisotropic and rotated, summing to 1.

    .. math::
        k(u, v) \\propto \\exp\\left(-\\tfrac12 \\, (u, v) \\, \\Sigma^{-1} (u, v)^T\\right),
        \\qquad \\sum_{u, v} k(u, v) = 1

    with :math:`\\Sigma` as in the module docstring. The kernel is cut at ``size // 2`` pixels
    from the centre and renormalised; a size of about ``2 * ceil(3 * sigma) + 1`` keeps all but a
    few thousandths of the mass.

    Args:
        size: the side, an odd integer >= 1.
        sigma_x: standard deviation along the rotated first axis, in pixels, > 0.
        sigma_y: standard deviation along the rotated second axis; ``None`` is ``sigma_x``
            (isotropic, ``theta`` then has no effect).
        theta: the rotation in radians: the :math:`\\sigma_x` axis points along
            ``(cos theta, sin theta)`` in (width, height) pixel offsets.

    Returns:
        ``(size, size)`` float64, indexed ``[v, u]`` (row, column), summing to 1; symmetric under
        a half turn (``k.flip(0, 1) == k``).

    Raises:
        RestorekitError: an even or non-positive size, a sigma that is not a finite number > 0,
            a theta that is not finite.

    Example:
        >>> k = gaussian_kernel(5, 1.0)
        >>> k.shape, k.dtype, round(k.sum().item(), 12)
        (torch.Size([5, 5]), torch.float64, 1.0)
        >>> bool(torch.allclose(k, k.T))
        True
        >>> k = gaussian_kernel(21, 4.0, 1.0, theta=math.pi / 2)  # long axis along the height
        >>> bool(k[10, :].sum() < k[:, 10].sum())
        True
    """
    n = _check_size(size)
    sx = check_positive(sigma_x, "sigma_x", allow_zero=False)
    sy = sx if sigma_y is None else check_positive(sigma_y, "sigma_y", allow_zero=False)
    t = _check_angle(theta)
    c, s = math.cos(t), math.sin(t)
    # inverse covariance R diag(1/sx^2, 1/sy^2) R^T
    a = c * c / sx**2 + s * s / sy**2
    b = c * s * (1 / sx**2 - 1 / sy**2)
    d = s * s / sx**2 + c * c / sy**2
    r = torch.arange(n, dtype=torch.float64) - n // 2
    v, u = torch.meshgrid(r, r, indexing="ij")  # v: row offset (height), u: column (width)
    k = torch.exp(-0.5 * (a * u * u + 2 * b * u * v + d * v * v))
    return k / k.sum()


def sample_blur_kernel(
    size: int,
    sigma_range: tuple[float, float],
    generator: torch.Generator | None = None,
    anisotropic: bool = True,
) -> torch.Tensor:
    """Draw one random Gaussian blur kernel.

    Isotropic: :math:`\\sigma \\sim U(\\text{lo}, \\text{hi})`. Anisotropic:
    :math:`\\sigma_x, \\sigma_y \\sim U(\\text{lo}, \\text{hi})` independently and
    :math:`\\theta \\sim U(-\\pi, \\pi)` (as Real-ESRGAN's generalized kernels with
    :math:`\\beta = 2`). The uniforms come from ``generator`` only (float64, on the CPU).

    Args:
        size: the kernel side, an odd integer >= 1.
        sigma_range: ``(lo, hi)``, ``0 < lo <= hi``, in pixels.
        generator: the random source (CPU).
        anisotropic: draw two sigmas and an angle instead of one sigma.

    Returns:
        ``(size, size)`` float64 kernel summing to 1, from :func:`gaussian_kernel`.

    References:
        X. Wang, L. Xie, C. Dong, Y. Shan, "Real-ESRGAN: Training real-world blind
        super-resolution with pure synthetic data", ICCV Workshops, 2021.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> k = sample_blur_kernel(21, (0.2, 3.0), generator=g)
        >>> k.shape, round(k.sum().item(), 12)
        (torch.Size([21, 21]), 1.0)
        >>> g = torch.Generator().manual_seed(0)
        >>> torch.equal(k, sample_blur_kernel(21, (0.2, 3.0), generator=g))
        True
    """
    n = _check_size(size)
    lo, hi = _check_range(sigma_range, "sigma_range")
    u = torch.rand(3, generator=generator, dtype=torch.float64).tolist()
    sx = lo + (hi - lo) * u[0]
    if not anisotropic:
        return gaussian_kernel(n, sx)
    sy = lo + (hi - lo) * u[1]
    theta = math.pi * (2 * u[2] - 1)
    return gaussian_kernel(n, sx, sy, theta)


def _check_kernel(kernel: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``kernel`` as ``(B, k, k)`` (one per image) or ``(1, k, k)``, checked against ``x``."""
    if not isinstance(kernel, torch.Tensor):
        raise RestorekitError(f"kernel must be a torch.Tensor, got {type(kernel).__name__}")
    if not kernel.is_floating_point():
        raise RestorekitError(f"kernel must be a float tensor, got dtype {kernel.dtype}")
    shape = tuple(kernel.shape)
    k3 = kernel[None] if kernel.ndim == 2 else kernel
    if k3.ndim != 3 or k3.shape[-1] != k3.shape[-2] or k3.shape[-1] % 2 == 0:
        raise RestorekitError(f"kernel must be (k, k) or (B, k, k) with k odd, got shape {shape}")
    B = x.shape[0]
    if k3.shape[0] not in (1, B):
        raise RestorekitError(f"a batch of kernels must have one per image ({B}), got {shape}")
    H, W = x.shape[-2:]
    r = k3.shape[-1] // 2
    if r >= H or r >= W:
        raise RestorekitError(
            f"a {k3.shape[-1]}x{k3.shape[-1]} kernel needs an image larger than {r}x{r} for "
            f"reflect padding, got {H}x{W}"
        )
    return k3


def blur(x: torch.Tensor, kernel: torch.Tensor) -> torch.Tensor:
    """Convolve each image with a kernel, reflect-padded to keep the size; differentiable.

    .. math::
        y(i, j) = \\sum_{v, u} k(v, u) \\, x(i - v, j - u)

    a true convolution (the kernel is flipped; for the point-symmetric Gaussians of
    :func:`gaussian_kernel` the flip changes nothing). Outside the image ``x`` is reflected
    without repeating the edge pixel (torch's ``"reflect"``, SciPy's ``"mirror"``, OpenCV's
    ``BORDER_REFLECT_101``). Every channel gets the same kernel. Gradients flow to ``x`` and to
    ``kernel``.

    Args:
        x: image ``(B, C, H, W)``, any channel count, linear or sRGB (blurring is linear in the
            values it gets; optical blur is linear in linear light).
        kernel: ``(k, k)`` for every image, or ``(B, k, k)``, one per image; ``k`` odd and
            ``k // 2 < min(H, W)``. Any float dtype (computed in ``x``'s). Not renormalised.

    Returns:
        The blurred image, same shape, dtype and device as ``x``.

    Shape:
        ``(B, C, H, W), (k, k) or (B, k, k) -> (B, C, H, W)``

    Raises:
        RestorekitError: a kernel that is not square with an odd side, a batch of kernels of the
            wrong length, an image too small to reflect-pad.

    Example:
        >>> x = torch.full((2, 3, 16, 16), 0.5)
        >>> y = blur(x, gaussian_kernel(7, 1.5))
        >>> y.shape, bool(torch.allclose(y, x))
        (torch.Size([2, 3, 16, 16]), True)
        >>> k = torch.stack([gaussian_kernel(5, 1.0), gaussian_kernel(5, 2.0, 0.5, 0.3)])
        >>> blur(torch.rand(2, 1, 8, 8), k).shape
        torch.Size([2, 1, 8, 8])
    """
    check_image(x)
    k = _check_kernel(kernel, x).to(device=x.device, dtype=x.dtype).flip(-2, -1)
    B, C, H, W = x.shape
    r = k.shape[-1] // 2
    if k.shape[0] == 1:
        # one kernel: every channel of every image is a separate 1-channel image
        xp = F.pad(x.reshape(B * C, 1, H, W), (r, r, r, r), mode="reflect")
        return F.conv2d(xp, k[:, None]).reshape(B, C, H, W)
    # one kernel per image: the batch becomes B * C groups of a grouped convolution
    xp = F.pad(x.reshape(1, B * C, H, W), (r, r, r, r), mode="reflect")
    weight = k.repeat_interleave(C, dim=0)[:, None]  # (B C, 1, k, k), image b's kernel C times
    return F.conv2d(xp, weight, groups=B * C).reshape(B, C, H, W)


class Blur(nn.Module):
    """Module twin of :func:`blur`; the kernel is a (non-persistent) buffer."""

    kernel: torch.Tensor

    def __init__(self, kernel: torch.Tensor) -> None:
        super().__init__()
        if not isinstance(kernel, torch.Tensor) or kernel.ndim not in (2, 3):
            raise RestorekitError("kernel must be a (k, k) or (B, k, k) tensor")
        self.register_buffer("kernel", kernel.detach().clone(), persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return blur(x, self.kernel)

    def extra_repr(self) -> str:
        return f"kernel_shape={tuple(self.kernel.shape)}"
