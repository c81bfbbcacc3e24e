from __future__ import annotations

import functools
import re

import pytest
import torch
import torch.nn.functional as F

from helpers import assert_close
from restorekit.errors import RestorekitError
from restorekit.losses import (
    CharbonnierLoss,
    L1Loss,
    L2Loss,
    WeightedLoss,
    charbonnier_loss,
    l1_loss,
    l2_loss,
    weighted_loss,
)
from restorekit.metrics import mse


def _pair(shape=(3, 3, 12, 10), dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g, dtype=dtype), torch.rand(shape, generator=g, dtype=dtype)


# --- values -----------------------------------------------------------------------------------


def test_l1_and_l2_equal_torch_functional():
    x, y = _pair()
    assert_close(l1_loss(x, y), F.l1_loss(x, y), atol=1e-7)
    assert_close(l2_loss(x, y), F.mse_loss(x, y), atol=1e-7)


def test_per_sample_values_by_hand():
    x = torch.zeros(3, 1, 2, 2)
    y = torch.stack([torch.full((1, 2, 2), v) for v in (0.0, 0.5, 1.0)])
    assert_close(l1_loss(x, y, reduction="none"), torch.tensor([0.0, 0.5, 1.0]))
    assert_close(l2_loss(x, y, reduction="none"), torch.tensor([0.0, 0.25, 1.0]))
    # sqrt(e^2 + eps^2) with eps = 0.5: sqrt(0.25), sqrt(0.5), sqrt(1.25)
    expected = torch.tensor([0.25, 0.5, 1.25]).sqrt()
    assert_close(charbonnier_loss(x, y, eps=0.5, reduction="none"), expected)


def test_l2_is_the_mse_metric():
    x, y = _pair(dtype=torch.float64)
    assert torch.equal(l2_loss(x, y, reduction="none"), mse(x, y))


def test_charbonnier_formula_and_its_two_regimes():
    x, y = _pair(dtype=torch.float64)
    e = x - y
    for eps in (1e-3, 0.1):
        want = (e.square() + eps**2).sqrt().flatten(1).mean(1)
        assert_close(charbonnier_loss(x, y, eps=eps, reduction="none"), want, atol=1e-15)
    # |e| >> eps: the L1 loss (the difference is at most eps).
    assert_close(charbonnier_loss(x, y, eps=1e-6), F.l1_loss(x, y), atol=1e-6)
    # |e| << eps: eps + e^2 / (2 eps), the smooth quadratic regime (error below e^4 / (8 eps^3)).
    eps = 10.0
    assert_close(charbonnier_loss(x, y, eps=eps), eps + F.mse_loss(x, y) / (2 * eps), atol=1e-4)


def test_charbonnier_of_identical_images_is_eps():
    x, _ = _pair()
    assert_close(charbonnier_loss(x, x), torch.tensor(1e-3), atol=1e-9)


def test_mean_is_the_mean_of_the_per_sample_values():
    x, y = _pair()
    for fn in (l1_loss, l2_loss, charbonnier_loss):
        assert_close(fn(x, y), fn(x, y, reduction="none").mean(), atol=1e-7)


@pytest.mark.parametrize("fn", [l1_loss, l2_loss, charbonnier_loss])
def test_dtype_and_shape(fn):
    x, y = _pair(shape=(2, 1, 5, 7))
    assert fn(x, y).shape == () and fn(x, y).dtype == torch.float32
    assert fn(x, y, reduction="none").shape == (2,)
    x64, y64 = x.double(), y.double()
    assert fn(x64, y64).dtype == torch.float64


# --- gradients --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "fn",
    [l1_loss, l2_loss, charbonnier_loss, functools.partial(charbonnier_loss, eps=0.5)],
)
def test_gradcheck(fn):
    # Random float64 inputs: no exact ties, so even L1 is differentiable at these points.
    x, y = _pair(shape=(2, 1, 4, 5), dtype=torch.float64)
    x.requires_grad_(True)
    y.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a, b: fn(a, b, reduction="none"), (x, y))


def test_charbonnier_gradient_is_finite_and_zero_at_identical_images():
    x = torch.rand(2, 3, 4, 4, requires_grad=True)
    charbonnier_loss(x, x.detach().clone()).backward()
    assert torch.equal(x.grad, torch.zeros_like(x))


# --- modules ----------------------------------------------------------------------------------


def test_modules_equal_functions():
    x, y = _pair()
    for reduction in ("mean", "none"):
        assert torch.equal(L1Loss(reduction)(x, y), l1_loss(x, y, reduction))
        assert torch.equal(L2Loss(reduction)(x, y), l2_loss(x, y, reduction))
        assert torch.equal(
            CharbonnierLoss(0.01, reduction)(x, y), charbonnier_loss(x, y, 0.01, reduction)
        )
    w = torch.rand(3, 1, 12, 10)
    assert torch.equal(WeightedLoss("l2")(x, y, w), weighted_loss(x, y, w, kind="l2"))
    assert repr(CharbonnierLoss()) == "CharbonnierLoss(eps=0.001, reduction='mean')"


# --- weighted loss ----------------------------------------------------------------------------


def test_weighted_loss_by_hand():
    x = torch.zeros(1, 1, 2, 2)
    y = torch.tensor([[[[0.1, 0.2], [0.3, 0.4]]]])
    w = torch.tensor([[[[1.0, 0.0], [2.0, 1.0]]]])
    # l1: (0.1 + 0.6 + 0.4) / 4; l2: (0.01 + 2 * 0.09 + 0.16) / 4
    assert_close(weighted_loss(x, y, w), torch.tensor(1.1 / 4), atol=1e-7)
    assert_close(weighted_loss(x, y, w, kind="l2"), torch.tensor(0.35 / 4), atol=1e-7)


def test_uniform_weights_give_the_plain_losses():
    x, y = _pair()
    for scale in (1.0, 7.0):
        w = torch.full((1, 1, 1, 1), scale)
        assert_close(weighted_loss(x, y, w), l1_loss(x, y), atol=1e-6)
        assert_close(weighted_loss(x, y, w, kind="l2"), l2_loss(x, y), atol=1e-6)


def test_a_one_channel_map_weights_every_channel_alike():
    x, y = _pair(dtype=torch.float64)
    w = torch.rand(3, 1, 12, 10, dtype=torch.float64)
    e = (x - y).abs()
    want = (w * e).sum(dim=(1, 2, 3)) / (3 * w.sum(dim=(1, 2, 3)))
    assert_close(weighted_loss(x, y, w, reduction="none"), want, atol=1e-14)
    # the same map given per channel, and as an (H, W) map shared by the batch
    assert_close(weighted_loss(x, y, w.expand(3, 3, 12, 10)), weighted_loss(x, y, w), atol=1e-14)
    w2 = w[0, 0]
    assert_close(weighted_loss(x, y, w2), weighted_loss(x, y, w2.expand(3, 1, 12, 10)), atol=1e-14)


def test_a_binary_mask_is_the_loss_over_the_masked_pixels():
    x, y = _pair(shape=(1, 3, 6, 6))
    mask = torch.zeros(1, 1, 6, 6, dtype=torch.bool)
    mask[..., 1:4, 2:5] = True
    assert_close(weighted_loss(x, y, mask), l1_loss(x[..., 1:4, 2:5], y[..., 1:4, 2:5]), atol=1e-7)


def test_all_zero_weights_give_zero_and_zero_gradient_not_nan():
    x, y = _pair(shape=(2, 3, 4, 4))
    x.requires_grad_(True)
    w = torch.ones(2, 1, 4, 4)
    w[1] = 0.0  # the second sample has no pixel that counts
    values = weighted_loss(x, y, w, reduction="none")
    assert values[1].item() == 0.0 and values[0].item() > 0
    values.sum().backward()
    assert torch.isfinite(x.grad).all()
    assert torch.equal(x.grad[1], torch.zeros_like(x.grad[1]))
    # "mean" averages over all B samples, the empty one included
    assert_close(weighted_loss(x, y, w), values.mean(), atol=1e-7)


def test_weighted_gradcheck_in_x_and_weight():
    x, y = _pair(shape=(2, 1, 3, 4), dtype=torch.float64)
    w = torch.rand(2, 1, 3, 4, dtype=torch.float64) + 0.1
    x.requires_grad_(True)
    w.requires_grad_(True)
    for kind in ("l1", "l2"):
        fn = lambda a, b, k=kind: weighted_loss(a, y, b, kind=k, reduction="none")  # noqa: E731
        assert torch.autograd.gradcheck(fn, (x, w))


@pytest.mark.parametrize(
    ("weight", "message"),
    [
        (-torch.ones(2, 1, 4, 4), "weight must be finite and >= 0 everywhere"),
        (torch.full((2, 1, 4, 4), float("nan")), "weight must be finite and >= 0 everywhere"),
        (
            torch.ones(2, 1, 5, 4),
            "weight of shape (2, 1, 5, 4) does not broadcast to x's shape (2, 3, 4, 4)",
        ),
        (
            torch.ones(1, 2, 3, 4, 4),
            "weight of shape (1, 2, 3, 4, 4) does not broadcast to x's shape (2, 3, 4, 4)",
        ),
        (0.5, "weight must be a torch.Tensor, got float"),
    ],
)
def test_weighted_bad_weight(weight, message):
    x, y = _pair(shape=(2, 3, 4, 4))
    with pytest.raises(RestorekitError, match=f"^{re.escape(message)}$"):
        weighted_loss(x, y, weight)


def test_weighted_unknown_kind():
    x, y = _pair(shape=(1, 1, 4, 4))
    with pytest.raises(
        RestorekitError, match=re.escape("unknown weighted_loss kind 'l3'; known: l1, l2")
    ):
        weighted_loss(x, y, torch.ones(1, 1, 4, 4), kind="l3")
    with pytest.raises(RestorekitError, match=re.escape("unknown weighted_loss kind 'L1'")):
        WeightedLoss("L1")


# --- bad arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize("fn", [l1_loss, l2_loss, charbonnier_loss])
def test_unknown_reduction(fn):
    x, y = _pair(shape=(1, 1, 4, 4))
    message = "unknown reduction 'sum'; known: mean, none"
    with pytest.raises(RestorekitError, match=f"^{re.escape(message)}$"):
        fn(x, y, reduction="sum")


def test_bad_eps_and_module_arguments_fail_when_built():
    x, y = _pair(shape=(1, 1, 4, 4))
    message = "eps must be a finite number > 0, got 0"
    with pytest.raises(RestorekitError, match=f"^{re.escape(message)}$"):
        charbonnier_loss(x, y, eps=0)
    with pytest.raises(RestorekitError, match=f"^{re.escape(message)}$"):
        CharbonnierLoss(eps=0)
    with pytest.raises(RestorekitError, match=re.escape("unknown reduction 'men'; known: mean")):
        L1Loss(reduction="men")


def test_shape_mismatch():
    message = "x and y must have the same shape, got (1, 3, 8, 8) and (1, 3, 8, 9)"
    with pytest.raises(RestorekitError, match=f"^{re.escape(message)}$"):
        l1_loss(torch.rand(1, 3, 8, 8), torch.rand(1, 3, 8, 9))
