from __future__ import annotations

import re

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from helpers import assert_close
from restorekit.errors import RestorekitError
from restorekit.metrics import (
    MS_SSIM_WEIGHTS,
    MSSSIM,
    gaussian_window,
    ms_ssim,
    ms_ssim_levels,
    rgb_to_y,
    ssim,
)

pytorch_msssim = pytest.importorskip("pytorch_msssim")


def _tensor(a: np.ndarray) -> torch.Tensor:
    """HxW or HxWxC float64 array -> (1, C, H, W) float64 tensor."""
    t = torch.from_numpy(np.ascontiguousarray(a, dtype=np.float64))
    return t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None].contiguous()


def _reference(x: torch.Tensor, y: torch.Tensor, **kwargs) -> torch.Tensor:
    return pytorch_msssim.ms_ssim(x, y, data_range=1.0, size_average=False, **kwargs)


@pytest.mark.parametrize(("dataset", "limit"), [("set12_pairs", None), ("kodak24_pairs", 8)])
def test_ms_ssim_equals_pytorch_msssim_on_real_images(dataset, limit, request):
    # All of Set12 (256 and 512 px) and the first 8 Kodak images (512x768, both orientations);
    # the rest of Kodak would only add run time.
    pairs = request.getfixturevalue(dataset)[:limit]
    worst, worst_name = 0.0, ""
    for name, clean, noisy in pairs:
        x, y = _tensor(noisy), _tensor(clean)
        diff = (ms_ssim(x, y) - _reference(x, y)).abs().item()
        if diff >= worst:
            worst, worst_name = diff, name
    # pytorch-msssim builds its window in float32, which alone moves the value by about 1e-5.
    assert worst < 1e-4, f"{dataset}: max |ms_ssim - pytorch_msssim| = {worst:.3g} on {worst_name}"


def test_ms_ssim_is_exactly_pytorch_msssim_with_a_float64_window(set12_pairs):
    name, clean, noisy = set12_pairs[0]
    x, y = _tensor(noisy), _tensor(clean)
    win = gaussian_window(11, 1.5).view(1, 1, 1, 11)
    assert_close(ms_ssim(x, y), _reference(x, y, win=win), atol=1e-12, msg=name)


# float64 MS-SSIM ("valid", "same") of the first pairs of each set (sigma 25 noise, conftest.py),
# computed by restorekit.metrics.ms_ssim at commit 3815f8b, before compute_dtype existed.
_MS_SSIM_BEFORE_COMPUTE_DTYPE = {
    "01.png": (0.7973294269296001, 0.7789831671297666),
    "02.png": (0.7715686561734886, 0.7483839737470237),
    "03.png": (0.853962447165716, 0.8602187219821648),
    "kodim01.png": (0.8685570572934495, 0.8650188735417575),
    "kodim02.png": (0.715263651922251, 0.7099450269398355),
}


@pytest.mark.parametrize(("dataset", "limit"), [("set12_pairs", 3), ("kodak24_pairs", 2)])
def test_compute_dtype_float32_agrees_with_float64_on_real_images(dataset, limit, request):
    for name, clean, noisy in request.getfixturevalue(dataset)[:limit]:
        x, y = _tensor(noisy), _tensor(clean)
        for mode, before in zip(
            ("valid", "same"), _MS_SSIM_BEFORE_COMPUTE_DTYPE[name], strict=True
        ):
            ref = ms_ssim(x, y, mode=mode)
            # float64 is the default and its values have not moved
            assert torch.equal(ms_ssim(x, y, mode=mode, compute_dtype=torch.float64), ref)
            assert_close(ref, [before], atol=1e-12, msg=f"{name} {mode}")
            out = ms_ssim(x, y, mode=mode, compute_dtype=torch.float32)
            assert out.dtype == torch.float64  # computed in float32, returned in x's dtype
            assert_close(out, ref, atol=1e-5, msg=f"{name} {mode}")


def test_odd_sizes_pool_like_pytorch_msssim():
    # 177x181: every scale has an odd side, which pytorch-msssim pools with zero padding.
    g = torch.Generator().manual_seed(0)
    y = torch.rand(2, 3, 177, 181, generator=g, dtype=torch.float64)
    y = F.avg_pool2d(y, 5, stride=1, padding=2)  # smooth, so every scale keeps structure
    x = (y + 0.05 * torch.randn(y.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    win = gaussian_window(11, 1.5).view(1, 1, 1, 11).repeat(3, 1, 1, 1)
    assert_close(ms_ssim(x, y), _reference(x, y, win=win), atol=1e-12)


def test_same_mode_single_scale_equals_the_mean_of_skimage_full_map():
    skm = pytest.importorskip("skimage.metrics")
    rs = np.random.RandomState(3)
    a = rs.rand(40, 37)
    b = np.clip(a + 0.1 * rs.standard_normal(a.shape), 0, 1)
    # skimage filters with scipy's 'reflect' (half-sample symmetric) border before cropping: its
    # uncropped map is SSIM with symmetric padding, which 'same' mode uses.
    _, smap = skm.structural_similarity(
        a,
        b,
        data_range=1.0,
        gaussian_weights=True,
        sigma=1.5,
        use_sample_covariance=False,
        full=True,
    )
    ours = ms_ssim(_tensor(b), _tensor(a), weights=(1.0,), mode="same")
    assert_close(ours, torch.tensor([smap.mean()], dtype=torch.float64), atol=1e-12)


@pytest.mark.parametrize(
    ("size", "expected"),
    [
        ((512, 768), (5, 11)),
        ((161, 300), (5, 11)),  # pytorch-msssim's limit: smaller side > 160
        ((160, 160), (4, 11)),
        ((48, 64), (3, 11)),
        ((32, 32), (2, 11)),
        ((21, 40), (2, 11)),
        ((20, 40), (1, 11)),
        ((16, 16), (1, 11)),
        ((10, 12), (1, 9)),
        ((8, 9), (1, 7)),
        ((1, 5), (1, 1)),
    ],
)
def test_levels(size, expected):
    assert ms_ssim_levels(*size) == expected


def test_small_image_uses_fewer_scales_with_renormalised_weights():
    g = torch.Generator().manual_seed(0)
    y = torch.rand(2, 3, 32, 32, generator=g, dtype=torch.float64)
    x = (y + 0.05 * torch.randn(y.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    w0, w1 = MS_SSIM_WEIGHTS[:2]
    assert_close(ms_ssim(x, y), ms_ssim(x, y, weights=(w0 / (w0 + w1), w1 / (w0 + w1))), atol=1e-14)
    # With weights (0, 1) only the coarse scale's SSIM is left: SSIM of the 2x2-pooled images.
    coarse = ssim(F.avg_pool2d(x, 2), F.avg_pool2d(y, 2))
    assert_close(ms_ssim(x, y, weights=(0.0, 1.0)), coarse, atol=1e-14)


def test_one_scale_is_ssim():
    g = torch.Generator().manual_seed(1)
    y = torch.rand(3, 1, 16, 16, generator=g, dtype=torch.float64)
    x = (y + 0.05 * torch.randn(y.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    assert_close(ms_ssim(x, y), ssim(x, y).clamp_min(0), atol=1e-14)


def test_image_smaller_than_the_window_shrinks_it():
    g = torch.Generator().manual_seed(2)
    y = torch.rand(1, 1, 8, 9, generator=g, dtype=torch.float64)
    x = (y + 0.05 * torch.randn(y.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    assert_close(ms_ssim(x, y), ssim(x, y, win_size=7).clamp_min(0), atol=1e-14)


@pytest.mark.parametrize("mode", ["valid", "same"])
@pytest.mark.parametrize("size", [(1, 1), (5, 5), (8, 9), (16, 16), (32, 32), (64, 48), (200, 200)])
def test_identical_flat_images_give_exactly_one(mode, size):
    for v in (0.0, 0.37, 1.0):
        x = torch.full((2, 3, *size), v)
        out = ms_ssim(x, x.clone(), mode=mode)
        assert torch.isfinite(out).all()
        assert_close(out, torch.ones(2), atol=1e-6)


@pytest.mark.parametrize("mode", ["valid", "same"])
@pytest.mark.parametrize("size", [(1, 1), (4, 4), (16, 16), (32, 32), (40, 33)])
@pytest.mark.parametrize("case", ["flat_identical", "flat_different", "random", "anticorrelated"])
def test_gradients_are_finite(mode, size, case):
    g = torch.Generator().manual_seed(0)
    shape = (2, 3, *size)
    if case == "flat_identical":
        x, y = torch.full(shape, 0.5), torch.full(shape, 0.5)
    elif case == "flat_different":
        x, y = torch.zeros(shape), torch.ones(shape)
    elif case == "random":
        x, y = torch.rand(shape, generator=g), torch.rand(shape, generator=g)
    else:  # negative contrast-structure terms: clamped to 0 as pytorch-msssim does
        y = torch.rand(shape, generator=g)
        x = 1.0 - y
    x.requires_grad_(True)
    y.requires_grad_(True)
    out = ms_ssim(x, y, mode=mode)
    out.sum().backward()
    assert torch.isfinite(out).all() and (out >= 0).all() and (out <= 1 + 1e-6).all()
    assert torch.isfinite(x.grad).all() and torch.isfinite(y.grad).all()


def test_gradcheck_two_scales():
    g = torch.Generator().manual_seed(0)
    y = torch.rand(1, 1, 24, 24, generator=g, dtype=torch.float64)
    y = F.avg_pool2d(y, 3, stride=1, padding=1)
    x = (y + 0.02 * torch.randn(y.shape, generator=g, dtype=torch.float64)).requires_grad_(True)
    assert ms_ssim_levels(24, 24) == (2, 11)
    assert torch.autograd.gradcheck(lambda a: ms_ssim(a, y), (x,))
    assert torch.autograd.gradcheck(lambda a: ms_ssim(a, y, mode="same"), (x,))


def test_small_terms_are_continued_linearly():
    # Two scales, weights (0.5, 0.5) on 22x22; make cs tiny by comparing an image with a shuffled
    # copy: the factor must be finite with a finite gradient, and never negative.
    g = torch.Generator().manual_seed(5)
    y = torch.rand(1, 1, 22, 22, generator=g, dtype=torch.float64)
    x = y.flatten()[torch.randperm(484, generator=g)].view(1, 1, 22, 22).requires_grad_(True)
    out = ms_ssim(x, y, weights=(0.5, 0.5))
    out.backward()
    assert 0 <= out.item() <= 1 and torch.isfinite(x.grad).all()


def test_y_only_and_crop():
    g = torch.Generator().manual_seed(0)
    y = torch.rand(1, 3, 60, 60, generator=g, dtype=torch.float64)
    x = (y + 0.05 * torch.randn(y.shape, generator=g, dtype=torch.float64)).clamp(0, 1)
    a, b = rgb_to_y(x)[..., 3:-3, 3:-3], rgb_to_y(y)[..., 3:-3, 3:-3]
    assert_close(ms_ssim(x, y, y_only=True, crop=3), ms_ssim(a, b), atol=1e-14)


def test_returns_the_input_dtype():
    x = torch.rand(2, 1, 40, 40)
    out = ms_ssim(x, x)
    assert out.dtype == torch.float32 and out.shape == (2,)


def test_module_equals_function():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 50, 50, generator=g)
    y = torch.rand(2, 3, 50, 50, generator=g)
    m = MSSSIM(crop=1, mode="same", weights=(0.2, 0.3, 0.5))
    assert torch.equal(m(x, y), ms_ssim(x, y, crop=1, mode="same", weights=(0.2, 0.3, 0.5)))
    assert "mode='same'" in repr(m)
    m = MSSSIM(compute_dtype="float32", mode="same")
    assert torch.equal(m(x, y), ms_ssim(x, y, compute_dtype=torch.float32, mode="same"))
    assert "compute_dtype=torch.float32" in repr(m)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "vaild"}, "unknown ms_ssim mode 'vaild'; known: valid, same"),
        ({"weights": ()}, "weights must be a non-empty sequence"),
        ({"weights": (0.5, -0.1)}, "weights must be a non-empty sequence"),
        ({"weights": ("a",)}, "weights must be a sequence of numbers"),
        ({"weights": (0.0, 1.0), "crop": 4}, "sum to 0"),
        ({"win_size": 0}, "win_size must be an odd int >= 1"),
        ({"k1": -1}, "k1 must be"),
        ({"compute_dtype": torch.float16}, "compute_dtype must be torch.float32 or torch.float64"),
    ],
)
def test_bad_arguments(kwargs, message):
    x = torch.rand(1, 1, 24, 24)
    with pytest.raises(RestorekitError, match=re.escape(message)):
        ms_ssim(x, x, **kwargs)


def test_shape_mismatch():
    with pytest.raises(RestorekitError, match=re.escape("got (1, 3, 32, 32) and (1, 1, 32, 32)")):
        ms_ssim(torch.rand(1, 3, 32, 32), torch.rand(1, 1, 32, 32))
