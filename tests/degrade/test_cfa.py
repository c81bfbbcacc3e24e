from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import read_uint8, shared_images
from restorekit.degrade import CFA, Mosaic, mosaic, mosaic_sparse, parse_cfa, sparse_from_mosaic
from restorekit.errors import RestorekitError


@pytest.mark.parametrize("cfa", list(CFA))
def test_mosaic_equals_colour_demosaicing(cfa):
    colour_demosaicing = pytest.importorskip("colour_demosaicing")
    rgb = read_uint8(shared_images("test/color/Kodak24")[0])[:37, :31]
    x = rgb.astype(np.float64) / 255
    ours = mosaic(torch.from_numpy(x).permute(2, 0, 1)[None], cfa)[0, 0].numpy()
    ref = colour_demosaicing.mosaicing_CFA_Bayer(x, cfa.value)
    np.testing.assert_array_equal(ours, ref)


def test_rggb_positions():
    x = torch.zeros(1, 3, 2, 2)
    x[0, 0, 0, 0] = 1  # R at (0, 0)
    x[0, 1, 0, 1] = x[0, 1, 1, 0] = 2  # G at (0, 1) and (1, 0)
    x[0, 2, 1, 1] = 3  # B at (1, 1)
    assert mosaic(x, "RGGB")[0, 0].tolist() == [[1, 2], [2, 3]]


@pytest.mark.parametrize("cfa", list(CFA))
def test_shifted_layout_matches_a_crop(cfa):
    x = torch.rand(1, 3, 8, 8)
    m = mosaic(x, cfa)
    for dy in (0, 1):
        for dx in (0, 1):
            crop = mosaic(x[..., dy:, dx:], cfa.shifted(dy, dx))
            assert torch.equal(crop, m[..., dy:, dx:])


def test_sparse_forms_agree():
    x = torch.rand(2, 3, 5, 7)
    for cfa in CFA:
        s = mosaic_sparse(x, cfa)
        assert torch.equal(s.sum(1, keepdim=True), mosaic(x, cfa))
        assert torch.equal(sparse_from_mosaic(mosaic(x, cfa), cfa), s)
        assert ((s != 0).sum(1) <= 1).all()


def test_module_equals_function():
    x = torch.rand(1, 3, 6, 6)
    assert torch.equal(Mosaic("GRBG")(x), mosaic(x, "GRBG"))
    assert torch.equal(Mosaic("GRBG", sparse=True)(x), mosaic_sparse(x, "GRBG"))


def test_bad_input():
    with pytest.raises(RestorekitError, match="unknown CFA 'XYZW'; known:"):
        parse_cfa("XYZW")
    with pytest.raises(RestorekitError, match="must have 3 channels, got 1"):
        mosaic(torch.zeros(1, 1, 4, 4), "RGGB")
    with pytest.raises(RestorekitError, match="must have 1 channels, got 3"):
        sparse_from_mosaic(torch.zeros(1, 3, 4, 4), "RGGB")


def test_gradcheck():
    x = torch.rand(1, 3, 4, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: mosaic(t, "GBRG"), (x,))
    assert torch.autograd.gradcheck(lambda t: mosaic_sparse(t, "BGGR"), (x,))


@pytest.mark.parametrize("cfa", ["RGGB", "GRBG", "BGGR", "GBRG"])
@pytest.mark.parametrize(("H", "W"), [(6, 8), (7, 8), (6, 9), (7, 9)])
def test_the_layout_after_a_symmetry_is_the_mosaic_of_the_transformed_image(cfa, H, W):
    from restorekit.data.patches import dihedral

    rgb = torch.rand(1, 3, H, W, generator=torch.Generator().manual_seed(H * W))
    for k in range(8):
        layout = parse_cfa(cfa).transformed(k, H, W)
        assert torch.equal(dihedral(mosaic(rgb, cfa), k), mosaic(dihedral(rgb, k), layout)), k
