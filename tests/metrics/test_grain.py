"""Grain statistics: numbers against independent NumPy / SciPy implementations of each definition.

Random textures are checked by their statistics with a fixed seed and a stated tolerance.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from scipy import ndimage

from helpers import assert_close
from restorekit.errors import RestorekitError
from restorekit.metrics.grain import (
    autocovariance,
    extrema_density,
    extrema_masks,
    intensity_moments,
    radial_power_spectrum,
    spectrum_bins,
    variance_per_intensity,
)

# --- NumPy references -------------------------------------------------------------------------


def _np_radial_power_spectrum(x: np.ndarray, bins: int, max_frequency: float) -> np.ndarray:
    """Mean-removed periodogram |FFT|^2 / (HW) averaged over equal rings in (0, max_frequency)."""
    B, C, H, W = x.shape
    a = x - x.mean(axis=(-2, -1), keepdims=True)
    power = np.abs(np.fft.fft2(a)) ** 2 / (H * W)
    fy, fx = np.fft.fftfreq(H), np.fft.fftfreq(W)
    r = np.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)
    edges = np.linspace(0.0, max_frequency, bins + 1)
    ring = np.digitize(r, edges) - 1  # edges[k] <= r < edges[k + 1] -> k
    out = np.zeros((B, C, bins))
    for k in range(bins):
        sel = (ring == k) & (r > 0)
        if sel.any():
            out[..., k] = power[..., sel].mean(-1)
    return out


def _np_variance_per_intensity(image, grain, bins, lo, hi):
    """Per-bin count, sum, sum of squares and population variance, np.digitize binning."""
    edges = np.linspace(lo, hi, bins + 1)
    idx = np.digitize(image, edges[1:-1])  # below lo -> 0, above hi -> bins - 1
    B, C = image.shape[:2]
    count, s1, s2, var = (np.zeros((B, C, bins)) for _ in range(4))
    for b in range(B):
        for c in range(C):
            for k in range(bins):
                g = grain[b, c][idx[b, c] == k]
                count[b, c, k], s1[b, c, k], s2[b, c, k] = g.size, g.sum(), (g * g).sum()
                var[b, c, k] = g.var() if g.size else 0.0
    return count, s1, s2, var


def _np_autocovariance(x: np.ndarray, L: int) -> np.ndarray:
    """Direct double loop over lags: mean removed, sum over overlapping pairs / their number."""
    B, C, H, W = x.shape
    a = x - x.mean(axis=(-2, -1), keepdims=True)
    out = np.zeros((B, C, 2 * L + 1, 2 * L + 1))
    for k in range(-L, L + 1):
        for l in range(-L, L + 1):
            i0, i1 = max(0, -k), min(H, H - k)
            j0, j1 = max(0, -l), min(W, W - l)
            prod = a[..., i0:i1, j0:j1] * a[..., i0 + k : i1 + k, j0 + l : j1 + l]
            out[..., L + k, L + l] = prod.sum(axis=(-2, -1)) / ((H - abs(k)) * (W - abs(l)))
    return out


def _raises(message, fn, *args, **kwargs):
    with pytest.raises(RestorekitError, match=f"^{re.escape(message)}$"):
        fn(*args, **kwargs)


# --- radial_power_spectrum --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "bins", "max_frequency"),
    [((2, 3, 24, 18), 8, 0.5), ((1, 1, 17, 31), 5, 0.5), ((1, 2, 32, 32), 6, 0.3)],
)
def test_radial_power_spectrum_matches_numpy(shape, bins, max_frequency):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(shape, generator=g, dtype=torch.float64) + 0.5  # the mean must be removed
    out = radial_power_spectrum(x, bins=bins, max_frequency=max_frequency)
    want = _np_radial_power_spectrum(x.numpy(), bins, max_frequency)
    assert out.shape == (shape[0], shape[1], bins) and out.dtype == torch.float64
    assert_close(out, want, atol=1e-12, rtol=1e-10)


def test_float32_input_gives_float64_and_the_same_numbers():
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 1, 16, 16, generator=g)
    out = radial_power_spectrum(x, bins=4)
    assert out.dtype == torch.float64
    assert_close(out, _np_radial_power_spectrum(x.double().numpy(), 4, 0.5), atol=1e-12)


def test_white_noise_is_flat_at_its_variance():
    # 4 images of 256x256: the smallest of the 8 rings holds ~800 DFT bins per image (half of them
    # independent), so over the 4 images its relative sampling error is ~2.5 %; stated 10 %.
    g = torch.Generator().manual_seed(2)
    sigma = 0.1
    x = sigma * torch.randn(4, 1, 256, 256, generator=g, dtype=torch.float64)
    p = radial_power_spectrum(x, bins=8).mean(dim=(0, 1))
    assert_close(p / sigma**2, torch.ones(8), atol=0.1)


def test_a_cosine_puts_its_power_in_its_ring():
    # cos(2 pi f0 n), f0 = 10/64 on a DFT bin: two bins (+-f0) of power a^2 HW / 4 each, so the
    # ring holding f0 sums to HW a^2 / 2 (the cosine's variance times HW); every other ring is 0.
    H = W = 64
    a, f0, bins = 0.3, 10 / 64, 8
    n = torch.arange(W, dtype=torch.float64)
    x = (a * torch.cos(2 * math.pi * f0 * n)).expand(1, 1, H, W)
    p = radial_power_spectrum(x, bins=bins)[0, 0]
    ring = int(f0 / 0.5 * bins)  # 2: [0.125, 0.1875)
    centres = spectrum_bins(bins)
    assert abs(centres[ring] - f0) <= 0.5 / bins / 2
    others = torch.cat([p[:ring], p[ring + 1 :]])
    assert others.abs().max() < 1e-20
    r = torch.sqrt(torch.fft.fftfreq(H)[:, None] ** 2 + torch.fft.fftfreq(W)[None, :] ** 2)
    count = int(((r >= ring * 0.5 / bins) & (r < (ring + 1) * 0.5 / bins)).sum())
    assert p[ring].item() * count == pytest.approx(H * W * a**2 / 2, rel=1e-9)


def test_rings_without_a_dft_bin_are_zero():
    x = torch.rand(1, 1, 4, 4, generator=torch.Generator().manual_seed(3), dtype=torch.float64)
    p = radial_power_spectrum(x, bins=32)
    want = _np_radial_power_spectrum(x.numpy(), 32, 0.5)
    assert_close(p, want, atol=1e-14)
    # a 4x4 image has radii 0.25 and 0.354 below 0.5 (DC excluded; 0.5 is the outer edge): 2 rings
    assert (p[0, 0] != 0).sum().item() == 2


def test_spectrum_bins_are_the_ring_centres():
    for bins, fmax in ((4, 0.5), (7, 0.3), (1, 0.5)):
        edges = np.linspace(0.0, fmax, bins + 1)
        out = spectrum_bins(bins, fmax)
        assert out.dtype == torch.float64
        assert_close(out, (edges[:-1] + edges[1:]) / 2, atol=1e-15)


def test_radial_power_spectrum_gradcheck():
    x = torch.rand(1, 2, 6, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: radial_power_spectrum(a, bins=4), (x,))


# --- variance_per_intensity and intensity_moments ---------------------------------------------


@pytest.mark.parametrize(("bins", "lo", "hi"), [(16, 0.0, 1.0), (5, 0.2, 0.7), (1, 0.0, 1.0)])
def test_variance_per_intensity_matches_numpy(bins, lo, hi):
    g = torch.Generator().manual_seed(4)
    image = torch.rand(2, 3, 20, 17, generator=g, dtype=torch.float64)
    grain = 0.05 * torch.randn(2, 3, 20, 17, generator=g, dtype=torch.float64) + 0.01
    count, s1, s2, var = _np_variance_per_intensity(image.numpy(), grain.numpy(), bins, lo, hi)
    centres, v, n = variance_per_intensity(image, grain, bins=bins, lo=lo, hi=hi)
    assert v.shape == n.shape == (2, 3, bins) and v.dtype == n.dtype == torch.float64
    assert_close(n, count, atol=0)
    assert_close(v, var, atol=1e-14)
    edges = np.linspace(lo, hi, bins + 1)
    assert_close(centres, (edges[:-1] + edges[1:]) / 2, atol=1e-15)
    c, m1, m2 = intensity_moments(image, grain, bins=bins, lo=lo, hi=hi)
    assert_close(c, count, atol=0)
    assert_close(m1, s1, atol=1e-12)
    assert_close(m2, s2, atol=1e-12)


def test_values_outside_lo_hi_go_to_the_end_bins():
    image = torch.tensor([[[[-0.5, 0.1, 0.29, 0.31, 0.65, 0.95, 1.7]]]], dtype=torch.float64)
    grain = torch.tensor([[[[1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0]]]], dtype=torch.float64)
    # bins [0.2, 0.4), [0.4, 0.6), [0.6, 0.8]: -0.5 and 0.1 fall below, 0.95 and 1.7 above
    count, s1, s2 = intensity_moments(image, grain, bins=3, lo=0.2, hi=0.8)
    assert count[0, 0].tolist() == [4.0, 0.0, 3.0]
    assert s1[0, 0].tolist() == [1.0 + 2.0 + 3.0 + 4.0, 0.0, 5.0 + 6.0 + 7.0]
    assert s2[0, 0].tolist() == [1.0 + 4.0 + 9.0 + 16.0, 0.0, 25.0 + 36.0 + 49.0]
    _, var, n = variance_per_intensity(image, grain, bins=3, lo=0.2, hi=0.8)
    assert_close(var[0, 0], [np.var([1, 2, 3, 4]), 0.0, np.var([5, 6, 7])], atol=1e-14)
    assert n[0, 0].tolist() == [4.0, 0.0, 3.0]


def test_empty_bins_are_zero():
    g = torch.Generator().manual_seed(5)
    image = 0.13 + 0.1 * torch.rand(1, 2, 8, 8, generator=g)  # in [0.125, 0.25): bin 1 of 8
    grain = torch.randn(1, 2, 8, 8, generator=g)
    _, var, n = variance_per_intensity(image, grain, bins=8)
    assert n[..., 1].tolist() == [[64.0, 64.0]] and n.sum().item() == 128
    assert (var[..., [0, 2, 3, 4, 5, 6, 7]] == 0).all() and (var[..., 1] > 0).all()


def test_variance_per_intensity_gradcheck_in_grain():
    # Every bin holds >= 2 distinct grain values (the clamp at 0 is never active).
    image = torch.linspace(0.0, 0.99, 30, dtype=torch.float64).view(1, 1, 6, 5).repeat(2, 1, 1, 1)
    grain = torch.rand(2, 1, 6, 5, dtype=torch.float64, requires_grad=True)

    def fn(g):
        return variance_per_intensity(image, g, bins=3)[1]

    assert torch.autograd.gradcheck(fn, (grain,))
    s = intensity_moments(image, grain, bins=3)
    assert not s[0].requires_grad and s[1].requires_grad and s[2].requires_grad


# --- autocovariance ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "L"), [((2, 2, 12, 9), 3), ((1, 1, 7, 10), 4), ((1, 1, 5, 5), 0)]
)
def test_autocovariance_matches_the_direct_sum(shape, L):
    g = torch.Generator().manual_seed(6)
    # a correlated, anisotropic field (so that swapped or mirrored lags would not match)
    white = torch.randn(shape[0], shape[1], shape[2] + 2, shape[3] + 1, generator=g)
    x = (white[..., 2:, 1:] + 0.7 * white[..., :-2, :-1] + 0.3 * white[..., 1:-1, 1:]).double()
    out = autocovariance(x + 3.0, max_lag=L)
    assert out.shape == (shape[0], shape[1], 2 * L + 1, 2 * L + 1) and out.dtype == torch.float64
    assert_close(out, _np_autocovariance(x.numpy(), L), atol=1e-12)
    assert_close(out[..., L, L], x.numpy().var(axis=(-2, -1)), atol=1e-12)


def test_autocovariance_lag_order_is_rows_then_columns():
    # Rows are constant: every column lag (0, l) gives the variance; row lags do not.
    g = torch.Generator().manual_seed(7)
    col = torch.randn(16, 1, generator=g, dtype=torch.float64)
    x = col.expand(16, 10)[None, None]
    c = autocovariance(x, max_lag=2)[0, 0]
    assert_close(c[2], col.var(unbiased=False).expand(5), atol=1e-12)
    assert not torch.allclose(c[:, 2], c[2])
    # a sawtooth along the columns: lag (0, 1) at index [L, L + 1]
    x = torch.tensor([[1.0, -1.0, 1.0, -1.0]]).expand(1, 1, 2, 4)
    assert autocovariance(x, max_lag=1)[0, 0, 1].tolist() == [-1.0, 1.0, -1.0]
    assert autocovariance(x, max_lag=1)[0, 0, :, 1].tolist() == [1.0, 1.0, 1.0]


def test_autocovariance_gradcheck():
    x = torch.rand(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: autocovariance(a, max_lag=2), (x,))


# --- extrema ----------------------------------------------------------------------------------


@pytest.mark.parametrize("size", [1, 3, 5])
@pytest.mark.parametrize("levels", [None, 4])
def test_extrema_masks_match_scipy(size, levels):
    g = torch.Generator().manual_seed(8)
    x = torch.rand(2, 2, 13, 11, generator=g, dtype=torch.float64)
    if levels:  # few grey levels: many ties, which count as extrema (>= and <=)
        x = torch.floor(x * levels) / levels
    maxima, minima = extrema_masks(x, size)
    a = x.numpy()
    fp = np.ones((1, 1, size, size))
    want_max = a >= ndimage.maximum_filter(a, footprint=fp, mode="nearest")
    want_min = a <= ndimage.minimum_filter(a, footprint=fp, mode="nearest")
    assert maxima.dtype == torch.bool and maxima.shape == x.shape
    assert np.array_equal(maxima.numpy(), want_max) and np.array_equal(minima.numpy(), want_min)
    flat = want_max & want_min
    density = ((want_max ^ flat).sum((-2, -1)) + (want_min ^ flat).sum((-2, -1))) / (13 * 11)
    out = extrema_density(x, size)
    assert out.shape == (2, 2) and out.dtype == torch.float64
    assert_close(out, density, atol=1e-15)


def test_white_noise_extrema_density_is_two_ninths():
    # Each interior pixel is the max (min) of 9 i.i.d. values with probability 1/9. Over 4 images
    # of 256x256 the estimate's spread is ~1e-3 (border pixels, with fewer distinct neighbours,
    # shift it by ~1e-3); 0.01 is the stated tolerance.
    g = torch.Generator().manual_seed(9)
    d = extrema_density(torch.rand(4, 1, 256, 256, generator=g))
    assert_close(d, torch.full((4, 1), 2 / 9), atol=0.01)
    # correlated (blurred) noise has fewer extrema
    blurred = torch.nn.functional.avg_pool2d(torch.rand(1, 1, 258, 258, generator=g), 3, 1)
    assert extrema_density(blurred).item() < 0.18  # 0.134 measured


def test_constant_image_has_no_extrema():
    x = torch.full((2, 3, 9, 7), 0.4)
    maxima, minima = extrema_masks(x)
    assert maxima.all() and minima.all()
    assert torch.equal(extrema_density(x), torch.zeros(2, 3, dtype=torch.float64))


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("fn", "args", "message"),
    [
        (radial_power_spectrum, (torch.rand(1, 1, 8, 8), 0), "bins must be an integer >= 1, got 0"),
        (
            radial_power_spectrum,
            (torch.rand(1, 1, 8, 8), True),
            "bins must be an integer >= 1, got True",
        ),
        (
            radial_power_spectrum,
            (torch.rand(1, 1, 1, 8),),
            "x must be at least 2x2 pixels, got 1x8",
        ),
        (radial_power_spectrum, (torch.rand(8, 8),), "x must have shape (B, C, H, W), got (8, 8)"),
        (spectrum_bins, (2.5,), "bins must be an integer >= 1, got 2.5"),
        (
            variance_per_intensity,
            (torch.rand(1, 1, 4, 4), torch.rand(1, 1, 4, 5)),
            "image and grain must have one shape, got (1, 1, 4, 4) and (1, 1, 4, 5)",
        ),
        (
            variance_per_intensity,
            (torch.rand(1, 1, 4, 4), torch.rand(1, 1, 4, 4), 4, 0.5, 0.5),
            "need hi > lo, got lo=0.5, hi=0.5",
        ),
        (
            variance_per_intensity,
            (torch.rand(1, 1, 4, 4), torch.rand(1, 1, 4, 4), -1),
            "bins must be an integer >= 1, got -1",
        ),
        (
            variance_per_intensity,
            (torch.rand(1, 1, 4, 4), torch.zeros(1, 1, 4, 4, dtype=torch.long)),
            "grain must be a float tensor in [0, 1], got dtype torch.int64",
        ),
        (autocovariance, (torch.rand(1, 1, 8, 8), -1), "max_lag must be an integer >= 0, got -1"),
        (autocovariance, (torch.rand(1, 1, 8, 8), 1.0), "max_lag must be an integer >= 0, got 1.0"),
        (
            autocovariance,
            (torch.rand(1, 1, 4, 8), 4),
            "max_lag 4 needs an image larger than it, got 4x8",
        ),
        (extrema_masks, (torch.rand(1, 1, 8, 8), 2), "size must be an odd integer >= 1, got 2"),
        (extrema_density, (torch.rand(1, 1, 8, 8), 0), "size must be an odd integer >= 1, got 0"),
    ],
)
def test_bad_input(fn, args, message):
    _raises(message, fn, *args)
