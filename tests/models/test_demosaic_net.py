"""DemosaicNet: contract tests (shapes, gradients, determinism), CFA handling, model files."""

from __future__ import annotations

import pytest
import torch

from helpers import assert_close
from restorekit.classical.demosaic import demosaic_bilinear, demosaic_malvar
from restorekit.degrade import CFA, mosaic
from restorekit.errors import ImageFileError, RestorekitError
from restorekit.models import MODELS, build, describe, load_model, save_model
from restorekit.models.demosaic import canonical_offset

VARIANTS = [
    {},
    {"input_mode": "sparse"},
    {"base": "none"},
    {"base": "bilinear", "separable": True},
    {"pack": 2, "channels": 8, "depth": 1},
]


def _small(**kw):
    args = {"channels": 8, "depth": 2, **kw}
    torch.manual_seed(0)
    net = build("demosaicnet", **args)
    # non-zero tail so that the network path matters in every test
    torch.nn.init.normal_(net.tail.weight, std=0.05)
    return net


@pytest.mark.parametrize("kw", VARIANTS)
@pytest.mark.parametrize("size", [(37, 31), (4, 4), (64, 48)])
def test_shape_and_finite(kw, size):
    net = _small(**kw)
    y = net(torch.rand(2, 1, *size), "RGGB")
    assert y.shape == (2, 3, *size)
    assert torch.isfinite(y).all()


@pytest.mark.parametrize("kw", VARIANTS)
def test_every_parameter_gets_a_gradient(kw):
    net = _small(**kw)
    net(torch.rand(1, 1, 20, 24), "GRBG").square().mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and p.grad.abs().sum() > 0, name


def test_same_seed_same_output():
    x = torch.rand(1, 1, 16, 16)
    assert torch.equal(_small()(x), _small()(x))


@pytest.mark.parametrize(
    ("base", "fn"), [("mhc", demosaic_malvar), ("bilinear", demosaic_bilinear)]
)
def test_untrained_residual_net_returns_the_classical_estimate(base, fn):
    net = build("demosaicnet", base=base, channels=8, depth=1)
    raw = torch.rand(1, 1, 24, 32)
    assert_close(net(raw, "RGGB"), fn(raw, "RGGB"), atol=1e-6)


def test_canonical_offsets_map_every_layout_to_rggb():
    for cfa in CFA:
        dy, dx = canonical_offset(cfa)
        x = torch.rand(1, 3, 10, 10)
        raw = mosaic(x, cfa)
        padded = torch.nn.functional.pad(raw, (dx, 0, dy, 0), mode="reflect")
        # the padded raw must be exactly what an RGGB filter would see at those positions
        assert torch.equal(padded[..., dy:, dx:], raw)
        ref = mosaic(torch.nn.functional.pad(x, (dx, 0, dy, 0), mode="reflect"), CFA.RGGB)
        assert torch.equal(padded, ref), cfa


@pytest.mark.parametrize("cfa", list(CFA))
def test_every_layout_equals_rggb_on_the_shifted_image(cfa):
    """A GRBG raw is an RGGB raw seen one column in: the outputs agree away from the border."""
    net = _small()
    x = torch.rand(1, 3, 40, 40)
    dy, dx = canonical_offset(cfa)
    # crop an RGGB image so that its top-left sits at layout `cfa`
    sub = x[..., 2 - dy :, 2 - dx :]
    assert CFA.RGGB.shifted(2 - dy, 2 - dx) is cfa
    out_cfa = net(mosaic(sub, cfa), cfa)
    out_rggb = net(mosaic(x, CFA.RGGB), CFA.RGGB)[..., 2 - dy :, 2 - dx :]
    margin = net.receptive_radius
    assert_close(
        out_cfa[..., margin:-margin, margin:-margin],
        out_rggb[..., margin:-margin, margin:-margin],
        atol=1e-5,
    )


def test_receptive_radius_bounds_the_influence():
    net = _small()
    raw = torch.rand(1, 1, 96, 96)
    bumped = raw.clone()
    bumped[..., 48, 48] += 0.5
    diff = (net(bumped) - net(raw)).abs().amax(dim=(0, 1))
    rows, cols = torch.nonzero(diff > 0, as_tuple=True)
    r = net.receptive_radius
    assert rows.min() >= 48 - r and rows.max() <= 48 + r
    assert cols.min() >= 48 - r and cols.max() <= 48 + r


def test_bad_inputs_are_refused():
    net = _small()
    with pytest.raises(RestorekitError, match="raw must have 1 channels, got 3"):
        net(torch.rand(1, 3, 16, 16))
    with pytest.raises(RestorekitError, match="unknown CFA"):
        net(torch.rand(1, 1, 16, 16), "RGBG")
    with pytest.raises(RestorekitError, match="pack must be 2 or 4"):
        build("demosaicnet", pack=3)
    with pytest.raises(RestorekitError, match="input_mode must be one of"):
        build("demosaicnet", input_mode="rgb")
    with pytest.raises(RestorekitError, match="unknown model 'demosaicnett'; known: demosaicnet"):
        build("demosaicnett")


def test_describe_counts_parameters_and_macs():
    net = build("demosaicnet", base="none", channels=16, depth=1, pack=4)
    info = describe(net)
    assert info["params"] == sum(p.numel() for p in net.parameters())
    # head 16->16 3x3, one inner 16->16, tail 16->48, all at 1/16 of the pixels
    convs = 16 * 16 * 9 + 16 * 16 * 9 + 16 * 48 * 9
    assert info["macs_per_pixel"] == pytest.approx(convs / 16, rel=1e-6)


def test_model_file_round_trip(tmp_path):
    net = _small(input_mode="sparse")
    path = tmp_path / "m.safetensors"
    save_model(path, net, {"task": "demosaic"})
    loaded, meta = load_model(path, expect="demosaicnet")
    assert meta["task"] == "demosaic" and meta["args"] == net.config
    raw = torch.rand(1, 1, 20, 20)
    assert torch.equal(loaded(raw), net.eval()(raw))
    assert [p.name for p in tmp_path.iterdir()] == ["m.safetensors"]  # no temporary file left


def test_model_file_in_float16_is_half_the_size_and_loads_as_float32(tmp_path):
    net = _small()
    save_model(tmp_path / "32.safetensors", net)
    save_model(tmp_path / "16.safetensors", net, dtype=torch.float16)
    size32, size16 = ((tmp_path / f"{b}.safetensors").stat().st_size for b in (32, 16))
    params = sum(p.numel() for p in net.parameters())
    assert size32 - size16 >= 2 * params
    loaded, _ = load_model(tmp_path / "16.safetensors")
    for (k, a), b in zip(net.state_dict().items(), loaded.state_dict().values(), strict=True):
        assert b.dtype == a.dtype, k
        torch.testing.assert_close(b, a.half().to(a.dtype), rtol=0, atol=0)


def test_model_file_errors(tmp_path):
    net = _small()
    path = tmp_path / "m.safetensors"
    save_model(path, net)
    with pytest.raises(RestorekitError, match="holds a 'demosaicnet' model, expected 'dncnn'"):
        load_model(path, expect="dncnn")
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(path.read_bytes()[:100])
    with pytest.raises(ImageFileError, match="not a safetensors file"):
        load_model(bad)
    with pytest.raises(ImageFileError, match="no such file"):
        load_model(tmp_path / "missing.safetensors")


def test_registry_lists_the_demosaicer():
    assert MODELS["demosaicnet"].__name__ == "DemosaicNet"


def test_the_full_self_ensemble_commutes_with_every_symmetry():
    # averaging over the whole group makes the demosaicer equivariant: demosaicing a flipped or
    # transposed mosaic (with its own layout) gives the flipped or transposed result
    from restorekit.data.patches import dihedral
    from restorekit.degrade import mosaic, parse_cfa
    from restorekit.models.demosaic import demosaic_learned

    torch.manual_seed(0)
    net = build("demosaicnet", channels=8, depth=1, noise_map=True).eval()
    torch.nn.init.normal_(net.tail.weight, std=0.05)
    raw = mosaic(torch.rand(1, 3, 22, 31), "GBRG")
    noise = torch.rand(1, 1, 22, 31) * 0.05
    y = demosaic_learned(raw, "GBRG", net, noise=noise, ensemble=8)
    for k in range(8):
        layout = parse_cfa("GBRG").transformed(k, 22, 31)
        yk = demosaic_learned(dihedral(raw, k), layout, net, noise=dihedral(noise, k), ensemble=8)
        torch.testing.assert_close(yk, dihedral(y, k), atol=1e-5, rtol=0)
    single = demosaic_learned(raw, "GBRG", net, noise=noise)
    assert (single - y).abs().max() > 1e-4  # the ensemble is not the single pass
    with pytest.raises(RestorekitError, match="ensemble must be 1, 2, 4 or 8"):
        demosaic_learned(raw, "GBRG", net, ensemble=3)
