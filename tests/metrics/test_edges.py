from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch

from helpers import assert_close
from restorekit.errors import RestorekitError
from restorekit.metrics import EPI, GCMSE, epi, gcmse, laplacian


def _img(rows: list[list[float]]) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)[None, None]


# ---------------------------------------------------------------- EPI


def test_epi_by_hand():
    # Reference row 1 = [0, 1, 0, 0, 0] in a 3x5 image of zeros; the 3x3 Laplacian on the valid
    # 1x3 region (centres (1,1), (1,2), (1,3)) is
    #   ref:      (1,1): 0+0+0+0 - 4*1 = -4   (1,2): 1 + 0 - 0 = 1   (1,3): 0
    # Restored row 1 = [0, .5, .5, 0, 0]:
    #   restored: (1,1): .5 - 4*.5 = -1.5     (1,2): .5 - 2 = -1.5  (1,3): .5
    # Centred: ref - mean(-1) = [-3, 2, 1]; restored - mean(-5/6) = [-2/3, -2/3, 4/3].
    # Sum of products = 2 - 4/3 + 4/3 = 2; sums of squares 14 and 24/9 = 8/3.
    # EPI = 2 / sqrt(14 * 8/3) = sqrt(3/28).
    ref = _img([[0, 0, 0, 0, 0], [0, 1, 0, 0, 0], [0, 0, 0, 0, 0]])
    out = _img([[0, 0, 0, 0, 0], [0, 0.5, 0.5, 0, 0], [0, 0, 0, 0, 0]])
    assert laplacian(ref).flatten().tolist() == [-4.0, 1.0, 0.0]
    assert laplacian(out).flatten().tolist() == [-1.5, -1.5, 0.5]
    assert_close(epi(out, ref), torch.tensor([math.sqrt(3 / 28)], dtype=torch.float64), atol=1e-12)


def test_epi_identical_is_one_and_affine_invariant():
    g = torch.Generator().manual_seed(0)
    y = torch.rand(2, 3, 16, 16, generator=g, dtype=torch.float64)
    assert_close(epi(y, y), torch.ones(2), atol=1e-12)
    assert_close(epi(0.3 * y + 0.4, y), torch.ones(2), atol=1e-12)
    assert_close(epi(-y, y), -torch.ones(2), atol=1e-12)


def test_epi_drops_when_edges_are_blurred():
    g = torch.Generator().manual_seed(1)
    y = torch.rand(1, 1, 32, 32, generator=g, dtype=torch.float64)
    blurred = torch.nn.functional.avg_pool2d(y, 3, stride=1, padding=1, count_include_pad=False)
    assert epi(blurred, y).item() < 0.9


def test_epi_channels_are_pooled():
    # With the same image in every channel, the pooled correlation equals the gray one.
    g = torch.Generator().manual_seed(2)
    y = torch.rand(1, 1, 12, 12, generator=g, dtype=torch.float64)
    x = y + 0.1 * torch.randn(y.shape, generator=g, dtype=torch.float64)
    assert_close(epi(x.expand(1, 3, 12, 12), y.expand(1, 3, 12, 12)), epi(x, y), atol=1e-12)


def test_epi_flat_cases():
    flat = torch.full((1, 1, 8, 8), 0.5, dtype=torch.float64)
    ramp = torch.linspace(0, 1, 8, dtype=torch.float64).expand(1, 1, 8, 8)  # Laplacian ~ 0
    g = torch.Generator().manual_seed(3)
    edges = torch.rand(1, 1, 8, 8, generator=g, dtype=torch.float64)
    assert epi(flat, flat).item() == 1.0  # nothing to preserve, nothing added
    assert epi(ramp, flat).item() == 1.0
    assert epi(flat, edges).item() == 0.0  # every edge lost
    assert epi(edges, flat).item() == 0.0  # edges invented on a flat reference


def test_epi_gradcheck_and_finite_gradient_when_flat():
    g = torch.Generator().manual_seed(4)
    y = torch.rand(1, 1, 6, 7, generator=g, dtype=torch.float64)
    x = torch.rand(1, 1, 6, 7, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: epi(a, y), (x,))
    flat = torch.full((1, 1, 6, 7), 0.5, dtype=torch.float64, requires_grad=True)
    epi(flat, y).sum().backward()
    assert torch.isfinite(flat.grad).all()


def test_epi_crop_and_small_images():
    g = torch.Generator().manual_seed(5)
    y = torch.rand(1, 1, 10, 10, generator=g, dtype=torch.float64)
    x = y + 0.05 * torch.randn(y.shape, generator=g, dtype=torch.float64)
    assert_close(epi(x, y, crop=2), epi(x[..., 2:-2, 2:-2], y[..., 2:-2, 2:-2]), atol=1e-14)
    with pytest.raises(RestorekitError, match=re.escape("epi needs images of at least 3x3 pixels")):
        epi(torch.rand(1, 1, 2, 8), torch.rand(1, 1, 2, 8))


# ---------------------------------------------------------------- GCMSE


def _gcmse_sums(x: np.ndarray, ref: np.ndarray, kappa: float, rational: bool = False):
    """Sum of (G e)^2 and sum of G, pixel by pixel from the definition (2-D gray image)."""
    H, W = ref.shape

    def cond(d: float) -> float:
        return 1 / (1 + (d / kappa) ** 2) if rational else math.exp(-((d / kappa) ** 2))

    num = den = 0.0
    for i in range(H):
        for j in range(W):
            c = 0.0
            for di, dj in ((-1, 0), (1, 0), (0, -1), (0, 1)):
                ii, jj = i + di, j + dj
                inside = 0 <= ii < H and 0 <= jj < W
                c += cond(ref[ii, jj] - ref[i, j]) if inside else 1.0  # outside: homogeneous
            weight = 1 - c / 4
            num += (weight * (x[i, j] - ref[i, j])) ** 2
            den += weight
    return num, den


def test_gcmse_by_hand():
    # Reference [[0, 1], [0, 1]]: a vertical edge. Every pixel has one horizontal neighbour across
    # the edge (difference 1, conduction exp(-(1/0.5)^2) = e^-4) and three neighbours that are equal
    # or outside the image (conduction 1): G = 1 - (3 + e^-4)/4 = (1 - e^-4)/4 at all 4 pixels.
    # An error of 0.1 at one pixel: sum (G e)^2 = G^2 * 0.01 and sum G = 4 G, so
    #   GCMSE = N * G^2 * 0.01 / (4 G) = 4 * 0.01 * G / 4 = 0.01 * G,
    #   size_scaled=False: 0.01 * G / 4.
    ref = _img([[0, 1], [0, 1]])
    x = _img([[0.1, 1], [0, 1]])
    G = (1 - math.exp(-4)) / 4
    assert_close(gcmse(x, ref), torch.tensor([0.01 * G], dtype=torch.float64), atol=1e-15)
    assert_close(
        gcmse(x, ref, size_scaled=False),
        torch.tensor([0.01 * G / 4], dtype=torch.float64),
        atol=1e-15,
    )
    # Perona-Malik's rational conduction: 1 / (1 + 4) = 0.2, G = (1 - 0.2)/4 = 0.2.
    assert_close(
        gcmse(x, ref, conduction="rational"),
        torch.tensor([0.01 * 0.2], dtype=torch.float64),
        atol=1e-15,
    )


def test_gcmse_error_away_from_edges_has_no_weight():
    # 4x4 step: columns 0-1 are 0, columns 2-3 are 1. Columns 0 and 3 have no neighbour across the
    # edge, so G = 1 - (1 + 1 + 1 + 1)/4 = 0 there; an error only in those columns scores 0.
    ref = torch.zeros(1, 1, 4, 4, dtype=torch.float64)
    ref[..., 2:] = 1.0
    x = ref.clone()
    x[..., 0] += 0.3
    x[..., 3] -= 0.2
    assert gcmse(x, ref).item() == 0.0
    # The same error at the edge columns does count.
    x = ref.clone()
    x[..., 1] += 0.3
    assert gcmse(x, ref).item() > 0


@pytest.mark.parametrize("rational", [False, True])
def test_gcmse_equals_the_pixel_loop_definition(rational):
    g = torch.Generator().manual_seed(6)
    ref = torch.rand(6, 7, generator=g, dtype=torch.float64)
    x = (ref + 0.1 * torch.randn(6, 7, generator=g, dtype=torch.float64)).clamp(0, 1)
    num, den = _gcmse_sums(x.numpy(), ref.numpy(), kappa=0.3, rational=rational)
    kind = "rational" if rational else "exp"
    out = gcmse(x[None, None], ref[None, None], kappa=0.3, conduction=kind)
    assert_close(out, torch.tensor([num * 6 * 7 / den], dtype=torch.float64), atol=1e-12)


def test_gcmse_identical_is_zero_and_flat_reference_is_zero():
    g = torch.Generator().manual_seed(7)
    y = torch.rand(2, 3, 9, 9, generator=g, dtype=torch.float64)
    assert torch.equal(gcmse(y, y), torch.zeros(2, dtype=torch.float64))
    flat = torch.full((1, 1, 9, 9), 0.4, dtype=torch.float64)
    assert gcmse(torch.rand(1, 1, 9, 9, dtype=torch.float64), flat).item() == 0.0


def test_gcmse_colour_pools_channels_with_their_own_weights():
    # As PyGCMSE on an HxWx3 array: each channel's weights from its own differences, sums pooled,
    # N = 3 * H * W.
    g = torch.Generator().manual_seed(8)
    y = torch.rand(1, 3, 8, 8, generator=g, dtype=torch.float64)
    x = y + 0.05 * torch.randn(y.shape, generator=g, dtype=torch.float64)
    sums = [_gcmse_sums(x[0, c].numpy(), y[0, c].numpy(), kappa=0.5) for c in range(3)]
    num, den = sum(s[0] for s in sums), sum(s[1] for s in sums)
    assert_close(gcmse(x, y), torch.tensor([num * 3 * 64 / den], dtype=torch.float64), atol=1e-12)


def test_gcmse_gradient():
    g = torch.Generator().manual_seed(9)
    y = torch.rand(1, 1, 5, 6, generator=g, dtype=torch.float64)
    x = torch.rand(1, 1, 5, 6, generator=g, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: gcmse(a, y), (x,))


def test_modules_equal_functions():
    g = torch.Generator().manual_seed(10)
    x, y = torch.rand(2, 3, 12, 12, generator=g), torch.rand(2, 3, 12, 12, generator=g)
    assert torch.equal(EPI(crop=1)(x, y), epi(x, y, crop=1))
    m = GCMSE(kappa=0.2, crop=1, conduction="rational", size_scaled=False)
    assert torch.equal(
        m(x, y), gcmse(x, y, kappa=0.2, crop=1, conduction="rational", size_scaled=False)
    )
    assert "conduction='rational'" in repr(m)


def test_dtype_is_kept():
    x, y = torch.rand(1, 1, 8, 8), torch.rand(1, 1, 8, 8)
    assert epi(x, y).dtype == torch.float32 and gcmse(x, y).dtype == torch.float32


@pytest.mark.parametrize(
    ("fn", "x", "y", "kwargs", "message"),
    [
        (
            epi,
            torch.rand(1, 1, 8, 8),
            torch.rand(1, 1, 8, 7),
            {},
            "x and y must have the same shape",
        ),
        (
            epi,
            torch.rand(1, 2, 8, 8),
            torch.rand(1, 2, 8, 8),
            {},
            "x must have 1 or 3 channels, got 2",
        ),
        (
            gcmse,
            torch.rand(1, 1, 8, 8),
            torch.rand(1, 3, 8, 8),
            {},
            "got (1, 1, 8, 8) and (1, 3, 8, 8)",
        ),
        (
            gcmse,
            torch.rand(1, 1, 8, 8),
            torch.rand(1, 1, 8, 8),
            {"kappa": 0},
            "kappa must be a finite number > 0",
        ),
        (
            gcmse,
            torch.rand(1, 1, 8, 8),
            torch.rand(1, 1, 8, 8),
            {"conduction": "exponential"},
            "unknown conduction 'exponential'; known: exp, rational",
        ),
    ],
)
def test_bad_input(fn, x, y, kwargs, message):
    with pytest.raises(RestorekitError, match=re.escape(message)):
        fn(x, y, **kwargs)
