from __future__ import annotations

import re

import pytest
import torch

from restorekit.errors import RestorekitError
from restorekit.metrics import METRICS, cpsnr, get_metric, ms_ssim, psnr


def test_every_registered_metric_takes_a_pair_and_returns_one_value_per_image():
    g = torch.Generator().manual_seed(0)
    x, y = torch.rand(2, 3, 40, 40, generator=g), torch.rand(2, 3, 40, 40, generator=g)
    for name, fn in METRICS.items():
        out = fn(x, y)
        assert out.shape == (2,), name
        assert torch.isfinite(out).all(), name


def test_get_metric():
    assert get_metric("psnr") is psnr
    assert get_metric(" MS_SSIM ") is ms_ssim
    assert get_metric("CPSNR") is cpsnr


def test_unknown_metric_lists_the_closest_first():
    with pytest.raises(RestorekitError, match=re.escape("unknown metric 'pnsr'; known: psnr, ")):
        get_metric("pnsr")
