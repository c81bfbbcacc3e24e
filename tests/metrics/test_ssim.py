from __future__ import annotations

import re

import numpy as np
import pytest
import torch

from helpers import assert_close, read_uint8, shared_images
from restorekit.errors import RestorekitError
from restorekit.metrics import SSIM, gaussian_window, rgb_to_y, ssim

skm = pytest.importorskip("skimage.metrics")


def _tensor(a: np.ndarray) -> torch.Tensor:
    """HxW or HxWxC float64 array -> (1, C, H, W) float64 tensor."""
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))
    return t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None].contiguous()


def _skimage_ssim(clean: np.ndarray, noisy: np.ndarray) -> float:
    return skm.structural_similarity(
        clean,
        noisy,
        data_range=1.0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        channel_axis=2 if clean.ndim == 3 else None,
    )


@pytest.mark.parametrize("dataset", ["set12_pairs", "kodak24_pairs"])
def test_ssim_equals_skimage_on_every_image(dataset, request):
    pairs = request.getfixturevalue(dataset)
    worst, worst_name = 0.0, ""
    for name, clean, noisy in pairs:
        ours = ssim(_tensor(noisy), _tensor(clean)).item()
        diff = abs(ours - _skimage_ssim(clean, noisy))
        if diff >= worst:
            worst, worst_name = diff, name
    assert worst < 1e-4, f"{dataset}: max |ssim - skimage| = {worst:.3g} on {worst_name}"


def test_ssim_y_only_and_crop_equal_skimage_on_the_y_channel():
    skc = pytest.importorskip("skimage.color")
    rgb = read_uint8(shared_images("test/color/Kodak24")[0])[:96, :80]
    clean = rgb / 255.0
    noisy = np.clip(clean + np.random.RandomState(1).normal(0, 0.1, clean.shape), 0, 1)
    crop = 4
    y_clean = skc.rgb2ycbcr(clean)[..., 0][crop:-crop, crop:-crop] / 255.0
    y_noisy = skc.rgb2ycbcr(noisy)[..., 0][crop:-crop, crop:-crop] / 255.0
    ref = _skimage_ssim(y_clean, y_noisy)
    ours = ssim(_tensor(noisy), _tensor(clean), crop=crop, y_only=True)
    assert_close(ours, torch.tensor([ref], dtype=torch.float64), atol=1e-10)
    # Y of the tensor, then SSIM, is the same thing.
    assert_close(
        ours, ssim(rgb_to_y(_tensor(noisy)), rgb_to_y(_tensor(clean)), crop=crop), atol=1e-12
    )


def test_ssim_data_range_scales_with_the_images():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 24, 24, generator=g, dtype=torch.float64)
    y = (x + 0.05 * torch.randn(x.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    assert_close(ssim(255 * x, 255 * y, data_range=255), ssim(x, y), atol=1e-12)


def test_ssim_identical_is_one_and_symmetric_and_per_image():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(3, 1, 20, 23, generator=g, dtype=torch.float64)
    y = (x + 0.1 * torch.randn(x.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    assert_close(ssim(x, x), torch.ones(3), atol=1e-12)
    assert_close(ssim(x, y), ssim(y, x), atol=1e-12)
    each = torch.cat([ssim(x[i : i + 1], y[i : i + 1]) for i in range(3)])
    assert_close(ssim(x, y), each, atol=1e-12)


def test_ssim_flat_identical_images_give_one():
    for v in (0.0, 0.5, 1.0):
        x = torch.full((1, 3, 11, 11), v)
        assert ssim(x, x).item() == pytest.approx(1.0, abs=1e-12)


def test_ssim_returns_the_input_dtype():
    x = torch.rand(1, 1, 16, 16)
    out = ssim(x, x * 0.9)
    assert out.dtype == torch.float32 and out.shape == (1,)


# float64 SSIM of the first pairs of each set (sigma 25 noise, conftest.py), computed by
# restorekit.metrics.ssim at commit 3815f8b, before compute_dtype existed.
_SSIM_BEFORE_COMPUTE_DTYPE = {
    "01.png": 0.35190116366205204,
    "02.png": 0.2797120112878678,
    "03.png": 0.35512550688700406,
    "kodim01.png": 0.49354791289109917,
    "kodim02.png": 0.2466222839706161,
}


@pytest.mark.parametrize(("dataset", "limit"), [("set12_pairs", 3), ("kodak24_pairs", 2)])
def test_compute_dtype_float32_agrees_with_float64_on_real_images(dataset, limit, request):
    for name, clean, noisy in request.getfixturevalue(dataset)[:limit]:
        x, y = _tensor(noisy), _tensor(clean)
        ref = ssim(x, y)
        # float64 is the default and its values have not moved
        assert torch.equal(ssim(x, y, compute_dtype=torch.float64), ref)
        assert_close(ref, [_SSIM_BEFORE_COMPUTE_DTYPE[name]], atol=1e-12, msg=name)
        out = ssim(x, y, compute_dtype=torch.float32)
        assert out.dtype == torch.float64  # computed in float32, returned in x's dtype
        assert_close(out, ref, atol=1e-5, msg=name)
        assert_close(ssim(x.float(), y.float(), compute_dtype="float32"), ref, atol=1e-5, msg=name)


def test_compute_dtype_float32_with_y_only_crop_and_gradients():
    g = torch.Generator().manual_seed(0)
    y = torch.rand(2, 3, 40, 36, generator=g, dtype=torch.float64)
    x = (y + 0.05 * torch.randn(y.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    grads = {}
    for dtype in (torch.float64, torch.float32):
        a = x.clone().requires_grad_(True)
        value = ssim(a, y, crop=3, y_only=True, win_size=7, compute_dtype=dtype)
        value.sum().backward()
        grads[dtype] = (value.detach(), a.grad)
    (v64, g64), (v32, g32) = grads[torch.float64], grads[torch.float32]
    assert_close(v32, v64, atol=1e-5)
    assert_close(g32, g64, atol=1e-5 + 1e-4 * g64.abs().max().item())


def test_gaussian_window_is_the_scipy_kernel():
    ndimage = pytest.importorskip("scipy.ndimage")
    impulse = np.zeros(21)
    impulse[10] = 1.0
    # scipy's gaussian_filter1d with truncate=3.5 and sigma=1.5 has radius int(3.5 * 1.5 + 0.5) = 5.
    ref = ndimage.gaussian_filter1d(impulse, 1.5, truncate=3.5)[5:16]
    assert_close(gaussian_window(11, 1.5), ref, atol=1e-15)


def test_ssim_gradcheck():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 1, 13, 12, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.rand(1, 1, 13, 12, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a, b: ssim(a, b), (x, y))


def test_ssim_gradient_is_finite_on_flat_images():
    x = torch.full((1, 3, 16, 16), 0.5, requires_grad=True)
    ssim(x, torch.full((1, 3, 16, 16), 0.5)).sum().backward()
    assert torch.isfinite(x.grad).all()


def test_module_equals_function():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 32, 32, generator=g)
    y = torch.rand(2, 3, 32, 32, generator=g)
    m = SSIM(crop=2, y_only=True, win_size=7, sigma=1.0)
    assert torch.equal(m(x, y), ssim(x, y, crop=2, y_only=True, win_size=7, sigma=1.0))
    assert "win_size=7" in repr(m) and "compute_dtype=torch.float64" in repr(m)
    m = SSIM(compute_dtype="float32")
    assert torch.equal(m(x, y), ssim(x, y, compute_dtype=torch.float32))
    assert "compute_dtype=torch.float32" in repr(m)


def test_bad_compute_dtype():
    x = torch.rand(1, 1, 16, 16)
    message = (
        "compute_dtype must be torch.float32 or torch.float64 (or 'float32', 'float64'), "
        "got torch.float16"
    )
    with pytest.raises(RestorekitError, match=f"^{re.escape(message)}$"):
        ssim(x, x, compute_dtype=torch.float16)
    with pytest.raises(RestorekitError, match=f"^{re.escape(message)}$"):
        SSIM(compute_dtype=torch.float16)
    with pytest.raises(RestorekitError, match=re.escape("got 'half'")):
        ssim(x, x, compute_dtype="half")


@pytest.mark.parametrize(
    ("x", "y", "kwargs", "message"),
    [
        (
            torch.rand(1, 3, 16, 16),
            torch.rand(1, 3, 16, 17),
            {},
            "x and y must have the same shape",
        ),
        (
            torch.rand(1, 2, 16, 16),
            torch.rand(1, 2, 16, 16),
            {},
            "x must have 1 or 3 channels, got 2",
        ),
        (torch.rand(3, 16, 16), torch.rand(3, 16, 16), {}, "x must have shape (B, C, H, W)"),
        (torch.rand(1, 1, 10, 16), torch.rand(1, 1, 10, 16), {}, "at least 11x11 pixels"),
        (
            torch.rand(1, 1, 16, 16),
            torch.rand(1, 1, 16, 16),
            {"crop": 3},
            "got 10x10 (after crop=3)",
        ),
        (
            torch.rand(1, 1, 16, 16),
            torch.rand(1, 1, 16, 16),
            {"win_size": 8},
            "win_size must be an odd",
        ),
        (torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16), {"sigma": 0}, "sigma must be"),
        (
            torch.rand(1, 1, 16, 16),
            torch.rand(1, 1, 16, 16),
            {"data_range": 0},
            "data_range must be",
        ),
        (torch.rand(1, 1, 16, 16), torch.rand(1, 1, 16, 16), {"k2": 0.0}, "k2 must be"),
        (
            torch.rand(1, 1, 16, 16),
            torch.rand(1, 1, 16, 16),
            {"crop": 8},
            "removes the whole 16x16",
        ),
    ],
)
def test_bad_input(x, y, kwargs, message):
    with pytest.raises(RestorekitError, match=re.escape(message)):
        ssim(x, y, **kwargs)


def test_integer_images_are_refused():
    x = torch.zeros(1, 1, 16, 16, dtype=torch.uint8)
    with pytest.raises(RestorekitError, match="float tensor"):
        ssim(x, x)
