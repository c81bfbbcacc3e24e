"""restorekit.color: the sRGB transfer function against IEC 61966-2-1 and colour-science."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import assert_close
from restorekit.color import SRGB_TO_XYZ_D65, srgb_decode, srgb_encode


def _encode_ref(x: np.ndarray) -> np.ndarray:
    """IEC 61966-2-1 written out in numpy."""
    return np.where(
        x <= 0.0031308, 12.92 * x, 1.055 * np.maximum(x, 0.0031308) ** (1 / 2.4) - 0.055
    )


def _decode_ref(v: np.ndarray) -> np.ndarray:
    return np.where(v <= 0.04045, v / 12.92, ((np.maximum(v, 0.04045) + 0.055) / 1.055) ** 2.4)


GRID = np.linspace(0.0, 1.0, 10001)


def test_encode_matches_the_standard_formula():
    assert_close(srgb_encode(torch.from_numpy(GRID)), _encode_ref(GRID), atol=1e-15)


def test_decode_matches_the_standard_formula():
    assert_close(srgb_decode(torch.from_numpy(GRID)), _decode_ref(GRID), atol=1e-15)


def test_matches_colour_science():
    colour = pytest.importorskip("colour")
    x = torch.from_numpy(GRID)
    assert_close(srgb_encode(x), colour.models.eotf_inverse_sRGB(GRID), atol=1e-12)
    assert_close(srgb_decode(x), colour.models.eotf_sRGB(GRID), atol=1e-12)


def test_breakpoints_and_end_points():
    x = torch.tensor([0.0, 0.0031308, 1.0], dtype=torch.float64)
    assert_close(srgb_encode(x), [0.0, 0.0031308 * 12.92, 1.0], atol=1e-15)
    v = torch.tensor([0.0, 0.04045, 1.0], dtype=torch.float64)
    assert_close(srgb_decode(v), [0.0, 0.04045 / 12.92, 1.0], atol=1e-15)
    # just above each breakpoint the power law takes over and joins the line to ~3e-8
    assert_close(srgb_encode(x[1:2] + 1e-12), [0.0031308 * 12.92], atol=3e-8)
    assert_close(srgb_decode(v[1:2] + 1e-12), [0.04045 / 12.92], atol=3e-9)


def test_known_mid_values():
    # 18 % grey encodes to 0.4614; code 0.5 decodes to 0.2140 (published sRGB tables)
    assert_close(srgb_encode(torch.tensor([0.18], dtype=torch.float64)), [0.461356], atol=1e-6)
    assert_close(srgb_decode(torch.tensor([0.5], dtype=torch.float64)), [0.214041], atol=1e-6)


def test_round_trip():
    x = torch.linspace(0, 1, 100001, dtype=torch.float64)
    assert_close(srgb_decode(srgb_encode(x)), x, atol=3e-9)
    assert_close(srgb_encode(srgb_decode(x)), x, atol=3e-8)
    away = (x - 0.04045).abs() > 1e-6  # outside the sliver where the rounded pieces disagree
    assert_close(srgb_encode(srgb_decode(x))[away], x[away], atol=1e-14)


def test_monotonic_and_keeps_shape_and_dtype():
    x = torch.rand(2, 3, 5, 7)
    y = srgb_encode(x)
    assert y.shape == x.shape and y.dtype == torch.float32
    s = torch.linspace(0, 1, 1001)
    assert bool((srgb_encode(s).diff() > 0).all()) and bool((srgb_decode(s).diff() > 0).all())


def test_gradients_are_finite_at_zero_and_correct():
    x = torch.tensor([0.0, 0.001, 0.2, 0.9], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(srgb_encode, (x,))
    assert torch.autograd.gradcheck(srgb_decode, (x,))
    srgb_encode(torch.zeros(3, requires_grad=True)).sum().backward()


def test_srgb_to_xyz_rows_sum_to_d65_white():
    white = np.array(SRGB_TO_XYZ_D65).sum(axis=1)
    assert_close(white, [0.950456, 1.0, 1.088754], atol=1e-6)
