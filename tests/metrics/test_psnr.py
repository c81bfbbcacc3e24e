from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from helpers import assert_close
from restorekit.errors import RestorekitError
from restorekit.metrics import CPSNR, MSE, PSNR, cpsnr, mse, psnr, rgb_to_y

skm = pytest.importorskip("skimage.metrics")


def _tensor(a: np.ndarray) -> torch.Tensor:
    """HxW or HxWxC float64 array -> (1, C, H, W) float64 tensor."""
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))
    return t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None].contiguous()


@pytest.mark.parametrize("dataset", ["set12_pairs", "kodak24_pairs"])
def test_psnr_equals_skimage_on_every_image(dataset, request):
    worst, worst_name = 0.0, ""
    for name, clean, noisy in request.getfixturevalue(dataset):
        ours = psnr(_tensor(noisy), _tensor(clean)).item()
        ref = skm.peak_signal_noise_ratio(clean, noisy, data_range=1.0)
        if abs(ours - ref) >= worst:
            worst, worst_name = abs(ours - ref), name
    assert worst < 1e-3, f"{dataset}: max |psnr - skimage| = {worst:.3g} dB on {worst_name}"


def test_psnr_by_hand():
    x = torch.full((1, 1, 4, 4), 0.5)
    y = x.clone()
    y[0, 0, 0, 0] = 0.9  # one error of 0.4 over 16 pixels: MSE = 0.16 / 16 = 0.01 -> 20 dB
    assert_close(mse(y, x), torch.tensor([0.01], dtype=torch.float64), atol=1e-7)
    assert_close(psnr(y, x), torch.tensor([20.0], dtype=torch.float64), atol=1e-4)


def test_psnr_of_identical_images_is_inf():
    x = torch.rand(2, 3, 8, 8)
    out = psnr(x, x)
    assert torch.isinf(out).all() and (out > 0).all()


def test_psnr_data_range():
    g = torch.Generator().manual_seed(0)
    x, y = (
        torch.rand(2, 3, 8, 8, generator=g, dtype=torch.float64),
        torch.rand(2, 3, 8, 8, generator=g, dtype=torch.float64),
    )
    assert_close(psnr(255 * x, 255 * y, data_range=255), psnr(x, y), atol=1e-10)


def test_psnr_y_only_uses_bt601_y_with_peak_1():
    # Black against white: Y goes from 16/255 to 235/255, a difference of 219/255 everywhere.
    black, white = (
        torch.zeros(1, 3, 6, 6, dtype=torch.float64),
        torch.ones(1, 3, 6, 6, dtype=torch.float64),
    )
    expected = 20 * math.log10(255 / 219)
    assert_close(
        psnr(black, white, y_only=True), torch.tensor([expected], dtype=torch.float64), atol=1e-10
    )
    # RGB PSNR of the same pair is 0 dB (MSE 1).
    assert_close(psnr(black, white), torch.tensor([0.0], dtype=torch.float64), atol=1e-12)


def test_psnr_y_only_equals_psnr_of_rgb_to_y_and_gray_is_used_as_is():
    g = torch.Generator().manual_seed(1)
    x, y = torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 16, 16, generator=g)
    assert_close(psnr(x, y, y_only=True, crop=2), psnr(rgb_to_y(x), rgb_to_y(y), crop=2), atol=1e-5)
    gx, gy = x[:, :1], y[:, :1]
    assert torch.equal(psnr(gx, gy, y_only=True), psnr(gx, gy))


def test_crop_ignores_the_border():
    x = torch.full((1, 3, 20, 20), 0.5)
    y = x.clone()
    y[..., :2, :] = 0.0
    y[..., 10, 10] = 0.6
    # With crop=2 only the error at (10, 10) is left: MSE = 3 * 0.01 / (3 * 16 * 16).
    expected = 10 * math.log10(1 / (0.01 / 256))
    assert_close(psnr(y, x, crop=2), torch.tensor([expected], dtype=torch.float64), atol=1e-3)


def test_cpsnr_is_psnr_with_a_10_pixel_border():
    g = torch.Generator().manual_seed(2)
    x, y = torch.rand(2, 3, 40, 30, generator=g), torch.rand(2, 3, 40, 30, generator=g)
    assert torch.equal(cpsnr(x, y), psnr(x, y, crop=10))
    z = y.clone()
    z[..., :10, :] = 1 - z[..., :10, :]  # errors only in the border
    assert torch.isinf(cpsnr(z, y)).all()
    assert_close(cpsnr(255 * x, 255 * y, data_range=255, crop=3), psnr(x, y, crop=3), atol=1e-4)


def test_cpsnr_needs_rgb():
    with pytest.raises(RestorekitError, match="x must have 3 channels, got 1"):
        cpsnr(torch.rand(1, 1, 32, 32), torch.rand(1, 1, 32, 32))


def test_per_image_and_dtype():
    g = torch.Generator().manual_seed(3)
    x, y = torch.rand(3, 1, 8, 8, generator=g), torch.rand(3, 1, 8, 8, generator=g)
    out = psnr(x, y)
    assert out.shape == (3,) and out.dtype == torch.float32
    assert_close(out, torch.cat([psnr(x[i : i + 1], y[i : i + 1]) for i in range(3)]), atol=1e-5)
    assert psnr(x.double(), y.double()).dtype == torch.float64


def test_modules_equal_functions():
    g = torch.Generator().manual_seed(4)
    x, y = torch.rand(2, 3, 32, 32, generator=g), torch.rand(2, 3, 32, 32, generator=g)
    assert torch.equal(PSNR(data_range=2.0, crop=1, y_only=True)(x, y), psnr(x, y, 2.0, 1, True))
    assert torch.equal(MSE(crop=1, y_only=True)(x, y), mse(x, y, crop=1, y_only=True))
    assert torch.equal(CPSNR(crop=5)(x, y), cpsnr(x, y, crop=5))
    assert "y_only=True" in repr(PSNR(y_only=True))


def test_psnr_is_differentiable():
    x = torch.rand(1, 3, 8, 8, dtype=torch.float64, requires_grad=True)
    y = torch.rand(1, 3, 8, 8, dtype=torch.float64)
    assert torch.autograd.gradcheck(lambda a: psnr(a, y, y_only=True), (x,))


@pytest.mark.parametrize(
    ("x", "y", "kwargs", "message"),
    [
        (
            torch.rand(1, 3, 8, 8),
            torch.rand(1, 3, 8, 9),
            {},
            "x and y must have the same shape, got (1, 3, 8, 8) and (1, 3, 8, 9)",
        ),
        (torch.rand(1, 2, 8, 8), torch.rand(1, 2, 8, 8), {}, "x must have 1 or 3 channels, got 2"),
        (
            np.zeros((1, 3, 8, 8)),
            torch.rand(1, 3, 8, 8),
            {},
            "x must be a torch.Tensor, got ndarray",
        ),
        (
            torch.rand(1, 3, 8, 8),
            torch.zeros(1, 3, 8, 8, dtype=torch.int64),
            {},
            "y must be a float tensor",
        ),
        (
            torch.rand(1, 3, 8, 8),
            torch.rand(1, 3, 8, 8),
            {"data_range": 0},
            "data_range must be a finite number > 0",
        ),
        (
            torch.rand(1, 3, 8, 8),
            torch.rand(1, 3, 8, 8),
            {"crop": -1},
            "crop must be an int >= 0, got -1",
        ),
        (torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 8), {"crop": 1.5}, "crop must be an int >= 0"),
        (
            torch.rand(1, 3, 8, 8),
            torch.rand(1, 3, 8, 8),
            {"crop": 4},
            "crop=4 removes the whole 8x8 image",
        ),
    ],
)
def test_bad_input(x, y, kwargs, message):
    with pytest.raises(RestorekitError, match=re.escape(message)):
        psnr(x, y, **kwargs)
