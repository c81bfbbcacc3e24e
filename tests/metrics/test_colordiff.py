"""CIEDE2000 and CIELAB against colour-science (live) and Sharma et al.'s published test pairs."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import assert_close, read_uint8, shared_images
from restorekit.metrics import CIEDE2000, METRICS, ciede2000, delta_e_map, srgb_to_lab

colour = pytest.importorskip("colour")


def _t(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None]


def _pairs() -> tuple[np.ndarray, np.ndarray]:
    """A Kodak crop and a perturbed copy, with equal, grey, black and hue-wrapping pixels."""
    a = read_uint8(shared_images("test/color/Kodak24")[4])[:48, :64] / 255.0
    rng = np.random.default_rng(0)
    b = np.clip(a + rng.normal(0, 0.06, a.shape), 0, 1)
    b[:3] = a[:3]  # identical
    a[3], b[4] = a[3, :, :1], 0  # grey, black
    return a, b


def test_lab_equals_colour_science():
    a, _ = _pairs()
    ref = colour.XYZ_to_Lab(colour.sRGB_to_XYZ(a))
    assert_close(srgb_to_lab(_t(a))[0].permute(1, 2, 0), ref, atol=1e-9)


def test_ciede2000_equals_colour_science():
    a, b = _pairs()
    lab_a = colour.XYZ_to_Lab(colour.sRGB_to_XYZ(a))
    lab_b = colour.XYZ_to_Lab(colour.sRGB_to_XYZ(b))
    ref = colour.delta_E(lab_a, lab_b, method="CIE 2000")
    assert_close(delta_e_map(srgb_to_lab(_t(a)), srgb_to_lab(_t(b)))[0], ref, atol=1e-9)
    assert_close(ciede2000(_t(a), _t(b)), [ref.mean()], atol=1e-9)
    assert_close(ciede2000(_t(a), _t(b), "p95"), [np.percentile(ref, 95)], atol=1e-9)
    assert METRICS["ciede2000"] is ciede2000
    assert_close(CIEDE2000()(_t(a), _t(b)), ciede2000(_t(a), _t(b)), atol=0)


def test_sharma_published_pairs():
    """Pairs 1, 7 and 17 of Sharma, Wu, Dalal (2005), Table 1: 2.0425, 2.3669, 27.1492."""
    lab1 = torch.tensor([[50.0, 2.6772, -79.7751], [50.0, 0.0, 0.0], [50.0, 2.5, 0.0]])
    lab2 = torch.tensor([[50.0, 0.0, -82.7485], [50.0, -1.0, 2.0], [73.0, 25.0, -18.0]])
    as_image = lambda v: v.double().T[None, :, :, None]  # noqa: E731
    ours = delta_e_map(as_image(lab1), as_image(lab2)).flatten()
    assert_close(ours, [2.0425, 2.3669, 27.1492], atol=5e-5)
