"""Grain analysis: find the flat parts of an image, take its grain out, measure it, report it.

Grain is judged by its statistics, never pixel by pixel, and it differs per colour layer; the
statistics are measured where the picture itself is flat, so that edges and texture do not pass
for grain. The steps, each usable alone:

1. :func:`flat_blocks`: which ``block x block`` blocks are flat (after libaom's noise model);
2. :func:`grain_residual`: the grain estimate, the image minus a denoised copy;
3. :func:`analyze_grain`: per channel, on the flat blocks: variance against intensity, the radially
   averaged noise power spectrum (NPS), the autocovariance, the high-frequency energy ratio and
   the density of local extrema (:class:`GrainAnalysis`);
4. :func:`write_grain_report`: plots, crops, an HTML page and the numbers as JSON.

The statistics themselves are :mod:`restorekit.metrics.grain`'s and
:func:`restorekit.metrics.high_frequency_energy_ratio`.
"""

from __future__ import annotations

import html
import json
import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, NamedTuple

import torch
import torch.nn.functional as F

from restorekit._checks import check_image, check_positive
from restorekit.errors import RestorekitError
from restorekit.metrics.grain import (
    autocovariance,
    extrema_masks,
    radial_power_spectrum,
    spectrum_bins,
    variance_per_intensity,
)
from restorekit.metrics.spectrum import high_frequency_energy_ratio
from restorekit.reports.figures import save_figure

__all__ = [
    "GRAIN_RESIDUAL_METHODS",
    "GrainAnalysis",
    "analyze_grain",
    "expand_block_mask",
    "flat_blocks",
    "grain_residual",
    "grainy_flat_blocks",
    "require_flat",
    "write_grain_report",
]

#: the ways :func:`grain_residual` denoises
GRAIN_RESIDUAL_METHODS = ("gaussian", "denoiser", "bm3d")

#: full-range BT.601 luma weights: the plane the flat blocks are found on for an RGB image
_LUMA = (0.299, 0.587, 0.114)

#: libaom's logistic flatness score weights for (variance, eigenvalue ratio, trace, spectral norm,
#: offset), features on the [0, 1] intensity scale (aom_dsp/noise_model.c)
_SCORE_WEIGHTS = (-6682.0, -0.2056, 13087.0, -12434.0, 2.5694)


class _BlockFeatures(NamedTuple):
    """Per-block flatness features, ``(B, nby, nbx)`` float64, on the 0..255 intensity scale."""

    trace: torch.Tensor  # trace of the gradient covariance (structure tensor)
    norm: torch.Tensor  # its largest eigenvalue
    ratio: torch.Tensor  # largest / smallest eigenvalue
    variance: torch.Tensor  # variance of the block after removing the fitted plane
    score: torch.Tensor  # libaom's flatness score in (0, 1), higher is flatter


def _to_blocks(x: torch.Tensor, block: int) -> torch.Tensor:
    """``(B, C, H, W)`` -> ``(B, nby, nbx, C, block, block)``: the whole blocks, row by row."""
    B, C, H, W = x.shape
    nby, nbx = H // block, W // block
    x = x[..., : nby * block, : nbx * block]
    # (B, C, nby, block, nbx, block) -> block indices first, pixels of each block last
    return x.reshape(B, C, nby, block, nbx, block).permute(0, 2, 4, 1, 3, 5)


def _check_block(block: int) -> int:
    if isinstance(block, bool) or not isinstance(block, int) or block < 8:
        raise RestorekitError(f"block must be an integer >= 8 (pixels), got {block!r}")
    return block


def _intensity_plane(image: torch.Tensor) -> torch.Tensor:
    """The plane flatness is judged on: luma for RGB, the channel for gray, else the mean."""
    x = image.to(torch.float64)
    if x.shape[1] == 3:
        w = torch.tensor(_LUMA, dtype=x.dtype, device=x.device)
        return (x * w[:, None, None]).sum(1, keepdim=True)
    return x.mean(1, keepdim=True)


def _block_features(image: torch.Tensor, block: int) -> _BlockFeatures:
    """The flatness features of every whole ``block x block`` block (see :func:`flat_blocks`)."""
    blocks = _to_blocks(_intensity_plane(image) * 255.0, block)[..., 0, :, :]  # (B, ny, nx, k, k)
    # Least-squares plane a + b y + c x: with centred coordinates the three columns of the design
    # matrix are orthogonal, so each coefficient is a projection.
    c = torch.arange(block, dtype=torch.float64, device=image.device) - (block - 1) / 2
    yy, xx = c[:, None].expand(block, block), c[None, :].expand(block, block)
    r = blocks - blocks.mean(dim=(-2, -1), keepdim=True)
    slope_y = (r * yy).sum(dim=(-2, -1), keepdim=True) / (yy * yy).sum()
    slope_x = (r * xx).sum(dim=(-2, -1), keepdim=True) / (xx * xx).sum()
    r = r - slope_y * yy - slope_x * xx
    # central differences on the interior (libaom skips the one-pixel border)
    gx = (r[..., 1:-1, 2:] - r[..., 1:-1, :-2]) / 2
    gy = (r[..., 2:, 1:-1] - r[..., :-2, 1:-1]) / 2
    gxx = (gx * gx).mean(dim=(-2, -1))
    gyy = (gy * gy).mean(dim=(-2, -1))
    gxy = (gx * gy).mean(dim=(-2, -1))
    trace = gxx + gyy
    det = gxx * gyy - gxy * gxy
    root = (trace * trace - 4 * det).clamp(min=0).sqrt()
    e1, e2 = (trace + root) / 2, (trace - root) / 2
    ratio = e1 / e2.clamp(min=1e-6 * 255.0**2)  # libaom's floor, 1e-6 on the [0, 1] scale
    variance = r[..., 1:-1, 1:-1].var(dim=(-2, -1), unbiased=False)
    s = 255.0**2  # libaom's score weights are for features on the [0, 1] scale
    w = _SCORE_WEIGHTS
    z = w[0] * variance / s + w[1] * ratio + w[2] * trace / s + w[3] * e1 / s + w[4]
    score = torch.sigmoid(z.clamp(-25.0, 100.0))
    return _BlockFeatures(trace, e1, ratio, variance, score)


def flat_blocks(
    image: torch.Tensor,
    block: int = 32,
    *,
    max_trace: float = 9.5,
    max_norm: float = 5.1,
    max_ratio: float = 1.5,
    min_variance: float = 0.3,
    max_variance: float = 400.0,
    top_fraction: float = 0.1,
    min_score: float = 0.5,
) -> torch.Tensor:
    """Which ``block x block`` blocks of an image are flat: no picture, only (maybe) grain.

    Follows libaom's flat-block finder (``aom_flat_block_finder_run`` in
    ``aom_dsp/noise_model.c``, after Kokaram et al. 2012), which AV1 encoders use to pick the
    blocks they estimate film grain on. For each whole block of the luma (BT.601, full range; the
    channel itself for gray, the channel mean otherwise):

    1. fit a plane :math:`a + b y + c x` by least squares and subtract it (a smooth gradient, such
       as a sky, stays flat);
    2. on the residual's interior, take central-difference gradients and their covariance
       (the block's structure tensor) :math:`G = \\overline{\\nabla r \\nabla r^\\top}`, with
       eigenvalues :math:`e_1 \\ge e_2`;
    3. the block passes the thresholds when the gradients are weak (``trace`` :math:`e_1 + e_2`
       < ``max_trace``, :math:`e_1` < ``max_norm``) and have no preferred direction
       (:math:`e_1 / e_2` < ``max_ratio``);
    4. as libaom, the blocks whose logistic flatness score (libaom's weights on the variance,
       ratio, trace and norm) is in the top ``top_fraction`` of the image are also taken, when the
       score is at least ``min_score``; so a grainy image, whose gradients all exceed the
       thresholds, still yields its flattest blocks;
    5. every flat block must have a residual variance in (``min_variance``, ``max_variance``):
       above the floor there is grain to measure (libaom's rule, which drops clipped or noiseless
       areas), below the ceiling no strong texture passes through the score of step 4.

    All thresholds are on the **0..255 intensity scale** (squared for the variance, trace and
    norm), whatever the image's bit depth: the image is multiplied by 255 inside. The trace, norm
    and variance floor are libaom's (0.15 / 32², 0.08 / 32² and 0.005 / 32² on the [0, 1] scale for
    its 32 x 32 blocks, times 255²). ``max_ratio`` is more lenient than libaom's 1.25, which turns
    away about 2 % of the 32 x 32 blocks of pure white noise (the eigenvalues of 900 gradient
    samples fluctuate; the largest ratio among 4096 such blocks was 1.37); 1.5 keeps them and
    still turns away edges, whose ratio is far larger. For white noise of standard deviation
    :math:`\\sigma` (0..255) in the plane judged, the trace is about :math:`\\sigma^2` and the
    norm about :math:`0.55\\sigma^2` (the luma of independent R, G, B noise of deviation
    :math:`\\sigma` has deviation :math:`0.67\\sigma`), so blocks with grain above
    :math:`\\sigma \\approx 3` are found by the score (step 4) unless ``max_trace`` and
    ``max_norm`` are raised (to about :math:`1.5\\sigma^2` and :math:`0.8\\sigma^2`).

    Only whole blocks are judged: a border narrower than ``block`` belongs to no block
    (:func:`expand_block_mask` maps the blocks back to pixels).

    Args:
        image: ``(B, C, H, W)`` in [0, 1] (linear or sRGB alike), at least ``block`` pixels on
            each side.
        block: block side in pixels (>= 8; libaom uses 32).
        max_trace: largest trace of the gradient covariance, 0..255 scale squared.
        max_norm: largest top eigenvalue of the gradient covariance, 0..255 scale squared.
        max_ratio: largest ratio of its eigenvalues (1 is perfectly isotropic).
        min_variance: the residual variance must exceed this (0..255 scale squared).
        max_variance: ... and stay below this (0..255 scale squared; 400 is a grain of standard
            deviation 20).
        top_fraction: fraction of each image's blocks taken by score (0 turns step 4 off).
        min_score: the smallest score a block taken by rank may have.

    Returns:
        ``(B, H // block, W // block)`` boolean, True where the block is flat.

    References:
        libaom, ``aom_dsp/noise_model.c`` (the flat-block finder of the AV1 film-grain denoiser).
        A. Kokaram, D. Kelly, H. Denman, A. Crawford, "Measuring noise correlation for improved
        video denoising", ICIP 2012.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = 0.5 + 2 / 255 * torch.randn(1, 1, 64, 96, generator=g)
        >>> flat_blocks(x).tolist()
        [[[True, True, True], [True, True, True]]]
        >>> x[..., :32, :32] = (torch.arange(32) // 2 % 2).float()  # stripes: an edge every 2 px
        >>> flat_blocks(x)[0, 0].tolist()
        [False, True, True]
    """
    _check_block(block)
    check_image(image, name="image", min_size=block)
    for name, v in (
        ("max_trace", max_trace),
        ("max_norm", max_norm),
        ("max_ratio", max_ratio),
        ("min_variance", min_variance),
        ("max_variance", max_variance),
        ("min_score", min_score),
    ):
        check_positive(v, name)
    if not 0 <= top_fraction <= 1:
        raise RestorekitError(f"top_fraction must be in [0, 1], got {top_fraction!r}")
    f = _block_features(image.detach(), block)
    has_grain = (f.variance > min_variance) & (f.variance < max_variance)
    flat = (f.trace < max_trace) & (f.norm < max_norm) & (f.ratio < max_ratio)
    B = f.score.shape[0]
    n = f.score[0].numel()
    k = int(n * (1 - top_fraction))  # libaom: the score at index 90 % of the ascending order
    if k < n:
        scores = torch.where(has_grain, f.score, torch.zeros_like(f.score)).reshape(B, n)
        cut = scores.sort(dim=1).values[:, k].reshape(B, 1, 1)
        flat = flat | ((f.score >= cut) & (f.score >= min_score))
    return flat & has_grain


def expand_block_mask(mask: torch.Tensor, block: int, size: tuple[int, int]) -> torch.Tensor:
    """A block mask of :func:`flat_blocks` as a pixel mask of an ``size = (H, W)`` image.

    The border that belongs to no whole block is False.

    Args:
        mask: ``(B, nby, nbx)`` boolean.
        block: the block side the mask was made with.
        size: ``(H, W)`` of the image, with ``H // block == nby`` and ``W // block == nbx``.

    Returns:
        ``(B, 1, H, W)`` boolean.

    Example:
        >>> m = torch.tensor([[[True, False]]])
        >>> expand_block_mask(m, 2, (3, 5))[0, 0].int().tolist()
        [[1, 1, 0, 0, 0], [1, 1, 0, 0, 0], [0, 0, 0, 0, 0]]
    """
    H, W = size
    if mask.ndim != 3 or mask.shape[1:] != (H // block, W // block):
        raise RestorekitError(
            f"a block mask for {H}x{W} pixels in blocks of {block} must have shape "
            f"(B, {H // block}, {W // block}), got {tuple(mask.shape)}"
        )
    pixels = mask.bool().repeat_interleave(block, 1).repeat_interleave(block, 2)[:, None]
    return F.pad(pixels, (0, W - pixels.shape[-1], 0, H - pixels.shape[-2]), value=False)


def require_flat(mask: torch.Tensor, block: int | None = None) -> int:
    """The number of flat blocks in ``mask``; a one-line :class:`RestorekitError` if there is none.

    Grain statistics need somewhere to measure: call this on :func:`flat_blocks`'s answer before
    analysing, so that an image without a flat area ends in one clear line.

    Args:
        mask: ``(B, nby, nbx)`` boolean, from :func:`flat_blocks`.
        block: the block side, named in the message.

    Example:
        >>> require_flat(torch.tensor([[[True, False]]]))
        1
        >>> require_flat(torch.zeros(1, 2, 3, dtype=torch.bool), block=32)
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: no flat block found (0 of 6 blocks of 32x32 pixels are \
flat); grain is measured on uniform areas (sky, wall, grey card): use an image with some, or \
relax the flat_blocks thresholds
    """
    n = int(mask.sum())
    if n == 0:
        size = f" of {block}x{block} pixels" if block else ""
        raise RestorekitError(
            f"no flat block found (0 of {mask.numel()} blocks{size} are flat); grain is measured "
            "on uniform areas (sky, wall, grey card): use an image with some, or relax the "
            "flat_blocks thresholds"
        )
    return n


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur of each channel, truncated at 3.5 sigma, replicated border."""
    from restorekit.metrics.ssim import gaussian_window

    size = 2 * int(3.5 * sigma + 0.5) + 1
    p = size // 2
    C = x.shape[1]
    w = gaussian_window(size, sigma, dtype=x.dtype, device=x.device)
    out = F.conv2d(
        F.pad(x, (p, p, 0, 0), mode="replicate"), w.view(1, 1, 1, size).repeat(C, 1, 1, 1), groups=C
    )
    return F.conv2d(
        F.pad(out, (0, 0, p, p), mode="replicate"),
        w.view(1, 1, size, 1).repeat(C, 1, 1, 1),
        groups=C,
    )


def grain_residual(
    image: torch.Tensor,
    method: Literal["gaussian", "denoiser", "bm3d"] = "gaussian",
    sigma: float | None = None,
    blur: float = 2.0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The grain of an image estimated as the image minus a denoised copy.

    Methods:

    - ``"gaussian"``: a Gaussian blur of standard deviation ``blur`` pixels. Fast, and enough on
      flat blocks, but it keeps the grain's lowest frequencies in the denoised copy: the residual
      is the grain high-passed by :math:`1 - e^{-2\\pi^2 b^2 f^2}` (``b`` = ``blur``, ``f`` in
      cycles per pixel), which lowers the NPS below about :math:`1 / (2 \\pi b)` and the variance
      of white grain by about 6 % for ``b`` = 2.
    - ``"denoiser"``: restorekit's shipped learned denoiser for gray or RGB
      (:func:`restorekit.models.pretrained.load_pretrained_denoiser`), steered by ``sigma``.
    - ``"bm3d"``: BM3D / CBM3D (:data:`restorekit.classical.denoise.DENOISERS`), given ``sigma``.

    Without ``sigma``, the two denoisers use the noise level that
    :func:`restorekit.classical.noise_level.estimate_noise_sigma` finds in each image (for the
    learned denoiser clamped to the range its calibration covers). That estimator assumes white
    noise: for coarse (correlated) grain it reads low, so give ``sigma`` when it is known.

    Args:
        image: ``(B, C, H, W)`` in [0, 1]; C = 1 or 3 for the two denoisers.
        method: one of :data:`GRAIN_RESIDUAL_METHODS`.
        sigma: the grain's standard deviation on the [0, 1] scale, for ``"denoiser"`` and
            ``"bm3d"`` (unused by ``"gaussian"``).
        blur: the Gaussian's standard deviation in pixels, for ``"gaussian"``.

    Returns:
        ``(denoised, residual)``, each like ``image``; ``denoised + residual == image`` (the
        denoised copy is not clipped).

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> x = 0.5 + 0.02 * torch.randn(1, 1, 64, 64, generator=g)
        >>> denoised, grain = grain_residual(x)
        >>> torch.allclose(denoised + grain, x), round(grain.std().item(), 2)
        (True, 0.02)
    """
    check_image(image, name="image")
    if method not in GRAIN_RESIDUAL_METHODS:
        from restorekit._checks import closest_names

        known = ", ".join(closest_names(str(method), list(GRAIN_RESIDUAL_METHODS)))
        raise RestorekitError(f"unknown grain residual method {method!r}; known: {known}")
    if sigma is not None:
        sigma = check_positive(sigma, "sigma", allow_zero=False)
    if method == "gaussian":
        denoised = _gaussian_blur(image, check_positive(blur, "blur", allow_zero=False))
        return denoised, image - denoised
    check_image(image, name="image", channels=(1, 3))
    from restorekit.classical.noise_level import estimate_noise_sigma

    outs = []
    for x in image.split(1):
        s = sigma if sigma is not None else float(estimate_noise_sigma(x.detach().double())[0])
        if method == "bm3d":
            from restorekit.classical.denoise import DENOISERS

            out = DENOISERS["bm3d"](x.detach().double(), max(s, 0.5 / 255))
        else:
            from restorekit.models.control import denoise_learned
            from restorekit.models.pretrained import load_pretrained_denoiser

            model, cal = load_pretrained_denoiser(x.shape[1])
            s255 = s * 255
            if sigma is None and cal is not None:
                lo, hi = cal.range
                s255 = min(max(s255, lo), hi)
            out = denoise_learned(x.detach(), sigma=s255, model=model, calibration=cal)
        outs.append(out.to(image.dtype))
    denoised = torch.cat(outs)
    return denoised, image - denoised


def grainy_flat_blocks(
    image: torch.Tensor, block: int = 32, method: str = "gaussian", blur: float = 4.0
) -> torch.Tensor:
    """Flat blocks of an image with strong grain: :func:`flat_blocks` of a denoised copy.

    libaom's thresholds are set for video noise (a standard deviation of a few levels): film
    grain of 20-40 levels makes every block look textured. On a copy without the grain
    (:func:`grain_residual` with ``method``; a Gaussian blur of ``blur`` pixels by default), a
    flat block is again a plane and texture is still texture; the residual-variance floor is off
    (a clean copy has none).

    Returns:
        ``(B, H // block, W // block)`` boolean.
    """
    kwargs = {"blur": blur} if method == "gaussian" else {}
    denoised, _ = grain_residual(image, method=method, **kwargs)  # type: ignore[arg-type]
    return flat_blocks(denoised, block, min_variance=0.0)


def _channel_names(channels: int) -> tuple[str, ...]:
    if channels == 3:
        return ("R", "G", "B")
    if channels == 1:
        return ("gray",)
    return tuple(f"c{i}" for i in range(channels))


@dataclass(frozen=True, eq=False)
class GrainAnalysis:
    """The statistics of a grain, per channel, measured on the flat blocks of an image.

    Intensities, grain values, variances and spectra are on the [0, 1] scale (multiply a standard
    deviation by 255, a variance or a power by 255², for the 0..255 scale). A batch is analysed as
    one set of blocks: the statistics pool the flat blocks of all its images.
    """

    #: one name per channel: R, G, B, or gray
    channels: tuple[str, ...]
    #: the block side in pixels
    block: int
    #: how the residual was made (a :data:`GRAIN_RESIDUAL_METHODS` name, or "given")
    method: str
    #: ``(B, nby, nbx)`` boolean, the flat blocks
    flat: torch.Tensor
    #: how many of them the block statistics were measured on (``max_blocks`` of
    #: :func:`analyze_grain`, evenly spread)
    n_measured: int
    #: ``(bins,)`` centres of the intensity bins (of the denoised image)
    intensity: torch.Tensor
    #: ``(C, bins)`` grain variance per intensity bin (0 where a bin is empty)
    variance: torch.Tensor
    #: ``(C, bins)`` number of flat-block pixels per intensity bin
    count: torch.Tensor
    #: ``(nps_bins,)`` centres of the NPS rings, cycles per pixel
    frequency: torch.Tensor
    #: ``(C, nps_bins)`` radially averaged NPS, mean of the flat blocks' (white: flat at the
    #: variance)
    nps: torch.Tensor
    #: ``(C, 2 L + 1, 2 L + 1)`` autocovariance, mean of the flat blocks'; ``[c, L + k, L + l]``
    #: is the lag (k, l) (rows, columns)
    autocovariance: torch.Tensor
    #: ``(C,)`` high-frequency energy ratio above ``hf_cutoff``, mean of the flat blocks'
    hf_ratio: torch.Tensor
    #: the cutoff of ``hf_ratio``, cycles per pixel
    hf_cutoff: float
    #: ``(C,)`` fraction of flat-block pixels that are a local maximum or minimum (3 x 3)
    extrema_density: torch.Tensor
    #: ``(B, C, H, W)`` boolean, the residual's local maxima over the whole image
    maxima: torch.Tensor
    #: ``(B, C, H, W)`` boolean, its local minima
    minima: torch.Tensor
    #: ``(C,)`` the grain's standard deviation over the flat blocks
    std: torch.Tensor

    @property
    def n_flat(self) -> int:
        """The number of flat blocks measured."""
        return int(self.flat.sum())

    @property
    def n_blocks(self) -> int:
        """The number of whole blocks in the image(s)."""
        return self.flat.numel()

    @property
    def max_lag(self) -> int:
        """The largest lag of :attr:`autocovariance`."""
        return (self.autocovariance.shape[-1] - 1) // 2

    def correlation(self) -> torch.Tensor:
        """:attr:`autocovariance` divided by the variance (lag 0): ``(C, 2 L + 1, 2 L + 1)``."""
        L = self.max_lag
        c0 = self.autocovariance[:, L, L].clamp(min=1e-30)
        return self.autocovariance / c0[:, None, None]

    def to_dict(self) -> dict[str, Any]:
        """The numbers as plain JSON types (the masks stay out)."""
        L = self.max_lag

        def floats(t: torch.Tensor) -> Any:
            return [round(float(v), 10) for v in t] if t.ndim == 1 else [floats(r) for r in t]

        per_channel = {}
        for i, name in enumerate(self.channels):
            per_channel[name] = {
                "std": float(self.std[i]),
                "std_255": float(self.std[i]) * 255,
                "hf_ratio": float(self.hf_ratio[i]),
                "extrema_density": float(self.extrema_density[i]),
                "variance": floats(self.variance[i]),
                "count": [int(v) for v in self.count[i]],
                "nps": floats(self.nps[i]),
                "autocovariance": floats(self.autocovariance[i]),
                "correlation_rows": floats(self.correlation()[i, L:, L]),
                "correlation_columns": floats(self.correlation()[i, L, L:]),
            }
        return {
            "scale": "intensities, grain and variances on the [0, 1] scale",
            "block": self.block,
            "flat_blocks": self.n_flat,
            "blocks": self.n_blocks,
            "measured_blocks": self.n_measured,
            "method": self.method,
            "intensity": floats(self.intensity),
            "frequency": floats(self.frequency),
            "hf_cutoff": self.hf_cutoff,
            "max_lag": L,
            "channels": per_channel,
        }


def analyze_grain(
    image: torch.Tensor,
    residual: torch.Tensor | None = None,
    mask: torch.Tensor | None = None,
    bins: int = 16,
    *,
    block: int = 32,
    method: Literal["gaussian", "denoiser", "bm3d"] = "gaussian",
    nps_bins: int | None = None,
    max_lag: int = 4,
    hf_cutoff: float = 0.25,
    max_blocks: int = 256,
) -> GrainAnalysis:
    """Measure an image's grain per channel on its flat blocks.

    Every statistic is taken block by block over the flat blocks and averaged, never over the
    whole image, so that edges and the denoiser's mistakes on them do not leak in:

    - variance against intensity: :func:`~restorekit.metrics.grain.variance_per_intensity` of
      the residual over the flat-block pixels, binned by the denoised intensity of the same
      channel;
    - NPS: :func:`~restorekit.metrics.grain.radial_power_spectrum` of each flat block of the
      residual, averaged;
    - autocovariance at lags up to ``max_lag``: :func:`~restorekit.metrics.grain.autocovariance`
      of each flat block, averaged;
    - :func:`~restorekit.metrics.high_frequency_energy_ratio` of each flat block, averaged;
    - extrema: :func:`~restorekit.metrics.grain.extrema_masks` of the whole residual (3 x 3), and
      their density over the flat-block pixels (about 2/9 for white grain, fewer for coarse).

    Args:
        image: ``(B, C, H, W)`` the grainy image, in [0, 1] (linear or sRGB: the intensity axis
            is the image's own).
        residual: the grain estimate, like ``image`` (default: :func:`grain_residual` with
            ``method``); the denoised intensity is ``image - residual``.
        mask: ``(B, H // block, W // block)`` boolean flat blocks (default:
            :func:`grainy_flat_blocks` of ``image`` with ``method``).
        bins: number of intensity bins over [0, 1].
        block: block side in pixels.
        method: how to make the residual when it is not given.
        nps_bins: number of NPS rings up to 0.5 cycles per pixel (default ``block // 4``, so that
            every ring holds DFT bins of a block).
        max_lag: largest autocovariance lag, pixels (< ``block``).
        hf_cutoff: cutoff of the high-frequency ratio, cycles per pixel.
        max_blocks: the most flat blocks measured; of more, this many evenly spread in raster
            order (the variance curve's one-hot costs pixels x ``bins`` x 16 bytes: 256 blocks of
            32 x 32 RGB with 16 bins take about 200 MB). The extrema density and the flat-block
            count use every flat block.

    Returns:
        A :class:`GrainAnalysis`.

    Raises:
        RestorekitError: no flat block (see :func:`require_flat`), or mismatched inputs.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> grain = 0.008 * torch.randn(1, 3, 64, 64, generator=g)
        >>> a = analyze_grain(0.5 + grain, residual=grain)
        >>> a.n_flat, [round(s * 255) for s in a.std.tolist()]  # 2 on the 0..255 scale
        (4, [2, 2, 2])
    """
    _check_block(block)
    check_image(image, name="image", min_size=block)
    B, C, H, W = image.shape
    if nps_bins is None:
        nps_bins = max(1, block // 4)
    if isinstance(max_lag, bool) or not isinstance(max_lag, int) or not 0 <= max_lag < block:
        raise RestorekitError(f"max_lag must be an integer in [0, {block}), got {max_lag!r}")
    if isinstance(max_blocks, bool) or not isinstance(max_blocks, int) or max_blocks < 1:
        raise RestorekitError(f"max_blocks must be an integer >= 1, got {max_blocks!r}")
    if residual is None:
        denoised, residual = grain_residual(image, method=method)
        how: str = method
    else:
        check_image(residual, name="residual")
        if residual.shape != image.shape:
            raise RestorekitError(
                f"residual must have the image's shape {tuple(image.shape)}, got "
                f"{tuple(residual.shape)}"
            )
        denoised = image - residual
        how = "given"
    if mask is None:
        mask = grainy_flat_blocks(image, block, method)
    elif mask.shape != (B, H // block, W // block):
        raise RestorekitError(
            f"mask must have shape (B, H // block, W // block) = {(B, H // block, W // block)}, "
            f"got {tuple(mask.shape)}"
        )
    mask = mask.bool().to(image.device)
    require_flat(mask, block)

    # The statistics of at most max_blocks flat blocks, evenly spread in raster order: the
    # variance curve's one-hot costs pixels x bins x 16 bytes, and more blocks add no precision.
    rb_all = _to_blocks(residual.detach(), block)[mask]  # (n_flat, C, block, block)
    keep = torch.linspace(0, len(rb_all) - 1, min(len(rb_all), max_blocks)).round().long()
    rb = rb_all[keep].to(torch.float64)
    db = _to_blocks(denoised.detach(), block)[mask][keep].to(torch.float64)
    N = rb.shape[0]

    def as_image(t: torch.Tensor) -> torch.Tensor:  # (N, C, k, k) -> (1, C, N k, k)
        return t.transpose(0, 1).reshape(1, C, N * block, block)

    centres, var, count = variance_per_intensity(as_image(db), as_image(rb), bins=bins)
    nps = radial_power_spectrum(rb, bins=nps_bins).mean(0)
    acov = autocovariance(rb, max_lag=max_lag).mean(0)
    hf = torch.stack(
        [high_frequency_energy_ratio(rb[:, c : c + 1], cutoff=hf_cutoff).mean() for c in range(C)]
    )
    std = rb.transpose(0, 1).reshape(C, -1).std(dim=1, unbiased=False)
    # extrema over the whole residual (true neighbours at block borders), counted on flat pixels
    maxima, minima = extrema_masks(residual.detach())
    pixels = expand_block_mask(mask, block, (H, W))  # (B, 1, H, W)
    plateau = maxima & minima  # equal to all its neighbours: no extremum (as extrema_density)
    extrema = ((maxima ^ plateau) & pixels).sum(dim=(0, 2, 3)) + ((minima ^ plateau) & pixels).sum(
        dim=(0, 2, 3)
    )
    density = extrema.double() / pixels.sum()
    return GrainAnalysis(
        channels=_channel_names(C),
        block=block,
        method=how,
        flat=mask.cpu(),
        n_measured=N,
        intensity=centres,
        variance=var[0].cpu(),
        count=count[0].cpu(),
        frequency=spectrum_bins(nps_bins),
        nps=nps.cpu(),
        autocovariance=acov.cpu(),
        hf_ratio=hf.to(torch.float64).cpu(),
        hf_cutoff=float(hf_cutoff),
        extrema_density=density.cpu(),
        maxima=maxima.cpu(),
        minima=minima.cpu(),
        std=std.cpu(),
    )


#: line colours of the channels in the report's plots
_COLOURS = {"R": "red", "G": "green", "B": "blue", "gray": "black"}

#: an intensity bin is plotted when it holds at least this many pixels
_MIN_BIN_PIXELS = 64


def _plot_spectra(a: GrainAnalysis, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.2), layout="tight")
    ax = fig.add_subplot()
    f = a.frequency.numpy()
    for i, name in enumerate(a.channels):
        p = a.nps[i].numpy() * 255.0**2
        keep = p > 0
        ax.semilogy(f[keep], p[keep], marker=".", color=_COLOURS.get(name), label=name)
    ax.set_xlabel("radial frequency (cycles per pixel)")
    ax.set_ylabel("NPS (0..255 scale, squared)")
    ax.set_title(f"Noise power spectrum, mean of {a.n_measured} flat blocks of {a.block} px")
    ax.grid(alpha=0.3, which="both")
    ax.legend()
    save_figure(fig, path)


def _plot_variance(a: GrainAnalysis, path: Path) -> None:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(6.4, 4.2), layout="tight")
    ax = fig.add_subplot()
    u = a.intensity.numpy()
    top = 0.0
    for i, name in enumerate(a.channels):
        keep = a.count[i].numpy() >= _MIN_BIN_PIXELS
        v = a.variance[i].numpy() * 255.0**2
        ax.plot(u[keep], v[keep], marker="o", color=_COLOURS.get(name), label=name)
        top = max(top, float(v[keep].max(initial=0.0)))
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1.1 * top if top > 0 else 1.0)
    ax.set_xlabel("intensity of the denoised image (0..1)")
    ax.set_ylabel("grain variance (0..255 scale, squared)")
    ax.set_title(f"Grain variance against intensity (bins with >= {_MIN_BIN_PIXELS} pixels)")
    ax.grid(alpha=0.3)
    ax.legend()
    save_figure(fig, path)


def _flat_map(image: torch.Tensor, flat: torch.Tensor, block: int) -> torch.Tensor:
    """The first image with its flat blocks tinted green and the rest dimmed, <= 1024 px wide."""
    x = image[:1].detach().to(torch.float64).clamp(0, 1)
    if x.shape[1] != 3:
        x = x.mean(1, keepdim=True).expand(1, 3, *x.shape[-2:])
    H, W = x.shape[-2:]
    pixels = expand_block_mask(flat[:1], block, (H, W)).to(x.dtype)
    green = torch.tensor([0.0, 1.0, 0.0], dtype=x.dtype)[None, :, None, None]
    out = pixels * (0.6 * x + 0.4 * green) + (1 - pixels) * 0.45 * x
    scale = 1024 / max(out.shape[-2:])
    if scale < 1:
        out = F.interpolate(out, scale_factor=scale, mode="area")
    return out


def _crop_box(
    flat: torch.Tensor, block: int, size: tuple[int, int], side: int
) -> tuple[int, int, int, int]:
    """A ``side x side`` box (top, left, h, w) on the first image's flattest area: centred on the
    flat block with the most flat blocks around it (ties: the one nearest the centre)."""
    H, W = size
    h, w = min(side, H), min(side, W)
    cy, cx = H / 2, W / 2
    f = flat[:1, None].double()  # (1, 1, nby, nbx)
    if f.sum() > 0:
        k = max(1, side // block) | 1  # an odd window of blocks about the crop's size
        around = F.avg_pool2d(f, k, stride=1, padding=k // 2, count_include_pad=True)[0, 0]
        ys, xs = torch.nonzero(f[0, 0] > 0, as_tuple=True)
        dist = ((ys + 0.5) * block - cy) ** 2 + ((xs + 0.5) * block - cx) ** 2
        rank = around[ys, xs] * 1e12 - dist  # most flat neighbours first, then nearest
        i = int(rank.argmax())
        cy, cx = (float(ys[i]) + 0.5) * block, (float(xs[i]) + 0.5) * block
    top = int(min(max(cy - h / 2, 0), H - h))
    left = int(min(max(cx - w / 2, 0), W - w))
    return top, left, h, w


def write_grain_report(
    analysis: GrainAnalysis,
    image: torch.Tensor,
    residual: torch.Tensor,
    out_dir: str | os.PathLike,
) -> Path:
    """Write a grain report a person can read: plots, crops, one HTML page and the numbers.

    Files written into ``out_dir`` (created), each atomically:

    - ``spectra.png``: the NPS per channel (log scale; R, G, B in red, green, blue);
    - ``variance.png``: grain variance against intensity per channel;
    - ``flat_blocks.png``: the image with the flat blocks measured tinted green;
    - ``residual_100.png`` and ``residual_400.png``: crops of the image and of the grain (amplified
      to +-4 standard deviations around grey) on a flat block, at 100 % and enlarged 4 x
      (nearest neighbour);
    - ``extrema.png``: the 3 x 3 local maxima (white) and minima (black) of each channel's grain
      on the same crop, enlarged 4 x;
    - ``analysis.json``: :meth:`GrainAnalysis.to_dict`;
    - ``index.html``: a table of the numbers and the pictures above.

    Pictures show the first image of a batch. The plots need matplotlib (the ``report`` extra).

    Args:
        analysis: from :func:`analyze_grain` on ``image`` and ``residual``.
        image: ``(B, C, H, W)`` the analysed image, in [0, 1].
        residual: its grain estimate, like ``image``.
        out_dir: the folder to write into.

    Returns:
        The path of ``index.html``.
    """
    check_image(image, name="image")
    if residual.shape != image.shape:
        raise RestorekitError(
            f"residual must have the image's shape {tuple(image.shape)}, got "
            f"{tuple(residual.shape)}"
        )
    try:
        import matplotlib  # noqa: F401
    except ImportError:
        raise RestorekitError(
            "the grain report's plots need matplotlib: pip install restorekit[report]"
        ) from None
    from restorekit.io import write_image
    from restorekit.io.files import atomic_write
    from restorekit.reports import comparison_strip, crop_to_uint8, html_page, html_table

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    a = analysis
    _plot_spectra(a, out / "spectra.png")
    _plot_variance(a, out / "variance.png")
    write_image(out / "flat_blocks.png", _flat_map(image, a.flat, a.block))

    # crops: the image, the grain amplified to +-4 std around grey, each channel alone
    x = image[:1].detach().to(torch.float64)
    r = residual[:1].detach().to(torch.float64)
    spread = 4 * float(a.std.max())  # +-4 standard deviations fill black to white
    gain = 0.5 / spread if spread > 0 else 1.0
    shown = (0.5 + r * gain).clamp(0, 1)
    H, W = x.shape[-2:]
    box = _crop_box(a.flat, a.block, (H, W), 128)
    top, left, h, w = box
    zoom_box = (top + (h - min(h, 32)) // 2, left + (w - min(w, 32)) // 2, min(h, 32), min(w, 32))
    amp = f"x{gain:.0f}" if gain >= 1 else f"x{gain:.2f}"
    tiles_for = []
    for b in (box, zoom_box):
        tiles = [("image", crop_to_uint8(x, b)), (f"grain {amp}", crop_to_uint8(shown, b))]
        if len(a.channels) > 1:
            tiles += [
                (f"{n} grain", crop_to_uint8(shown[:, i : i + 1], b))
                for i, n in enumerate(a.channels)
            ]
        tiles_for.append(tiles)
    columns = len(tiles_for[0])
    comparison_strip(tiles_for[0], out / "residual_100.png", zoom=1, columns=columns)
    comparison_strip(tiles_for[1], out / "residual_400.png", zoom=4, columns=columns)
    ext = 0.5 + 0.5 * a.maxima[:1].double() - 0.5 * a.minima[:1].double()
    tiles = [
        (f"{n} max/min\nwhite/black", crop_to_uint8(ext[:, i : i + 1], zoom_box))
        for i, n in enumerate(a.channels)
    ]
    comparison_strip(tiles, out / "extrema.png", zoom=4, columns=len(tiles))

    d = a.to_dict()
    atomic_write(out / "analysis.json", json.dumps(d, indent=1))

    L = a.max_lag
    corr = a.correlation()
    header = ["channel", "std (0..255)", f"HF ratio (> {a.hf_cutoff:g} c/px)", "extrema density"]
    header += ["corr. lag 1 (rows)", "corr. lag 1 (columns)"]
    rows = [
        [
            n,
            f"{float(a.std[i]) * 255:.2f}",
            f"{float(a.hf_ratio[i]):.3f}",
            f"{float(a.extrema_density[i]):.3f}",
            f"{float(corr[i, L + 1, L]) if L else float('nan'):.3f}",
            f"{float(corr[i, L, L + 1]) if L else float('nan'):.3f}",
        ]
        for i, n in enumerate(a.channels)
    ]
    pictures = [
        ("flat_blocks.png", f"Flat blocks ({a.n_flat} of {a.n_blocks}, {a.block} px), in green"),
        ("spectra.png", "Noise power spectrum per channel"),
        ("variance.png", "Grain variance against intensity per channel"),
        ("residual_100.png", "The image and its grain on a flat block, 100 %"),
        ("residual_400.png", "The same, centre enlarged 4 x"),
        ("extrema.png", "Local maxima (white) and minima (black) of the grain, 3 x 3, 4 x"),
    ]
    white_hf = 1 - math.pi * min(a.hf_cutoff, 0.5) ** 2
    body = [
        f"<p class='note'>Grain = image - denoised copy ({html.escape(a.method)}); statistics "
        f"over {a.n_measured} of the {a.n_flat} flat blocks (of {a.n_blocks}), on the grain's "
        f"0..255 scale. White grain would have an extrema density near 2/9 = 0.222, a HF ratio "
        f"near {white_hf:.3f} and no correlation at lag 1. All numbers: "
        "<a href='analysis.json'>analysis.json</a>.</p>",
        html_table(header, rows),
    ]
    for name, caption in pictures:
        body.append(f"<h3>{html.escape(caption)}</h3><p><img src='{name}' alt='{name}'></p>")
    page = out / "index.html"
    atomic_write(page, html_page("Grain analysis", body))
    return page
