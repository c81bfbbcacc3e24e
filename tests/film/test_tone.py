"""Film tone: characteristic curve, halation, cross-talk, presets."""

from __future__ import annotations

import pytest
import torch

from helpers import assert_close
from restorekit.color import srgb_decode
from restorekit.errors import RestorekitError
from restorekit.film.tone import (
    TONE_PRESETS,
    CharacteristicCurve,
    FilmTone,
    Halation,
    _gaussian_blur,
    apply_tone,
    characteristic_curve,
    crosstalk,
    halation,
    tone_preset,
)


def _ramp(n: int = 1001) -> torch.Tensor:
    return torch.linspace(0, 1, n, dtype=torch.float64).view(1, 1, 1, n).expand(1, 3, 1, n)


@pytest.mark.parametrize(("toe", "shoulder"), [(0, 0), (1, 0), (0, 1), (1, 1), (0.4, 0.7)])
def test_curve_is_monotone_and_keeps_its_ends(toe, shoulder):
    curve = CharacteristicCurve(toe=toe, shoulder=shoulder, black=0.05, white=0.95)
    y = characteristic_curve(_ramp(), curve)
    assert bool((y.diff(dim=-1) >= -1e-12).all())
    assert_close(y[..., 0], torch.full((1, 3, 1), 0.05, dtype=torch.float64), atol=1e-12)
    assert_close(y[..., -1], torch.full((1, 3, 1), 0.95, dtype=torch.float64), atol=1e-12)


def test_curve_toe_darkens_shadows_shoulder_lifts_highlights_per_channel():
    curve = CharacteristicCurve(toe=(0.6, 0, 0), shoulder=(0, 0.6, 0))
    y = characteristic_curve(_ramp(11), curve)
    x = _ramp(11)
    assert bool((y[0, 0, 0, 1:5] < x[0, 0, 0, 1:5]).all())  # red: toe below the diagonal
    assert bool((y[0, 1, 0, 6:10] > x[0, 1, 0, 6:10]).all())  # green: shoulder above it
    assert_close(y[0, 2], x[0, 2], atol=1e-12)  # blue untouched
    # the slopes at the ends are 1 - toe and 1 - shoulder
    ends = torch.tensor([0.0, 1e-6, 1 - 1e-6, 1.0], dtype=torch.float64).view(1, 1, 1, 4)
    e = characteristic_curve(ends.expand(1, 3, 1, 4), curve)[0, :, 0]
    slopes = torch.stack([e[:, 1] - e[:, 0], e[:, 3] - e[:, 2]], dim=1) / 1e-6
    assert_close(slopes, [[0.4, 1.0], [1.0, 0.4], [1.0, 1.0]], atol=1e-5)


def test_crosstalk_keeps_greys_and_mixes_colours():
    m = TONE_PRESETS["vivid-slide"].matrix
    grey = torch.full((1, 3, 2, 2), 0.3)
    assert_close(crosstalk(grey, m), grey, atol=1e-6)
    red = torch.tensor([1.0, 0.0, 0.0]).view(1, 3, 1, 1)
    assert_close(crosstalk(red, m).flatten(), [m[0][0], m[1][0], m[2][0]], atol=1e-6)


def test_halation_glows_red_around_highlights_only():
    x = torch.full((1, 3, 64, 64), 0.05)
    x[:, :, 30:34, 30:34] = 1.0  # a small bright light
    h = Halation(strength=1.0, radius=6, threshold=0.7)
    y = halation(x, h)
    glow = y - x
    assert glow[:, :, :10, :10].abs().max() < 1e-4  # far away: nothing
    ring = glow[0, :, 36, 32]  # next to the light
    assert ring[0] > ring[1] > ring[2] > 0  # red first, the tint's order
    dark = torch.full((1, 3, 16, 16), 0.5)
    assert torch.equal(halation(dark, h), dark)  # below the threshold: no glow


def test_halation_reduced_resolution_matches_the_full_blur():
    torch.manual_seed(0)
    x = torch.rand(1, 3, 96, 128) ** 4 * 1.2
    h = Halation(strength=1.0, radius=16, threshold=0.5)
    fast = halation(x, h) - x
    lum = (0.2126 * x[:, :1] + 0.7152 * x[:, 1:2] + 0.0722 * x[:, 2:]).clamp(min=0)
    full = _gaussian_blur((lum - 0.5).clamp(min=0) / 0.5, 16.0)
    assert (fast[:, :1] - full).abs().max() < 0.1 * full.max()


def test_apply_tone_neutral_is_identity_and_presets_stay_in_range():
    x = torch.rand(2, 3, 17, 19)
    assert_close(apply_tone(x, FilmTone()), x, atol=1e-5)
    for name, tone in TONE_PRESETS.items():
        y = apply_tone(x, tone)
        assert y.shape == x.shape and y.min() >= 0 and y.max() <= 1, name
    assert tone_preset("faded-print") is TONE_PRESETS["faded-print"]


def test_apply_tone_is_differentiable():
    x = torch.rand(1, 3, 8, 8, requires_grad=True)
    apply_tone(x, TONE_PRESETS["soft-negative"]).sum().backward()
    assert x.grad is not None and torch.isfinite(x.grad).all()
    assert srgb_decode(torch.tensor(0.5)) < 0.5  # the halation works in linear light


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: CharacteristicCurve(toe=1.5), "toe must be a number in [0, 1]"),
        (lambda: CharacteristicCurve(black=0.6, white=0.5), "black must be below white"),
        (lambda: Halation(radius=0), "halation radius must be in [0.5, 500]"),
        (lambda: Halation(strength=-1), "halation strength must be in [0, 4]"),
        (lambda: FilmTone(matrix=((1, 0, 0), (0, 1, 0), (0, 0, 2))), "must sum to 1"),
        (lambda: tone_preset("vivid"), "unknown tone preset 'vivid'; known: vivid-slide"),
    ],
)
def test_bad_tone_parameters(build, message):
    import re

    with pytest.raises(RestorekitError, match=re.escape(message)):
        build()
