"""BT.601 studio-range YCbCr, exactly as MATLAB ``rgb2ycbcr``, on the [0, 1] scale.

The super-resolution literature reports PSNR and SSIM on the Y channel computed this way. On the
0..255 scale (with R, G, B in [0, 1]):

.. math::

    Y  &= 16  + 65.481 R + 128.553 G + 24.966 B \\\\
    Cb &= 128 - 37.797 R - 74.203 G + 112.0 B \\\\
    Cr &= 128 + 112.0 R - 93.786 G - 18.214 B

restorekit returns these divided by 255, as MATLAB does for double images: Y lies in
[16/255, 235/255] and Cb, Cr in [16/255, 240/255]. ``skimage.color.rgb2ycbcr`` gives the same values
on the 0..255 scale.
"""

from __future__ import annotations

import torch

from restorekit._checks import check_image

__all__ = ["rgb_to_y", "rgb_to_ycbcr", "ycbcr_to_rgb"]

# Rows give Y, Cb, Cr on the 0..255 scale from R, G, B in [0, 1] (ITU-R BT.601, studio range).
_RGB_TO_YCBCR = (
    (65.481, 128.553, 24.966),
    (-37.797, -74.203, 112.0),
    (112.0, -93.786, -18.214),
)
_OFFSET = (16.0, 128.0, 128.0)


def _matrix(x: torch.Tensor) -> torch.Tensor:
    # Built in float64 then cast, so the inverse below is as exact as the input dtype allows.
    return torch.tensor(_RGB_TO_YCBCR, dtype=torch.float64, device=x.device) / 255.0


def _offset(x: torch.Tensor) -> torch.Tensor:
    return (torch.tensor(_OFFSET, dtype=torch.float64, device=x.device) / 255.0).view(1, 3, 1, 1)


def rgb_to_ycbcr(x: torch.Tensor) -> torch.Tensor:
    """Convert RGB to BT.601 studio-range YCbCr, as MATLAB ``rgb2ycbcr`` on a double image.

    Args:
        x: RGB image in [0, 1] (gamma-encoded sRGB, as the field uses it; the formula does not
            linearise).

    Returns:
        YCbCr on the [0, 1] scale: Y in [16/255, 235/255], Cb and Cr in [16/255, 240/255].
        Same dtype as ``x``.

    Shape:
        ``(B, 3, H, W) -> (B, 3, H, W)``

    References:
        ITU-R BT.601; MATLAB ``rgb2ycbcr``.

    Example:
        >>> white = torch.ones(1, 3, 1, 1, dtype=torch.float64)
        >>> [round(v, 9) for v in (rgb_to_ycbcr(white) * 255).flatten().tolist()]
        [235.0, 128.0, 128.0]
    """
    check_image(x, channels=3)
    m = _matrix(x).to(x.dtype)
    out = torch.einsum("ij,bjhw->bihw", m, x)
    return out + _offset(x).to(x.dtype)


def rgb_to_y(x: torch.Tensor) -> torch.Tensor:
    """The luma Y of :func:`rgb_to_ycbcr` alone.

    .. math::

        Y = (16 + 65.481 R + 128.553 G + 24.966 B) / 255

    Args:
        x: RGB image in [0, 1].

    Returns:
        Y in [16/255, 235/255], same dtype as ``x``.

    Shape:
        ``(B, 3, H, W) -> (B, 1, H, W)``

    Example:
        >>> (rgb_to_y(torch.zeros(1, 3, 1, 1)) * 255).item()
        16.0
    """
    check_image(x, channels=3)
    w = _matrix(x)[0].to(x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(dim=1, keepdim=True) + 16.0 / 255.0


def ycbcr_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Invert :func:`rgb_to_ycbcr`.

    The result is not clipped: a YCbCr triple outside the RGB gamut gives values outside [0, 1].

    Args:
        x: YCbCr on the [0, 1] scale (as :func:`rgb_to_ycbcr` returns it).

    Returns:
        RGB, same dtype as ``x``.

    Shape:
        ``(B, 3, H, W) -> (B, 3, H, W)``

    Example:
        >>> x = torch.rand(2, 3, 4, 4, dtype=torch.float64)
        >>> torch.allclose(ycbcr_to_rgb(rgb_to_ycbcr(x)), x)
        True
    """
    check_image(x, channels=3)
    inv = torch.linalg.inv(_matrix(x)).to(x.dtype)
    return torch.einsum("ij,bjhw->bihw", inv, x - _offset(x).to(x.dtype))
