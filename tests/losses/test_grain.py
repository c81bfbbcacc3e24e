"""Grain distribution losses: they compare statistics of grain pairs, never pixels.

A grain pair is ``(B, 2C, H, W)``: the grain in the first C channels, the clean intensity it was
rendered on in the last C. Prediction and target are independent realisations, so every value
is checked with a fixed seed and a stated tolerance.
"""

from __future__ import annotations

import math
import re

import pytest
import torch
import torch.nn.functional as F

from helpers import assert_close
from restorekit.errors import RestorekitError
from restorekit.losses import (
    LOSSES,
    CompositeLoss,
    GramLoss,
    LossSchedule,
    SpectrumLoss,
    VarianceLoss,
    get_loss,
    gram_loss,
    spectrum_loss,
    variance_loss,
)
from restorekit.metrics.grain import (
    intensity_moments,
    radial_power_spectrum,
    variance_per_intensity,
)

LOG4_SQ = math.log(4.0) ** 2  # a variance ratio of 4 (twice the std), squared log


def _pair(grain: torch.Tensor, intensity: torch.Tensor) -> torch.Tensor:
    """Grain channels, then intensity channels."""
    return torch.cat([grain, intensity], dim=1)


def _white(shape, sigma, g, dtype=torch.float32):
    return sigma * torch.randn(shape, generator=g, dtype=dtype)


def _raises(message, fn, *args, **kwargs):
    with pytest.raises(RestorekitError, match=f"^{re.escape(message)}$"):
        fn(*args, **kwargs)


# --- spectrum_loss ----------------------------------------------------------------------------


def test_spectrum_loss_is_near_zero_for_two_white_draws_and_log4_squared_for_twice_the_std():
    # 4 samples of 128x128, 8 rings: the inner ring averages ~100 independent periodogram values,
    # so a ring's log power scatters by ~0.1 and two independent draws give ~0.01; 0.05 bounds
    # it. Twice the std is a power ratio of 4 on every ring, (log 4)^2 = 1.92: per sample the
    # cross term 2 log 4 (noise) scatters it by ~0.08 (0.3 stated), pooled over the 4 samples
    # (group=4) by ~0.02 (0.05 stated).
    g = torch.Generator().manual_seed(0)
    shape = (4, 1, 128, 128)
    clean = torch.rand(shape, generator=g)
    a = _pair(_white(shape, 0.05, g), clean)
    b = _pair(_white(shape, 0.05, g), clean)
    b2 = _pair(2 * _white(shape, 0.05, g), clean)
    same = spectrum_loss(a, b, reduction="none")
    assert same.shape == (4,) and (same < 0.05).all(), same
    for x, y in ((a, b2), (b2, a)):
        assert_close(spectrum_loss(x, y, reduction="none"), torch.full((4,), LOG4_SQ), atol=0.3)
        assert_close(spectrum_loss(x, y, group=4), torch.tensor(LOG4_SQ), atol=0.05)
    assert spectrum_loss(a, a).item() == 0.0


def test_spectrum_loss_is_the_mean_squared_log_ratio_of_the_metric():
    g = torch.Generator().manual_seed(1)
    shape = (3, 2, 32, 24)
    x = _pair(_white(shape, 0.1, g, torch.float64), torch.rand(shape, generator=g).double())
    y = _pair(_white(shape, 0.07, g, torch.float64), torch.rand(shape, generator=g).double())
    px = radial_power_spectrum(x[:, :2], bins=6)
    py = radial_power_spectrum(y[:, :2], bins=6)
    want = (px.log() - py.log()).pow(2).mean(dim=(1, 2))
    # the loss takes log(P + 1e-10): a relative 1e-8 on powers ~1e-2
    assert_close(spectrum_loss(x, y, bins=6, reduction="none"), want, atol=1e-6)
    assert_close(spectrum_loss(x, y, bins=6), want.mean(), atol=1e-6)


def test_group_pools_the_spectra_and_gives_each_sample_its_groups_value():
    g = torch.Generator().manual_seed(2)
    shape = (6, 1, 32, 32)
    x = _pair(_white(shape, 0.1, g, torch.float64), torch.rand(shape, generator=g).double())
    y = _pair(_white(shape, 0.2, g, torch.float64), torch.rand(shape, generator=g).double())
    px = radial_power_spectrum(x[:, :1], bins=8).view(3, 2, 1, 8).mean(1)
    py = radial_power_spectrum(y[:, :1], bins=8).view(3, 2, 1, 8).mean(1)
    per_group = (px.log() - py.log()).pow(2).mean(dim=(1, 2))
    out = spectrum_loss(x, y, group=2, reduction="none")
    assert out.shape == (6,)
    assert_close(out, per_group.repeat_interleave(2), atol=1e-6)
    whole = spectrum_loss(x, y, group=6, reduction="none")
    assert torch.equal(whole, whole[:1].expand(6))
    # group 1 is the per-sample loss
    assert torch.equal(
        spectrum_loss(x, y, group=1, reduction="none"), spectrum_loss(x, y, reduction="none")
    )


# --- variance_loss ----------------------------------------------------------------------------


def _signal_dependent(shape, sigma_dark, sigma_bright, g, clean=None):
    """A pair: grain of std sigma_dark where the intensity is < 0.5, sigma_bright above."""
    clean = torch.rand(shape, generator=g) if clean is None else clean
    std = torch.where(clean < 0.5, sigma_dark, sigma_bright)
    return _pair(std * torch.randn(shape, generator=g), clean)


def test_variance_loss_sees_a_mismatch_in_the_bins_where_it_is():
    # 2 images of 64x64, 8 intensity bins: ~512 pixels a bin, so a log variance scatters by ~0.09
    # and a matched bin adds ~0.01 (0.03 stated for all 8). The prediction's grain has twice the
    # std in the bright half only: 4 of the 8 bins are off by (log 4 + noise)^2, so the loss is
    # (log 4)^2 / 2, scattered by ~0.06 by the cross term (0.2 stated).
    g = torch.Generator().manual_seed(3)
    shape = (2, 1, 64, 64)
    clean = torch.rand(shape, generator=g)
    y = _signal_dependent(shape, 0.05, 0.05, g, clean)
    x_same = _signal_dependent(shape, 0.05, 0.05, g, clean)
    x_bright = _signal_dependent(shape, 0.05, 0.10, g, clean)
    assert (variance_loss(x_same, y, reduction="none") < 0.03).all()
    assert_close(
        variance_loss(x_bright, y, reduction="none"), torch.full((2,), LOG4_SQ / 2), atol=0.2
    )
    # the binning is the target's: the prediction's intensity channels are not read
    x_other = x_bright.clone()
    x_other[:, 1:] = torch.rand(shape, generator=g)
    assert torch.equal(variance_loss(x_other, y), variance_loss(x_bright, y))


@pytest.mark.parametrize(
    ("lo", "hi", "wrong_bins"), [(0.5, 1.0, 4), (0.625, 0.75, 1), (0.0, 0.25, 2)]
)
def test_variance_loss_counts_exactly_the_bins_with_the_wrong_variance(lo, hi, wrong_bins):
    # The target's own grain, doubled on the pixels with lo <= intensity < hi (whole bins of 8):
    # those bins have exactly 4 times the variance, the others exactly the target's, so with
    # mean_weight 0 the loss is (log 4)^2 * wrong_bins / 8 to rounding.
    g = torch.Generator().manual_seed(14)
    shape = (2, 1, 32, 32)
    y = _signal_dependent(shape, 0.05, 0.05, g).double()
    x = y.clone()
    x[:, :1] *= torch.where((y[:, 1:] >= lo) & (y[:, 1:] < hi), 2.0, 1.0)
    out = variance_loss(x, y, min_count=1, mean_weight=0.0, reduction="none")
    assert_close(out, torch.full((2,), LOG4_SQ * wrong_bins / 8), atol=1e-6)


def test_variance_loss_sees_what_the_spectrum_loss_cannot():
    # The std is swapped between dark and bright pixels: the global variance is the same and both
    # grains are white (i.i.d. intensities), so only the per-intensity loss notices, at (log 4)^2.
    g = torch.Generator().manual_seed(4)
    shape = (2, 1, 64, 64)
    clean = torch.rand(shape, generator=g)
    y = _signal_dependent(shape, 0.05, 0.10, g, clean)
    x = _signal_dependent(shape, 0.10, 0.05, g, clean)
    assert_close(variance_loss(x, y, reduction="none"), torch.full((2,), LOG4_SQ), atol=0.1)
    assert (spectrum_loss(x, y, reduction="none") < 0.05).all()


def test_variance_loss_mean_term():
    # The target's own grain shifted by d: equal variances, so the loss is the mean term alone,
    # mean_weight * mean over bins of d^2 / v_y; with d one target std, about mean_weight (v_y per
    # bin scatters by ~6 % on ~512 pixels: 0.15 stated).
    g = torch.Generator().manual_seed(5)
    shape = (2, 1, 64, 64)
    y = _signal_dependent(shape, 0.05, 0.05, g).double()
    shifted = y.clone()
    shifted[:, :1] += 0.05
    _, vy, _ = variance_per_intensity(y[:, 1:], y[:, :1], bins=8)
    want = (0.05**2 / vy).mean(dim=(1, 2))
    for w in (1.0, 2.0, 0.0):
        out = variance_loss(shifted, y, mean_weight=w, reduction="none")
        assert_close(out, w * want, rtol=1e-6, atol=1e-9)
        assert_close(out, torch.full((2,), w), atol=0.15 * w + 1e-9)


def test_variance_loss_formula_and_min_count():
    g = torch.Generator().manual_seed(6)
    shape = (3, 2, 24, 20)
    x = _pair(_white(shape, 0.1, g, torch.float64), torch.rand(shape, generator=g).double())
    y = _pair(_white(shape, 0.05, g, torch.float64), torch.rand(shape, generator=g).double())
    y[:, 2:] *= 0.6  # target intensities in [0, 0.6): the last of 4 bins is empty
    image = y[:, 2:]
    n, sx, _ = intensity_moments(image, x[:, :2], bins=4)
    _, sy, _ = intensity_moments(image, y[:, :2], bins=4)
    _, vx, _ = variance_per_intensity(image, x[:, :2], bins=4)
    _, vy, _ = variance_per_intensity(image, y[:, :2], bins=4)
    used = n >= 40
    mean_term = (sx - sy).pow(2) / n.clamp(min=1).pow(2) / vy
    per_bin = torch.where(used, (vx.log() - vy.log()).pow(2) + 0.5 * mean_term, 0.0)
    want = per_bin.sum(dim=(1, 2)) / used.sum(dim=(1, 2))
    out = variance_loss(x, y, bins=4, min_count=40, mean_weight=0.5, reduction="none")
    assert out.dtype == torch.float64
    assert_close(out, want, atol=1e-6)  # the loss adds 1e-10 to the variances
    # no bin with enough target pixels: 0
    none = variance_loss(x, y, min_count=10**6, reduction="none")
    assert torch.equal(none, torch.zeros(3, dtype=torch.float64))


def test_variance_loss_group_pools_the_bins():
    g = torch.Generator().manual_seed(7)
    shape = (4, 1, 32, 32)
    clean = torch.rand(shape, generator=g)
    y = _signal_dependent(shape, 0.05, 0.05, g, clean)
    x = _signal_dependent(shape, 0.05, 0.10, g, clean)
    out = variance_loss(x, y, group=2, reduction="none")
    assert out[0] == out[1] and out[2] == out[3]
    # pooling two samples is one sample twice as large
    joined_x = torch.cat([x[0:1], x[1:2]], dim=-1)
    joined_y = torch.cat([y[0:1], y[1:2]], dim=-1)
    assert_close(out[0], variance_loss(joined_x, joined_y), atol=1e-5)
    assert torch.equal(variance_loss(x, y, group=1), variance_loss(x, y))


# --- gram_loss --------------------------------------------------------------------------------


def _blurred(shape, g):
    """Noise of unit variance, correlated over 3x3 (the mean of 9 white values, times 3)."""
    B, C, H, W = shape
    return 3.0 * F.avg_pool2d(torch.randn(B, C, H + 2, W + 2, generator=g), 3, stride=1)


def test_gram_loss_zero_on_identical_pairs_scale_free_and_texture_sensitive():
    # 2 samples of 128x128: two white draws give ~0.02 (the 1/4-scale Gram matrices rest on
    # ~800 positions); white against blurred noise of the same variance gives ~1.2. Stated: the
    # first below 0.05, the second above 0.5 and ten times the first.
    g = torch.Generator().manual_seed(8)
    shape = (2, 1, 128, 128)
    clean = torch.rand(shape, generator=g)
    a = _pair(0.05 * torch.randn(shape, generator=g), clean)
    b = _pair(0.05 * torch.randn(shape, generator=g), clean)
    c = _pair(0.05 * _blurred(shape, g), clean)
    assert torch.equal(gram_loss(a, a.clone(), reduction="none"), torch.zeros(2))
    same = gram_loss(a, b, reduction="none")
    other = gram_loss(a, c, reduction="none")
    assert (same < 0.05).all() and (other > 0.5).all() and (other > 10 * same).all(), (same, other)
    # ReLU features are positively homogeneous: ten times the grain leaves the loss unchanged
    a10, c10 = a.clone(), c.clone()
    a10[:, :1] *= 10
    c10[:, :1] *= 10
    assert_close(gram_loss(a10, c10, reduction="none"), other, rtol=1e-4, atol=0)


def test_gram_loss_group_and_features():
    g = torch.Generator().manual_seed(9)
    shape = (4, 1, 32, 32)
    clean = torch.rand(shape, generator=g)
    a = _pair(0.05 * torch.randn(shape, generator=g), clean)
    c = _pair(0.05 * _blurred(shape, g), clean)
    out = gram_loss(a, c, group=2, reduction="none")
    assert out[0] == out[1] and out[2] == out[3] and out.shape == (4,)
    assert torch.equal(gram_loss(a, c, group=1), gram_loss(a, c))
    # the default features are GramLoss's with seed 0; another seed gives other features
    assert torch.equal(GramLoss(seed=0, reduction="none")(a, c), gram_loss(a, c, reduction="none"))
    assert not torch.equal(GramLoss(seed=1)(a, c), gram_loss(a, c))


# --- modules, registry, composite -------------------------------------------------------------


def test_modules_equal_functions():
    g = torch.Generator().manual_seed(10)
    shape = (4, 2, 32, 32)
    x = _pair(_white(shape, 0.05, g), torch.rand(shape, generator=g))
    y = _pair(0.05 * _blurred(shape, g), torch.rand(shape, generator=g))
    for reduction in ("mean", "none"):
        assert torch.equal(
            SpectrumLoss(bins=6, group=2, reduction=reduction)(x, y),
            spectrum_loss(x, y, bins=6, group=2, reduction=reduction),
        )
        assert torch.equal(
            VarianceLoss(4, 16, 0.5, 2, reduction)(x, y),
            variance_loss(x, y, 4, 16, 0.5, 2, reduction),
        )
        assert torch.equal(
            GramLoss(group=2, reduction=reduction)(x, y),
            gram_loss(x, y, group=2, reduction=reduction),
        )


def test_registered_and_built_by_name():
    assert LOSSES["grain_spectrum"] is SpectrumLoss
    assert LOSSES["grain_variance"] is VarianceLoss
    assert LOSSES["grain_gram"] is GramLoss
    assert isinstance(get_loss("grain_gram", seed=3, group=2), GramLoss)


def test_a_scheduled_composite_of_grain_losses():
    g = torch.Generator().manual_seed(11)
    shape = (4, 1, 32, 32)
    y = _signal_dependent(shape, 0.05, 0.05, g)
    x = _signal_dependent(shape, 0.05, 0.10, g)
    x.requires_grad_(True)
    schedule = LossSchedule(
        {"grain_spectrum": [(0, 1.0), (1, 0.2)], "grain_gram": [(0.5, 0), (1, 1)]}
    )
    loss = CompositeLoss(
        {"grain_spectrum": 1.0, "grain_variance": 0.5, "grain_gram": 0.0},
        schedule=schedule,
        grain_variance={"bins": 4, "group": 2},
    )
    total0, parts0 = loss(x, y, progress=0.0)
    assert sorted(parts0) == ["grain_spectrum", "grain_variance"]
    assert_close(total0, parts0["grain_spectrum"] + 0.5 * parts0["grain_variance"], atol=1e-6)
    total1, parts1 = loss(x, y, progress=1.0)
    assert sorted(parts1) == ["grain_gram", "grain_spectrum", "grain_variance"]
    want = 0.2 * parts1["grain_spectrum"] + 0.5 * parts1["grain_variance"] + parts1["grain_gram"]
    assert_close(total1, want, atol=1e-6)
    for t in (total0, total1, *parts0.values(), *parts1.values()):
        assert torch.isfinite(t).all() and t.shape == ()
    total1.backward()
    assert torch.isfinite(x.grad).all() and x.grad[:, :1].abs().sum() > 0


# --- gradients --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [
        spectrum_loss,
        lambda x, y: variance_loss(x, y, bins=4, min_count=16),
        gram_loss,
    ],
    ids=["spectrum", "variance", "gram"],
)
def test_gradient_flows_to_the_prediction(fn):
    g = torch.Generator().manual_seed(12)
    shape = (2, 3, 32, 32)
    x = _pair(_white(shape, 0.05, g), torch.rand(shape, generator=g)).requires_grad_(True)
    y = _pair(0.05 * _blurred(shape, g), torch.rand(shape, generator=g))  # no grad needed
    assert not y.requires_grad
    fn(x, y).backward()
    assert torch.isfinite(x.grad).all()
    assert x.grad[:, :3].abs().sum() > 0  # the grain channels
    assert torch.equal(x.grad[:, 3:], torch.zeros_like(x.grad[:, 3:]))  # intensity: not used


@pytest.mark.parametrize(
    "fn",
    [
        lambda x, y: spectrum_loss(x, y, bins=3, reduction="none"),
        lambda x, y: variance_loss(x, y, bins=2, min_count=4, reduction="none"),
        lambda x, y: gram_loss(x, y, reduction="none"),
    ],
    ids=["spectrum", "variance", "gram"],
)
def test_gradcheck(fn):
    g = torch.Generator().manual_seed(13)
    shape = (2, 1, 8, 8)
    x = _pair(_white(shape, 0.1, g, torch.float64), torch.rand(shape, generator=g).double())
    y = _pair(_white(shape, 0.1, g, torch.float64), torch.rand(shape, generator=g).double())
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: fn(a, y), (x,))


# --- bad input --------------------------------------------------------------------------------

FNS = [spectrum_loss, variance_loss, gram_loss]


@pytest.mark.parametrize("fn", FNS)
def test_odd_channel_count(fn):
    x = torch.rand(2, 3, 16, 16)
    _raises(
        "a grain pair is (B, 2C, H, W): grain channels then intensity channels, got (2, 3, 16, 16)",
        fn,
        x,
        x,
    )
    y = torch.rand(2, 16, 16)
    _raises(
        "a grain pair is (B, 2C, H, W): grain channels then intensity channels, got (2, 16, 16)",
        fn,
        y,
        y,
    )


@pytest.mark.parametrize("fn", FNS)
def test_shape_mismatch(fn):
    _raises(
        "x and y must have one shape, got (1, 2, 16, 16) and (1, 2, 16, 17)",
        fn,
        torch.rand(1, 2, 16, 16),
        torch.rand(1, 2, 16, 17),
    )


@pytest.mark.parametrize("fn", FNS)
@pytest.mark.parametrize(
    ("group", "message"),
    [
        (0, "group must be an integer >= 1, got 0"),
        (-2, "group must be an integer >= 1, got -2"),
        (True, "group must be an integer >= 1, got True"),
        (3, "the batch (4) is not a multiple of group (3)"),
    ],
)
def test_bad_group(fn, group, message):
    x = torch.rand(4, 2, 16, 16)
    _raises(message, fn, x, x, group=group)


@pytest.mark.parametrize("fn", [spectrum_loss, variance_loss, gram_loss])
def test_non_integer_group(fn):
    x = torch.rand(4, 2, 16, 16)
    _raises("group must be an integer >= 1, got 1.5", fn, x, x, group=1.5)


@pytest.mark.parametrize("cls", [SpectrumLoss, VarianceLoss, GramLoss])
def test_module_twins_check_group_when_built(cls):
    _raises("group must be an integer >= 1, got 0", cls, group=0)


@pytest.mark.parametrize("cls", [SpectrumLoss, VarianceLoss, GramLoss])
def test_unknown_reduction(cls):
    _raises("unknown reduction 'sum'; known: mean, none", cls, reduction="sum")
    x = torch.rand(2, 2, 16, 16)
    fn = {SpectrumLoss: spectrum_loss, VarianceLoss: variance_loss, GramLoss: gram_loss}[cls]
    _raises("unknown reduction 'sum'; known: mean, none", fn, x, x, reduction="sum")
