"""The Boolean grain model: mean preservation, the closed-form autocovariance, zoom, determinism.

Grain is random: every check is on statistics with a fixed seed and a stated tolerance.
"""

from __future__ import annotations

import pytest
import torch

from restorekit.errors import RestorekitError
from restorekit.film.boolean import (
    BooleanGrain,
    boolean_autocovariance,
    boolean_grains,
    boolean_mean_render,
    render_boolean,
    render_boolean_reference,
)
from restorekit.metrics.grain import autocovariance, radial_power_spectrum

LEVELS = (0.1, 0.3, 0.5, 0.7, 0.9)


def _flat(u: float, size: int) -> torch.Tensor:
    return torch.full((1, 1, size, size), u)


def _axis_lags(ac: torch.Tensor, L: int = 4) -> torch.Tensor:
    """Lags 0..L along the rows and the columns, averaged (the model is isotropic)."""
    return torch.stack([(ac[L, L + k] + ac[L + k, L]) / 2 for k in range(L + 1)])


@pytest.mark.parametrize("radius_sigma", [0.0, 0.25])
def test_mean_is_preserved_on_flat_fields(radius_sigma):
    g = BooleanGrain(radius=0.5, radius_sigma=radius_sigma, blur=0.8)
    levels = torch.linspace(0.05, 0.95, 10)
    x = levels.view(-1, 1, 1, 1).expand(-1, 1, 512, 512).contiguous()
    out = render_boolean(x, g, torch.Generator().manual_seed(0))
    err = (out.mean(dim=(1, 2, 3)) - levels).abs()
    assert err.max() < 1 / 255, err


@pytest.mark.parametrize("radius_sigma", [0.0, 0.15])
def test_mean_render_is_the_average_of_renders_across_an_edge(radius_sigma):
    """The closed-form mean render against 300 renders of a step edge (0.1 | 0.8): within the
    Monte-Carlo error everywhere, where a plain blur of the pixel boxes is off by about 0.05 on
    the edge's dark side (the bright side's disks reach into it)."""
    g = BooleanGrain(radius=0.8, radius_sigma=radius_sigma, blur=1.0)
    x = torch.full((1, 1, 24, 32), 0.1)
    x[..., 16:] = 0.8
    gen = torch.Generator().manual_seed(0)
    n = 300
    renders = torch.stack([render_boolean(x, g, gen)[0, 0] for _ in range(n)])
    mc, se = renders.mean(0), renders.std(0) / n**0.5
    ours = boolean_mean_render(x, g)[0, 0]
    z = ((ours - mc) / se)[4:-4, 4:-4]  # the border's replicated cells are the same model
    assert z.abs().max() < 4.5 and z.abs().mean() < 1.2, (z.abs().max(), z.abs().mean())
    edge = ours[:, 15].mean()
    assert edge > 0.34, edge  # a plain blur of the pixel boxes gives 0.316 there
    flat = boolean_mean_render(torch.full((1, 1, 8, 8), 0.6), g, zoom=2)
    assert flat.shape[-2:] == (16, 16) and torch.allclose(flat, torch.tensor(0.6), atol=1e-5)


def test_fast_autocovariance_matches_the_closed_form():
    """|cov_ours(k) - cov_model(k)| / var_model <= 0.02 at lags 0..4, five grey levels."""
    g = BooleanGrain(radius=0.5, blur=0.8)
    for i, u in enumerate(LEVELS):
        out = render_boolean(_flat(u, 768), g, torch.Generator().manual_seed(10 + i))
        ours = _axis_lags(autocovariance(out, 4)[0, 0])
        model = boolean_autocovariance(u, g, [(0, k) for k in range(5)])
        rel = (ours - model).abs() / model[0]
        assert rel.max() <= 0.02, (u, rel)


def test_reference_agrees_with_the_closed_form_within_its_monte_carlo_error():
    """At N = 800 shared offsets the reference is a random filter: its variance scatters by
    several per cent around C(0)/N + (1 - 1/N) cov(0) (the expectation over the offsets); over 4
    offset draws the mean lies within 5 % and each draw within 15 %."""
    g = BooleanGrain(radius=0.5, blur=0.8, samples=800)
    u = 0.5
    expected = boolean_autocovariance(u, g, [(0, k) for k in range(3)], samples=800)
    rel = []
    for seed in range(4):
        out = render_boolean_reference(_flat(u, 48), g, torch.Generator().manual_seed(seed))
        ours = _axis_lags(autocovariance(out, 2)[0, 0], 2)
        rel.append((ours - expected) / expected[0])
    rel = torch.stack(rel)
    assert rel.abs().max() < 0.15, rel
    assert rel.mean(0).abs().max() < 0.05, rel


def test_reference_and_fast_render_the_same_realisation():
    """Both renderers draw the disks from one stream: pixel by pixel they differ only by the
    reference's Monte Carlo error (N offsets), far less than the grain itself."""
    g = BooleanGrain(radius=0.6, blur=0.7, samples=2000)
    x = torch.rand(1, 1, 24, 20, generator=torch.Generator().manual_seed(0)) * 0.8 + 0.1
    fast = render_boolean(x, g, torch.Generator().manual_seed(5))
    ref = render_boolean_reference(x, g, torch.Generator().manual_seed(5))
    grain = (fast - x).std()
    assert (fast - ref).abs().mean() < 0.35 * grain, ((fast - ref).abs().mean(), grain)
    other = render_boolean(x, g, torch.Generator().manual_seed(6))
    assert (fast - ref).abs().mean() < 0.5 * (fast - other).abs().mean()


def test_zoom_two_spectrum_is_the_rescaled_zoom_one_spectrum():
    """NPS_2(f) = 4 NPS_1(2 f) for a resolution-free model, within 5 %."""
    g = BooleanGrain(radius=0.5, blur=0.8)
    flats = torch.full((4, 1, 512, 512), 0.4)
    one = render_boolean(flats, g, torch.Generator().manual_seed(1))
    two = render_boolean(flats[..., :256, :256], g, torch.Generator().manual_seed(2), zoom=2)
    assert two.shape[-1] == 512
    # rings from 0.05 to 0.4 cycles per pixel at zoom 1 (the lowest hold too few DFT bins)
    p1 = radial_power_spectrum(one, bins=8, max_frequency=0.4).mean(0)[0, 1:]
    p2 = radial_power_spectrum(two, bins=8, max_frequency=0.2).mean(0)[0, 1:]
    rel = (p2 / (4 * p1) - 1).abs()
    assert rel.max() < 0.05, rel


def test_same_seed_same_grain_and_bands_do_not_change_it():
    g = BooleanGrain(radius=0.4, radius_sigma=0.1, blur=0.7)
    x = torch.rand(1, 3, 70, 53, generator=torch.Generator().manual_seed(0))
    a = render_boolean(x, g, torch.Generator().manual_seed(3))
    b = render_boolean(x, g, torch.Generator().manual_seed(3), band=16)
    c = render_boolean(x, g, torch.Generator().manual_seed(4))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert a.shape == x.shape and a.min() >= 0 and a.max() <= 1


def test_per_channel_parameters():
    """Coarser grain (larger radius) in one channel gives it a larger variance."""
    x = torch.full((1, 3, 128, 128), 0.5)
    params = [BooleanGrain(0.3, 0, 0.8), BooleanGrain(0.5, 0, 0.8), BooleanGrain(0.9, 0, 0.8)]
    out = render_boolean(x, params, torch.Generator().manual_seed(0))
    var = (out - 0.5).var(dim=(-2, -1))[0]
    assert var[0] < var[1] < var[2]


def test_grains_cover_the_expected_fraction():
    g = BooleanGrain(radius=0.5)
    grains = boolean_grains(torch.full((64, 64), 0.5), g, torch.Generator().manual_seed(0))
    lam = grains.x.numel() / (grains.grid[0] * grains.grid[1])
    assert abs(lam - 0.8825) < 0.03  # log 2 / (pi r^2)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"radius": -1}, "radius must be a finite number > 0, got -1"),
        ({"blur": 0}, "blur must be a finite number > 0, got 0"),
        ({"radius_sigma": -0.1}, "radius_sigma must be a finite number >= 0, got -0.1"),
        ({"samples": 0}, "samples must be an integer >= 1, got 0"),
    ],
)
def test_bad_parameters(kwargs, message):
    with pytest.raises(RestorekitError, match=f"^{message}$"):
        BooleanGrain(**kwargs)


def test_bad_calls():
    with pytest.raises(RestorekitError, match="one per channel"):
        render_boolean(torch.zeros(1, 3, 8, 8), [BooleanGrain()] * 2)
    with pytest.raises(RestorekitError, match="zoom must be"):
        render_boolean(torch.zeros(1, 1, 8, 8), BooleanGrain(), zoom=0)
    with pytest.raises(RestorekitError, match="constant radius"):
        boolean_autocovariance(0.5, BooleanGrain(radius_sigma=0.1), [(0, 0)])
