"""Grain estimation: Boolean parameters back from renders of known parameters, the Gaussian
curves, the whole estimate on an image, and the one-line error without a flat block."""

from __future__ import annotations

import pytest
import torch

from helpers import read_uint8, shared_images, to_tensor
from restorekit.errors import RestorekitError
from restorekit.film.boolean import BooleanGrain, boolean_autocovariance, render_boolean
from restorekit.film.estimate import (
    block_statistics,
    estimate_grain,
    fit_boolean,
    fit_gaussian,
    plane_residual,
)

LEVELS = torch.tensor([0.15, 0.3, 0.45, 0.6, 0.75, 0.9])


def _flat_fields(grain: BooleanGrain, seed: int, size: int = 256) -> tuple[torch.Tensor, ...]:
    """Six flat fields stacked vertically (one image), rendered with ``grain``."""
    x = LEVELS.view(-1, 1, 1, 1).expand(-1, 1, size, size).reshape(1, 1, -1, size).contiguous()
    out = render_boolean(x, grain, torch.Generator().manual_seed(seed))
    mask = torch.ones(out.shape[-2] // 32, out.shape[-1] // 32, dtype=torch.bool)
    return x, out, mask


@pytest.mark.parametrize(("radius", "blur"), [(0.4, 0.7), (0.6, 1.0), (1.0, 0.8)])
def test_boolean_parameters_come_back_within_5_percent(radius, blur):
    x, out, mask = _flat_fields(BooleanGrain(radius=radius, blur=blur), seed=3)
    (stats,) = block_statistics(x, out - x, mask)
    fit, residual = fit_boolean(stats)
    assert abs(fit.radius / radius - 1) < 0.05, fit
    assert abs(fit.blur / blur - 1) < 0.05, fit
    assert residual < 0.05


def test_plane_residual_keeps_the_grain_and_removes_planes():
    yy, xx = torch.meshgrid(torch.arange(64.0), torch.arange(96.0), indexing="ij")
    plane = (0.2 + 0.003 * xx - 0.002 * yy)[None, None]
    noise = 0.05 * torch.randn(1, 1, 64, 96, generator=torch.Generator().manual_seed(0))
    fitted, residual = plane_residual(plane + noise, 32)
    assert torch.allclose(fitted + residual, (plane + noise).double(), atol=1e-12)
    _, flat_only = plane_residual(plane, 32)
    assert flat_only.abs().max() < 1e-6  # the float32 plane itself
    assert abs(residual.std().item() / 0.05 - 1) < 0.03


def test_fit_gaussian_takes_the_measured_variance_and_shape():
    g = BooleanGrain(radius=0.5, blur=0.8)
    x, out, mask = _flat_fields(g, seed=1)
    (stats,) = block_statistics(x, out - x, mask)
    curves = fit_gaussian(stats)
    for u in (0.3, 0.6):
        truth = boolean_autocovariance(u, g, [(0, 0)])[0].sqrt().item()
        assert abs(curves.std_at(torch.tensor([u])).item() / truth - 1) < 0.05
    k = curves.kernel
    assert k.shape == (7, 7) and torch.allclose(k, k.flip(0).flip(1), atol=1e-6)


def test_estimate_on_a_grainy_ramp():
    """An RGB ramp with Boolean grain: every channel's radius and blur within 5 %, and an AV1
    table with grain in all three planes."""
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 384), torch.linspace(0, 1, 384), indexing="ij")
    x = (0.15 + 0.7 * xx)[None, None].expand(1, 3, 384, 384).contiguous()
    grain = BooleanGrain(radius=0.5, blur=0.8)
    out = render_boolean(x, grain, torch.Generator().manual_seed(0))
    est = estimate_grain(out)
    assert est.flat_blocks > 20
    for b in est.boolean:
        assert abs(b.radius / 0.5 - 1) < 0.05 and abs(b.blur / 0.8 - 1) < 0.05, b
    assert est.av1.scaling_points_y and est.av1.scaling_points_cb and est.av1.scaling_points_cr
    d = est.to_dict()
    assert set(d) >= {"boolean", "gaussian", "av1", "flat_blocks"}
    assert "radius 0.5" in est.summary() or "radius 0.4" in est.summary()


def test_no_flat_block_is_one_clear_error():
    path = shared_images("test/color/Kodak24")[4]  # kodim05: motorbikes, detail everywhere
    x = to_tensor(read_uint8(path))[..., :128, :128]
    with pytest.raises(RestorekitError, match=r"^no flat block"):
        estimate_grain(x)
