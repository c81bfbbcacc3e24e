"""Gaussian grain: validation, the std curve, the kernel fit, and the render's statistics.

Grain is random: the render is checked by its statistics (variance per intensity, spectrum,
mean) with a fixed seed and a stated tolerance, never pixel by pixel.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from scipy.signal import correlate2d

from helpers import assert_close
from restorekit.errors import RestorekitError
from restorekit.film.boolean import BooleanGrain, boolean_autocovariance
from restorekit.film.gaussian import GaussianGrain, kernel_from_autocovariance, render_gaussian
from restorekit.metrics.grain import radial_power_spectrum


def _gaussian_kernel(sigma: float, radius: int) -> torch.Tensor:
    d = torch.arange(-radius, radius + 1, dtype=torch.float64)
    a = torch.exp(-(d**2) / (2 * sigma**2))
    return torch.outer(a, a)


def _autocorrelation(k: np.ndarray) -> np.ndarray:
    """sum_x k(x) k(x + d) for every lag d: (2n - 1, 2n - 1), centred."""
    return correlate2d(k, k, mode="full")


def _centre(a: np.ndarray, half: int) -> np.ndarray:
    c = a.shape[0] // 2
    return a[c - half : c + half + 1, c - half : c + half + 1]


def _raises(message, fn, *args, **kwargs):
    with pytest.raises(RestorekitError, match=f"^{re.escape(message)}$"):
        fn(*args, **kwargs)


# --- GaussianGrain ----------------------------------------------------------------------------


ONE = torch.ones(1, 1)
LEVELS_MSG = "levels must increase strictly within [0, 1], got "
LENGTH_MSG = "levels and std need the same length >= 1, got "
STD_MSG = "std values must be finite and >= 0, got "
KERNEL_MSG = "kernel must be square with an odd size, got "


@pytest.mark.parametrize(
    ("levels", "std", "kernel", "message"),
    [
        ((0.5, 0.3), (0.1, 0.1), ONE, LEVELS_MSG + "[0.5, 0.3]"),
        ((0.3, 0.3), (0.1, 0.1), ONE, LEVELS_MSG + "[0.3, 0.3]"),
        ((0.0, 1.2), (0.1, 0.1), ONE, LEVELS_MSG + "[0.0, 1.2]"),
        ((-0.1,), (0.1,), ONE, LEVELS_MSG + "[-0.1]"),
        ((0.2, 0.5), (0.1,), ONE, LENGTH_MSG + "2 and 1"),
        ((), (), ONE, LENGTH_MSG + "0 and 0"),
        ((0.2, 0.5), (0.1, -0.01), ONE, STD_MSG + "[0.1, -0.01]"),
        ((0.5,), (math.inf,), ONE, STD_MSG + "[inf]"),
        ((0.5,), (0.1,), torch.ones(2, 2), KERNEL_MSG + "(2, 2)"),
        ((0.5,), (0.1,), torch.ones(3, 5), KERNEL_MSG + "(3, 5)"),
        ((0.5,), (0.1,), torch.ones(3), KERNEL_MSG + "(3,)"),
        ((0.5,), (0.1,), torch.zeros(3, 3), "kernel must not be all zeros"),
    ],
)
def test_bad_parameters(levels, std, kernel, message):
    _raises(message, GaussianGrain, levels, std, kernel)


def test_the_kernel_is_scaled_to_unit_energy():
    g = GaussianGrain((0.5,), (0.1,), 3.0 * _gaussian_kernel(1.0, 2))
    assert g.kernel.dtype == torch.float32 and g.kernel.shape == (5, 5)
    assert g.kernel.double().pow(2).sum().item() == pytest.approx(1.0, abs=1e-6)
    want = _gaussian_kernel(1.0, 2) / _gaussian_kernel(1.0, 2).pow(2).sum().sqrt()
    assert_close(g.kernel, want, atol=1e-7)


def test_std_at_is_linear_between_points_and_constant_outside():
    levels, std = (0.2, 0.5, 0.9), (0.01, 0.04, 0.02)
    g = GaussianGrain(levels, std, torch.ones(1, 1))
    u = torch.tensor([0.0, 0.1, 0.2, 0.3, 0.35, 0.5, 0.6, 0.75, 0.9, 0.95, 1.0])
    want = np.interp(u.numpy(), levels, std)  # constant (the end values) outside [0.2, 0.9]
    out = g.std_at(u)
    assert out.dtype == torch.float32 and out.shape == u.shape
    assert_close(out, want, atol=1e-7)
    grid = torch.rand(2, 1, 5, 4, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    out = g.std_at(grid)
    assert out.dtype == torch.float64 and out.shape == grid.shape
    assert_close(out, np.interp(grid.numpy(), levels, std), atol=1e-15)
    one = GaussianGrain((0.4,), (0.03,), torch.ones(1, 1))
    assert torch.equal(one.std_at(grid), torch.full_like(grid, 0.03))


# --- kernel_from_autocovariance ---------------------------------------------------------------


def test_a_zero_phase_kernel_is_recovered_from_its_autocorrelation():
    # [1, 2, 3, 2, 1] = [1, 1, 1] * [1, 1, 1]: symmetric with a non-negative spectrum, so the
    # zero-phase square root of its power spectrum is the kernel itself (padded to 2R + 1 = 9).
    a = np.array([1.0, 2.0, 3.0, 2.0, 1.0])
    k = np.outer(a, a) / (np.outer(a, a) ** 2).sum() ** 0.5
    out = kernel_from_autocovariance(torch.from_numpy(_autocorrelation(k)))
    assert out.shape == (9, 9) and out.dtype == torch.float32
    assert_close(out, np.pad(k, 2), atol=1e-6)
    assert_close(
        kernel_from_autocovariance(torch.from_numpy(_autocorrelation(k)), size=5), k, atol=1e-6
    )


@pytest.mark.parametrize("a", [[0.5, 1.0, 3.0, 2.0, 1.0], [1.0, -0.5, 2.0, 0.3, 0.2]])
def test_kernel_reproduces_a_known_autocovariance(a):
    # A separable kernel that is not zero phase: the returned kernel is another one (zero phase)
    # with, up to the crop to 9x9, the same autocorrelation. Stated: within 2 % of the peak.
    a = np.asarray(a)
    k = np.outer(a, a)
    cov = 0.3 * _autocorrelation(k)  # any scale: the kernel comes back with unit energy
    out = kernel_from_autocovariance(torch.from_numpy(cov)).double().numpy()
    assert out.shape == (9, 9)
    assert np.sum(out**2) == pytest.approx(1.0, abs=1e-6)
    assert_close(out, out[::-1, ::-1].copy(), atol=1e-6)  # zero phase: point symmetric
    ac = _centre(_autocorrelation(out), 4)
    assert_close(ac, cov / cov[4, 4], atol=0.02)


def test_kernel_from_autocovariance_bad_input():
    for shape in ((4, 4), (3, 5), (9,)):
        _raises(
            f"cov must be square with an odd size, got {shape}",
            kernel_from_autocovariance,
            torch.ones(shape),
        )


# --- render_gaussian: statistics --------------------------------------------------------------

LEVELS = (0.15, 0.35, 0.5, 0.65, 0.85)


@pytest.fixture(scope="module")
def flat_render():
    """Five flat 512x512 fields through a Gaussian-kernel grain with a peaked std curve."""
    kernel = _gaussian_kernel(1.2, 3)
    grain = GaussianGrain((0.0, 0.5, 1.0), (0.01, 0.04, 0.01), kernel)
    x = torch.tensor(LEVELS).view(-1, 1, 1, 1).expand(-1, 1, 512, 512).contiguous()
    out = render_gaussian(x, grain, torch.Generator().manual_seed(0))
    return grain, x, out


def test_variance_per_intensity_follows_the_std_curve(flat_render):
    # 512x512 of grain correlated over ~4 pi 1.2^2 = 18 pixels: ~1.5e4 independent values, the
    # variance estimate scatters by ~1.2 % (2.3 % the worst of 5 here); stated 5 %. The levels are
    # >= 7 std from 0 and 1: no clipping.
    grain, x, out = flat_render
    var = (out - x).double().var(dim=(-2, -1))[:, 0]
    want = grain.std_at(torch.tensor(LEVELS, dtype=torch.float64)) ** 2
    assert_close(var / want, torch.ones(5), atol=0.05)


def test_mean_is_preserved_away_from_clipping(flat_render):
    _, x, out = flat_render
    assert out.dtype == torch.float32 and out.shape == x.shape
    err = (out.mean(dim=(1, 2, 3)) - torch.tensor(LEVELS)).abs()
    assert err.max() < 1 / 255, err


def test_spectrum_is_the_kernels_power_spectrum(flat_render):
    # Expected periodogram of s (k * n): s^2 |K(f)|^2, K the kernel's DFT on the 512x512 grid
    # (its mean over the grid is the unit energy). Each image's rings are divided by s^2 and the 5
    # images averaged; 16 rings, compared where |K|^2 > 1 % of its peak: the smallest of those
    # rings holds ~800 bins x 5 images, a sampling error of ~3 %; stated 10 %.
    grain, x, out = flat_render
    bins = 16
    s2 = grain.std_at(torch.tensor(LEVELS, dtype=torch.float64)) ** 2
    p = (radial_power_spectrum(out - x, bins=bins)[:, 0] / s2[:, None]).mean(0)
    k = grain.kernel.double().numpy()
    K2 = np.abs(np.fft.fft2(k, s=(512, 512))) ** 2
    f = np.fft.fftfreq(512)
    r = np.sqrt(f[:, None] ** 2 + f[None, :] ** 2)
    ring = np.floor(r / 0.5 * bins).astype(int)
    want = np.array([K2[(ring == i) & (r > 0)].mean() for i in range(bins)])
    used = want > 0.01 * want.max()
    assert used.sum() >= 4
    rel = np.abs(p.numpy()[used] / want[used] - 1)
    assert rel.max() < 0.10, rel


def test_same_seed_same_grain():
    grain = GaussianGrain((0.0, 1.0), (0.02, 0.05), _gaussian_kernel(0.8, 2))
    x = torch.rand(2, 3, 37, 31, generator=torch.Generator().manual_seed(1))
    a = render_gaussian(x, grain, torch.Generator().manual_seed(3))
    b = render_gaussian(x, grain, torch.Generator().manual_seed(3))
    c = render_gaussian(x, grain, torch.Generator().manual_seed(4))
    assert torch.equal(a, b) and not torch.equal(a, c)
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1


@pytest.mark.parametrize("zoom", [2, 3])
def test_zoom_enlarges_with_nearest_neighbour_first(zoom):
    # With a zero std curve the render is the enlarged image itself: each input pixel a
    # zoom x zoom block (np.repeat is the reference).
    x = torch.rand(1, 2, 9, 7, generator=torch.Generator().manual_seed(2))
    none = GaussianGrain((0.5,), (0.0,), torch.ones(3, 3))
    out = render_gaussian(x, none, torch.Generator().manual_seed(0), zoom=zoom)
    want = np.repeat(np.repeat(x.numpy(), zoom, axis=-2), zoom, axis=-1)
    assert out.shape == (1, 2, 9 * zoom, 7 * zoom)
    assert_close(out, want, atol=0)


@pytest.mark.parametrize(("zoom", "size"), [(2.5, (25, 18)), (1.3, (13, 9)), (0.5, (5, 4))])
def test_zoom_output_size_is_rounded(zoom, size):
    grain = GaussianGrain((0.5,), (0.02,), torch.ones(3, 3))
    out = render_gaussian(torch.full((2, 1, 10, 7), 0.5), grain, zoom=zoom)
    assert out.shape == (2, 1, round(10 * zoom), round(7 * zoom)) == (2, 1, *size)


def test_per_channel_parameters():
    # One 256x256 field, three channels with std 0.01, 0.03, 0.05 (white grain: 1x1 kernel);
    # each channel's std within 3 % (sampling error ~0.3 %).
    stds = (0.01, 0.03, 0.05)
    params = [GaussianGrain((0.5,), (s,), torch.ones(1, 1)) for s in stds]
    x = torch.full((1, 3, 256, 256), 0.5)
    out = render_gaussian(x, params, torch.Generator().manual_seed(5))
    std = (out - x).std(dim=(-2, -1))[0]
    assert_close(std / torch.tensor(stds), torch.ones(3), atol=0.03)
    # one GaussianGrain applies to every channel
    same = render_gaussian(x, params[1], torch.Generator().manual_seed(5))
    assert_close((same - x).std(dim=(-2, -1))[0] / 0.03, torch.ones(3), atol=0.03)


def test_render_bad_calls():
    grain = GaussianGrain((0.5,), (0.02,), torch.ones(1, 1))
    _raises(
        "give one GaussianGrain, or one per channel (3), got 2 values",
        render_gaussian,
        torch.zeros(1, 3, 8, 8),
        [grain, grain],
    )
    for zoom in (0, -1.0, math.nan, math.inf):
        _raises(
            f"zoom must be a finite number > 0, got {zoom!r}",
            render_gaussian,
            torch.zeros(1, 1, 8, 8),
            grain,
            zoom=zoom,
        )
    _raises(
        "image must have shape (B, C, H, W), got (8, 8)", render_gaussian, torch.zeros(8, 8), grain
    )


# --- from_boolean -----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def boolean_pair():
    g = BooleanGrain(radius=0.5, blur=0.8)
    return g, GaussianGrain.from_boolean(g, levels=(0.3, 0.5, 0.7))


def test_from_boolean_std_is_the_closed_form_variance(boolean_pair):
    g, gauss = boolean_pair
    # 0 and 1 are added with std 0: the model has no grain on black and on white
    assert gauss.levels == (0.0, 0.3, 0.5, 0.7, 1.0)
    assert gauss.std[0] == 0.0 and gauss.std[-1] == 0.0
    for u in (0.3, 0.5, 0.7):
        var = float(boolean_autocovariance(u, g, [(0, 0)])[0])
        assert gauss.std_at(torch.tensor([u], dtype=torch.float64)).item() == pytest.approx(
            math.sqrt(var), rel=1e-12
        )
    # between the levels: linear in the std
    mid = gauss.std_at(torch.tensor([0.4], dtype=torch.float64)).item()
    assert mid == pytest.approx((gauss.std[1] + gauss.std[2]) / 2, rel=1e-12)


def test_from_boolean_kernel_has_the_closed_form_autocovariance(boolean_pair):
    # R = ceil(3 blur) = 3: a 7x7 kernel whose autocorrelation matches the closed-form
    # autocovariance at the shape level 0.5, normalised, within 3 % of the peak (lags up to 3).
    g, gauss = boolean_pair
    k = gauss.kernel.double().numpy()
    assert k.shape == (7, 7)
    d = torch.arange(-3, 4, dtype=torch.float64)
    lags = torch.stack(torch.meshgrid(d, d, indexing="ij"), -1).reshape(-1, 2)
    cov = boolean_autocovariance(0.5, g, lags).view(7, 7).numpy()
    assert_close(_centre(_autocorrelation(k), 3), cov / cov[3, 3], atol=0.03)


def test_from_boolean_zoom():
    g = BooleanGrain(radius=0.5, blur=0.8)
    gauss = GaussianGrain.from_boolean(g, zoom=2.0, levels=(0.5,))
    var = float(boolean_autocovariance(0.5, g, [(0, 0)], zoom=2.0)[0])
    assert gauss.std == (0.0, pytest.approx(math.sqrt(var), rel=1e-12), 0.0)
    assert gauss.kernel.shape == (11, 11)  # R = ceil(3 x 0.8 x 2) = 5


def test_from_boolean_refuses_a_random_radius():
    _raises(
        "from_boolean needs a constant radius (radius_sigma 0)",
        GaussianGrain.from_boolean,
        BooleanGrain(radius=0.5, radius_sigma=0.1),
    )
