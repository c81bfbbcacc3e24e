"""Colour difference: CIELAB from sRGB, and CIEDE2000 (the convention colour-science uses).

Convention: an 8-bit or float sRGB image (IEC 61966-2-1 transfer function, D65) is decoded to
linear light, converted to CIE XYZ with the IEC 61966-2-1 matrix (4 decimals, as
colour-science's ``RGB_COLOURSPACE_sRGB``), then to CIELAB relative to the D65 white of the CIE
1931 2-degree observer (xy = 0.3127, 0.3290): ``colour.XYZ_to_Lab(colour.sRGB_to_XYZ(rgb))``. The
difference is CIEDE2000 with kL = kC = kH = 1 (``colour.delta_E(..., method="CIE 2000")``).

References:
    G. Sharma, W. Wu, E. N. Dalal, "The CIEDE2000 color-difference formula: implementation notes,
    supplementary test data, and mathematical observations", Color Research & Application 30(1),
    2005.
"""

from __future__ import annotations

import torch

from restorekit._checks import check_image
from restorekit.color import srgb_decode

__all__ = ["CIEDE2000", "ciede2000", "delta_e_map", "srgb_to_lab"]

# IEC 61966-2-1 linear sRGB -> XYZ (rows X, Y, Z), 4 decimals as in the standard.
_SRGB_TO_XYZ = ((0.4124, 0.3576, 0.1805), (0.2126, 0.7152, 0.0722), (0.0193, 0.1192, 0.9505))
# D65 white, CIE 1931 2-degree observer: xy (0.3127, 0.3290) with Y = 1.
_WHITE = (0.3127 / 0.3290, 1.0, (1 - 0.3127 - 0.3290) / 0.3290)


def srgb_to_lab(x: torch.Tensor) -> torch.Tensor:
    """sRGB-encoded ``(B, 3, H, W)`` in [0, 1] -> CIELAB ``(B, 3, H, W)`` (L in [0, 100]), float64.

    Example:
        >>> lab = srgb_to_lab(torch.ones(1, 3, 1, 1))
        >>> [round(v, 3) for v in lab.flatten().tolist()]
        [100.0, 0.008, 0.004]
    """
    check_image(x, channels=3)
    lin = srgb_decode(x.double())
    m = torch.tensor(_SRGB_TO_XYZ, dtype=torch.float64, device=x.device)
    xyz = torch.einsum("ij,bjhw->bihw", m, lin)
    white = torch.tensor(_WHITE, dtype=torch.float64, device=x.device).view(1, 3, 1, 1)
    t = xyz / white
    eps, kappa = 216 / 24389, 24389 / 27  # the CIE's exact constants
    f = torch.where(t > eps, t.clamp(min=eps) ** (1 / 3), (kappa * t + 16) / 116)
    L = 116 * f[:, 1] - 16
    a = 500 * (f[:, 0] - f[:, 1])
    b = 200 * (f[:, 1] - f[:, 2])
    return torch.stack([L, a, b], dim=1)


def _hue(b: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """Hue angle in degrees [0, 360); 0 where a = b = 0."""
    return torch.rad2deg(torch.atan2(b, a)) % 360


def delta_e_map(lab1: torch.Tensor, lab2: torch.Tensor) -> torch.Tensor:
    """CIEDE2000 between CIELAB images ``(B, 3, H, W)`` -> ``(B, H, W)`` (Sharma et al. 2005)."""
    L1, a1, b1 = lab1.unbind(1)
    L2, a2, b2 = lab2.unbind(1)
    p25 = 25.0**7
    c_bar = (torch.hypot(a1, b1) + torch.hypot(a2, b2)) / 2
    g = 0.5 * (1 - torch.sqrt(c_bar**7 / (c_bar**7 + p25)))
    a1p, a2p = (1 + g) * a1, (1 + g) * a2
    c1p, c2p = torch.hypot(a1p, b1), torch.hypot(a2p, b2)
    h1p, h2p = _hue(b1, a1p), _hue(b2, a2p)
    chroma0 = (c1p * c2p) == 0

    dLp = L2 - L1
    dCp = c2p - c1p
    dh = h2p - h1p
    dh = torch.where(dh > 180, dh - 360, torch.where(dh < -180, dh + 360, dh))
    dh = torch.where(chroma0, torch.zeros_like(dh), dh)
    dHp = 2 * torch.sqrt(c1p * c2p) * torch.sin(torch.deg2rad(dh) / 2)

    L_bar = (L1 + L2) / 2
    c_bar_p = (c1p + c2p) / 2
    h_sum = h1p + h2p
    far = (h1p - h2p).abs() > 180
    h_bar = torch.where(far, torch.where(h_sum < 360, h_sum + 360, h_sum - 360), h_sum) / 2
    h_bar = torch.where(chroma0, h_sum, h_bar)

    def cos_deg(d: torch.Tensor) -> torch.Tensor:
        return torch.cos(torch.deg2rad(d))

    t = (
        1
        - 0.17 * cos_deg(h_bar - 30)
        + 0.24 * cos_deg(2 * h_bar)
        + 0.32 * cos_deg(3 * h_bar + 6)
        - 0.20 * cos_deg(4 * h_bar - 63)
    )
    d_theta = 30 * torch.exp(-(((h_bar - 275) / 25) ** 2))
    r_c = 2 * torch.sqrt(c_bar_p**7 / (c_bar_p**7 + p25))
    s_l = 1 + 0.015 * (L_bar - 50) ** 2 / torch.sqrt(20 + (L_bar - 50) ** 2)
    s_c = 1 + 0.045 * c_bar_p
    s_h = 1 + 0.015 * c_bar_p * t
    r_t = -torch.sin(torch.deg2rad(2 * d_theta)) * r_c
    tl, tc, th = dLp / s_l, dCp / s_c, dHp / s_h
    return torch.sqrt((tl**2 + tc**2 + th**2 + r_t * tc * th).clamp(min=0))


def ciede2000(x: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """CIEDE2000 between two sRGB images, per image.

    Args:
        x, y: ``(B, 3, H, W)`` sRGB-encoded in [0, 1] (round to 8 bits first to report the field's
            numbers on 8-bit files).
        reduction: ``"mean"`` (default) or ``"p95"`` (the 95th percentile over pixels).

    Returns:
        ``(B,)`` in ``x``'s dtype.

    Example:
        >>> grey = torch.full((1, 3, 2, 2), 0.5)
        >>> ciede2000(grey, grey).tolist()
        [0.0]
    """
    check_image(y, channels=3)
    if x.shape != y.shape:
        raise ValueError(
            f"x and y must have the same shape, got {tuple(x.shape)}, {tuple(y.shape)}"
        )
    d = delta_e_map(srgb_to_lab(x), srgb_to_lab(y)).flatten(1)
    if reduction == "mean":
        out = d.mean(dim=1)
    elif reduction == "p95":
        out = torch.quantile(d, 0.95, dim=1)
    else:
        raise ValueError(f"unknown reduction {reduction!r}; known: mean, p95")
    return out.to(x.dtype)


class CIEDE2000(torch.nn.Module):
    """Module twin of :func:`ciede2000`."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = reduction

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return ciede2000(x, y, self.reduction)
