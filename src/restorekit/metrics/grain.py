"""Statistics of random textures (film grain, noise): judged by distribution, never pixel by pixel.

A grain field is random, so two renders of the same grain never match pixel for pixel; they match
in their statistics. These are the statistics restorekit measures grain by, each per image and per
channel, in float64 inside and differentiable (so that :mod:`restorekit.losses` builds its grain
losses on them):

- :func:`radial_power_spectrum`: the radially averaged noise power spectrum (NPS);
- :func:`variance_per_intensity`: the grain variance as a function of the underlying intensity;
- :func:`autocovariance`: the spatial autocovariance at small lags;
- :func:`extrema_density`: the density of local maxima/minima after 3x3 max/min pooling (the
  research notes' "silver halide" masks).

The high-frequency energy ratio of a grain field is
:func:`restorekit.metrics.high_frequency_energy_ratio`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from restorekit._checks import check_image
from restorekit.errors import RestorekitError
from restorekit.metrics.spectrum import radial_frequency

__all__ = [
    "autocovariance",
    "extrema_density",
    "extrema_masks",
    "intensity_moments",
    "radial_power_spectrum",
    "ring_weights",
    "spectrum_bins",
    "variance_per_intensity",
]


def _check_bins(bins: int, name: str = "bins") -> int:
    if isinstance(bins, bool) or not isinstance(bins, int) or bins < 1:
        raise RestorekitError(f"{name} must be an integer >= 1, got {bins!r}")
    return bins


def spectrum_bins(bins: int = 32, max_frequency: float = 0.5) -> torch.Tensor:
    """Centre frequencies (cycles per pixel) of the radial bins of :func:`radial_power_spectrum`.

    Example:
        >>> spectrum_bins(4).tolist()
        [0.0625, 0.1875, 0.3125, 0.4375]
    """
    _check_bins(bins)
    edges = torch.linspace(0.0, max_frequency, bins + 1, dtype=torch.float64)
    return (edges[:-1] + edges[1:]) / 2


def radial_power_spectrum(
    x: torch.Tensor, bins: int = 32, max_frequency: float = 0.5
) -> torch.Tensor:
    """Radially averaged noise power spectrum of each channel.

    Each channel has its mean removed; its periodogram :math:`P(f) = |X(f)|^2 / (HW)` is averaged
    over the DFT bins whose radial frequency (:func:`~restorekit.metrics.radial_frequency`) falls
    in each of ``bins`` equal rings between 0 (DC excluded) and ``max_frequency`` cycles per pixel.
    With this normalisation the periodogram's mean over all bins is the variance, so white noise
    of variance :math:`v` has a flat spectrum at :math:`v`. Rings with no DFT bin (a tiny image)
    are 0.

    Args:
        x: ``(B, C, H, W)`` grain or noise (any real values).
        bins: number of rings.
        max_frequency: outer edge of the last ring, cycles per pixel (0.5: Nyquist on the axes).

    Returns:
        ``(B, C, bins)`` power, float64, differentiable. Ring centres: :func:`spectrum_bins`.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> p = radial_power_spectrum(0.1 * torch.randn(1, 1, 128, 128, generator=g), bins=4)
        >>> bool(((p / 0.01 - 1).abs() < 0.1).all())  # white: flat at the variance
        True
    """
    check_image(x, name="x", min_size=2)
    _check_bins(bins)
    a = x.to(torch.float64)
    H, W = a.shape[-2:]
    a = a - a.mean(dim=(-2, -1), keepdim=True)
    power = torch.view_as_real(torch.fft.fft2(a)).pow(2).sum(-1) / (H * W)  # (B, C, H, W)
    rings = ring_weights(H, W, bins, max_frequency, dtype=power.dtype, device=a.device)
    return torch.einsum("bchw,hwk->bck", power, rings)


def ring_weights(
    height: int,
    width: int,
    bins: int = 32,
    max_frequency: float = 0.5,
    dtype: torch.dtype = torch.float64,
    device: torch.device | str | None = None,
) -> torch.Tensor:
    """``(height, width, bins)``: the weights that average a ``height x width`` DFT-ordered power
    spectrum over the rings of :func:`radial_power_spectrum` (each ring's weights sum to 1; DC
    and the corners past ``max_frequency`` weigh 0; a ring with no bin is all 0).

    Example:
        >>> w = ring_weights(16, 16, bins=4)
        >>> [round(float(v), 6) for v in w.sum(dim=(0, 1))], float(w[0, 0].sum())
        ([1.0, 1.0, 1.0, 1.0], 0.0)
    """
    _check_bins(bins)
    radius = radial_frequency(height, width, device=device)
    index = torch.floor(radius / max_frequency * bins).long()
    valid = (radius > 0) & (index < bins)
    onehot = F.one_hot(index.clamp(max=bins - 1), bins).to(dtype) * valid[..., None]
    return onehot / onehot.sum(dim=(0, 1)).clamp(min=1)


def variance_per_intensity(
    image: torch.Tensor,
    grain: torch.Tensor,
    bins: int = 16,
    lo: float = 0.0,
    hi: float = 1.0,
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Variance of ``grain`` over the pixels whose ``image`` intensity falls in each bin.

    The intensity axis [``lo``, ``hi``] is split into ``bins`` equal bins; for each image, channel
    and bin, over the pixels of that bin,

    .. math::

        \\mathrm{var}_k = \\frac{1}{n_k}\\sum_{i \\in k} g_i^2
        - \\Big(\\frac{1}{n_k}\\sum_{i \\in k} g_i\\Big)^2

    (the population variance). Film grain is signal dependent: its variance follows the local
    density, so this curve (with :func:`radial_power_spectrum`) is what a grain model must match.

    Args:
        image: ``(B, C, H, W)`` the underlying (clean or denoised) intensity, in [0, 1].
        grain: ``(B, C, H, W)`` the grain (render minus clean).
        bins: number of intensity bins.
        lo: lower edge of the first bin; values below are counted in the first bin.
        hi: upper edge of the last bin; values above are counted in the last bin.

    Returns:
        ``(centres, variance, count)``: ``(bins,)`` bin centres, ``(B, C, bins)`` variance
        (0 where a bin is empty), ``(B, C, bins)`` number of pixels. Float64; differentiable in
        ``grain``.

    Example:
        >>> img = torch.cat([torch.full((1, 1, 8, 4), 0.2), torch.full((1, 1, 8, 4), 0.8)], -1)
        >>> g = torch.cat([torch.ones(1, 1, 8, 4), 2 * torch.ones(1, 1, 8, 4)], -1)
        >>> g[..., ::2, :] *= -1  # +-1 on the dark half, +-2 on the bright half
        >>> _, var, n = variance_per_intensity(img, g, bins=2)
        >>> var.tolist(), n.tolist()
        ([[[1.0, 4.0]]], [[[32.0, 32.0]]])
    """
    check_image(image, name="image")
    check_image(grain, name="grain")
    if image.shape != grain.shape:
        raise RestorekitError(
            f"image and grain must have one shape, got {tuple(image.shape)} and "
            f"{tuple(grain.shape)}"
        )
    _check_bins(bins)
    if not hi > lo:
        raise RestorekitError(f"need hi > lo, got lo={lo!r}, hi={hi!r}")
    count, s1, s2 = intensity_moments(image, grain, bins, lo, hi)
    n = count.clamp(min=1)
    mean = s1 / n
    var = (s2 / n - mean.pow(2)).clamp(min=0) * (count > 0)
    centres = lo + (torch.arange(bins, dtype=torch.float64) + 0.5) * (hi - lo) / bins
    return centres, var, count


def intensity_moments(
    image: torch.Tensor, grain: torch.Tensor, bins: int = 16, lo: float = 0.0, hi: float = 1.0
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pixel count, sum and sum of squares of ``grain`` per intensity bin of ``image``: the sums
    behind :func:`variance_per_intensity` (they add up over images, so statistics can be pooled).

    Returns:
        ``(count, sum, sum_sq)``, each ``(B, C, bins)`` float64; differentiable in ``grain``.
    """
    g = grain.to(torch.float64).flatten(2)
    idx = ((image.detach().to(torch.float64).flatten(2) - lo) / (hi - lo) * bins).floor()
    idx = idx.clamp(0, bins - 1).long()  # (B, C, N); scatter_add keeps memory at O(N)
    zeros = g.new_zeros(*g.shape[:2], bins)
    count = zeros.scatter_add(2, idx, torch.ones_like(g))
    return count, zeros.scatter_add(2, idx, g), zeros.scatter_add(2, idx, g * g)


def autocovariance(x: torch.Tensor, max_lag: int = 4) -> torch.Tensor:
    """Spatial autocovariance of each channel at lags ``-max_lag..max_lag`` on both axes.

    .. math::

        c(k, l) = \\frac{1}{n_{k,l}} \\sum_{i, j} \\tilde x_{i, j}\\, \\tilde x_{i + k, j + l}

    with :math:`\\tilde x` the channel minus its mean and :math:`n_{k,l}` the number of pixel pairs
    at that lag inside the image (no wrap-around; zero padding before the FFT). ``c(0, 0)`` is the
    variance.

    Args:
        x: ``(B, C, H, W)``, with ``H, W > max_lag``.
        max_lag: the largest lag, pixels.

    Returns:
        ``(B, C, 2 max_lag + 1, 2 max_lag + 1)``, float64; entry ``[..., max_lag + k, max_lag + l]``
        is the lag ``(k, l)`` (rows, columns). Differentiable.

    Example:
        >>> x = torch.tensor([[1.0, -1.0, 1.0, -1.0]]).expand(1, 1, 2, 4)
        >>> autocovariance(x, max_lag=1)[0, 0, 1].tolist()  # lags (0, -1), (0, 0), (0, 1)
        [-1.0, 1.0, -1.0]
    """
    check_image(x, name="x")
    if isinstance(max_lag, bool) or not isinstance(max_lag, int) or max_lag < 0:
        raise RestorekitError(f"max_lag must be an integer >= 0, got {max_lag!r}")
    H, W = x.shape[-2:]
    if max_lag >= H or max_lag >= W:
        raise RestorekitError(f"max_lag {max_lag} needs an image larger than it, got {H}x{W}")
    a = x.to(torch.float64)
    a = a - a.mean(dim=(-2, -1), keepdim=True)
    L = max_lag
    size = (H + L, W + L)
    spec = torch.fft.rfft2(a, s=size)
    corr = torch.fft.irfft2(spec * spec.conj(), s=size)  # circular on the padded grid = linear
    rows = torch.arange(-L, L + 1) % size[0]
    cols = torch.arange(-L, L + 1) % size[1]
    c = corr[..., rows[:, None], cols[None, :]]
    lags = torch.arange(-L, L + 1, dtype=torch.float64)
    pairs = (H - lags.abs())[:, None] * (W - lags.abs())[None, :]
    return c / pairs


def extrema_masks(x: torch.Tensor, size: int = 3) -> tuple[torch.Tensor, torch.Tensor]:
    """Masks of the local maxima and minima of each channel: pixels equal to the max (min) of
    their ``size x size`` neighbourhood (max/min pooling, stride 1, replicated border).

    Returns:
        ``(maxima, minima)``, boolean ``(B, C, H, W)``.
    """
    check_image(x, name="x")
    if isinstance(size, bool) or not isinstance(size, int) or size < 1 or size % 2 == 0:
        raise RestorekitError(f"size must be an odd integer >= 1, got {size!r}")
    p = size // 2
    padded = F.pad(x, (p, p, p, p), mode="replicate") if p else x
    hi = F.max_pool2d(padded, size, stride=1)
    lo = -F.max_pool2d(-padded, size, stride=1)
    return x >= hi, x <= lo


def extrema_density(x: torch.Tensor, size: int = 3) -> torch.Tensor:
    """Fraction of pixels that are a local maximum or minimum (:func:`extrema_masks`), per
    channel: the density of the notes' "silver halide" masks.

    For white noise with a continuous distribution and ``size`` 3 each pixel is the maximum of its
    9 neighbours with probability 1/9, so the density is about 2/9; correlated (coarser) grain
    gives fewer extrema, a flat image none (constant pixels count as neither).

    Returns:
        ``(B, C)`` density in [0, 1], float64.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> d = extrema_density(torch.rand(1, 1, 256, 256, generator=g))
        >>> bool(abs(d.item() - 2 / 9) < 0.01)
        True
    """
    maxima, minima = extrema_masks(x, size)
    flat = maxima & minima  # a pixel equal to all its neighbours is no extremum
    count = (maxima ^ flat).sum(dim=(-2, -1)) + (minima ^ flat).sum(dim=(-2, -1))
    return count.to(torch.float64) / (x.shape[-2] * x.shape[-1])
