"""Classical upscaling: the "bicubic" baseline every super-resolution table starts from.

``bicubic`` is MATLAB's ``imresize(lr, scale, 'bicubic')``
(:func:`restorekit.degrade.resize.imresize`), the baseline of the published tables; torch's
``interpolate(mode="bicubic")`` uses another kernel (:math:`a = -0.75`) and scores differently.
``nearest`` repeats pixels, for looking at an LR image at the HR size.

:data:`UPSCALERS` maps each name to its function; use it at the config or CLI edge only.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from restorekit._checks import check_image, check_positive, closest_names
from restorekit.degrade.resize import imresize, imresize_output_size
from restorekit.errors import RestorekitError

__all__ = ["UPSCALERS", "Upscale", "upscale", "upscale_bicubic", "upscale_nearest"]


def _check_scale(scale: float) -> float:
    s = check_positive(scale, "scale", allow_zero=False)
    if s < 1:
        raise RestorekitError(f"scale must be >= 1 to upscale, got {scale!r}")
    return s


def upscale_bicubic(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Enlarge with MATLAB's bicubic, the super-resolution baseline: ``imresize(x, scale)``.

    Args:
        x: LR image in [0, 1], linear or sRGB, any channel count.
        scale: the factor, >= 1.

    Returns:
        The enlarged image, not clipped (bicubic overshoots slightly at sharp edges).

    Shape:
        ``(B, C, H, W) -> (B, C, ceil(scale * H), ceil(scale * W))``

    References:
        R. Keys, "Cubic convolution interpolation for digital image processing", IEEE Trans.
        ASSP, 1981.

    Example:
        >>> upscale_bicubic(torch.rand(1, 3, 5, 4), 4).shape
        torch.Size([1, 3, 20, 16])
    """
    return imresize(x, scale=_check_scale(scale))


def upscale_nearest(x: torch.Tensor, scale: float) -> torch.Tensor:
    """Enlarge by repeating pixels (nearest neighbour with pixel centres aligned).

    Args:
        x: LR image in [0, 1], any channel count.
        scale: the factor, >= 1; an integer repeats each pixel ``scale`` times per axis.

    Returns:
        The enlarged image, same size as :func:`upscale_bicubic`.

    Shape:
        ``(B, C, H, W) -> (B, C, ceil(scale * H), ceil(scale * W))``

    Example:
        >>> upscale_nearest(torch.tensor([[[[0.0, 1.0]]]]), 2).tolist()
        [[[[0.0, 0.0, 1.0, 1.0], [0.0, 0.0, 1.0, 1.0]]]]
    """
    check_image(x)
    H, W = x.shape[-2:]
    size = imresize_output_size((H, W), _check_scale(scale))
    return F.interpolate(x, size=size, mode="nearest-exact")


UPSCALERS: dict[str, Callable[[torch.Tensor, float], torch.Tensor]] = {
    "bicubic": upscale_bicubic,
    "nearest": upscale_nearest,
}


def _upscaler(method: str) -> Callable[[torch.Tensor, float], torch.Tensor]:
    try:
        return UPSCALERS[method]
    except (KeyError, TypeError):
        known = closest_names(str(method), list(UPSCALERS))
        raise RestorekitError(
            f"unknown upscaling method {method!r}; known: {', '.join(known)}"
        ) from None


def upscale(x: torch.Tensor, scale: float, method: str = "bicubic") -> torch.Tensor:
    """Enlarge with a classical method named in :data:`UPSCALERS`.

    Args:
        x: LR image in [0, 1], any channel count.
        scale: the factor, >= 1.
        method: ``"bicubic"`` (MATLAB-compatible, the SR baseline) or ``"nearest"``.

    Returns:
        The enlarged image.

    Shape:
        ``(B, C, H, W) -> (B, C, ceil(scale * H), ceil(scale * W))``

    Example:
        >>> upscale(torch.rand(1, 1, 3, 3), 2, method="nearest").shape
        torch.Size([1, 1, 6, 6])
        >>> upscale(torch.rand(1, 1, 3, 3), 2, method="cubic")
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: unknown upscaling method 'cubic'; known: bicubic, nearest
    """
    return _upscaler(method)(x, scale)


class Upscale(nn.Module):
    """Module twin of :func:`upscale`."""

    def __init__(self, scale: float, method: str = "bicubic") -> None:
        super().__init__()
        _check_scale(scale)
        _upscaler(method)
        self.scale = scale
        self.method = method

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return upscale(x, self.scale, self.method)

    def extra_repr(self) -> str:
        return f"scale={self.scale}, method={self.method!r}"
