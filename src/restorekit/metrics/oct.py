"""No-reference OCT metrics over regions: ENL and CNR, and a stated rule that picks the regions.

Speckle-reduction papers judge a denoised B-scan without a clean reference by statistics of a
few regions of interest (ROIs): a background region in the vitreous (above the retina) and
several signal regions on the retinal layers. :func:`enl` and :func:`cnr` compute the two usual
ones over boolean masks; :func:`oct_regions` picks the regions deterministically from a clean
reference B-scan, and :func:`oct_scores` averages the metrics over them as the papers report.

Conventions (one for all functions here):

- statistics in float64 over the pixels of a mask; the standard deviation is the population one
  (``ddof=0``, divide by the number of pixels ``N``), as public Python OCT evaluation code does
  with ``np.std``. MATLAB's ``std`` (used by MATLAB benchmark code) divides by ``N - 1``; on a
  30x30 window the two variances differ by 0.1 %.
- images ``(B, 1, H, W)`` in [0, 1]; the metrics are scale-invariant (ENL and the ratio inside
  CNR do not change when the image is multiplied by a constant), so 8-bit or [0, 1] images give
  the same values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from restorekit._checks import check_image
from restorekit.errors import RestorekitError

__all__ = ["CNR", "ENL", "Box", "OCTRegions", "cnr", "enl", "oct_regions", "oct_scores"]


def _check_mask(mask: torch.Tensor, x: torch.Tensor, name: str) -> torch.Tensor:
    """Return ``mask`` as a ``(B, 1, H, W)`` bool tensor on ``x``'s device, or raise."""
    B, _, H, W = x.shape
    if not isinstance(mask, torch.Tensor):
        raise RestorekitError(f"{name} must be a bool torch.Tensor, got {type(mask).__name__}")
    if mask.dtype != torch.bool:
        raise RestorekitError(f"{name} must be a bool tensor, got dtype {mask.dtype}")
    if mask.ndim == 2 and tuple(mask.shape) == (H, W):
        mask = mask.view(1, 1, H, W)
    if (
        mask.ndim != 4
        or mask.shape[1] != 1
        or mask.shape[0] not in (1, B)
        or tuple(mask.shape[-2:]) != (H, W)
    ):
        raise RestorekitError(
            f"{name} must have shape ({H}, {W}) or ({B}, 1, {H}, {W}) like x, "
            f"got {tuple(mask.shape)}"
        )
    mask = mask.to(x.device).expand(B, 1, H, W)
    counts = mask.flatten(1).sum(dim=1)
    if bool((counts == 0).any()):
        i = int(torch.nonzero(counts == 0)[0, 0])
        raise RestorekitError(f"{name} selects no pixel (image {i} of {B})")
    return mask


def _region_stats(x: torch.Tensor, mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean and population variance (``ddof=0``) of ``x`` over ``mask``, per image, float64.

    Shape:
        ``(B, 1, H, W), (B, 1, H, W) bool -> (B,), (B,)``
    """
    B = x.shape[0]
    m = mask.to(torch.float64)
    n = m.flatten(1).sum(dim=1)
    mean = (x * m).flatten(1).sum(dim=1) / n
    # Two passes (mean first) keep the variance accurate for a bright, nearly flat region.
    var = (m * (x - mean.view(B, 1, 1, 1)) ** 2).flatten(1).sum(dim=1) / n
    return mean, var


def enl(x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Equivalent number of looks of a region: its squared mean over its variance.

    .. math::

        \\mathrm{ENL} = \\frac{\\mu_r^2}{\\sigma_r^2}

    with :math:`\\mu_r` and :math:`\\sigma_r^2` the mean and the population variance (``ddof=0``)
    of ``x`` over the pixels of ``mask``. On a homogeneous region of Gamma(L, 1/L) speckle
    (:func:`~restorekit.degrade.add_speckle_noise`) ENL estimates :math:`L`; a denoiser that
    smooths the region raises it. Measure it on homogeneous regions only: structure inside the
    region counts as noise.

    A region with zero variance (constant) has ENL ``+inf`` (perfectly smooth); a constant region
    of zeros has ``0 / 0``, ``nan``. Neither is refused: they are IEEE results of the formula.

    Args:
        x: image ``(B, 1, H, W)`` in [0, 1], linear intensity as the despeckling papers use it.
        mask: bool ``(H, W)`` (one region for every image) or ``(B, 1, H, W)``.

    Returns:
        ``(B,)`` ENL >= 0; float64 inside, ``x``'s dtype out.

    Raises:
        RestorekitError: for a mask that is not bool, has the wrong shape, or selects no pixel.

    References:
        A. Pizurica, L. Jovanov, B. Huysmans, V. Zlokolica, P. De Keyser, F. Dhaenens,
        W. Philips, "Multiresolution denoising for optical coherence tomography: a review and
        evaluation", Current Medical Imaging Reviews, 2008. L. Fang, S. Li, R. P. McNabb, Q. Nie,
        A. N. Kuo, C. A. Toth, J. A. Izatt, S. Farsiu, "Fast acquisition and reconstruction of
        optical coherence tomography images via sparse representation", IEEE Transactions on
        Medical Imaging, 2013.

    Example:
        >>> x = torch.tensor([[[[0.2, 0.4], [0.6, 0.8]]]])
        >>> enl(x, torch.ones(2, 2, dtype=torch.bool))  # 0.5**2 / 0.05
        tensor([5.])
    """
    check_image(x, channels=1, name="x")
    m = _check_mask(mask, x, "mask")
    mean, var = _region_stats(x.to(torch.float64), m)
    return (mean * mean / var).to(x.dtype)


def cnr(x: torch.Tensor, signal_mask: torch.Tensor, background_mask: torch.Tensor) -> torch.Tensor:
    """Contrast-to-noise ratio in dB between a signal region and the background.

    .. math::

        \\mathrm{CNR} = 10 \\log_{10} \\frac{|\\mu_r - \\mu_b|}{\\sqrt{\\sigma_r^2 + \\sigma_b^2}}

    with :math:`\\mu_r, \\sigma_r^2` the mean and population variance (``ddof=0``) of ``x`` over
    ``signal_mask`` and :math:`\\mu_b, \\sigma_b^2` over ``background_mask``. This is the dB
    form of Fang et al. (2013): ``10 log10`` of the amplitude ratio (not ``20 log10``), and no
    factor 1/2 under the root. The linear form of Pizurica et al. (2008),
    :math:`|\\mu_r - \\mu_b| / \\sqrt{(\\sigma_r^2 + \\sigma_b^2) / 2}`, which some MATLAB
    benchmark code uses, is a different number: it equals ``sqrt(2) * 10 ** (cnr / 10)``.

    Degenerate regions follow IEEE arithmetic and are not refused: two constant regions of
    different means give ``+inf``, equal means with some noise ``-inf``, two constant regions of
    equal means ``nan``.

    Args:
        x: image ``(B, 1, H, W)`` in [0, 1].
        signal_mask: bool ``(H, W)`` or ``(B, 1, H, W)``, the region of interest :math:`r`.
        background_mask: bool ``(H, W)`` or ``(B, 1, H, W)``, the background :math:`b`.

    Returns:
        ``(B,)`` CNR in dB; float64 inside, ``x``'s dtype out.

    Raises:
        RestorekitError: for a mask that is not bool, has the wrong shape, or selects no pixel.

    References:
        L. Fang, S. Li, R. P. McNabb, Q. Nie, A. N. Kuo, C. A. Toth, J. A. Izatt, S. Farsiu,
        "Fast acquisition and reconstruction of optical coherence tomography images via sparse
        representation", IEEE Transactions on Medical Imaging, 2013. A. Pizurica et al.,
        "Multiresolution denoising for optical coherence tomography: a review and evaluation",
        Current Medical Imaging Reviews, 2008.

    Example:
        >>> x = torch.tensor([[[[0.1, 0.3, 0.9, 1.0]]]])  # background | signal
        >>> bg = torch.tensor([[True, True, False, False]])
        >>> cnr(x, ~bg, bg)  # 10 log10(0.75 / sqrt(0.0025 + 0.01))
        tensor([8.2661])
    """
    check_image(x, channels=1, name="x")
    r = _check_mask(signal_mask, x, "signal_mask")
    b = _check_mask(background_mask, x, "background_mask")
    x64 = x.to(torch.float64)
    mean_r, var_r = _region_stats(x64, r)
    mean_b, var_b = _region_stats(x64, b)
    ratio = (mean_r - mean_b).abs() / torch.sqrt(var_r + var_b)
    return (10.0 * torch.log10(ratio)).to(x.dtype)


class Box(NamedTuple):
    """A rectangle of pixels: rows ``top : top + height``, columns ``left : left + width``."""

    top: int
    left: int
    height: int
    width: int

    def overlaps(self, other: Box) -> bool:
        """Whether the two rectangles share at least one pixel.

        Example:
            >>> Box(0, 0, 4, 4).overlaps(Box(3, 3, 4, 4)), Box(0, 0, 4, 4).overlaps(Box(4, 0, 4, 4))
            (True, False)
        """
        return (
            self.top < other.top + other.height
            and other.top < self.top + self.height
            and self.left < other.left + other.width
            and other.left < self.left + self.width
        )

    def mask(
        self, height: int, width: int, device: torch.device | str | None = None
    ) -> torch.Tensor:
        """The rectangle as a bool ``(height, width)`` mask.

        Example:
            >>> Box(1, 1, 1, 2).mask(3, 3).int().tolist()
            [[0, 0, 0], [0, 1, 1], [0, 0, 0]]
        """
        m = torch.zeros(height, width, dtype=torch.bool, device=device)
        m[self.top : self.top + self.height, self.left : self.left + self.width] = True
        return m


@dataclass(frozen=True)
class OCTRegions:
    """The regions of one B-scan where the no-reference metrics are measured.

    Made by :func:`oct_regions`; ``background`` is in the vitreous, ``signals`` on the retinal
    layers, all of them rectangles of an ``height x width`` image that do not overlap.
    """

    height: int
    width: int
    background: Box
    signals: tuple[Box, ...]

    def background_mask(self, device: torch.device | str | None = None) -> torch.Tensor:
        """The background region as a bool ``(height, width)`` mask."""
        return self.background.mask(self.height, self.width, device)

    def signal_masks(self, device: torch.device | str | None = None) -> list[torch.Tensor]:
        """The signal regions as bool ``(height, width)`` masks, brightest first."""
        return [s.mask(self.height, self.width, device) for s in self.signals]


def _one_scan(x: torch.Tensor, name: str) -> torch.Tensor:
    """Return one B-scan given as ``(1, 1, H, W)`` or ``(1, H, W)`` as ``(1, 1, H, W)``."""
    if isinstance(x, torch.Tensor) and x.ndim == 3:
        x = x.unsqueeze(0)
    check_image(x, channels=1, name=name)
    if x.shape[0] != 1:
        raise RestorekitError(
            f"{name} must be one B-scan (1, 1, H, W) or (1, H, W), got {tuple(x.shape)}"
        )
    return x


def _check_int(value: int, name: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise RestorekitError(f"{name} must be an int >= {minimum}, got {value!r}")
    return value


def oct_regions(
    reference: torch.Tensor,
    size: int = 30,
    count: int = 4,
    stride: int = 10,
    top_fraction: float = 0.25,
) -> OCTRegions:
    """Pick a background and ``count`` signal windows from a clean reference B-scan.

    The rule, exactly (all windows are ``size x size`` squares on one grid):

    1. Candidate windows have their top-left corner at rows ``0, stride, 2 stride, ...`` and
       columns ``0, stride, 2 stride, ...`` and lie wholly inside the image; each gets the mean
       of ``reference`` over its pixels (float64).
    2. Background: among the candidates that lie wholly in the top ``floor(top_fraction * H)``
       rows (above the retina, the vitreous), the one with the lowest mean; a tie goes to the
       first in row-major order (smallest top, then smallest left).
    3. Signals: all candidates are sorted by mean, highest first (ties in row-major order), and
       taken greedily, skipping any window that overlaps the background or a window already
       taken, until ``count`` are taken. They are the brightest parts of the scan: the retinal
       layers (RPE, RNFL, IS/OS).

    The defaults fit the 450 x 900 (rows x columns) Duke B-scans: 30 x 30 windows fit in the
    vitreous above the fovea and on the bright layers, a 10-pixel grid, 4 signal windows (a
    common number of ROIs in the despeckling papers, which choose them by hand). Choose the
    regions once on the clean reference and measure every method's output on the same regions.

    Args:
        reference: the clean (averaged) B-scan, ``(1, 1, H, W)`` or ``(1, H, W)``, in [0, 1].
        size: side of every window in pixels.
        count: number of signal windows.
        stride: grid step in pixels.
        top_fraction: the part of the height, from the top, where the background is looked for.

    Returns:
        The :class:`OCTRegions`; ``signals`` brightest first.

    Raises:
        RestorekitError: for a bad argument, when no window fits in the top band, or when fewer
            than ``count`` non-overlapping signal windows fit.

    Example:
        >>> ref = torch.full((1, 1, 120, 160), 0.3)
        >>> ref[..., :40, :] = 0.05  # dark vitreous
        >>> ref[..., 60:80, :] = 0.9  # a bright layer
        >>> r = oct_regions(ref, size=20, count=3, stride=10)
        >>> r.background
        Box(top=0, left=0, height=20, width=20)
        >>> [s.top for s in r.signals], [s.left for s in r.signals]
        ([60, 60, 60], [0, 20, 40])
    """
    ref = _one_scan(reference, "reference")
    _, _, H, W = ref.shape
    size = _check_int(size, "size", 1)
    count = _check_int(count, "count", 1)
    stride = _check_int(stride, "stride", 1)
    if (
        isinstance(top_fraction, bool)
        or not isinstance(top_fraction, (int, float))
        or not 0 < top_fraction <= 1
    ):
        raise RestorekitError(f"top_fraction must be a number in (0, 1], got {top_fraction!r}")
    if size > H or size > W:
        raise RestorekitError(f"size={size} does not fit in the {H}x{W} reference")
    band = math.floor(top_fraction * H)
    if size > band:
        raise RestorekitError(
            f"no {size}x{size} window fits in the top {band} rows (top_fraction={top_fraction}); "
            "use a smaller size or a larger top_fraction"
        )
    # Means of the windows at (i * stride, j * stride): avg_pool2d without padding is that grid.
    means = F.avg_pool2d(ref.to(torch.float64), size, stride=stride)[0, 0].cpu().numpy()
    rows, cols = means.shape
    tops = np.arange(rows) * stride
    lefts = np.arange(cols) * stride

    in_band = tops + size <= band
    band_means = means[in_band]
    i, j = np.unravel_index(int(np.argmin(band_means)), band_means.shape)
    background = Box(int(tops[in_band][i]), int(lefts[j]), size, size)

    order = np.argsort(-means.reshape(-1), kind="stable")
    signals: list[Box] = []
    for k in order:
        i, j = divmod(int(k), cols)
        box = Box(int(tops[i]), int(lefts[j]), size, size)
        if box.overlaps(background) or any(box.overlaps(s) for s in signals):
            continue
        signals.append(box)
        if len(signals) == count:
            break
    if len(signals) < count:
        raise RestorekitError(
            f"only {len(signals)} non-overlapping {size}x{size} signal windows fit beside the "
            f"background window; asked for count={count}"
        )
    return OCTRegions(height=H, width=W, background=background, signals=tuple(signals))


def oct_scores(x: torch.Tensor, regions: OCTRegions) -> dict[str, float]:
    """Mean CNR and mean ENL of one B-scan over the signal regions, as the papers report them.

    ``cnr`` is :func:`cnr` of every signal region against the background, averaged over the
    signal regions (dB averaged, not the dB of averages); ``enl`` is :func:`enl` of every signal
    region, averaged. An infinite ENL (a constant region) makes the mean infinite.

    Args:
        x: the image to judge (noisy or denoised), ``(1, 1, H, W)`` or ``(1, H, W)`` in [0, 1],
            the same size as the reference the regions came from.
        regions: from :func:`oct_regions` on the clean reference.

    Returns:
        ``{"cnr": mean CNR in dB, "enl": mean ENL}``.

    Example:
        >>> ref = torch.full((1, 1, 120, 160), 0.3)
        >>> ref[..., :40, :] = 0.05
        >>> ref[..., 60:80, :] = 0.9
        >>> regions = oct_regions(ref, size=20, count=3, stride=10)
        >>> noisy = ref * (1 + 0.1 * torch.randn(ref.shape, generator=torch.Generator()))
        >>> scores = oct_scores(noisy, regions)
        >>> sorted(scores), round(scores["enl"], -1)
        (['cnr', 'enl'], 100.0)
    """
    img = _one_scan(x, "x")
    _, _, H, W = img.shape
    if (regions.height, regions.width) != (H, W):
        raise RestorekitError(
            f"x is {H}x{W} but the regions are for a {regions.height}x{regions.width} image"
        )
    K = len(regions.signals)
    # One row per signal region: the image repeated, each with its own signal mask.
    stack = img.expand(K, 1, H, W)
    signal = torch.stack(regions.signal_masks(img.device))[:, None]
    background = regions.background_mask(img.device)
    return {
        "cnr": cnr(stack, signal, background).to(torch.float64).mean().item(),
        "enl": enl(stack, signal).to(torch.float64).mean().item(),
    }


class ENL(nn.Module):
    """Module twin of :func:`enl` for a fixed region ``mask``."""

    def __init__(self, mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("mask", mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return enl(x, self.mask)


class CNR(nn.Module):
    """Module twin of :func:`cnr` for fixed signal and background masks."""

    def __init__(self, signal_mask: torch.Tensor, background_mask: torch.Tensor) -> None:
        super().__init__()
        self.register_buffer("signal_mask", signal_mask)
        self.register_buffer("background_mask", background_mask)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return cnr(x, self.signal_mask, self.background_mask)
