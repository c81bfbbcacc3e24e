from __future__ import annotations

import re

import pytest
import torch

from helpers import assert_close
from restorekit.errors import RestorekitError
from restorekit.losses import (
    LOSSES,
    CharbonnierLoss,
    CompositeLoss,
    L1Loss,
    LossSchedule,
    MSSSIMLoss,
    charbonnier_loss,
    get_loss,
    l1_loss,
    l2_loss,
    ms_ssim_loss,
)

KNOWN = (
    "l1, l2, charbonnier, ssim, ms_ssim, mixed, grain_spectrum, grain_variance, grain_gram, "
    "perceptual, tv, gradient_difference"
)
# the known names closest to 'l3' first
CLOSEST_L3 = (
    "l1, l2, perceptual, charbonnier, ssim, ms_ssim, mixed, grain_spectrum, grain_variance, "
    "grain_gram, tv, gradient_difference"
)


def _pair(shape=(3, 3, 24, 24), seed=0):
    g = torch.Generator().manual_seed(seed)
    y = torch.rand(shape, generator=g)
    return (y + 0.1 * torch.randn(shape, generator=g)).clamp(0, 1), y


def _raises(message, fn, *args, **kwargs):
    with pytest.raises(RestorekitError, match=f"^{re.escape(message)}$"):
        fn(*args, **kwargs)


# --- registry and get_loss --------------------------------------------------------------------


def test_every_registered_loss_gives_one_value_per_sample_and_zero_on_identical_images():
    for name, cls in LOSSES.items():
        # grain losses take grain pairs: 3 grain channels, then the 3 intensity channels
        x, y = _pair((3, 6, 24, 24)) if name.startswith("grain_") else _pair()
        kwargs = {"mixed": {"alpha": 0.84}, "perceptual": {"random": True}}.get(name, {})
        loss = cls(reduction="none", **kwargs)
        out = loss(x, y)
        assert out.shape == (3,) and torch.isfinite(out).all() and (out >= 0).all(), name
        assert out.dtype == torch.float32, name
        same = loss(y, y.clone())
        if name == "tv":  # a regulariser of x alone: it ignores y, and tv(y) is not 0
            assert torch.equal(same, loss(y, x)), name
            continue
        floor = 1e-3 if name == "charbonnier" else 0.0  # sqrt(0 + eps^2)
        assert_close(same, torch.full((3,), floor), atol=1e-6, msg=name)


def test_get_loss():
    assert isinstance(get_loss("l1"), L1Loss)
    assert isinstance(get_loss(" MS_SSIM ", mode="same"), MSSSIMLoss)
    loss = get_loss("charbonnier", eps=0.01, reduction="none")
    x, y = _pair()
    assert torch.equal(loss(x, y), charbonnier_loss(x, y, eps=0.01, reduction="none"))


@pytest.mark.parametrize(
    ("name", "kwargs", "message"),
    [
        (
            "l3",
            {},
            f"unknown loss 'l3'; known: {CLOSEST_L3}",
        ),
        (
            "ms_sim",
            {},
            "unknown loss 'ms_sim'; known: ms_ssim, ssim, mixed, grain_spectrum, grain_variance, "
            "gradient_difference, grain_gram, charbonnier, l1, l2, perceptual, tv",
        ),
        ("mixed", {}, "bad options for loss 'mixed': missing a required argument: 'alpha'"),
        ("l1", {"eps": 1}, "bad options for loss 'l1': got an unexpected keyword argument 'eps'"),
        ("charbonnier", {"eps": -1}, "eps must be a finite number > 0, got -1"),
    ],
)
def test_get_loss_errors(name, kwargs, message):
    _raises(message, get_loss, name, **kwargs)


# --- composite --------------------------------------------------------------------------------


def test_total_is_the_weighted_sum_of_the_parts():
    x, y = _pair()
    loss = CompositeLoss({"l1": 0.16, "ms_ssim": 0.84})
    total, parts = loss(x, y)
    assert sorted(parts) == ["l1", "ms_ssim"]
    assert_close(parts["l1"], l1_loss(x, y), atol=1e-7)
    assert_close(parts["ms_ssim"], ms_ssim_loss(x, y), atol=1e-7)
    assert_close(total, 0.16 * parts["l1"] + 0.84 * parts["ms_ssim"], atol=1e-7)
    assert total.shape == () and total.dtype == torch.float32


def test_parts_are_detached_and_the_total_keeps_the_graph():
    x, y = _pair()
    x.requires_grad_(True)
    total, parts = CompositeLoss({"l2": 1.0, "charbonnier": 0.5})(x, y)
    assert total.requires_grad and not any(p.requires_grad for p in parts.values())
    total.backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()


def test_per_sample_values_for_the_hard_patch_miner():
    x, y = _pair()
    loss = CompositeLoss({"l1": 1.0, "l2": 2.0}, reduction="none")
    total, parts = loss(x, y)
    assert total.shape == (3,) and parts["l1"].shape == (3,)
    want = l1_loss(x, y, reduction="none") + 2.0 * l2_loss(x, y, reduction="none")
    assert_close(total, want, atol=1e-7)
    assert_close(CompositeLoss({"l1": 1.0, "l2": 2.0})(x, y)[0], want.mean(), atol=1e-7)


def test_options_go_to_their_loss():
    x, y = _pair()
    loss = CompositeLoss(
        {"mixed": 1.0, "ms_ssim": 1.0}, mixed={"alpha": 0.5}, ms_ssim={"mode": "same"}
    )
    assert loss.terms["mixed"].kwargs["alpha"] == 0.5
    _, parts = loss(x, y)
    assert_close(parts["ms_ssim"], ms_ssim_loss(x, y, mode="same"), atol=1e-7)


def test_names_are_case_insensitive():
    loss = CompositeLoss({" L1 ": 1.0}, L1={})
    assert list(loss.terms) == ["l1"]


def test_zero_weight_terms_are_not_built_nor_computed(monkeypatch):
    x, y = _pair()
    loss = CompositeLoss({"l1": 1.0, "ms_ssim": 0.0})
    assert list(loss.terms) == ["l1"]
    _, parts = loss(x, y)
    assert list(parts) == ["l1"]
    # with a schedule the term exists, but is skipped where its weight is 0
    ramp = CompositeLoss({"l1": 1.0, "ms_ssim": 0.0}, schedule={"ms_ssim": [(0.5, 0.0), (1, 1)]})
    assert list(ramp.terms) == ["l1", "ms_ssim"]

    def fail(*args, **kwargs):
        raise AssertionError("a zero-weight term was computed")

    monkeypatch.setattr(ramp.terms["ms_ssim"], "forward", fail)
    _, parts = ramp(x, y, progress=0.25)
    assert list(parts) == ["l1"]


def test_composite_with_a_schedule():
    x, y = _pair()
    schedule = LossSchedule({"ms_ssim": [(0.0, 0.0), (0.5, 0.84)], "l1": [(0.0, 1.0), (1.0, 0.16)]})
    loss = CompositeLoss({"l1": 1.0, "ms_ssim": 0.84, "l2": 0.1}, schedule=schedule)
    assert loss.weights_at(0.25) == pytest.approx({"l1": 0.79, "ms_ssim": 0.42, "l2": 0.1})
    assert loss.weights_at(1.0) == pytest.approx({"l1": 0.16, "ms_ssim": 0.84, "l2": 0.1})
    total, parts = loss(x, y, progress=0.25)
    want = 0.79 * parts["l1"] + 0.42 * parts["ms_ssim"] + 0.1 * parts["l2"]
    assert_close(total, want, atol=1e-6)
    # the knots mapping (as a config gives it) works as well as a LossSchedule
    raw = CompositeLoss({"l1": 1.0, "ms_ssim": 0.84, "l2": 0.1}, schedule=dict(schedule.knots))
    assert raw.weights_at(0.6) == loss.weights_at(0.6)


def test_progress_is_optional_without_a_schedule_and_required_with_one():
    x, y = _pair()
    fixed = CompositeLoss({"l1": 1.0})
    assert torch.equal(fixed(x, y)[0], fixed(x, y, progress=0.7)[0])
    ramp = CompositeLoss({"l1": 1.0}, schedule={"l1": [(0, 1), (1, 2)]})
    _raises("this CompositeLoss has a schedule: pass progress, a number in [0, 1]", ramp, x, y)
    _raises("progress must be a number in [0, 1], got 1.5", ramp, x, y, progress=1.5)
    _raises("progress must be a number in [0, 1], got 1.5", fixed, x, y, progress=1.5)


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (({"l1": 1.0, "l3": 1.0},), {}, f"unknown loss 'l3'; known: {CLOSEST_L3}"),
        (({},), {}, f"weights must map at least one loss name to a weight; known: {KNOWN}"),
        (({"l1": -1.0},), {}, "weight of loss 'l1' must be a finite number >= 0, got -1.0"),
        (({"l1": float("inf")},), {}, "weight of loss 'l1' must be a finite number >= 0, got inf"),
        (({"l1": 1.0, "L1": 2.0},), {}, "loss 'l1' is named twice in weights"),
        (({"l1": 0.0, "l2": 0},), {}, "all loss weights are 0; at least one must be > 0"),
        (
            ({"l1": 1.0},),
            {"ms_ssim": {"mode": "same"}},
            "options given for loss 'ms_ssim', which is not in weights (l1)",
        ),
        (
            ({"l1": 1.0},),
            {"ms_sim": {}},
            "unknown loss 'ms_sim'; known: ms_ssim, ssim, mixed, grain_spectrum, grain_variance, "
            "gradient_difference, grain_gram, charbonnier, l1, l2, perceptual, tv",
        ),
        (
            ({"ms_ssim": 1.0},),
            {"ms_ssim": "same"},
            "options for loss 'ms_ssim' must be a dict of keyword arguments, got 'same'",
        ),
        (
            ({"l1": 1.0},),
            {"l1": {"reduction": "none"}},
            "options for loss 'l1' must not set reduction: CompositeLoss(reduction=...) sets it "
            "for every term",
        ),
        (
            ({"mixed": 1.0},),
            {},
            "bad options for loss 'mixed': missing a required argument: 'alpha'",
        ),
        (({"mixed": 1.0},), {"mixed": {"alpha": 2}}, "alpha must be a number in [0, 1], got 2"),
        (
            ({"l1": 1.0},),
            {"schedule": {"l2": [(0, 1)]}},
            "the schedule names loss 'l2', which is not in weights (l1)",
        ),
        (
            ({"l1": 1.0, "l2": 0.0},),
            {"schedule": {"l1": [(0.2, 1.0), (0.6, 0.0)]}},
            "all loss weights are 0 at progress 0.6; at least one must be > 0",
        ),
        (({"l1": 1.0},), {"reduction": "sum"}, "unknown reduction 'sum'; known: mean, none"),
    ],
)
def test_composite_errors(args, kwargs, message):
    _raises(message, CompositeLoss, *args, **kwargs)


def test_repr_names_the_weights_and_schedule():
    loss = CompositeLoss({"l1": 1.0}, schedule={"l1": [(0, 1), (1, 0.5)]})
    assert "weights={'l1': 1.0}" in repr(loss)
    assert "LossSchedule({'l1': [(0.0, 1.0), (1.0, 0.5)]})" in repr(loss)
    assert isinstance(loss.terms["l1"], L1Loss) and not isinstance(
        loss.terms["l1"], CharbonnierLoss
    )


# --- schedule ---------------------------------------------------------------------------------


def test_schedule_is_piecewise_linear_and_constant_outside_the_knots():
    s = LossSchedule({"a": [(0.2, 1.0), (0.4, 3.0), (0.8, 0.0)], "b": [[0.5, 2.0]]})
    expected = {0.0: 1.0, 0.2: 1.0, 0.3: 2.0, 0.4: 3.0, 0.5: 2.25, 0.8: 0.0, 0.9: 0.0, 1.0: 0.0}
    for p, w in expected.items():
        assert s.weights_at(p) == pytest.approx({"a": w, "b": 2.0}), p
    assert s.names == ["a", "b"]
    assert s.progress_points() == [0.0, 0.2, 0.4, 0.5, 0.8, 1.0]


@pytest.mark.parametrize(
    ("knots", "message"),
    [
        ({}, "a loss schedule must map loss names to lists of (progress, weight) knots, got {}"),
        (
            [("l1", 1.0)],
            "a loss schedule must map loss names to lists of (progress, weight) knots, "
            "got [('l1', 1.0)]",
        ),
        (
            {"l1": []},
            "schedule for 'l1' must be a non-empty list of (progress, weight) pairs, got []",
        ),
        (
            {"l1": 1.0},
            "schedule for 'l1' must be a non-empty list of (progress, weight) pairs, got 1.0",
        ),
        (
            {"l1": [(0.0, 1.0, 2.0)]},
            "schedule for 'l1' must be a non-empty list of (progress, weight) pairs, "
            "got [(0.0, 1.0, 2.0)]",
        ),
        (
            {"l1": [(0.5, 1.0), (0.2, 1.0)]},
            "schedule for 'l1': progress must be strictly increasing, got [0.5, 0.2]",
        ),
        (
            {"l1": [(0.5, 1.0), (0.5, 2.0)]},
            "schedule for 'l1': progress must be strictly increasing, got [0.5, 0.5]",
        ),
        ({"l1": [(1.2, 1.0)]}, "schedule for 'l1': progress must be a number in [0, 1], got 1.2"),
        ({"l1": [(-0.1, 1.0)]}, "schedule for 'l1': progress must be a number in [0, 1], got -0.1"),
        (
            {"l1": [(0.0, -1.0)]},
            "schedule for 'l1': weight must be a finite number >= 0, got -1.0",
        ),
        (
            {"l1": [(0.0, "x")]},
            "schedule for 'l1': weight must be a number, got 'x'",
        ),
    ],
)
def test_schedule_errors(knots, message):
    _raises(message, LossSchedule, knots)


def test_schedule_progress_must_be_in_zero_one():
    s = LossSchedule({"l1": [(0, 1)]})
    for p in (-0.1, 1.01, float("nan"), "x"):
        _raises(f"progress must be a number in [0, 1], got {p!r}", s.weights_at, p)
