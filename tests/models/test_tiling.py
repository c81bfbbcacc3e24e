"""Tiled inference equals whole-image inference and bounds memory."""

from __future__ import annotations

import pytest
import torch

from restorekit.degrade import CFA
from restorekit.errors import RestorekitError
from restorekit.eval import PeakMemory
from restorekit.models import build
from restorekit.models.demosaic import demosaic_learned
from restorekit.models.tiling import tile_spans, tiled


def _net():
    torch.manual_seed(0)
    net = build("demosaicnet", channels=16, depth=2).eval()
    torch.nn.init.normal_(net.tail.weight, std=0.05)
    return net


def test_spans_cover_the_axis_once():
    for n in (1, 7, 64, 100, 513):
        spans = tile_spans(n, 32, 8)
        covered = [i for s in spans for i in range(s[0], s[1])]
        assert covered == list(range(n))
        assert all(e0 <= c0 and c1 <= e1 for c0, c1, e0, e1 in spans)


@pytest.mark.parametrize("cfa", list(CFA))
@pytest.mark.parametrize("size", [(150, 97), (64, 64), (33, 130)])
def test_tiles_equal_the_whole_image(cfa, size):
    net = _net()
    raw = torch.rand(1, 1, *size, generator=torch.Generator().manual_seed(1))
    with torch.inference_mode():
        whole = net(raw, cfa)
        parts = tiled(lambda t: net(t, cfa), raw, tile=32, overlap=net.receptive_radius)
    torch.testing.assert_close(parts, whole, rtol=0, atol=1e-5)


def test_too_little_overlap_shows_seams():
    net = _net()
    raw = torch.rand(1, 1, 96, 96, generator=torch.Generator().manual_seed(2))
    with torch.inference_mode():
        whole = net(raw)
        parts = tiled(lambda t: net(t), raw, tile=32, overlap=0)
    assert (parts - whole).abs().max() > 1e-3


def test_bad_arguments():
    with pytest.raises(RestorekitError, match="need tile >= 1"):
        tiled(lambda t: t, torch.rand(1, 1, 8, 8), tile=0)
    with pytest.raises(RestorekitError, match="fn changed the tile size"):
        tiled(lambda t: t[..., :-1], torch.rand(1, 1, 8, 8), tile=4, overlap=0)


@pytest.mark.slow
def test_a_4000x3000_mosaic_tiled_equals_whole_and_stays_under_2_gb():
    net = build("demosaicnet")  # the shipped size: 64 channels, 4 inner convolutions
    torch.manual_seed(0)
    torch.nn.init.normal_(net.tail.weight, std=0.01)
    raw = torch.rand(1, 1, 3000, 4000, generator=torch.Generator().manual_seed(3))
    with PeakMemory() as mem:
        parts = demosaic_learned(raw, "RGGB", model=net, tile=512)
    tiled_peak = mem.peak_mb
    with torch.inference_mode():
        whole = net.eval()(raw, "RGGB")
    torch.testing.assert_close(parts, whole, rtol=0, atol=1e-5)
    assert tiled_peak < 2048, f"tiled inference peaked {tiled_peak:.0f} MB above start"


def test_an_upscaling_fn_is_tiled_at_its_scale():
    up = torch.nn.Sequential(torch.nn.Conv2d(1, 4, 3, padding=1), torch.nn.PixelShuffle(2))
    x = torch.rand(1, 1, 37, 53)
    with torch.no_grad():
        whole, parts = up(x), tiled(up, x, tile=16, overlap=1, multiple=1, scale=2)
    assert parts.shape == (1, 1, 74, 106)
    assert float((whole - parts).abs().max()) < 1e-6
    with pytest.raises(RestorekitError, match="not 3 times it"):
        tiled(up, x, tile=16, overlap=1, scale=3)
