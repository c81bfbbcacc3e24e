"""Classical demosaicing of Bayer raws: bilinear, Malvar-He-Cutler, Menon, and OpenCV's three.

Every method takes a Bayer raw ``(B, 1, H, W)`` in [0, 1] plus its :class:`~restorekit.degrade.CFA`
and returns RGB ``(B, 3, H, W)`` in the same colour space (linear or sRGB, whichever the raw is).

- :func:`demosaic_bilinear` and :func:`demosaic_malvar` run in torch: any device, any float
  dtype, differentiable. They equal colour-demosaicing's functions of the same name to about
  1e-7 (float32), borders included.
- :func:`demosaic_menon` wraps colour-demosaicing (numpy, one image at a time).
- :func:`demosaic_opencv` wraps ``cv2.cvtColor`` (bilinear, edge-aware, VNG).

Nothing here clips the torch or colour-demosaicing outputs: the interpolating kernels overshoot a
little past [0, 1] near edges. Clip (and quantise) at the edge that writes files or scores.
:data:`DEMOSAICERS` maps the stable short names used by configs and the CLI to the functions, and
:func:`demosaic` dispatches on such a name.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import lru_cache, partial

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from restorekit._checks import check_image, closest_names
from restorekit.degrade.cfa import CFA, cfa_mask, parse_cfa
from restorekit.errors import RestorekitError

__all__ = [
    "DEMOSAICERS",
    "Demosaic",
    "demosaic",
    "demosaic_bilinear",
    "demosaic_malvar",
    "demosaic_menon",
    "demosaic_opencv",
]


def _check_raw(raw: torch.Tensor) -> None:
    """Validate a Bayer raw ``(B, 1, H, W)``, with a hint for the common RGB-instead-of-raw slip."""
    if isinstance(raw, torch.Tensor) and raw.ndim == 4 and raw.shape[1] == 3:
        raise RestorekitError(
            f"raw must be a Bayer mosaic with 1 channel, got 3 channels "
            f"(shape {tuple(raw.shape)}); mosaic an RGB image first with "
            "restorekit.degrade.mosaic(x, cfa)"
        )
    # A raw smaller than one 2x2 tile has no full CFA; colour-demosaicing also fails on it.
    check_image(raw, channels=1, name="raw", min_size=2)


def _lookup(method: str, known: list[str], what: str = "demosaicing method") -> str:
    """Normalise ``method`` or raise an error listing the ``known`` names, closest first."""
    key = str(method).strip().lower()
    if key not in known:
        names = closest_names(str(method), known)
        raise RestorekitError(f"unknown {what} {method!r}; known: {', '.join(names)}")
    return key


def _symmetric_pad(x: torch.Tensor, top: int, bottom: int, left: int, right: int) -> torch.Tensor:
    """Pad the last two dims by half-sample symmetric reflection (``d c b a | a b c d``).

    This is scipy.ndimage's default ``mode="reflect"`` (numpy's ``"symmetric"``), which torch's
    ``F.pad`` lacks: torch's ``"reflect"`` is scipy's ``"mirror"`` (``d c b | a b c d``). It works
    for any pad width, reflecting again (period ``2n``) when the pad is wider than the image.
    """

    def index(n: int, before: int, after: int) -> torch.Tensor:
        i = torch.arange(-before, n + after, device=x.device) % (2 * n)
        return torch.where(i >= n, 2 * n - 1 - i, i)

    H, W = x.shape[-2:]
    x = x.index_select(-2, index(H, top, bottom))
    return x.index_select(-1, index(W, left, right))


# Bilinear kernels (colour-demosaicing, after Losson et al. 2010), applied to the sparse channels.
_BILINEAR_G = [[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]]
_BILINEAR_RB = [[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]

# Malvar-He-Cutler 2004 kernels (Fig. 2 of the paper), all divided by 8, applied to the raw.
_MHC_G_AT_RB = [
    [0.0, 0.0, -1.0, 0.0, 0.0],
    [0.0, 0.0, 2.0, 0.0, 0.0],
    [-1.0, 2.0, 4.0, 2.0, -1.0],
    [0.0, 0.0, 2.0, 0.0, 0.0],
    [0.0, 0.0, -1.0, 0.0, 0.0],
]
# R (or B) at a green pixel whose row holds R (or B): the wanted colour is left and right.
_MHC_ROW = [
    [0.0, 0.0, 0.5, 0.0, 0.0],
    [0.0, -1.0, 0.0, -1.0, 0.0],
    [-1.0, 4.0, 5.0, 4.0, -1.0],
    [0.0, -1.0, 0.0, -1.0, 0.0],
    [0.0, 0.0, 0.5, 0.0, 0.0],
]
_MHC_COL = [list(r) for r in zip(*_MHC_ROW, strict=True)]
# R at a blue pixel, B at a red pixel: the wanted colour is on the diagonals.
_MHC_DIAG = [
    [0.0, 0.0, -1.5, 0.0, 0.0],
    [0.0, 2.0, 0.0, 2.0, 0.0],
    [-1.5, 0.0, 6.0, 0.0, -1.5],
    [0.0, 2.0, 0.0, 2.0, 0.0],
    [0.0, 0.0, -1.5, 0.0, 0.0],
]
_MHC_SELF = [[8.0 if (i, j) == (2, 2) else 0.0 for j in range(5)] for i in range(5)]


@lru_cache(maxsize=4)
def _malvar_kernels(cfa: CFA) -> torch.Tensor:
    """The 5x5 kernel for each tile position and output channel, float64 ``(2, 2, 3, 1, 5, 5)``."""
    tile = cfa.tile
    red_row = [0 in tile[i] for i in range(2)]
    out = torch.empty(2, 2, 3, 1, 5, 5, dtype=torch.float64)
    for i in range(2):
        for j in range(2):
            here = tile[i][j]
            for c in range(3):
                if c == here:
                    k = _MHC_SELF
                elif c == 1:
                    k = _MHC_G_AT_RB
                elif here != 1:
                    k = _MHC_DIAG  # R at B, or B at R
                else:
                    # At a green pixel: R lies along the row if this is a red row, B if not.
                    along_row = red_row[i] == (c == 0)
                    k = _MHC_ROW if along_row else _MHC_COL
                out[i, j, c, 0] = torch.tensor(k, dtype=torch.float64) / 8
    return out


def demosaic_bilinear(raw: torch.Tensor, cfa: CFA | str) -> torch.Tensor:
    r"""Demosaic by bilinear interpolation of each colour's samples, in torch.

    Each colour plane keeps its samples and zeros elsewhere, is padded by half-sample symmetric
    reflection (scipy's default ``"reflect"``) and convolved with

    .. math::
        H_G = \frac{1}{4}\begin{pmatrix}0&1&0\\1&4&1\\0&1&0\end{pmatrix},\quad
        H_{RB} = \frac{1}{4}\begin{pmatrix}1&2&1\\2&4&2\\1&2&1\end{pmatrix}.

    Equals ``colour_demosaicing.demosaicing_CFA_Bayer_bilinear`` everywhere, borders included.
    Differentiable; runs on ``raw``'s device and dtype.

    Args:
        raw: Bayer mosaic in [0, 1], linear or sRGB.
        cfa: the layout of ``raw``'s top-left 2x2 tile, a :class:`CFA` or a name like ``"rggb"``.

    Returns:
        RGB in the colour space of ``raw``, not clipped (the filters stay in [0, 1] for inputs in
        [0, 1], but an HDR raw stays HDR).

    Shape:
        ``(B, 1, H, W) -> (B, 3, H, W)``, any ``H, W >= 2``.

    References:
        O. Losson, L. Macaire, Y. Yang, "Comparison of color demosaicing methods", Advances in
        Imaging and Electron Physics 162, 2010.

    Example:
        >>> raw = torch.full((1, 1, 4, 6), 0.5)
        >>> out = demosaic_bilinear(raw, "RGGB")
        >>> out.shape, torch.allclose(out, torch.full_like(out, 0.5))
        (torch.Size([1, 3, 4, 6]), True)
    """
    _check_raw(raw)
    cfa = parse_cfa(cfa)
    H, W = raw.shape[-2:]
    sparse = raw * cfa_mask(cfa, H, W, device=raw.device, dtype=raw.dtype)  # (B, 3, H, W)
    weight = torch.tensor([_BILINEAR_RB, _BILINEAR_G, _BILINEAR_RB], dtype=raw.dtype) / 4
    weight = weight.to(raw.device)[:, None]  # (3, 1, 3, 3): one kernel per colour plane
    # The planes must be padded after masking: reflecting the raw would shift the CFA phase.
    return F.conv2d(_symmetric_pad(sparse, 1, 1, 1, 1), weight, groups=3)


def demosaic_malvar(raw: torch.Tensor, cfa: CFA | str) -> torch.Tensor:
    r"""Demosaic with Malvar, He and Cutler's gradient-corrected linear filters, in torch.

    Each missing value is a 5x5 linear filter of the raw: bilinear interpolation corrected by the
    Laplacian of the colour that was sampled at the pixel, e.g. for green at a red pixel

    .. math::
        \hat G = \hat G_{\text{bilinear}} + \tfrac{1}{2}\,\Delta_R.

    The raw is padded by half-sample symmetric reflection (scipy's default ``"reflect"``), so this
    equals ``colour_demosaicing.demosaicing_CFA_Bayer_Malvar2004`` everywhere, borders included.
    Implemented as one strided convolution per tile position (12 kernels) and a pixel shuffle.
    Differentiable; runs on ``raw``'s device and dtype.

    Args:
        raw: Bayer mosaic in [0, 1], linear or sRGB.
        cfa: the layout of ``raw``'s top-left 2x2 tile, a :class:`CFA` or a name like ``"rggb"``.

    Returns:
        RGB in the colour space of ``raw``, **not clipped**: the negative filter taps overshoot
        [0, 1] at sharp edges (as in colour-demosaicing). Clip before writing or scoring.

    Shape:
        ``(B, 1, H, W) -> (B, 3, H, W)``, any ``H, W >= 2``.

    References:
        H. S. Malvar, L.-W. He, R. Cutler, "High-quality linear interpolation for demosaicing of
        Bayer-patterned color images", ICASSP 2004.

    Example:
        >>> raw = torch.full((2, 1, 5, 7), 0.25)
        >>> out = demosaic_malvar(raw, "GBRG")
        >>> out.shape, torch.allclose(out, torch.full_like(out, 0.25))
        (torch.Size([2, 3, 5, 7]), True)
    """
    _check_raw(raw)
    cfa = parse_cfa(cfa)
    B, _, H, W = raw.shape
    kernels = _malvar_kernels(cfa).to(device=raw.device, dtype=raw.dtype)
    # Pad 2 for the 5x5 taps, plus one row/column at the bottom/right to make the size even
    # (that extra output is cropped below).
    padded = _symmetric_pad(raw, 2, 2 + H % 2, 2, 2 + W % 2)
    H2, W2 = (H + H % 2) // 2, (W + W % 2) // 2
    # For tile position (i, j), a stride-2 conv over the raw shifted by (i, j) computes the three
    # colours at every pixel (2y + i, 2x + j) at once.
    phases = [
        F.conv2d(padded[..., i:, j:], kernels[i, j], stride=2)[..., :H2, :W2]
        for i in range(2)
        for j in range(2)
    ]
    # (B, 3, 4, H2, W2) -> (B, 12, H2, W2) with channel c * 4 + 2 * i + j, as pixel_shuffle wants.
    stacked = torch.stack(phases, dim=2).reshape(B, 12, H2, W2)
    return F.pixel_shuffle(stacked, 2)[..., :H, :W]


def demosaic_menon(raw: torch.Tensor, cfa: CFA | str, refining: bool = True) -> torch.Tensor:
    """Demosaic with Menon, Andriani and Calvagno's directional filtering and a posteriori decision.

    Wraps ``colour_demosaicing.demosaicing_CFA_Bayer_Menon2007`` (float64 numpy, one image at a
    time, imported lazily). Not differentiable; the result comes back on ``raw``'s device and dtype.

    Args:
        raw: Bayer mosaic in [0, 1], linear or sRGB.
        cfa: the layout of ``raw``'s top-left 2x2 tile, a :class:`CFA` or a name like ``"rggb"``.
        refining: run the paper's refining step (colour-demosaicing's ``refining_step``).

    Returns:
        RGB in the colour space of ``raw``, not clipped.

    Shape:
        ``(B, 1, H, W) -> (B, 3, H, W)``, any ``H, W >= 2``.

    References:
        D. Menon, S. Andriani, G. Calvagno, "Demosaicing with directional filtering and a
        posteriori decision", IEEE Transactions on Image Processing 16(1), 2007.

    Example:
        >>> out = demosaic_menon(torch.full((1, 1, 6, 6), 0.5), "BGGR")
        >>> out.shape, torch.allclose(out, torch.full_like(out, 0.5))
        (torch.Size([1, 3, 6, 6]), True)
    """
    from colour_demosaicing import demosaicing_CFA_Bayer_Menon2007

    _check_raw(raw)
    cfa = parse_cfa(cfa)
    a = raw.detach().cpu().double().numpy()
    out = np.stack(
        [
            demosaicing_CFA_Bayer_Menon2007(a[b, 0], cfa.value, refining_step=refining)
            for b in range(a.shape[0])
        ]
    )  # (B, H, W, 3)
    return torch.from_numpy(out).permute(0, 3, 1, 2).to(device=raw.device, dtype=raw.dtype)


# OpenCV's legacy Bayer codes name the layout one position off (by the second row's second and
# third pixels): an RGGB mosaic is COLOR_BayerBG2RGB. The correctly named 4-letter aliases exist
# only from OpenCV 5 on, so the legacy ones keep OpenCV 4 working too.
_OPENCV_BAYER = {CFA.RGGB: "BG", CFA.BGGR: "RG", CFA.GRBG: "GB", CFA.GBRG: "GR"}
_OPENCV_VARIANTS = {"bilinear": "", "ea": "_EA", "vng": "_VNG"}


def demosaic_opencv(raw: torch.Tensor, cfa: CFA | str, variant: str = "bilinear") -> torch.Tensor:
    """Demosaic with OpenCV's ``cvtColor`` Bayer conversions.

    - ``"bilinear"``: bilinear interpolation; equals :func:`demosaic_bilinear` away from the
      1-pixel border (OpenCV fills the border its own way).
    - ``"ea"``: edge-aware; changes only the green channel of the bilinear result.
    - ``"vng"``: variable number of gradients.

    The raw is clipped to [0, 1] and quantised to 16 bits for ``"bilinear"`` and ``"ea"`` but to
    **8 bits** for ``"vng"``, the only depth OpenCV's VNG accepts; the output carries that
    quantisation. Runs on the CPU, one image at a time, and is not differentiable; the result comes
    back on ``raw``'s device and dtype.

    Args:
        raw: Bayer mosaic in [0, 1], linear or sRGB.
        cfa: the layout of ``raw``'s top-left 2x2 tile, a :class:`CFA` or a name like ``"rggb"``.
        variant: ``"bilinear"``, ``"ea"`` or ``"vng"``.

    Returns:
        RGB in [0, 1], in the colour space of ``raw``, on a grid of 1/65535 (1/255 for VNG).

    Shape:
        ``(B, 1, H, W) -> (B, 3, H, W)``, any ``H, W >= 2``.

    References:
        E. Chang, S. Cheung, D. Pan, "Color filter array recovery using a threshold-based
        variable number of gradients", Proc. SPIE 3650, 1999 (VNG). OpenCV ``cv::cvtColor``
        documentation, "Bayer to RGB".

    Example:
        >>> out = demosaic_opencv(torch.full((1, 1, 4, 4), 0.5), "RGGB", variant="vng")
        >>> out.shape, round(out.mean().item() * 255)
        (torch.Size([1, 3, 4, 4]), 128)
    """
    import cv2

    _check_raw(raw)
    cfa = parse_cfa(cfa)
    key = _lookup(variant, list(_OPENCV_VARIANTS), "OpenCV demosaicing variant")
    code = getattr(cv2, f"COLOR_Bayer{_OPENCV_BAYER[cfa]}2RGB{_OPENCV_VARIANTS[key]}")
    scale, dtype = (255, np.uint8) if key == "vng" else (65535, np.uint16)
    a = raw.detach().cpu().double().numpy()[:, 0]  # (B, H, W)
    q = np.clip(np.rint(a * scale), 0, scale).astype(dtype)
    out = np.stack([cv2.cvtColor(np.ascontiguousarray(img), code) for img in q])  # (B, H, W, 3)
    rgb = torch.from_numpy(out.astype(np.float64) / scale).permute(0, 3, 1, 2)
    return rgb.to(device=raw.device, dtype=raw.dtype)


DEMOSAICERS: dict[str, Callable[[torch.Tensor, CFA | str], torch.Tensor]] = {
    "bilinear": demosaic_bilinear,
    "mhc": demosaic_malvar,
    "menon": demosaic_menon,
    "opencv-bilinear": partial(demosaic_opencv, variant="bilinear"),
    "opencv-ea": partial(demosaic_opencv, variant="ea"),
    "opencv-vng": partial(demosaic_opencv, variant="vng"),
}
"""The demosaicing methods by their stable short names, each called as ``fn(raw, cfa)``."""

_TORCH_METHODS = ("bilinear", "mhc")


def demosaic(raw: torch.Tensor, cfa: CFA | str, method: str = "mhc") -> torch.Tensor:
    """Demosaic a Bayer raw with the method registered in :data:`DEMOSAICERS` under ``method``.

    Args:
        raw: Bayer mosaic in [0, 1], linear or sRGB.
        cfa: the layout of ``raw``'s top-left 2x2 tile, a :class:`CFA` or a name like ``"rggb"``.
        method: ``"bilinear"``, ``"mhc"`` (Malvar-He-Cutler), ``"menon"``, ``"opencv-bilinear"``,
            ``"opencv-ea"`` or ``"opencv-vng"``.

    Returns:
        RGB as the chosen method returns it (the torch methods do not clip).

    Raises:
        RestorekitError: for an unknown method, listing the known names closest first.

    Shape:
        ``(B, 1, H, W) -> (B, 3, H, W)``

    Example:
        >>> demosaic(torch.rand(1, 1, 8, 8), "RGGB", method="bilinear").shape
        torch.Size([1, 3, 8, 8])
        >>> demosaic(torch.rand(1, 1, 8, 8), "RGGB", method="mch")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: unknown demosaicing method 'mch'; known: mhc, menon, ...
    """
    return DEMOSAICERS[_lookup(method, list(DEMOSAICERS))](raw, cfa)


class Demosaic(nn.Module):
    """Module twin of :func:`demosaic` for the torch methods (``"bilinear"``, ``"mhc"``).

    Only the differentiable, device-agnostic methods are offered as a module; call
    :func:`demosaic` for the numpy/OpenCV ones.
    """

    def __init__(self, cfa: CFA | str = CFA.RGGB, method: str = "mhc") -> None:
        super().__init__()
        self.cfa = parse_cfa(cfa)
        self.method = _lookup(method, list(_TORCH_METHODS), "torch demosaicing method")

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return DEMOSAICERS[self.method](raw, self.cfa)

    def extra_repr(self) -> str:
        return f"cfa={self.cfa.value}, method={self.method!r}"
