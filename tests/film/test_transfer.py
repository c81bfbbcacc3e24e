"""Classical unpaired colour transfers and the film pipeline."""

from __future__ import annotations

import pytest
import torch

from helpers import assert_close
from restorekit.errors import RestorekitError
from restorekit.film import film_pipeline, histogram_matching_lut, sliced_transfer_lut
from restorekit.film.lut import apply_lut, identity_lut
from restorekit.film.tone import TONE_PRESETS, apply_tone


def _cloud(n: int, seed: int) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    base = torch.rand(n, 1, generator=g)
    return (0.7 * base + 0.3 * torch.rand(n, 3, generator=g)).clamp(0, 1)


def test_histogram_matching_matches_each_marginal():
    src = _cloud(40_000, 0)
    tgt = src ** torch.tensor([1.5, 1.0, 0.7])
    lut = histogram_matching_lut(src, tgt, size=33)
    moved = apply_lut(src.T.reshape(1, 3, 1, -1), lut)[0].reshape(3, -1).T
    q = torch.linspace(0.05, 0.95, 19)
    for c in range(3):
        assert_close(torch.quantile(moved[:, c], q), torch.quantile(tgt[:, c], q), atol=0.01)


def test_sliced_transfer_moves_the_joint_distribution():
    """A rotation of the colour cloud (a joint change the marginals alone do not capture)."""
    src = _cloud(40_000, 1)
    R = torch.tensor([[0.9, 0.1, 0.0], [0.0, 0.8, 0.2], [0.2, 0.0, 0.8]])
    tgt = (src @ R.T).clamp(0, 1)
    g = torch.Generator().manual_seed(0)
    lut = sliced_transfer_lut(src, tgt, size=17, iterations=20, generator=g)
    moved = apply_lut(src.T.reshape(1, 3, 1, -1), lut)[0].reshape(3, -1).T
    # the moved cloud's mean and covariance are the target's
    assert_close(moved.mean(0), tgt.mean(0), atol=0.01)
    assert_close(torch.cov(moved.T), torch.cov(tgt.T), atol=2e-3)
    # and the same distribution gives (nearly) the identity where the colours are
    same = sliced_transfer_lut(src, src, size=17, iterations=10, generator=g)
    kept = apply_lut(src.T.reshape(1, 3, 1, -1), same)[0].reshape(3, -1).T
    assert (kept - src).abs().mean() < 0.01


def test_transfers_refuse_bad_pixels():
    with pytest.raises(RestorekitError, match="RGB rows"):
        histogram_matching_lut(torch.rand(10, 4), torch.rand(10, 3))
    with pytest.raises(RestorekitError, match="iterations must be >= 1"):
        sliced_transfer_lut(torch.rand(10, 3), torch.rand(10, 3), iterations=0)


def test_film_pipeline_order_and_amount():
    x = torch.rand(1, 3, 24, 24)
    look = identity_lut(9)
    look = type(look)(look.table**1.2)
    tone = TONE_PRESETS["faded-print"]
    expected = apply_tone(apply_lut(x, look, strength=0.5), tone)
    assert_close(film_pipeline(x, look, 0.5, tone), expected, atol=1e-6)
    noise = lambda t: (t + 0.1).clamp(0, 1)  # noqa: E731  a stand-in "grain"
    half = film_pipeline(x, None, 1.0, None, noise, grain_amount=0.5)
    assert_close(half, (x + 0.5 * (noise(x) - x)).clamp(0, 1), atol=1e-6)
    with pytest.raises(RestorekitError, match="grain amount must be in"):
        film_pipeline(x, grain=noise, grain_amount=1.5)
