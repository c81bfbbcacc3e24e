from __future__ import annotations

import math
import re

import pytest
import torch

from helpers import assert_close
from restorekit.errors import RestorekitError
from restorekit.metrics import (
    HighFrequencyEnergyRatio,
    high_frequency_energy_ratio,
    radial_frequency,
)


@pytest.mark.parametrize("cutoff", [0.1, 0.25, 0.4, 0.5])
def test_white_noise_matches_the_area_outside_the_disc(cutoff):
    # White noise has a flat expected spectrum over the frequency square [-0.5, 0.5)^2 (area 1):
    # the fraction above radius f_c is the area outside the disc, 1 - pi f_c^2 (f_c <= 0.5).
    # Four 256x256 images: ~2.6e5 bins, so the sampling error is about 0.2 %.
    g = torch.Generator().manual_seed(0)
    noise = torch.randn(4, 1, 256, 256, generator=g, dtype=torch.float64)
    out = high_frequency_energy_ratio(noise, cutoff=cutoff)
    assert_close(out, torch.full((4,), 1 - math.pi * cutoff**2), atol=0.01)


def test_checkerboard_is_all_high_frequency():
    i = torch.arange(16.0)
    checker = ((i[:, None] + i[None, :]) % 2).expand(2, 3, 16, 16)
    assert_close(high_frequency_energy_ratio(checker), torch.ones(2), atol=1e-6)
    # Its energy sits at the corner, radius sqrt(2)/2: every cutoff below that keeps it all.
    assert_close(high_frequency_energy_ratio(checker, cutoff=0.7), torch.ones(2), atol=1e-6)
    assert torch.equal(high_frequency_energy_ratio(checker, cutoff=0.71), torch.zeros(2))


def test_smooth_images_have_almost_no_high_frequency_energy():
    n = torch.arange(64, dtype=torch.float64)
    # A sinusoid of 2 cycles per 64 pixels sits exactly on a bin at 1/32 cycles per pixel.
    wave = 0.5 + 0.4 * torch.sin(2 * math.pi * 2 * n / 64)
    wave2d = (wave[:, None] * wave[None, :])[None, None]
    assert high_frequency_energy_ratio(wave2d).item() < 1e-20
    blob = torch.exp(-((n[:, None] - 32) ** 2 + (n[None, :] - 30) ** 2) / (2 * 6.0**2))[None, None]
    assert high_frequency_energy_ratio(blob).item() < 1e-6


def test_residual_of_noisy_minus_clean_is_white():
    g = torch.Generator().manual_seed(1)
    n = torch.arange(128, dtype=torch.float64)
    clean = (0.5 + 0.3 * torch.cos(2 * math.pi * n / 128))[None, :].expand(128, 128)[None, None]
    noisy = clean + 0.1 * torch.randn(clean.shape, generator=g, dtype=torch.float64)
    assert high_frequency_energy_ratio(noisy - clean).item() == pytest.approx(
        1 - math.pi / 16, abs=0.02
    )
    assert high_frequency_energy_ratio(clean).item() < 1e-20


def test_constant_image_gives_zero_and_cutoff_zero_gives_one():
    assert high_frequency_energy_ratio(torch.full((1, 1, 8, 8), 0.3)).item() == 0.0
    x = torch.rand(1, 1, 8, 8, dtype=torch.float64)
    assert_close(high_frequency_energy_ratio(x, cutoff=0.0), torch.ones(1), atol=1e-12)


def test_channels_are_pooled_and_any_channel_count_works():
    g = torch.Generator().manual_seed(2)
    i = torch.arange(8.0, dtype=torch.float64)
    checker = ((i[:, None] + i[None, :]) % 2)[None, None]
    flat_noise = torch.zeros(1, 1, 8, 8, dtype=torch.float64)
    both = torch.cat([checker, flat_noise], dim=1)  # 2 channels: all energy is the checkerboard's
    assert_close(high_frequency_energy_ratio(both), torch.ones(1), atol=1e-12)
    x = torch.rand(1, 2, 8, 8, generator=g, dtype=torch.float64)
    manual = (
        torch.view_as_real(torch.fft.fft2(x - x.mean(dim=(-2, -1), keepdim=True)))
        .pow(2)
        .sum(dim=(1, -1))
    )
    high = radial_frequency(8, 8) > 0.25
    assert_close(
        high_frequency_energy_ratio(x), ((manual * high).sum() / manual.sum()).view(1), atol=1e-12
    )


def test_radial_frequency_and_crop():
    r = radial_frequency(4, 6)
    assert r.shape == (4, 6)
    assert r[0, 0] == 0.0 and r[2, 3] == pytest.approx(math.sqrt(0.5))  # the Nyquist corner
    g = torch.Generator().manual_seed(3)
    x = torch.rand(1, 3, 20, 20, generator=g)
    assert_close(
        high_frequency_energy_ratio(x, crop=3),
        high_frequency_energy_ratio(x[..., 3:-3, 3:-3]),
        atol=1e-6,
    )


def test_differentiable_with_finite_gradient():
    x = torch.rand(1, 1, 6, 5, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: high_frequency_energy_ratio(a), (x,))
    flat = torch.full((1, 1, 6, 5), 0.2, dtype=torch.float64, requires_grad=True)
    high_frequency_energy_ratio(flat).sum().backward()
    assert torch.isfinite(flat.grad).all()


def test_module_equals_function_and_dtype():
    x = torch.rand(2, 1, 16, 16)
    m = HighFrequencyEnergyRatio(cutoff=0.3, crop=2)
    out = m(x)
    assert torch.equal(out, high_frequency_energy_ratio(x, cutoff=0.3, crop=2))
    assert out.dtype == torch.float32 and out.shape == (2,)
    assert "cutoff=0.3" in repr(m)


@pytest.mark.parametrize(
    ("x", "kwargs", "message"),
    [
        (torch.rand(1, 1, 8, 8), {"cutoff": -0.1}, "cutoff must be a finite number >= 0"),
        (torch.rand(1, 1, 8, 8), {"cutoff": float("nan")}, "cutoff must be a finite number >= 0"),
        (torch.rand(1, 1, 8, 8), {"crop": 4}, "crop=4 removes the whole 8x8 image"),
        (torch.rand(8, 8), {}, "x must have shape (B, C, H, W), got (8, 8)"),
    ],
)
def test_bad_input(x, kwargs, message):
    with pytest.raises(RestorekitError, match=re.escape(message)):
        high_frequency_energy_ratio(x, **kwargs)
