"""The learned grain engine: the network's contract, its fast path, tiling, ranges, and the shipped
model's statistics against the Boolean engine (grain is random: statistics, fixed seeds)."""

from __future__ import annotations

import tempfile

import pytest
import torch
import torch.nn.functional as F

import restorekit.film.learned as learned
from restorekit.errors import RestorekitError
from restorekit.film.boolean import BooleanGrain, render_boolean
from restorekit.film.learned import render_learned
from restorekit.metrics.grain import radial_power_spectrum
from restorekit.models import build


def _net() -> torch.nn.Module:
    torch.manual_seed(0)
    return build("grain-net").eval()


OPTIONS = [
    {},
    {"skew": True},
    {"modulate": True},
    {"modulate": True, "envelope": True},
    {"modulate": True, "envelope": True, "gate": True},
]


@pytest.mark.parametrize("options", OPTIONS)
def test_odd_sizes_and_gradients(options):
    net = build("grain-net", **options)
    x = torch.rand(2, 1, 37, 31)
    noise = torch.randn(2, 1, 37 + 6, 31 + 6)
    g = net(x, torch.tensor([[0.5, 0.0, 0.8], [0.7, 0.2, 1.0]]), noise)
    assert g.shape == x.shape and torch.isfinite(g).all()
    g.square().mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


@pytest.mark.parametrize("options", OPTIONS)
def test_fast_path_equals_forward_within_the_level_step(options):
    torch.manual_seed(0)
    net = build("grain-net", **options).eval()
    x = torch.rand(1, 1, 40, 50)
    p = torch.tensor([0.6, 0.1, 0.9])
    noise = torch.randn(1, 1, 46, 56)
    with torch.no_grad():
        slow = net(x, p[None], noise)
        fast = net.synthesize(x, p, noise)
    diff = (slow - fast).abs()  # nearest of 4096 tabulated grey levels
    assert diff.max() < 0.1 * slow.std() and diff.mean() < 0.01 * slow.std()


def test_modulating_the_noise_first_is_the_same_field_on_flat_ground_and_not_on_edges():
    # sum_i w_i (B_i * n) and sum_i B_i * (w_i n) agree where w is constant: on a flat field
    torch.manual_seed(0)
    after = build("grain-net").eval()
    first = build("grain-net", modulate=True).eval()
    first.load_state_dict(after.state_dict())
    p = torch.tensor([[0.6, 0.1, 0.9]])
    noise = torch.randn(1, 1, 46, 56)
    with torch.no_grad():
        flat = torch.full((1, 1, 40, 50), 0.3)
        torch.testing.assert_close(first(flat, p, noise), after(flat, p, noise))
        edge = flat.clone()
        edge[..., 25:] = 0.8  # near the edge each pixel's grain mixes both sides' weights
        a, b = first(edge, p, noise), after(edge, p, noise)
    assert (a - b)[..., 22:28].abs().max() > 1e-3
    torch.testing.assert_close(a[..., :20], b[..., :20])  # farther than the kernel: the same


def test_the_envelope_gives_no_grain_of_its_own_at_0_and_1():
    torch.manual_seed(0)
    net = build("grain-net", modulate=True, envelope=True).eval()
    x = torch.zeros(1, 1, 30, 30)
    x[..., 15:] = 1.0
    x[..., 10:20, 5:8] = 0.5  # a grey patch: its grain reaches 3 px (the kernel) around it
    noise = torch.randn(1, 1, 36, 36)
    with torch.no_grad():
        g = net(x, torch.tensor([[0.6, 0.0, 0.9]]), noise)
        fast = net.synthesize(x, torch.tensor([0.6, 0.0, 0.9]), noise)
    assert g[..., 10:20, 5:8].abs().min() > 0
    assert g[..., :6, :].abs().max() == 0 and g[..., 24:, :].abs().max() == 0
    assert fast[..., :6, :].abs().max() == 0 and fast[..., 10:20, 5:8].abs().max() > 0


def test_the_gate_grows_from_a_network_without_it_and_scales_each_pixel_s_own_grain():
    """A gated network grown from an ungated one computes its function exactly; the gain then
    multiplies each pixel's filtered grain by its own grey level's gain (in the slow and the
    fast path), so a gain below 1 on the near-white side of an edge leaves the grey side alone."""
    from restorekit.models.weights import save_model
    from restorekit.train.supervised import init_from

    torch.manual_seed(0)
    args = {"modulate": True, "envelope": True}
    source = build("grain-net", **args).eval()
    net = build("grain-net", **args, gate=True).eval()
    with tempfile.TemporaryDirectory() as d:
        save_model(f"{d}/m.safetensors", source)
        init_from(net, f"{d}/m.safetensors")
        with pytest.raises(RestorekitError, match="grows only from the same network with no gate"):
            init_from(build("grain-net", **args, gate=True, hidden=16), f"{d}/m.safetensors")
        wide = build("grain-net", **args, gate=True, kernel=9).eval()  # larger filters too
        init_from(wide, f"{d}/m.safetensors")
    x = torch.full((1, 1, 30, 40), 0.4)
    x[..., 20:] = 0.95
    p = torch.tensor([[0.6, 0.0, 0.9]])
    noise = torch.randn(1, 1, 36, 46)
    with torch.no_grad():
        plain = source(x, p, noise)
        torch.testing.assert_close(net(x, p, noise), plain)
        noise9 = F.pad(noise, (1, 1, 1, 1))  # its margin is 4: the 7x7 filters see the same
        torch.testing.assert_close(wide(x, p, noise9), plain)
        original = net.weights_and_gain

        def half_on_white(u, params):
            w, _ = original(u, params)
            return w, torch.where(u > 0.9, 0.5, 1.0)

        net.weights_and_gain = half_on_white
        for gated in (net(x, p, noise), net.synthesize(x, p[0], noise)):
            torch.testing.assert_close(gated[..., :20], plain[..., :20], atol=2e-3, rtol=0)
            torch.testing.assert_close(gated[..., 20:], plain[..., 20:] / 2, atol=2e-3, rtol=0)
    with pytest.raises(RestorekitError, match="gate needs modulate"):
        build("grain-net", gate=True)


@pytest.mark.parametrize(
    "options", [{}, {"modulate": True, "envelope": True}, {"modulate": True, "gate": True}]
)
def test_tiles_do_not_change_the_result(monkeypatch, options):
    torch.manual_seed(0)
    net = build("grain-net", **options).eval()
    x = torch.rand(1, 3, 90, 70)
    whole = render_learned(x, BooleanGrain(), torch.Generator().manual_seed(0), model=net)
    monkeypatch.setattr(learned, "_TILE", 32)
    tiles = render_learned(x, BooleanGrain(), torch.Generator().manual_seed(0), model=net)
    assert (whole - tiles).abs().max() < 1e-5
    other = render_learned(x, BooleanGrain(), torch.Generator().manual_seed(1), model=net)
    assert not torch.equal(whole, other)


def test_zoom_and_ranges():
    net = _net()
    out = render_learned(torch.rand(1, 1, 20, 30), BooleanGrain(0.3, 0, 0.5), None, 2.0, net)
    assert out.shape == (1, 1, 40, 60)
    with pytest.raises(RestorekitError, match=r"trained for radius x zoom in \[0.3, 1\], got 2"):
        render_learned(torch.rand(1, 1, 8, 8), BooleanGrain(radius=2.0), model=net)
    with pytest.raises(RestorekitError, match="blur x zoom"):
        render_learned(torch.rand(1, 1, 8, 8), BooleanGrain(blur=0.4), model=net)


@pytest.mark.parametrize("setting", [(0.4, 0.0, 0.7), (0.6, 0.0, 0.9), (0.8, 0.0, 1.2)])
def test_shipped_model_follows_the_boolean_statistics(setting):
    """Flat fields at five grey levels against the Boolean engine: the variance ratio and the
    spectrum error (each ring's ratio weighted by its share of the Boolean power).

    Measured (256x256 fields, these seeds) the shipped model's variance is within 4 % at every
    level and its spectrum error is at most 8-15 % (mean 6-11 %), most of it the scatter of two
    256x256 renders (the benchmark's 512x512 fields: within 3 % / 6 %). These bounds guard what
    it reaches against regressions."""
    r, rs, b = setting
    grain = BooleanGrain(r, rs, b)
    levels = torch.tensor([0.1, 0.3, 0.5, 0.7, 0.9])
    x = levels.view(-1, 1, 1, 1).expand(-1, 1, 256, 256).contiguous()
    ref = render_boolean(x, grain, torch.Generator().manual_seed(0)) - x
    ours = render_learned(x, grain, torch.Generator().manual_seed(1)) - x
    ratio = ours.var(dim=(-2, -1)) / ref.var(dim=(-2, -1))
    assert ((ratio - 1).abs() < 0.08).all(), ratio.flatten()
    ps, pr = radial_power_spectrum(ours, 16)[:, 0], radial_power_spectrum(ref, 16)[:, 0]
    err = ((ps / pr - 1).abs() * pr / pr.sum(1, keepdim=True)).sum(1)
    assert err.mean() < 0.15 and err.max() < 0.2, err


@pytest.mark.parametrize("how", ["sample", "group", "group-ends"])
def test_the_recipe_s_flat_levels(how):
    from restorekit.train.grain import GrainRecipe

    recipe = GrainRecipe(ranges=((0.3, 1.0), (0.0, 0.5), (0.5, 1.4)), group=4, flat_levels=how)
    levels = recipe.draw_levels(4000, torch.Generator().manual_seed(0))
    assert levels.shape == (4000,) and levels.min() >= 0.02 and levels.max() <= 0.98
    groups = levels.view(-1, 4)
    same = bool((groups == groups[:, :1]).all())
    assert same == (how != "sample")
    ends = float(((levels < 0.1) | (levels > 0.9)).float().mean())  # uniform: 0.167
    assert (ends > 0.3) == (how == "group-ends")


def test_the_recipe_s_grain_is_measured_from_the_mean_render():
    """``grain_mean: mean-render``: on pictures the target grain is the render minus the Boolean
    mean render (the same draws otherwise); flat fields are untouched."""
    from restorekit.film.boolean import boolean_mean_render
    from restorekit.train.grain import GrainRecipe, _as_boolean

    ranges = ((0.3, 1.0), (0.0, 0.5), (0.5, 1.4))
    x = torch.rand(8, 1, 24, 24)
    out = {}
    for how in ("image", "mean-render"):
        recipe = GrainRecipe(ranges=ranges, group=1, grain_mean=how)
        (clean, params, _), target = recipe.degrade(x, torch.Generator().manual_seed(3))
        out[how] = target[:, :1]
    flat = (clean.amax(dim=(1, 2, 3)) == clean.amin(dim=(1, 2, 3))).tolist()
    assert any(flat) and not all(flat)
    for i, is_flat in enumerate(flat):
        shift = out["image"][i] - out["mean-render"][i]
        if is_flat:
            assert shift.abs().max() == 0
        else:
            mean = boolean_mean_render(clean[i : i + 1], _as_boolean(params[i]))[0]
            assert torch.allclose(shift, mean - clean[i], atol=1e-5)
            assert (mean - clean[i]).abs().max() > 0.01


def test_the_recipe_s_saturated_pictures():
    """``saturate``: that share of the picture patches is stretched until it clips (blacks and
    whites beside grey), the flat fields stay flat, nothing leaves [0, 1]."""
    from restorekit.train.grain import GrainRecipe

    ranges = ((0.3, 1.0), (0.0, 0.5), (0.5, 1.4))
    x = 0.25 + 0.5 * torch.rand(64, 1, 16, 16)  # nothing near 0 or 1
    clipped = {}
    for share in (0.0, 1.0):
        recipe = GrainRecipe(ranges=ranges, group=4, saturate=share)
        (clean, _, _), _ = recipe.degrade(x, torch.Generator().manual_seed(0))
        flat = clean.amax(dim=(1, 2, 3)) == clean.amin(dim=(1, 2, 3))
        assert clean.min() >= 0 and clean.max() <= 1 and 0 < flat.sum() < 64
        pictures = clean[~flat]
        clipped[share] = float(((pictures == 0) | (pictures == 1)).float().mean())
    assert clipped[0.0] == 0 and clipped[1.0] > 0.1, clipped
