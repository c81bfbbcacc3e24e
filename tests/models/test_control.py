"""sigma -> level calibration and learned denoising entry points."""

from __future__ import annotations

import pytest
import torch

from restorekit.errors import RestorekitError
from restorekit.models import build
from restorekit.models.control import (
    LevelCalibration,
    _golden_max,
    calibrate_levels,
    denoise_learned,
    level_psnr,
)


class _Shrink(torch.nn.Module):
    """A toy continuous-level 'denoiser': pulls pixels towards the image mean by the level."""

    in_channels = 1

    def forward(self, x: torch.Tensor, level: float) -> torch.Tensor:
        return x + level * (x.mean() - x)


def test_golden_section_finds_the_maximum():
    a, fa = _golden_max(lambda t: -((t - 0.37) ** 2), 0.0, 1.0, 30)
    assert abs(a - 0.37) < 1e-4 and fa <= 0


def test_calibration_finds_more_smoothing_for_more_noise():
    flat = [torch.full((1, 1, 32, 32), 0.5) + 0.02 * torch.rand(1, 1, 32, 32) for _ in range(3)]
    cal = calibrate_levels(_Shrink(), flat, [5, 25, 75])
    assert cal.levels[0] < cal.levels[1] <= cal.levels[2]
    assert cal.psnr[0] > cal.psnr[2]
    # the table it found is the best level: nearby levels are no better
    pairs = [
        (x, x + 25 / 255 * torch.randn(x.shape, generator=torch.Generator().manual_seed(0)))
        for x in flat
    ]
    best = level_psnr(_Shrink(), pairs, cal.levels[1])
    assert best >= level_psnr(_Shrink(), pairs, max(0.0, cal.levels[1] - 0.1)) - 1e-9


def test_calibration_round_trip_and_refusals():
    cal = LevelCalibration((5.0, 40.0, 75.0), (0.0, 0.6, 1.0), (30.0, 25.0, 22.0), "test")
    assert LevelCalibration.from_dict(cal.to_dict()) == cal
    assert cal.level_for(22.5) == pytest.approx(0.3)
    with pytest.raises(RestorekitError, match=r"sigma 4\.9 is outside the calibrated range 5-75"):
        cal.level_for(4.9)
    with pytest.raises(RestorekitError, match="calibration is malformed"):
        LevelCalibration.from_dict({"sigmas": [5], "levels": [0.1]})
    with pytest.raises(RestorekitError, match="at least two sigmas"):
        calibrate_levels(_Shrink(), [torch.rand(1, 1, 8, 8)], [25])


def test_denoise_learned_sigma_or_level():
    net = build("ffdnet", channels=8, depth=3, conditional=True, sigma_range=(5, 75)).eval()
    cal = LevelCalibration((5.0, 75.0), (0.0, 1.0), (0.0, 0.0))
    x = torch.rand(1, 1, 20, 20, dtype=torch.float64)
    y = denoise_learned(x, sigma=40, model=net, calibration=cal)
    assert y.dtype == torch.float64 and y.shape == x.shape
    assert torch.allclose(y, denoise_learned(x, level=0.5, model=net))
    with pytest.raises(RestorekitError, match="not both"):
        denoise_learned(x, sigma=40, level=0.5, model=net)
    with pytest.raises(RestorekitError, match="no sigma calibration"):
        denoise_learned(x, sigma=40, model=net)
    with pytest.raises(RestorekitError, match=r"level \(alpha\) must be in \[0, 1\], got 2"):
        denoise_learned(x, level=2.0, model=net)


def test_large_images_are_tiled_without_seams():
    torch.manual_seed(0)
    net = build("unet-denoiser", channels=[8, 16, 16], blocks=1, conditional=True).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x = torch.rand(1, 1, 300, 260)
    whole = denoise_learned(x, level=0.4, model=net, tile=0)
    parts = denoise_learned(x, level=0.4, model=net, tile=96)
    assert (whole - parts).abs().max() < 1e-5


def test_self_ensemble_averages_the_symmetries():
    torch.manual_seed(0)
    net = build("unet-denoiser", channels=[8, 16], blocks=1, conditional=True).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn_like(p))
    x = torch.rand(1, 1, 36, 52)
    one = denoise_learned(x, level=0.3, model=net)
    assert torch.equal(one, denoise_learned(x, level=0.3, model=net, ensemble=1))
    transposed = denoise_learned(x.transpose(-1, -2), level=0.3, model=net).transpose(-1, -2)
    two = denoise_learned(x, level=0.3, model=net, ensemble=2)
    assert torch.allclose(two, (one + transposed) / 2, atol=1e-6)
    assert not torch.allclose(one, transposed, atol=1e-4)  # the network is not symmetric itself
    eight = denoise_learned(x, level=0.3, model=net, ensemble=8, tile=24)  # tiled, too
    assert eight.shape == x.shape and (eight - two).abs().max() > 1e-5
    with pytest.raises(RestorekitError, match="ensemble must be 1, 2, 4 or 8 symmetries, got 3"):
        denoise_learned(x, level=0.3, model=net, ensemble=3)
