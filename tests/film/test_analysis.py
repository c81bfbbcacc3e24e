"""Grain analysis: flat blocks, grain residuals, statistics per channel, the report.

Random textures are judged by their statistics with a fixed seed and a stated tolerance.
"""

from __future__ import annotations

import json
import math
import re

import pytest
import torch

from helpers import shared_images
from restorekit.errors import RestorekitError
from restorekit.film.analysis import (
    GrainAnalysis,
    analyze_grain,
    expand_block_mask,
    flat_blocks,
    grain_residual,
    require_flat,
    write_grain_report,
)
from restorekit.io import read_image


def _noise(shape: tuple[int, ...], seed: int = 0) -> torch.Tensor:
    return torch.randn(shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def _checkerboard(h: int, w: int, period: int = 4) -> torch.Tensor:
    """0.3 / 0.7 squares of period/2 pixels: texture everywhere."""
    i = torch.arange(max(h, w)) // (period // 2)
    board = (i[:h, None] + i[None, :w]) % 2
    return (0.3 + 0.4 * board.double()).expand(1, 3, h, w)


@pytest.fixture(scope="module")
def detailed_photo() -> torch.Tensor:
    """kodim05 (motorcycles): detail in every 32 x 32 block."""
    path = next(p for p in shared_images("test/color/Kodak24") if p.name == "kodim05.png")
    return read_image(path).double()


def test_every_block_of_a_flat_noisy_image_is_flat():
    noise = 2 / 255 * _noise((1, 3, 256, 192))
    assert flat_blocks(0.5 + noise).all()
    # a smooth gradient (a sky) is flat too: the plane fit removes it
    across = torch.linspace(0.2, 0.6, 192, dtype=torch.float64)
    down = torch.linspace(0.0, 0.3, 256, dtype=torch.float64)
    tilted = across[None, None, None, :] + down[None, None, :, None] + noise
    mask = flat_blocks(tilted)
    assert mask.shape == (1, 8, 6)
    assert mask.all()


def test_no_block_of_a_checkerboard_is_flat():
    board = _checkerboard(128, 128) + 2 / 255 * _noise((1, 3, 128, 128))
    assert not flat_blocks(board).any()


def test_no_block_of_a_detailed_photo_is_flat(detailed_photo):
    assert not flat_blocks(detailed_photo).any()


def test_flat_half_and_textured_half(detailed_photo):
    x = 0.45 + 2 / 255 * _noise((1, 3, 256, 512))
    x[..., 256:] = detailed_photo[..., :256, :256]
    expected = torch.zeros(1, 8, 16, dtype=torch.bool)
    expected[..., :8] = True
    assert torch.equal(flat_blocks(x), expected)


def test_flat_blocks_of_a_batch_and_of_gray():
    flat = 0.5 + 2 / 255 * _noise((1, 1, 64, 64))
    board = _checkerboard(64, 64)[:, :1]
    assert flat_blocks(torch.cat([flat, board])).tolist() == [
        [[True, True], [True, True]],
        [[False, False], [False, False]],
    ]


def test_flat_blocks_bad_input():
    with pytest.raises(RestorekitError, match=r"^block must be an integer >= 8 \(pixels\), got 4$"):
        flat_blocks(torch.zeros(1, 1, 64, 64), block=4)
    with pytest.raises(RestorekitError, match=r"^image must be at least 32x32 pixels, got 20x64$"):
        flat_blocks(torch.zeros(1, 1, 20, 64))
    with pytest.raises(RestorekitError, match=r"^top_fraction must be in \[0, 1\], got 2$"):
        flat_blocks(torch.zeros(1, 1, 64, 64), top_fraction=2)


def test_expand_block_mask():
    mask = torch.tensor([[[True, False], [False, True]]])
    pixels = expand_block_mask(mask, 8, (20, 17))
    assert pixels.shape == (1, 1, 20, 17)
    assert pixels.sum() == 2 * 64
    assert pixels[0, 0, :8, :8].all() and pixels[0, 0, 8:16, 8:16].all()
    assert not pixels[0, 0, 16:].any() and not pixels[0, 0, :, 16:].any()
    with pytest.raises(RestorekitError, match=r"must have shape \(B, 2, 2\), got \(1, 3, 2\)"):
        expand_block_mask(torch.ones(1, 3, 2, dtype=torch.bool), 8, (20, 17))


def test_require_flat_is_one_line():
    assert require_flat(torch.tensor([[[True, True], [False, True]]])) == 3
    with pytest.raises(RestorekitError) as e:
        require_flat(torch.zeros(1, 3, 4, dtype=torch.bool), block=32)
    message = str(e.value)
    assert "\n" not in message
    assert message.startswith("no flat block found (0 of 12 blocks of 32x32 pixels are flat)")


def test_analyze_an_image_without_flat_area_ends_in_one_line():
    # squares of 16 pixels: an edge through every block, even on the blurred copy it judges
    with pytest.raises(RestorekitError, match=r"^no flat block found \(0 of 16 blocks") as e:
        analyze_grain(_checkerboard(128, 128, period=32))
    assert "\n" not in str(e.value)


def test_white_noise_with_intensity_dependent_sigma():
    """Grain sigma = gain_c (0.02 + 0.05 u) on stripes of intensity u: the variance curve comes
    back within 5 % in every bin, the spectrum is flat, the extrema density about 2/9."""
    bins, H = 16, 512
    u = (torch.arange(bins, dtype=torch.float64) + 0.5) / bins  # the bin centres
    clean = u.repeat_interleave(32).expand(1, 3, H, bins * 32)  # 32 px stripes: one per bin
    gains = torch.tensor([1.0, 0.8, 1.2], dtype=torch.float64)
    sigma = gains[:, None, None] * (0.02 + 0.05 * clean)
    grain = sigma * _noise(tuple(clean.shape), seed=1)
    everywhere = torch.ones(1, H // 32, bins, dtype=torch.bool)
    a = analyze_grain(clean + grain, residual=grain, mask=everywhere, bins=bins)

    assert isinstance(a, GrainAnalysis)
    assert a.channels == ("R", "G", "B") and a.n_flat == a.n_blocks == 256
    torch.testing.assert_close(a.intensity, u)
    expected = (gains[:, None] * (0.02 + 0.05 * u)) ** 2  # (C, bins)
    assert (a.count == H * 32).all()
    assert ((a.variance / expected - 1).abs() < 0.05).all(), a.variance / expected
    # white: the NPS is flat at the mean variance, ring by ring within 10 %
    mean_var = expected.mean(1, keepdim=True)
    assert a.nps.shape == (3, 8) and a.frequency.shape == (8,)
    assert ((a.nps / mean_var - 1).abs() < 0.1).all(), a.nps / mean_var
    L = a.max_lag
    assert L == 4 and a.autocovariance.shape == (3, 9, 9)
    assert ((a.autocovariance[:, L, L] / mean_var[:, 0] - 1).abs() < 0.05).all()
    off = a.correlation().clone()
    off[:, L, L] = 0
    assert off.abs().max() < 0.03  # no correlation at any other lag
    assert ((a.hf_ratio - (1 - math.pi * 0.25**2)).abs() < 0.02).all(), a.hf_ratio
    assert ((a.extrema_density - 2 / 9).abs() < 0.01).all(), a.extrema_density
    assert a.maxima.shape == a.minima.shape == (1, 3, H, bins * 32)
    torch.testing.assert_close(a.std**2, expected.mean(1), rtol=0.03, atol=0)


def test_analyze_finds_flat_blocks_and_grain_itself():
    sigma = 2.5 / 255
    grain = sigma * _noise((1, 3, 128, 160), seed=2)
    a = analyze_grain(0.4 + grain)
    assert a.method == "gaussian" and a.n_flat == a.n_blocks == 20
    # the blurred copy keeps a little of the grain: the residual holds about 97 % of its std
    assert ((a.std / (0.97 * sigma) - 1).abs() < 0.05).all(), a.std / sigma
    assert ((a.extrema_density - 2 / 9).abs() < 0.02).all()
    assert a.n_measured == 20
    # fewer blocks measured, evenly spread: the same grain within a few per cent
    few = analyze_grain(0.4 + grain, max_blocks=8)
    assert few.n_flat == 20 and few.n_measured == 8
    torch.testing.assert_close(few.std, a.std, rtol=0.05, atol=0)


def test_analyze_gray_and_bad_inputs():
    grain = 2 / 255 * _noise((1, 1, 64, 64))
    a = analyze_grain(0.5 + grain, residual=grain)
    assert a.channels == ("gray",) and a.variance.shape == (1, 16)
    with pytest.raises(RestorekitError, match=r"^residual must have the image's shape"):
        analyze_grain(0.5 + grain, residual=grain[..., :32])
    with pytest.raises(RestorekitError, match=r"^mask must have shape \(B, H // block, W // "):
        analyze_grain(0.5 + grain, mask=torch.ones(1, 3, 3, dtype=torch.bool))
    with pytest.raises(RestorekitError, match=r"^max_lag must be an integer in \[0, 32\), got 40"):
        analyze_grain(0.5 + grain, max_lag=40)
    with pytest.raises(RestorekitError, match=r"^max_blocks must be an integer >= 1, got 0$"):
        analyze_grain(0.5 + grain, max_blocks=0)


def test_grain_residual_methods():
    sigma = 10 / 255
    x = (0.5 + sigma * _noise((1, 1, 48, 48), seed=3)).float()
    for method, kwargs in (("gaussian", {}), ("denoiser", {}), ("bm3d", {"sigma": sigma})):
        denoised, residual = grain_residual(x, method, **kwargs)
        assert denoised.shape == residual.shape == x.shape and residual.dtype == x.dtype
        torch.testing.assert_close(denoised + residual, x)
        # on a flat image the residual is the grain: its std within 10 % (blur keeps ~3 %)
        assert abs(residual.std().item() / sigma - 1) < 0.1, (method, residual.std() / sigma)
    with pytest.raises(
        RestorekitError, match=r"^unknown grain residual method 'bm4d'; known: bm3d"
    ):
        grain_residual(x, "bm4d")
    with pytest.raises(RestorekitError, match=r"^image must have 1 or 3 channels, got 2"):
        grain_residual(torch.zeros(1, 2, 32, 32), "denoiser")


def test_report_writes_its_files(tmp_path):
    g = 3 / 255 * _noise((1, 3, 128, 128), seed=4)
    image = (0.5 + g).clamp(0, 1)
    image[..., 96:, :] = _checkerboard(32, 128)  # a textured strip: not flat
    denoised, residual = grain_residual(image)
    a = analyze_grain(image, residual, mask=flat_blocks(image, max_trace=30, max_norm=20))
    assert a.n_flat == 12
    page = write_grain_report(a, image, residual, tmp_path / "report")
    assert page == tmp_path / "report" / "index.html"
    pngs = {
        "spectra.png",
        "variance.png",
        "flat_blocks.png",
        "residual_100.png",
        "residual_400.png",
        "extrema.png",
    }
    assert {p.name for p in page.parent.iterdir()} == pngs | {"index.html", "analysis.json"}
    for name in pngs:
        assert (page.parent / name).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    html = page.read_text()
    assert set(re.findall(r"<img src='([^']+)'", html)) == pngs
    assert "analysis.json" in html and "<table>" in html
    d = json.loads((page.parent / "analysis.json").read_text())
    assert d == json.loads(json.dumps(a.to_dict()))
    assert d["flat_blocks"] == d["measured_blocks"] == 12 and d["blocks"] == 16
    assert set(d["channels"]) == {"R", "G", "B"}
    assert len(d["channels"]["G"]["variance"]) == 16
