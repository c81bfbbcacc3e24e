from __future__ import annotations

import re

import pytest
import torch
import torch.nn.functional as F

from helpers import assert_close
from restorekit.errors import RestorekitError
from restorekit.losses import (
    MixedMSSSIML1Loss,
    MSSSIMLoss,
    SSIMLoss,
    l1_loss,
    mixed_ms_ssim_l1_loss,
    ms_ssim_loss,
    ssim_loss,
)
from restorekit.metrics import gaussian_window, ms_ssim, ssim

DTYPES = [torch.float64, torch.float32]


def _noisy_pair(shape, seed=0, dtype=torch.float64, noise=0.05):
    g = torch.Generator().manual_seed(seed)
    y = torch.rand(shape, generator=g, dtype=dtype)
    y = F.avg_pool2d(y, 3, stride=1, padding=1, count_include_pad=False)  # some structure
    x = (y + noise * torch.randn(shape, generator=g, dtype=dtype)).clamp(0, 1)
    return x, y


def _cases(shape):
    """Pairs where other MS-SSIM implementations give NaN values or gradients."""
    x, y = _noisy_pair(shape, dtype=torch.float32)
    return {
        "flat_identical": (torch.full(shape, 0.5), torch.full(shape, 0.5)),
        "flat_different": (torch.zeros(shape), torch.ones(shape)),
        "identical": (y.clone(), y),
        "noisy": (x, y),
        "anticorrelated": (1.0 - y, y),  # negative contrast-structure terms
    }


# --- values: the loss is 1 - the metric -------------------------------------------------------


def test_ssim_loss_is_one_minus_the_metric():
    x, y = _noisy_pair((3, 3, 24, 20))
    assert torch.equal(ssim_loss(x, y, reduction="none"), 1 - ssim(x, y))
    assert torch.equal(ssim_loss(x, y), (1 - ssim(x, y)).mean())
    kwargs = {"win_size": 7, "sigma": 1.0, "k1": 0.02, "k2": 0.05, "data_range": 2.0}
    assert torch.equal(ssim_loss(x, y, reduction="none", **kwargs), 1 - ssim(x, y, **kwargs))


@pytest.mark.parametrize("mode", ["valid", "same"])
def test_ms_ssim_loss_is_one_minus_the_metric(mode):
    x, y = _noisy_pair((3, 1, 64, 48))
    assert torch.equal(
        ms_ssim_loss(x, y, mode=mode, reduction="none"), 1 - ms_ssim(x, y, mode=mode)
    )
    kwargs = {"weights": (0.2, 0.3, 0.5), "win_size": 7, "sigma": 1.2, "mode": mode}
    assert torch.equal(ms_ssim_loss(x, y, reduction="none", **kwargs), 1 - ms_ssim(x, y, **kwargs))


def test_identical_images_give_zero():
    x, _ = _noisy_pair((2, 3, 32, 32), dtype=torch.float32)
    for fn in (ssim_loss, ms_ssim_loss):
        for dtype in DTYPES:
            out = fn(x, x.clone(), compute_dtype=dtype, reduction="none")
            assert out.dtype == torch.float32
            assert_close(out, torch.zeros(2), atol=1e-6)


# --- float32 path -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "mode", "kwargs"),
    [
        ((2, 3, 64, 64), "valid", {}),
        ((2, 3, 37, 31), "same", {}),  # odd sides at every scale
        ((1, 1, 8, 9), "valid", {}),  # smaller than the window: one scale, window 7
        ((1, 3, 1, 1), "same", {}),
        ((2, 1, 50, 50), "same", {"weights": (0.2, 0.3, 0.5), "sigma": 1.2, "data_range": 2.0}),
    ],
)
def test_the_float32_loss_is_one_minus_the_float32_metric(shape, mode, kwargs):
    x, y = _noisy_pair(shape)
    opts = {"mode": mode} | kwargs
    got = ms_ssim_loss(x, y, compute_dtype="float32", reduction="none", **opts)
    assert torch.equal(got, 1 - ms_ssim(x, y, compute_dtype=torch.float32, **opts))
    assert_close(got, 1 - ms_ssim(x, y, **opts), atol=1e-5)


def test_the_float32_ssim_loss_is_one_minus_the_float32_metric():
    x, y = _noisy_pair((2, 3, 23, 30))
    opts = {"win_size": 7, "sigma": 1.5}
    got = ssim_loss(x, y, compute_dtype="float32", reduction="none", **opts)
    assert torch.equal(got, 1 - ssim(x, y, compute_dtype=torch.float32, **opts))
    assert_close(got, 1 - ssim(x, y, **opts), atol=1e-5)


@pytest.mark.parametrize("mode", ["valid", "same"])
@pytest.mark.parametrize("size", [(1, 1), (8, 8), (16, 16), (48, 48), (64, 64), (96, 96)])
def test_float32_agrees_with_float64(mode, size):
    for name, (x, y) in _cases((2, 3, *size)).items():
        results = {}
        for dtype in DTYPES:
            a = x.clone().requires_grad_(True)
            value = ms_ssim_loss(a, y, mode=mode, compute_dtype=dtype, reduction="none")
            value.sum().backward()
            results[dtype] = (value.detach(), a.grad)
        (v64, g64), (v32, g32) = results[torch.float64], results[torch.float32]
        assert_close(v32, v64, atol=1e-5, msg=f"{name} {size} value")
        # gradients: to 1e-5 plus 1e-4 of the largest one (1x1 patches have gradients near 1)
        atol = 1e-5 + 1e-4 * g64.abs().max().item()
        assert_close(g32, g64, atol=atol, msg=f"{name} {size} gradient")
    if min(size) >= 11:
        x, y = _cases((2, 3, *size))["noisy"]
        v32 = ssim_loss(x, y, compute_dtype="float32", reduction="none")
        assert_close(v32, ssim_loss(x, y, reduction="none"), atol=1e-5)


# --- NaN-free on flat, tiny and identical patches ---------------------------------------------


@pytest.mark.parametrize("compute_dtype", DTYPES)
@pytest.mark.parametrize("mode", ["valid", "same"])
@pytest.mark.parametrize("size", [(1, 1), (4, 4), (8, 8), (16, 16), (48, 48), (96, 96)])
def test_ms_ssim_loss_values_and_gradients_are_finite(size, mode, compute_dtype):
    for name, (x, y) in _cases((2, 3, *size)).items():
        a, b = x.clone().requires_grad_(True), y.clone().requires_grad_(True)
        for fn in (ms_ssim_loss, lambda p, q, **k: mixed_ms_ssim_l1_loss(p, q, 0.84, **k)):
            value = fn(a, b, mode=mode, compute_dtype=compute_dtype, reduction="none")
            value.sum().backward()
            assert torch.isfinite(value).all(), f"{name}: value {value}"
            assert (value >= 0).all() and (value <= 1 + 1e-6).all(), f"{name}: value {value}"
            assert torch.isfinite(a.grad).all() and torch.isfinite(b.grad).all(), name
        if name.endswith("identical"):
            assert_close(ms_ssim_loss(x, y, mode=mode, compute_dtype=compute_dtype), 0.0, 1e-6)


def test_identical_flat_patches_give_exactly_zero_with_zero_gradient():
    x = torch.full((2, 3, 16, 16), 0.25, dtype=torch.float64, requires_grad=True)
    loss = ms_ssim_loss(x, x.detach().clone())
    loss.backward()
    assert loss.item() == 0.0 and torch.equal(x.grad, torch.zeros_like(x))


# --- mixed loss -------------------------------------------------------------------------------


def _gaussian_l1(x, y, k, sigma=1.5):
    """The G-weighted L1 by hand: |x - y| filtered by the 2-D k x k Gaussian, valid positions."""
    B, C, H, W = x.shape
    g = gaussian_window(k, sigma)
    kernel = torch.outer(g, g).view(1, 1, k, k)
    err = (x - y).abs().reshape(B * C, 1, H, W)  # one channel at a time
    return F.conv2d(err, kernel).reshape(B, -1).mean(dim=1)


@pytest.mark.parametrize("mode", ["valid", "same"])
def test_mixed_at_alpha_one_is_ms_ssim_loss(mode):
    x, y = _noisy_pair((3, 3, 48, 40))
    got = mixed_ms_ssim_l1_loss(x, y, alpha=1.0, mode=mode, reduction="none")
    assert_close(got, ms_ssim_loss(x, y, mode=mode, reduction="none"), atol=1e-15)


@pytest.mark.parametrize(("size", "k"), [((48, 40), 11), ((8, 9), 7)])
def test_mixed_at_alpha_zero_is_the_gaussian_weighted_l1(size, k):
    x, y = _noisy_pair((3, 3, *size))
    got = mixed_ms_ssim_l1_loss(x, y, alpha=0.0, reduction="none")
    assert_close(got, _gaussian_l1(x, y, k), atol=1e-15)
    # on a patch smaller than the window the filter shrinks as MS-SSIM's does
    got = mixed_ms_ssim_l1_loss(x, y, alpha=0.0, win_size=5, sigma=0.8, reduction="none")
    assert_close(got, _gaussian_l1(x, y, 5, 0.8), atol=1e-15)


def test_mixed_at_alpha_zero_in_same_mode_is_exactly_l1():
    # Half-sample symmetric padding and a symmetric window: every pixel is covered by the same
    # total weight, so the average of the filtered map is the plain mean.
    x, y = _noisy_pair((2, 3, 37, 31))
    got = mixed_ms_ssim_l1_loss(x, y, alpha=0.0, mode="same", reduction="none")
    assert_close(got, l1_loss(x, y, reduction="none"), atol=1e-15)


def test_mixed_is_the_weighted_sum_of_its_parts():
    x, y = _noisy_pair((2, 3, 64, 64))
    ms = ms_ssim_loss(x, y, reduction="none")
    gl1 = _gaussian_l1(x, y, 11)
    for alpha in (0.0, 0.3, 0.84, 1.0):
        got = mixed_ms_ssim_l1_loss(x, y, alpha, reduction="none")
        assert_close(got, alpha * ms + (1 - alpha) * gl1, atol=1e-14)
    # data_range scales both terms: images and range doubled give the same loss
    doubled = mixed_ms_ssim_l1_loss(2 * x, 2 * y, 0.84, data_range=2.0)
    assert_close(doubled, mixed_ms_ssim_l1_loss(x, y, 0.84), atol=1e-12)


# --- gradients --------------------------------------------------------------------------------


def test_gradcheck_ssim_loss():
    x, y = _noisy_pair((1, 1, 12, 12))
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: ssim_loss(a, y, reduction="none"), (x,))


@pytest.mark.parametrize("mode", ["valid", "same"])
def test_gradcheck_ms_ssim_and_mixed_two_scales(mode):
    x, y = _noisy_pair((1, 1, 22, 22), noise=0.02)  # 22x22: two scales
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: ms_ssim_loss(a, y, mode=mode), (x,), fast_mode=True)
    fn = lambda a: mixed_ms_ssim_l1_loss(a, y, 0.84, mode=mode)  # noqa: E731
    assert torch.autograd.gradcheck(fn, (x,), fast_mode=True)


# --- modules ----------------------------------------------------------------------------------


def test_modules_equal_functions():
    x, y = _noisy_pair((2, 3, 40, 40), dtype=torch.float32)
    kw = {"mode": "same", "weights": (0.3, 0.7), "compute_dtype": "float32", "reduction": "none"}
    assert torch.equal(MSSSIMLoss(**kw)(x, y), ms_ssim_loss(x, y, **kw))
    assert torch.equal(MixedMSSSIML1Loss(0.84, **kw)(x, y), mixed_ms_ssim_l1_loss(x, y, 0.84, **kw))
    assert torch.equal(SSIMLoss(win_size=7)(x, y), ssim_loss(x, y, win_size=7))
    assert "alpha=0.84" in repr(MixedMSSSIML1Loss(0.84))
    assert "compute_dtype=torch.float32" in repr(MSSSIMLoss(compute_dtype="float32"))


# --- bad arguments ----------------------------------------------------------------------------


def _raises(message, fn, *args, **kwargs):
    with pytest.raises(RestorekitError, match=f"^{re.escape(message)}$"):
        fn(*args, **kwargs)


@pytest.mark.parametrize("compute_dtype", DTYPES)
def test_ssim_loss_needs_a_patch_as_large_as_the_window(compute_dtype):
    x = torch.rand(1, 1, 8, 8)
    message = (
        "ssim needs images of at least 11x11 pixels for win_size=11, got 8x8 (after crop=0); "
        "pass a smaller odd win_size"
    )
    _raises(message, ssim_loss, x, x, compute_dtype=compute_dtype)


@pytest.mark.parametrize("compute_dtype", DTYPES)
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "vaild"}, "unknown ms_ssim mode 'vaild'; known: valid, same"),
        ({"win_size": 4}, "win_size must be an odd int >= 1, got 4"),
        ({"k2": 0}, "k2 must be a finite number > 0, got 0"),
        ({"data_range": -1}, "data_range must be a finite number > 0, got -1"),
        (
            {"weights": (0.5, -0.5)},
            "weights must be a non-empty sequence of finite numbers >= 0 with a positive sum, "
            "got [0.5, -0.5]",
        ),
        ({"reduction": "sum"}, "unknown reduction 'sum'; known: mean, none"),
    ],
)
def test_bad_ms_ssim_options_give_the_metric_messages(kwargs, message, compute_dtype):
    x = torch.rand(1, 1, 24, 24)
    _raises(message, ms_ssim_loss, x, x, compute_dtype=compute_dtype, **kwargs)
    _raises(message, mixed_ms_ssim_l1_loss, x, x, 0.5, compute_dtype=compute_dtype, **kwargs)
    _raises(message, MSSSIMLoss, compute_dtype=compute_dtype, **kwargs)  # when built


def test_bad_compute_dtype():
    x = torch.rand(1, 1, 24, 24)
    message = (
        "compute_dtype must be torch.float32 or torch.float64 (or 'float32', 'float64'), "
        "got torch.float16"
    )
    _raises(message, ms_ssim_loss, x, x, compute_dtype=torch.float16)
    _raises(message, SSIMLoss, compute_dtype=torch.float16)
    _raises(message.replace("torch.float16", "'half'"), ssim_loss, x, x, compute_dtype="half")


@pytest.mark.parametrize("alpha", [-0.1, 1.5, float("nan"), "a", None])
def test_alpha_must_be_in_zero_one(alpha):
    x = torch.rand(1, 1, 24, 24)
    message = f"alpha must be a number in [0, 1], got {alpha!r}"
    _raises(message, mixed_ms_ssim_l1_loss, x, x, alpha)
    _raises(message, MixedMSSSIML1Loss, alpha)


def test_alpha_is_required():
    with pytest.raises(TypeError, match="alpha"):
        MixedMSSSIML1Loss()  # type: ignore[call-arg]
