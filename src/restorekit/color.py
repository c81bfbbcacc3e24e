"""Colour spaces: the sRGB transfer function and the linear-sRGB to XYZ matrix.

The sRGB transfer function (IEC 61966-2-1:1999) maps linear light to the encoded values stored in
ordinary image files. With :math:`L` linear and :math:`V` encoded, both in [0, 1]:

.. math::

    V = \\begin{cases} 12.92\\,L & L \\le 0.0031308 \\\\
        1.055\\,L^{1/2.4} - 0.055 & L > 0.0031308 \\end{cases}
    \\qquad
    L = \\begin{cases} V / 12.92 & V \\le 0.04045 \\\\
        \\left(\\frac{V + 0.055}{1.055}\\right)^{2.4} & V > 0.04045 \\end{cases}

The breakpoints are the standard's. Its rounded constants make the two pieces meet only to
about 3e-8 (0.0031308 * 12.92 = 0.04044994, not 0.04045), so a round trip is exact to float
rounding everywhere except in that sliver next to the breakpoint, where it is off by < 3e-8
(far below one 16-bit code, 1.5e-5).
"""

from __future__ import annotations

import torch

__all__ = ["SRGB_TO_XYZ_D65", "srgb_decode", "srgb_encode"]

# Linear sRGB -> CIE XYZ for the D65 white (rows X, Y, Z), to the six digits dcraw and LibRaw use
# (dcraw's ``xyz_rgb``). Each row sums to the D65 white point (0.950456, 1.0, 1.088754).
SRGB_TO_XYZ_D65: tuple[tuple[float, float, float], ...] = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)

_LINEAR_BREAK = 0.0031308  # on the linear side
_ENCODED_BREAK = 0.04045  # on the encoded side


def srgb_encode(x: torch.Tensor) -> torch.Tensor:
    """Linear light -> sRGB-encoded values (the IEC 61966-2-1 inverse EOTF, "gamma").

    Args:
        x: linear values, any shape; meant for [0, 1]. Below 0 the linear segment continues,
            above 1 the power law does; nothing is clipped. Differentiable (the power branch is
            evaluated on a clamped copy, so no NaN gradients).

    Returns:
        Encoded values, same shape and dtype.

    References:
        IEC 61966-2-1:1999, Multimedia systems and equipment - Colour measurement and
        management - Part 2-1: Default RGB colour space - sRGB.

    Example:
        >>> x = torch.tensor([0.0, 0.0031308, 0.18, 1.0], dtype=torch.float64)
        >>> [round(v, 6) for v in srgb_encode(x).tolist()]
        [0.0, 0.04045, 0.461356, 1.0]
    """
    power = 1.055 * x.clamp(min=_LINEAR_BREAK) ** (1 / 2.4) - 0.055
    return torch.where(x <= _LINEAR_BREAK, 12.92 * x, power)


def srgb_decode(x: torch.Tensor) -> torch.Tensor:
    """sRGB-encoded values -> linear light (the IEC 61966-2-1 EOTF); inverse of :func:`srgb_encode`.

    Args:
        x: encoded values, any shape; meant for [0, 1] (extended as in :func:`srgb_encode`).

    Returns:
        Linear values, same shape and dtype.

    Example:
        >>> v = torch.tensor([0.0, 0.04045, 0.5, 1.0], dtype=torch.float64)
        >>> [round(x, 7) for x in srgb_decode(v).tolist()]
        [0.0, 0.0031308, 0.2140411, 1.0]
    """
    power = ((x.clamp(min=_ENCODED_BREAK) + 0.055) / 1.055) ** 2.4
    return torch.where(x <= _ENCODED_BREAK, x / 12.92, power)
