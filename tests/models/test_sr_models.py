"""The upscaler and the learned degradation: shapes, gradients, determinism, exact tiling, ONNX."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from restorekit.errors import RestorekitError
from restorekit.models import build, describe
from restorekit.models.sr import load_upscaler, upscale_learned


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_upscaler_keeps_odd_sizes_and_starts_as_nearest_neighbour(scale):
    net = build("srnet", scale=scale, channels=8, blocks=2)
    x = torch.rand(2, 3, 37, 31)
    y = net(x)
    assert y.shape == (2, 3, 37 * scale, 31 * scale)
    assert torch.equal(y, F.interpolate(x, scale_factor=scale, mode="nearest"))


def test_every_parameter_learns_and_the_output_is_finite():
    torch.manual_seed(0)
    net = build("srnet", scale=2, channels=8, blocks=2)
    with torch.no_grad():  # the last convolution starts at zero, which blocks the body's gradient
        net.tail.weight.normal_(0, 0.01)
    y = net(torch.rand(1, 3, 13, 11))
    y.square().mean().backward()
    assert torch.isfinite(y).all()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in net.parameters())


def test_same_seed_same_network():
    torch.manual_seed(3)
    a = build("srnet", scale=4, channels=8, blocks=1).state_dict()
    torch.manual_seed(3)
    b = build("srnet", scale=4, channels=8, blocks=1).state_dict()
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_degradation_network_draws_its_noise_from_the_generator():
    net = build("degradenet", scale=4, channels=8, blocks=1, noise_channels=2)
    with torch.no_grad():
        net.tail.weight.normal_(0, 0.1)
    x = torch.rand(2, 3, 32, 24)
    a = net(x, torch.Generator().manual_seed(0))
    assert a.shape == (2, 3, 8, 6)
    assert torch.equal(a, net(x, torch.Generator().manual_seed(0)))
    assert not torch.equal(a, net(x, torch.Generator().manual_seed(1)))
    with pytest.raises(RestorekitError, match="not a multiple of the scale 4"):
        net(torch.rand(1, 3, 30, 24))


def test_bad_sizes_are_refused():
    with pytest.raises(RestorekitError, match="scale must be an integer >= 2"):
        build("srnet", scale=1)
    with pytest.raises(RestorekitError, match="image must have 3 channels"):
        build("srnet", scale=2, channels=4, blocks=0)(torch.rand(1, 1, 8, 8))


def test_shipped_upscalers_are_light():
    for scale, budget in ((2, 300_000), (3, 300_000), (4, 300_000)):
        net = load_upscaler(scale)
        d = describe(net, torch.rand(1, 3, 32, 32))
        assert net.scale == scale and d["params"] <= budget
        # MACs are counted per output pixel: the body runs on the input's scale^2 fewer pixels
        assert d["macs_per_pixel"] == pytest.approx(d["params"] / scale**2, rel=0.02)
    with pytest.raises(RestorekitError, match="the shipped scales: 2, 3, 4"):
        load_upscaler(5)


def test_tiled_x4_on_a_2000x1500_input_equals_whole_image_inference():
    net = load_upscaler(4)
    x = torch.rand(1, 3, 1500, 2000, generator=torch.Generator().manual_seed(0))
    whole = upscale_learned(x, model=net, tile=4096)
    tiles = upscale_learned(x, model=net, tile=512)
    assert tiles.shape == (1, 3, 6000, 8000)
    assert float((whole - tiles).abs().max()) < 1e-5


def test_learned_upscale_checks_scale_against_the_model():
    with pytest.raises(RestorekitError, match="upscales by 4, not 2"):
        upscale_learned(torch.rand(1, 3, 8, 8), scale=2, model=load_upscaler(4))


def test_onnx_export_of_the_upscaler_matches_torch_on_a_non_square_input(tmp_path):
    pytest.importorskip("onnxruntime")
    pytest.importorskip("onnxscript")
    from restorekit.models.export import export_onnx, onnx_max_difference, run_onnx

    net = load_upscaler(4)
    path = export_onnx(net, tmp_path / "x4.onnx")
    x = torch.rand(1, 3, 45, 71, generator=torch.Generator().manual_seed(1))
    assert run_onnx(path, x).shape == (1, 3, 180, 284)
    assert onnx_max_difference(path, net, x) < 1e-4
