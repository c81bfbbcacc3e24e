"""Edge-preservation metrics used for OCT and speckle denoising: EPI and GCMSE.

Both are full-reference and asymmetric in spirit: the edges come from the reference ``y`` (the
clean image), and ``x`` is the restored image being judged.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from restorekit._checks import check_positive, closest_names
from restorekit.errors import RestorekitError
from restorekit.metrics._common import prepare_pair

__all__ = ["EPI", "GCMSE", "epi", "gcmse", "laplacian"]

# Below this RMS a high-pass image counts as flat (far below one 16-bit step, 1.5e-5).
_FLAT_RMS = 1e-9

_CONDUCTIONS = ("exp", "rational")


def laplacian(x: torch.Tensor) -> torch.Tensor:
    """The 3x3 Laplacian high-pass of every channel, on the valid region (no padding).

    .. math::

        \\Delta I = \\begin{pmatrix} 0 & 1 & 0 \\\\ 1 & -4 & 1 \\\\ 0 & 1 & 0 \\end{pmatrix} * I

    Shape:
        ``(B, C, H, W) -> (B, C, H - 2, W - 2)``

    Example:
        >>> x = torch.zeros(1, 1, 3, 3)
        >>> x[0, 0, 1, 1] = 1.0
        >>> laplacian(x).flatten().tolist()
        [-4.0]
    """
    C = x.shape[1]
    k = torch.tensor([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]], dtype=x.dtype)
    k = k.to(x.device)
    return F.conv2d(x, k.view(1, 1, 3, 3).expand(C, 1, 3, 3), groups=C)


def epi(x: torch.Tensor, y: torch.Tensor, crop: int = 0) -> torch.Tensor:
    """Edge preservation index (Sattar et al. 1997): correlation of the two Laplacian high-passes.

    .. math::

        \\mathrm{EPI} = \\frac{\\sum (\\Delta s - \\overline{\\Delta s})
        (\\Delta \\hat s - \\overline{\\Delta \\hat s})}
        {\\sqrt{\\sum (\\Delta s - \\overline{\\Delta s})^2
        \\sum (\\Delta \\hat s - \\overline{\\Delta \\hat s})^2}}

    where :math:`\\Delta s` is the 3x3 Laplacian (:func:`laplacian`) of the reference ``y``,
    :math:`\\Delta \\hat s` that of the restored ``x``, both on the valid region (a 1-pixel
    border is lost), and sums and means run over all channels and pixels of one image (channels
    pooled).

    EPI is 1 for identical images, at most 1, and unchanged when ``x`` is replaced by
    ``a * x + b`` with ``a > 0``; smoothing that blurs edges lowers it. If either high-pass is
    numerically flat (RMS below 1e-9) the correlation is undefined: EPI is then 1 when both are
    flat (nothing to preserve and nothing added) and 0 otherwise.

    Args:
        x: restored image in [0, 1].
        y: reference image in [0, 1].
        crop: pixels removed on every side before computing.

    Returns:
        ``(B,)`` EPI in [-1, 1]; float64 inside, ``x``'s dtype out. Differentiable.

    Shape:
        ``(B, C, H, W), (B, C, H, W) -> (B,)`` with C 1 or 3, H and W >= 3 after crop.

    References:
        F. Sattar, L. Floreby, G. Salomonsson, B. Lovstrom, "Image enhancement based on a nonlinear
        multiscale method", IEEE Transactions on Image Processing, 1997.

    Example:
        >>> y = torch.rand(1, 1, 16, 16, generator=torch.Generator().manual_seed(0))
        >>> epi(y, y), epi(0.5 * y + 0.2, y)
        (tensor([1.]), tensor([1.]))
    """
    a, b = prepare_pair(x, y, crop=crop)
    H, W = a.shape[-2:]
    if H < 3 or W < 3:
        raise RestorekitError(
            f"epi needs images of at least 3x3 pixels (after crop={crop}), got {H}x{W}"
        )
    da = laplacian(a).flatten(1)
    db = laplacian(b).flatten(1)
    da = da - da.mean(dim=1, keepdim=True)
    db = db - db.mean(dim=1, keepdim=True)
    ss_a = (da * da).sum(dim=1)
    ss_b = (db * db).sum(dim=1)
    flat_floor = da.shape[1] * _FLAT_RMS**2
    flat_a, flat_b = ss_a <= flat_floor, ss_b <= flat_floor
    defined = ~(flat_a | flat_b)
    # The denominator is replaced by 1 where undefined, so no 0/0 reaches the gradient.
    den = torch.where(defined, ss_a * ss_b, torch.ones_like(ss_a)).sqrt()
    value = (da * db).sum(dim=1) / den
    fallback = (flat_a & flat_b).to(value.dtype)
    return torch.where(defined, value, fallback).to(x.dtype)


def _conduction(g: torch.Tensor, kappa: float, kind: str) -> torch.Tensor:
    if kind == "exp":
        return torch.exp(-((g / kappa) ** 2))
    return 1.0 / (1.0 + (g / kappa) ** 2)


def gcmse(
    x: torch.Tensor,
    y: torch.Tensor,
    kappa: float = 0.5,
    crop: int = 0,
    conduction: str = "exp",
    size_scaled: bool = True,
) -> torch.Tensor:
    """Gradient-conduction mean squared error (López-Randulfe et al. 2017).

    An MSE weighted towards the edges of the reference ``y``. A Perona-Malik conduction is taken
    over the four nearest-neighbour differences of ``y`` and averaged; its complement is the edge
    weight :math:`G` (near 1 across strong edges, exactly 0 in flat regions):

    .. math::

        c_d = e^{-(\\nabla_d y / \\kappa)^2}, \\quad d \\in \\{N, S, E, W\\}, \\qquad
        G = 1 - \\tfrac14 (c_N + c_S + c_E + c_W)

    where :math:`\\nabla_d y` is the difference to the neighbour in direction :math:`d` and a
    neighbour outside the image counts as conduction 1 (homogeneous). ``conduction='rational'``
    uses Perona-Malik's other function :math:`1 / (1 + (\\nabla_d y / \\kappa)^2)`. Then

    .. math::

        \\mathrm{GCMSE} = N \\frac{\\sum [G (x - y)]^2}{\\sum G}

    with sums over all channels and pixels of one image and :math:`N = C H W`. This is the
    formula of the authors' reference code, PyGCMSE (``GCMSE(ref, img, kappa=0.5, option=1)``,
    github.com/jlrandulfe/PyGCMSE): the weight enters squared and the result grows with the image
    size. ``size_scaled=False`` drops the factor :math:`N`, giving the size-independent
    :math:`\\sum [G (x - y)]^2 / \\sum G`. A colour image is treated like PyGCMSE treats an
    ``H x W x 3`` array: each channel's weight from that channel's differences.

    A reference with no edges at all (constant) has :math:`\\sum G = 0`; GCMSE is then defined as 0,
    because the metric only scores errors at edges (use :func:`~restorekit.metrics.mse` for flat
    regions).

    Args:
        x: restored image in [0, 1].
        y: reference image in [0, 1]; PyGCMSE divides 8-bit input by 255, which is this scale.
        kappa: conductance parameter on the [0, 1] scale (PyGCMSE's default 0.5).
        crop: pixels removed on every side before computing.
        conduction: ``'exp'`` (PyGCMSE option 1, default) or ``'rational'`` (option 2).
        size_scaled: multiply by :math:`N = C H W` as PyGCMSE does.

    Returns:
        ``(B,)`` GCMSE >= 0, 0 for identical images; float64 inside, ``x``'s dtype out.

    Shape:
        ``(B, C, H, W), (B, C, H, W) -> (B,)`` with C 1 or 3.

    References:
        J. López-Randulfe et al., "A quantitative method for selecting denoising filters, based on
        a new edge-sensitive metric", 2017; reference code PyGCMSE by the first author.

    Example:
        >>> y = torch.zeros(1, 1, 4, 4)
        >>> y[..., 2:] = 1.0  # a vertical step edge between columns 1 and 2
        >>> x = y.clone()
        >>> x[..., 0] += 0.2  # an error away from the edge has zero weight
        >>> gcmse(x, y)
        tensor([0.])
    """
    k = check_positive(kappa, "kappa", allow_zero=False)
    if conduction not in _CONDUCTIONS:
        known = ", ".join(closest_names(str(conduction), _CONDUCTIONS))
        raise RestorekitError(f"unknown conduction {conduction!r}; known: {known}")
    a, ref = prepare_pair(x, y, crop=crop)
    _, C, H, W = ref.shape
    # Differences to the south and east neighbour; 0 past the last row / column (conduction 1).
    grad_s = F.pad(ref[..., 1:, :] - ref[..., :-1, :], (0, 0, 0, 1))
    grad_e = F.pad(ref[..., :, 1:] - ref[..., :, :-1], (0, 1, 0, 0))
    cond_s = _conduction(grad_s, k, conduction)
    cond_e = _conduction(grad_e, k, conduction)
    # North and west are the south and east of the previous row / column; 1 on the first.
    cond_n = F.pad(cond_s[..., :-1, :], (0, 0, 1, 0), value=1.0)
    cond_w = F.pad(cond_e[..., :, :-1], (1, 0, 0, 0), value=1.0)
    weight = 1.0 - ((cond_n + cond_s + cond_e + cond_w) / 4.0).clamp(0.0, 1.0)
    num = (weight * (a - ref)).pow(2).flatten(1).sum(dim=1)
    den = weight.flatten(1).sum(dim=1)
    has_edges = den > 0
    value = num / torch.where(has_edges, den, torch.ones_like(den))
    value = torch.where(has_edges, value, torch.zeros_like(value))
    if size_scaled:
        value = value * (C * H * W)
    return value.to(x.dtype)


class EPI(nn.Module):
    """Module twin of :func:`epi`."""

    def __init__(self, crop: int = 0) -> None:
        super().__init__()
        self.crop = crop

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return epi(x, y, crop=self.crop)

    def extra_repr(self) -> str:
        return f"crop={self.crop}"


class GCMSE(nn.Module):
    """Module twin of :func:`gcmse`."""

    def __init__(
        self,
        kappa: float = 0.5,
        crop: int = 0,
        conduction: str = "exp",
        size_scaled: bool = True,
    ) -> None:
        super().__init__()
        self.kappa = kappa
        self.crop = crop
        self.conduction = conduction
        self.size_scaled = size_scaled

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return gcmse(
            x,
            y,
            kappa=self.kappa,
            crop=self.crop,
            conduction=self.conduction,
            size_scaled=self.size_scaled,
        )

    def extra_repr(self) -> str:
        return (
            f"kappa={self.kappa}, crop={self.crop}, conduction={self.conduction!r}, "
            f"size_scaled={self.size_scaled}"
        )
