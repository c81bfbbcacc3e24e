"""Classical demosaicing of Bayer raws: bilinear, Malvar-He-Cutler, Menon, and OpenCV's three.

Every method takes a Bayer raw ``(B, 1, H, W)`` in [0, 1] plus its :class:`~restorekit.degrade.CFA`
and returns RGB ``(B, 3, H, W)`` in the same colour space (linear or sRGB, whichever the raw is).

- :func:`demosaic_bilinear` and :func:`demosaic_malvar` run in torch: any device, float32 or
  float64, differentiable. They equal colour-demosaicing's ``demosaicing_CFA_Bayer_bilinear`` and
  ``demosaicing_CFA_Bayer_Malvar2004`` to about 2e-7 in float32 (1e-15 in float64), borders
  included.
- :func:`demosaic_menon` wraps colour-demosaicing (numpy, one image at a time).
- :func:`demosaic_opencv` wraps ``cv2.cvtColor`` (bilinear, edge-aware, VNG).

Nothing here clips the torch or colour-demosaicing outputs: Malvar's and Menon's filters overshoot
[0, 1] at sharp edges, and bilinear can on the image border. Clip (and quantise) at the edge that
writes files or scores.
:data:`DEMOSAICERS` maps the stable short names used by configs and the CLI to the functions, and
:func:`demosaic` dispatches on such a name.
"""

from __future__ import annotations

import itertools
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
    "NOISY_PIPELINES",
    "Demosaic",
    "bm3d_then_menon",
    "demosaic",
    "demosaic_bilinear",
    "demosaic_malvar",
    "demosaic_menon",
    "demosaic_opencv",
    "menon_then_cbm3d",
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
    H, W = x.shape[-2:]
    if max(top, bottom) <= H and max(left, right) <= W:
        # Common case: one reflection of each edge block (flip + cat is ~3x faster than indexing).
        x = torch.cat([x[..., :top, :].flip(-2), x, x[..., H - bottom :, :].flip(-2)], dim=-2)
        return torch.cat([x[..., :left].flip(-1), x, x[..., W - right :].flip(-1)], dim=-1)

    def index(n: int, before: int, after: int) -> torch.Tensor:
        i = torch.arange(-before, n + after, device=x.device) % (2 * n)
        return torch.where(i >= n, 2 * n - 1 - i, i)

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


def _malvar_kernels(cfa: CFA) -> torch.Tensor:
    """The 5x5 kernel for each tile position and output channel, float64 ``(2, 2, 3, 5, 5)``."""
    tile = cfa.tile
    red_row = [0 in tile[i] for i in range(2)]
    out = torch.empty(2, 2, 3, 5, 5, dtype=torch.float64)
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
                out[i, j, c] = torch.tensor(k, dtype=torch.float64) / 8
    return out


@lru_cache(maxsize=4)
def _malvar_weight(cfa: CFA) -> np.ndarray:
    """The Malvar kernels as one conv over the 2x2 sub-sampled raw, float64 ``(12, 4, 3, 3)``.

    Cached as a numpy array, not a tensor: a tensor first made while torch.export traces (ONNX
    export) would be a fake tensor, and caching it would break every later real call.

    Input channel ``2a + b`` holds the raw's pixels ``(2y + a, 2x + b)``; output channel
    ``4c + 2i + j`` is colour ``c`` at tile position ``(i, j)`` (the order pixel_shuffle wants).
    A 5x5 tap at offset ``(dy, dx)`` from the top-left of the window of output ``(2y + i, 2x + j)``
    reads sub-image ``(a, b)`` at ``(y + u, x + v)`` with ``dy = 2u + a - i``, ``dx = 2v + b - j``.
    """
    k5 = _malvar_kernels(cfa)
    w = torch.zeros(3, 2, 2, 2, 2, 3, 3, dtype=torch.float64)  # c, i, j, a, b, u, v
    for i, j, a, b, u, v in itertools.product(
        range(2), range(2), range(2), range(2), range(3), range(3)
    ):
        dy, dx = 2 * u + a - i, 2 * v + b - j
        if 0 <= dy < 5 and 0 <= dx < 5:
            w[:, i, j, a, b, u, v] = k5[i, j, :, dy, dx]
    return w.reshape(12, 4, 3, 3).numpy()


def demosaic_bilinear(raw: torch.Tensor, cfa: CFA | str) -> torch.Tensor:
    r"""Demosaic by bilinear interpolation of each colour's samples, in torch.

    Each colour plane keeps its samples and zeros elsewhere, is padded by half-sample symmetric
    reflection (scipy's default ``"reflect"``) and convolved with

    .. math::
        H_G = \frac{1}{4}\begin{pmatrix}0&1&0\\1&4&1\\0&1&0\end{pmatrix},\quad
        H_{RB} = \frac{1}{4}\begin{pmatrix}1&2&1\\2&4&2\\1&2&1\end{pmatrix}.

    Equals ``colour_demosaicing.demosaicing_CFA_Bayer_bilinear`` everywhere, borders included, and
    so inherits its border artefact: the symmetric padding puts samples of a colour where the CFA
    has none, so on the outermost row and column the weights no longer sum to one (a flat grey
    0.5 becomes 0.125 to 1.125 there). Crop the border before scoring (the CPSNR convention crops
    10 pixels). Differentiable; runs on ``raw``'s device and dtype.

    Args:
        raw: Bayer mosaic in [0, 1], linear or sRGB.
        cfa: the layout of ``raw``'s top-left 2x2 tile, a :class:`CFA` or a name like ``"rggb"``.

    Returns:
        RGB in the colour space of ``raw``, not clipped. Inside the border the weights are
        positive and sum to one, so the output stays within the raw's range; on the border it
        can leave it (see above).

    Shape:
        ``(B, 1, H, W) -> (B, 3, H, W)``, any ``H, W >= 2``.

    References:
        O. Losson, L. Macaire, Y. Yang, "Comparison of color demosaicing methods", Advances in
        Imaging and Electron Physics 162, 2010.

    Example:
        >>> raw = torch.full((1, 1, 6, 8), 0.5)
        >>> out = demosaic_bilinear(raw, "RGGB")
        >>> out.shape, torch.allclose(out[..., 1:-1, 1:-1], torch.tensor(0.5))
        (torch.Size([1, 3, 6, 8]), True)
    """
    _check_raw(raw)
    cfa = parse_cfa(cfa)
    H, W = raw.shape[-2:]
    sparse = raw * cfa_mask(cfa, H, W, device=raw.device, dtype=raw.dtype)  # (B, 3, H, W)
    # colour-demosaicing pads the masked planes, not the raw. For a 1-pixel pad, half-sample
    # symmetric reflection equals edge replication.
    padded = F.pad(sparse, (1, 1, 1, 1), mode="replicate")
    weight = torch.tensor([_BILINEAR_RB, _BILINEAR_G, _BILINEAR_RB], dtype=raw.dtype) / 4
    weight = weight.to(raw.device)[:, None]  # (3, 1, 3, 3): one kernel per colour plane
    # On CPU a float32 depthwise conv is ~10x faster in channels_last (mkldnn), a float64 one ~3x
    # slower; hand back the usual layout.
    if raw.dtype != torch.float64:
        padded = padded.contiguous(memory_format=torch.channels_last)
    return F.conv2d(padded, weight, groups=3).contiguous()


def demosaic_malvar(raw: torch.Tensor, cfa: CFA | str) -> torch.Tensor:
    r"""Demosaic with Malvar, He and Cutler's gradient-corrected linear filters, in torch.

    Each missing value is a 5x5 linear filter of the raw: bilinear interpolation corrected by the
    Laplacian of the colour that was sampled at the pixel, e.g. for green at a red pixel

    .. math::
        \hat G = \hat G_{\text{bilinear}} + \tfrac{1}{2}\,\Delta_R.

    The raw is padded by half-sample symmetric reflection (scipy's default ``"reflect"``), so this
    equals ``colour_demosaicing.demosaicing_CFA_Bayer_Malvar2004`` everywhere, borders included.
    Like colour-demosaicing it is less accurate on the 2-pixel border, where that padding breaks
    the CFA's 2-pixel period (a flat grey stays flat; a flat colour does not).
    Implemented as one 3x3 convolution of the 2x2 sub-sampled raw (4 -> 12 channels) and a pixel
    shuffle. Differentiable; runs on ``raw``'s device and dtype.

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
    H, W = raw.shape[-2:]
    weight = torch.as_tensor(_malvar_weight(cfa), device=raw.device, dtype=raw.dtype)
    # Pad 2 for the 5x5 taps, plus one row/column at the bottom/right to make the size even
    # (that extra output is cropped below).
    padded = _symmetric_pad(raw, 2, 2 + H % 2, 2, 2 + W % 2)
    # Each 2x2 tile becomes 4 channels; one 3x3 conv on them computes the 3 colours at the 4 tile
    # positions (12 channels), and pixel_shuffle puts them back in place. Same sums as the 5x5
    # filters, and faster on CPU than convolving the 1-channel raw at full resolution.
    out = F.pixel_shuffle(F.conv2d(F.pixel_unshuffle(padded, 2), weight), 2)
    return out[..., :H, :W]


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
    rgb = torch.from_numpy(np.ascontiguousarray(out.transpose(0, 3, 1, 2)))
    return rgb.to(device=raw.device, dtype=raw.dtype)


# OpenCV's legacy Bayer codes name the layout one position off (by the second row's second and
# third pixels): an RGGB mosaic is COLOR_BayerBG2RGB. The correctly named 4-letter aliases exist
# only from OpenCV 5 on, so the legacy ones keep OpenCV 4 working too.
_OPENCV_BAYER = {CFA.RGGB: "BG", CFA.BGGR: "RG", CFA.GRBG: "GB", CFA.GBRG: "GR"}
_OPENCV_VARIANTS = {"bilinear": "", "ea": "_EA", "vng": "_VNG"}


def demosaic_opencv(raw: torch.Tensor, cfa: CFA | str, variant: str = "bilinear") -> torch.Tensor:
    """Demosaic with OpenCV's ``cvtColor`` Bayer conversions.

    - ``"bilinear"``: bilinear interpolation; equals :func:`demosaic_bilinear` (to the 16-bit
      quantisation) away from the 1-pixel border, which OpenCV fills its own way.
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
    scale, int_type = (255, np.uint8) if key == "vng" else (65535, np.uint16)
    # Quantise in torch (float32 at least: float16 cannot hold 65535 * x exactly).
    x = raw.detach()[:, 0]
    x = x if x.dtype == torch.float64 else x.float()
    q = torch.round(x * scale).clamp_(0, scale).to(torch.int32).cpu().numpy().astype(int_type)
    out = np.stack([cv2.cvtColor(np.ascontiguousarray(img), code) for img in q])  # (B, H, W, 3)
    float_type = np.float64 if raw.dtype == torch.float64 else np.float32
    rgb = torch.from_numpy(out.transpose(0, 3, 1, 2).astype(float_type)) / scale
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


def menon_then_cbm3d(raw: torch.Tensor, cfa: CFA | str, sigma: float) -> torch.Tensor:
    """Noisy raws, the usual camera order: demosaic (Menon 2007), then denoise the RGB image with
    CBM3D given the raw's noise level ``sigma`` ([0, 1] scale).

    Demosaicing mixes the noise of neighbouring samples, so the RGB noise is neither white nor
    exactly ``sigma``; that is the weakness of this order, and why it is a baseline.

    Example:
        >>> raw = torch.full((1, 1, 32, 32), 0.5) + 0.04 * torch.randn(1, 1, 32, 32)
        >>> menon_then_cbm3d(raw, "RGGB", 0.04).shape
        torch.Size([1, 3, 32, 32])
    """
    from restorekit.classical.denoise import denoise_bm3d

    return denoise_bm3d(demosaic_menon(raw, cfa), sigma)


def bm3d_then_menon(raw: torch.Tensor, cfa: CFA | str, sigma: float) -> torch.Tensor:
    """Noisy raws, denoising first: BM3D on each of the four CFA planes (each a half-resolution
    gray image whose noise is still white, of level ``sigma``), then Menon 2007.

    Example:
        >>> raw = torch.full((1, 1, 32, 32), 0.5) + 0.04 * torch.randn(1, 1, 32, 32)
        >>> bm3d_then_menon(raw, "RGGB", 0.04).shape
        torch.Size([1, 3, 32, 32])
    """
    from restorekit.classical.denoise import denoise_bm3d

    _check_raw(raw)
    B, _, H, W = raw.shape
    if H % 2 or W % 2:
        raise RestorekitError(f"bm3d+menon needs an even-sized raw, got {H}x{W}")
    planes = F.pixel_unshuffle(raw, 2)  # (B, 4, H/2, W/2), one CFA position per channel
    clean = denoise_bm3d(planes.reshape(B * 4, 1, H // 2, W // 2), sigma)
    return demosaic_menon(F.pixel_shuffle(clean.reshape(B, 4, H // 2, W // 2), 2), cfa)


NOISY_PIPELINES: dict[str, Callable[[torch.Tensor, CFA | str, float], torch.Tensor]] = {
    "menon+cbm3d": menon_then_cbm3d,
    "bm3d+menon": bm3d_then_menon,
}
"""Classical pipelines for noisy raws, ``fn(raw, cfa, sigma)`` with the true noise level."""


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
