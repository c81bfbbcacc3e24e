"""Denoising backbones and their modulation (AdaFM, FTN, DNI): contracts and the exact errors."""

from __future__ import annotations

import copy

import pytest
import torch

from restorekit.errors import RestorekitError
from restorekit.models import build, describe, load_model, save_model
from restorekit.models.modulation import (
    AdaFM,
    FilterTransition,
    check_same_network,
    dni_from_files,
    interpolate_states,
)

TINY = {
    "dncnn": {"channels": 8, "depth": 4},
    "resnet-denoiser": {"channels": 8, "blocks": 1},
    "ffdnet": {"channels": 8, "depth": 3, "conditional": True, "sigma_range": [5, 75]},
    "unet-denoiser": {"channels": [8, 16, 16], "blocks": 1, "conditional": True},
}
MODULATED = {
    "adafm": {
        "backbone": "unet-denoiser",
        "backbone_args": {"channels": [8, 16]},
        "scheme": "adafm",
    },
    "ftn": {"backbone": "resnet-denoiser", "backbone_args": {"channels": 16}, "scheme": "ftn"},
}


def _perturb(net: torch.nn.Module, seed: int = 0) -> torch.nn.Module:
    """Random weights everywhere (zero-initialised tails and identity modulations included)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.05 * torch.randn(p.shape, generator=g))
    return net


def _all_models() -> list[tuple[str, dict]]:
    return (
        [(n, a) for n, a in TINY.items()]
        + [("modulated", a) for a in MODULATED.values()]
        + [("dni", {"backbone": "dncnn", "backbone_args": {"channels": 8, "depth": 3}})]
    )


@pytest.mark.parametrize(("name", "args"), _all_models(), ids=lambda v: str(v)[:40])
@pytest.mark.parametrize("channels", [1, 3])
def test_contract_odd_sizes_gradients_determinism(name, args, channels):
    args = copy.deepcopy(args)
    if name in ("modulated", "dni"):
        args["backbone_args"]["in_channels"] = channels
    else:
        args["in_channels"] = channels
    torch.manual_seed(0)
    net = _perturb(build(name, **args)).train()
    x = torch.rand(2, channels, 37, 31)
    y = net(x, 0.3)
    assert y.shape == x.shape and torch.isfinite(y).all()
    y.square().mean().backward()
    for pname, p in net.named_parameters():
        if name == "dni" or pname.endswith("num_batches_tracked"):
            continue
        assert p.grad is not None and torch.isfinite(p.grad).all(), pname
    torch.manual_seed(0)
    again = _perturb(build(name, **args)).train()
    assert torch.equal(again(x, 0.3), y)


def test_untrained_half_resolution_nets_are_the_identity():
    # the last convolution starts at zero: an untrained residual net returns its input
    for name in ("ffdnet", "unet-denoiser"):
        x = torch.rand(1, 1, 20, 22)
        assert torch.equal(build(name, **TINY[name])(x, 0.5), x)


def test_conditional_model_uses_the_level_and_plain_ones_ignore_it():
    x = torch.rand(1, 1, 32, 32)
    cond = _perturb(build("ffdnet", **TINY["ffdnet"])).eval()
    assert not torch.allclose(cond(x, 0.0), cond(x, 1.0))
    plain = _perturb(build("dncnn", **TINY["dncnn"])).eval()
    assert torch.equal(plain(x, 0.0), plain(x, 1.0))
    # level -> sigma is linear over sigma_range; per-image levels in one batch
    assert cond.level_to_sigma(torch.tensor(0.5)) == 40.0
    batch = cond(torch.cat([x, x]), torch.tensor([0.0, 1.0]))
    assert torch.allclose(batch[0], cond(x, 0.0)[0], atol=1e-6)
    assert torch.allclose(batch[1], cond(x, 1.0)[0], atol=1e-6)


@pytest.mark.parametrize("level", [-0.1, 1.01, float("nan")])
def test_a_level_outside_0_1_is_refused(level):
    net = build("dncnn", **TINY["dncnn"])
    with pytest.raises(RestorekitError, match=r"level \(alpha\) must be in \[0, 1\]"):
        net(torch.rand(1, 1, 8, 8), level)
    with pytest.raises(RestorekitError, match=r"must be in \[0, 1\]"):
        net(torch.rand(1, 1, 8, 8), torch.tensor([level]))


def test_wrong_channel_count_is_one_clear_error():
    with pytest.raises(RestorekitError, match="1 channels, got 3"):
        build("dncnn", **TINY["dncnn"])(torch.rand(1, 3, 8, 8))


@pytest.mark.parametrize("scheme", ["adafm", "ftn"])
def test_modulation_starts_as_the_identity_and_level_0_is_the_base(scheme):
    net = build("modulated", **MODULATED[scheme]).eval()
    _perturb(net.base)
    x = torch.rand(1, 1, 24, 24)
    base = net.base(x)
    for level in (0.0, 0.5, 1.0):  # identity-initialised: every level is the base
        assert torch.allclose(net(x, level), base, atol=1e-6)
    _perturb(net)  # now trained-like modulation: level 0 is still exactly the base
    assert torch.allclose(net(x, 0.0), net.base(x), atol=1e-6)
    assert not torch.allclose(net(x, 1.0), net.base(x), atol=1e-4)


def test_adafm_is_the_interpolated_filter():
    # y + a (f(y) - y) == depthwise conv with I + a (W - I), bias a b (He et al. 2019)
    layer = _perturb(AdaFM(3, kernel_size=3))
    y = torch.rand(1, 3, 9, 9)
    layer.alpha = 0.3
    eye = torch.zeros_like(layer.weight)
    eye[:, :, 1, 1] = 1
    w = eye + 0.3 * (layer.weight - eye)
    want = torch.nn.functional.conv2d(y, w, 0.3 * layer.bias, padding=1, groups=3)
    assert torch.allclose(layer(y), want, atol=1e-6)


def test_ftn_kernel_interpolation_formula():
    net = _perturb(build("modulated", **MODULATED["ftn"]))
    name = "head.0"
    conv = dict(net.base.named_modules())[name]
    ftn = net.ftn[name.replace(".", "-")]
    got = net.modulated_weights(0.25)[f"{name}.weight"]
    assert torch.allclose(got, 0.75 * conv.weight + 0.25 * ftn(conv.weight))
    assert FilterTransition(4).conv1.groups == 1  # fewer channels than a group: one group


def test_modulated_state_keeps_the_base_names_and_loads_a_base_file(tmp_path):
    base = _perturb(build("unet-denoiser", channels=[8, 16]))
    save_model(tmp_path / "base.safetensors", base)
    net = build("modulated", **MODULATED["adafm"])
    assert {k[5:] for k in net.state_dict() if k.startswith("base.")} == set(base.state_dict())
    loaded, _ = load_model(tmp_path / "base.safetensors")
    net.load_base(loaded.state_dict())
    x = torch.rand(1, 1, 16, 16)
    assert torch.equal(net(x, 0.0), base.eval()(x))
    # a deep copy (what ONNX export does) runs its own AdaFM layers
    twin = copy.deepcopy(net)
    _perturb(twin.adafm)
    assert not torch.allclose(twin(x, 1.0), net(x, 1.0))


def test_a_base_of_another_backbone_is_refused():
    net = build("modulated", **MODULATED["adafm"])
    other = build("unet-denoiser", channels=[8, 32])
    with pytest.raises(RestorekitError, match=r"does not fit the base: .* is \(32, 8, 2, 2\)"):
        net.load_base(other.state_dict(), source="x.safetensors")
    with pytest.raises(RestorekitError, match="missing"):
        net.load_base(build("dncnn", channels=8, depth=3).state_dict())


def test_unknown_scheme_and_ftn_per_image_levels_are_refused():
    with pytest.raises(RestorekitError, match="scheme must be one of adafm, ftn"):
        build("modulated", backbone="dncnn", scheme="film")
    net = build("modulated", **MODULATED["ftn"])
    with pytest.raises(RestorekitError, match="one level per call"):
        net(torch.rand(2, 1, 8, 8), torch.tensor([0.1, 0.9]))


def test_dni_interpolates_every_weight(tmp_path):
    a = _perturb(build("dncnn", channels=8, depth=3, batch_norm=False), 1)
    b = _perturb(build("dncnn", channels=8, depth=3, batch_norm=False), 2)
    save_model(tmp_path / "a.safetensors", a)
    save_model(tmp_path / "b.safetensors", b)
    dni = dni_from_files(tmp_path / "a.safetensors", tmp_path / "b.safetensors")
    x = torch.rand(1, 1, 12, 12)
    assert torch.allclose(dni(x, 0.0), a.eval()(x), atol=1e-6)
    assert torch.allclose(dni(x, 1.0), b.eval()(x), atol=1e-6)
    mid = build("dncnn", channels=8, depth=3, batch_norm=False).eval()
    mid.load_state_dict(interpolate_states(a.state_dict(), b.state_dict(), 0.4))
    assert torch.allclose(dni(x, 0.4), mid(x), atol=1e-6)


def test_dni_of_mismatched_networks_is_one_clear_error(tmp_path):
    a = build("dncnn", channels=8, depth=3)
    save_model(tmp_path / "a.safetensors", a)
    save_model(tmp_path / "b.safetensors", build("dncnn", channels=16, depth=3))
    with pytest.raises(RestorekitError, match="DNI needs two networks of one architecture"):
        dni_from_files(tmp_path / "a.safetensors", tmp_path / "b.safetensors")
    with pytest.raises(RestorekitError, match="DNI: 'w' is"):
        interpolate_states({"w": torch.zeros(2)}, {"w": torch.zeros(3)}, 0.5)
    b = build("dncnn", channels=8, depth=3)
    b.config = dict(a.config)
    b.extra = torch.nn.Linear(1, 1)
    with pytest.raises(RestorekitError, match=r"differ in tensor 'extra\.bias'"):
        check_same_network(a, b)


def test_describe_counts_parameters_and_macs():
    d = describe(build("unet-denoiser", channels=[8, 16], blocks=1), torch.rand(1, 1, 64, 64))
    assert d["params"] > 0 and d["macs_per_pixel"] > 0
    adafm = describe(build("modulated", **MODULATED["adafm"]), torch.rand(1, 1, 64, 64))
    plain = describe(build("unet-denoiser", channels=[8, 16]), torch.rand(1, 1, 64, 64))
    assert adafm["macs_per_pixel"] > plain["macs_per_pixel"]


def test_a_grown_unet_computes_its_source_and_then_learns_with_its_new_channels(tmp_path):
    args = {"channels": [8, 16], "blocks": 1, "conditional": True, "sigma_range": [5, 75]}
    small = _perturb(build("unet-denoiser", in_channels=3, **args)).eval()
    big = build("unet-denoiser", in_channels=3, **{**args, "channels": [12, 24], "blocks": 2})
    big.grow_from(small)
    x = torch.rand(2, 3, 20, 28)
    with torch.no_grad():
        torch.testing.assert_close(big.eval()(x, 0.3), small(x, 0.3), atol=1e-6, rtol=0)
    # the new input channels of every kept convolution start at zero, yet get a gradient
    big.train()
    (big(x, 0.3) - x.flip(-1)).abs().mean().backward()
    new_inputs = big.downs[0].weight.grad[:16, 8:]
    assert new_inputs.abs().sum() > 0
    assert describe(big, x)["params"] > describe(small, x)["params"]


@pytest.mark.parametrize(
    "change",
    [
        {"channels": [4, 16]},
        {"channels": [8, 16, 32]},
        {"in_channels": 1},
        {"sigma_range": [0, 75]},
    ],
)
def test_growing_into_a_network_that_cannot_hold_the_source_is_refused(change):
    args = {"in_channels": 3, "channels": [8, 16], "blocks": 1, "sigma_range": [5, 75]}
    small = build("unet-denoiser", **args)
    with pytest.raises(RestorekitError, match="cannot grow a unet-denoiser"):
        build("unet-denoiser", **{**args, **change}).grow_from(small)
