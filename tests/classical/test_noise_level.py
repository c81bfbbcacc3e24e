"""Noise-level estimation: accuracy on real images with known noise, and the wavelet rule against
scikit-image itself."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import DATA
from restorekit.classical.noise_level import estimate_noise_sigma
from restorekit.errors import RestorekitError
from restorekit.io import list_images, read_image


@pytest.fixture(scope="module")
def bsd_images() -> list[torch.Tensor]:
    paths = list_images(DATA / "test/gray/BSD68")[:8]
    return [read_image(p, mode="gray").double() for p in paths]


@pytest.mark.parametrize("sigma", [5, 25, 50])
def test_pca_estimate_is_within_a_few_percent_on_bsd68(bsd_images, sigma):
    rng = np.random.RandomState(0)
    errors = []
    for x in bsd_images:
        y = x + sigma / 255 * torch.from_numpy(rng.randn(*x.shape))
        errors.append(float(estimate_noise_sigma(y)[0]) * 255 - sigma)
    # measured on all 68 images: mean absolute error 0.24 / 0.43 / 0.72 at sigma 5 / 25 / 50
    assert np.mean(np.abs(errors)) < 0.1 * sigma + 0.5


def test_wavelet_rule_is_scikit_image(bsd_images):
    from skimage.restoration import estimate_sigma

    y = bsd_images[0] + 0.1 * torch.randn(bsd_images[0].shape, dtype=torch.float64)
    want = estimate_sigma(y[0, 0].numpy())
    assert float(estimate_noise_sigma(y, method="wavelet")[0]) == pytest.approx(want, rel=1e-9)


def test_color_and_batch():
    g = torch.Generator().manual_seed(0)
    x = torch.full((2, 3, 64, 64), 0.4, dtype=torch.float64)
    x[1] += 0.2 * torch.randn(3, 64, 64, generator=g, dtype=torch.float64)
    s = estimate_noise_sigma(x)
    assert s.shape == (2,) and s[0] < 1e-6 and abs(float(s[1]) - 0.2) < 0.02


def test_refusals():
    with pytest.raises(RestorekitError, match="unknown noise estimator 'mad'"):
        estimate_noise_sigma(torch.rand(1, 1, 32, 32), method="mad")
    with pytest.raises(RestorekitError, match="at least 7x7"):
        estimate_noise_sigma(torch.rand(1, 1, 5, 32))


@pytest.mark.parametrize("sigma", [5, 10, 15])
def test_raw_estimate_is_within_15_percent_on_kodak24_mosaics(sigma):
    from restorekit.classical.noise_level import estimate_raw_noise
    from restorekit.degrade import mosaic

    paths = list_images(DATA / "test/color/Kodak24")[::3]  # 8 of the 24 (all: benchmarks/)
    rng = np.random.RandomState(sigma)
    for p in paths:
        raw = mosaic(read_image(p).double(), "RGGB")
        raw = raw + sigma / 255 * torch.from_numpy(rng.randn(*raw.shape))
        estimate = float(estimate_raw_noise(raw)[0]) * 255
        assert abs(estimate / sigma - 1) < 0.15, (p.name, estimate)


def test_raw_estimate_refuses_a_tiny_or_rgb_raw():
    from restorekit.classical.noise_level import estimate_raw_noise

    with pytest.raises(RestorekitError):
        estimate_raw_noise(torch.rand(1, 1, 20, 20))
    with pytest.raises(RestorekitError):
        estimate_raw_noise(torch.rand(1, 3, 64, 64))
