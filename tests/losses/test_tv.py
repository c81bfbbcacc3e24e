from __future__ import annotations

import re

import pytest
import torch

from helpers import assert_close
from restorekit.errors import RestorekitError
from restorekit.losses import (
    LOSSES,
    CompositeLoss,
    GradientDifferenceLoss,
    TVLoss,
    get_loss,
    gradient_difference,
    l1_loss,
    tv_loss,
)


def _pair(shape=(3, 3, 9, 7), dtype=torch.float32, seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g, dtype=dtype), torch.rand(shape, generator=g, dtype=dtype)


def _raises(message, fn, *args, **kwargs):
    with pytest.raises(RestorekitError, match=f"^{re.escape(message)}$"):
        fn(*args, **kwargs)


# --- values -----------------------------------------------------------------------------------


def test_zero_for_constant_images_and_identical_pairs():
    flat = torch.full((2, 3, 5, 6), 0.7)
    assert torch.equal(tv_loss(flat, reduction="none"), torch.zeros(2))
    x, y = _pair()
    assert torch.equal(gradient_difference(x, x.clone(), reduction="none"), torch.zeros(3))
    # a global offset has the same gradients
    assert_close(gradient_difference(x + 0.25, x), torch.tensor(0.0), atol=1e-6)


def test_tiny_example_by_hand():
    x = torch.tensor([[0.0, 1.0, 3.0], [2.0, 4.0, 4.0]], dtype=torch.float64).view(1, 1, 2, 3)
    # horizontal steps |1|, |2|, |2|, |0| over 2 x 2 positions: 5 / 4
    # vertical steps |2|, |3|, |1| over 1 x 3 positions: 6 / 3
    assert_close(tv_loss(x), torch.tensor(5 / 4 + 2.0, dtype=torch.float64), atol=1e-15)
    y = torch.tensor([[1.0, 1.0, 1.0], [1.0, 2.0, 3.0]], dtype=torch.float64).view(1, 1, 2, 3)
    # x - y = [[-1, 0, 2], [1, 2, 1]]: horizontal 1, 2, 1, 1 -> 5 / 4; vertical 2, 2, 1 -> 5 / 3
    assert_close(
        gradient_difference(x, y), torch.tensor(5 / 4 + 5 / 3, dtype=torch.float64), atol=1e-15
    )


def test_each_channel_and_sample_counts_alike():
    x, y = _pair(dtype=torch.float64)
    dh = lambda t: t[..., :, 1:] - t[..., :, :-1]  # noqa: E731
    dv = lambda t: t[..., 1:, :] - t[..., :-1, :]  # noqa: E731
    want = (dh(x) - dh(y)).abs().mean(dim=(1, 2, 3)) + (dv(x) - dv(y)).abs().mean(dim=(1, 2, 3))
    assert_close(gradient_difference(x, y, reduction="none"), want, atol=1e-14)
    assert_close(gradient_difference(x, y), want.mean(), atol=1e-14)
    assert_close(tv_loss(x - y, reduction="none"), want, atol=1e-14)


def test_gradient_difference_ignores_what_l1_sees():
    # A shift of the whole image by a constant costs L1 but no gradient difference; a
    # checkerboard of the same amplitude costs both.
    x = torch.rand(1, 1, 8, 8, generator=torch.Generator().manual_seed(1))
    board = (torch.arange(8)[:, None] + torch.arange(8)[None, :]) % 2 * 0.1
    assert l1_loss(x + 0.1, x) > 0.09 and gradient_difference(x + 0.1, x) < 1e-6
    assert_close(gradient_difference(x + board, x), torch.tensor(0.2), atol=1e-6)


# --- gradients --------------------------------------------------------------------------------


def test_gradcheck():
    x, y = _pair(shape=(2, 2, 4, 5), dtype=torch.float64)
    x.requires_grad_(True)
    y.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda a: tv_loss(a, reduction="none"), (x,))
    assert torch.autograd.gradcheck(
        lambda a, b: gradient_difference(a, b, reduction="none"), (x, y)
    )


# --- modules and registry ---------------------------------------------------------------------


def test_modules_equal_functions_and_are_registered():
    x, y = _pair()
    assert torch.equal(TVLoss("none")(x, y), tv_loss(x, reduction="none"))
    assert torch.equal(TVLoss()(x), tv_loss(x))
    assert torch.equal(GradientDifferenceLoss()(x, y), gradient_difference(x, y))
    assert LOSSES["tv"] is TVLoss and LOSSES["gradient_difference"] is GradientDifferenceLoss
    assert isinstance(get_loss("gradient_difference", reduction="none"), GradientDifferenceLoss)
    total, parts = CompositeLoss({"l1": 1.0, "gradient_difference": 0.5, "tv": 0.01})(x, y)
    assert_close(
        total, parts["l1"] + 0.5 * parts["gradient_difference"] + 0.01 * parts["tv"], atol=1e-6
    )
    assert repr(TVLoss()) == "TVLoss(reduction='mean')"


# --- bad input --------------------------------------------------------------------------------


def test_bad_input():
    _raises("image gradients need at least 2x2 pixels, got 1x5", tv_loss, torch.rand(1, 1, 1, 5))
    _raises(
        "x and y must have the same shape, got (1, 1, 4, 4) and (1, 1, 4, 5)",
        gradient_difference,
        torch.rand(1, 1, 4, 4),
        torch.rand(1, 1, 4, 5),
    )
    _raises("unknown reduction 'sum'; known: mean, none", tv_loss, torch.rand(1, 1, 4, 4), "sum")
    _raises("unknown reduction 'sum'; known: mean, none", GradientDifferenceLoss, "sum")
    _raises("image must have shape (B, C, H, W), got (4, 4)", tv_loss, torch.rand(4, 4))
