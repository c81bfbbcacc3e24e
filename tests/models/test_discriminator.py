"""PatchGAN: shapes, receptive field (computed and measured), spectral norm, errors, model files."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from restorekit.errors import RestorekitError
from restorekit.models import MODELS, build, load_model, save_model
from restorekit.models.discriminator import PatchGAN


def _convs(net: nn.Module) -> list[nn.Conv2d]:
    return [m for m in net.modules() if isinstance(m, nn.Conv2d)]


@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
@pytest.mark.parametrize(
    ("size", "out"), [((64, 64), (6, 6)), ((75, 71), (7, 6)), ((24, 31), (1, 1))]
)
def test_output_shape(norm, size, out):
    # each side: n -> n // 2 three times (4x4, stride 2, padding 1), then - 1 twice
    net = PatchGAN(in_channels=3, channels=4, norm=norm).train()
    y = net(torch.rand(2, 3, *size))
    assert y.shape == (2, 1, *out) and torch.isfinite(y).all()


@pytest.mark.parametrize(
    ("depth", "padding", "rf", "min_size", "out"),
    [(3, 1, 70, 24, 1), (1, 1, 16, 6, 1), (4, 0, 142, 142, 1), (2, 2, 34, 1, 3)],
)
def test_receptive_field_and_min_size(depth, padding, rf, min_size, out):
    # the receptive field does not depend on the padding; the smallest input does
    net = PatchGAN(channels=2, depth=depth, padding=padding, norm="none")
    assert net.receptive_field == rf
    assert net.min_size == min_size
    assert net(torch.rand(1, 1, min_size, min_size)).shape[-2:] == (out, out)
    if min_size > 1:  # one pixel less and a layer's map is empty: the raw layers fail
        with pytest.raises(RuntimeError):
            net.body(torch.rand(1, 1, min_size - 1, min_size - 1))


def test_one_logit_sees_a_70x70_window():
    # the gradient of one interior logit w.r.t. the input is nonzero exactly on a 70x70 window
    # (eval-mode batch norm: a per-channel affine map, no mixing between positions)
    torch.manual_seed(0)
    net = PatchGAN(channels=4, depth=3).eval()
    x = torch.rand(1, 1, 96, 96, requires_grad=True)
    y = net(x)  # (1, 1, 10, 10)
    i, j = 5, 4
    y[0, 0, i, j].backward()
    rows = x.grad[0, 0].abs().sum(dim=1).nonzero().flatten()
    cols = x.grad[0, 0].abs().sum(dim=0).nonzero().flatten()
    assert rows.max() - rows.min() + 1 == net.receptive_field == 70
    assert cols.max() - cols.min() + 1 == 70
    # it starts at 8 i - 23: a jump of 2**3 per logit, minus the paddings seen through the strides
    assert (int(rows.min()), int(cols.min())) == (8 * i - 23, 8 * j - 23)


def test_spectral_norm_keeps_each_convolution_at_unit_spectral_norm():
    torch.manual_seed(0)
    net = PatchGAN(channels=4, norm="none", spectral_norm=True).train()
    x = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        for _ in range(5):  # one power iteration per training forward pass
            net(x)
        convs = _convs(net)
        assert len(convs) == 5
        for k, conv in enumerate(convs):
            w = conv.weight.flatten(1)  # (out, in * 4 * 4): the matrix whose norm is divided out
            sigma = float(torch.linalg.matrix_norm(w, ord=2))
            # the power-iteration estimate is a lower bound of the norm, so sigma >= 1
            assert 1 - 1e-5 <= sigma <= 1.03, (k, sigma)
        plain = PatchGAN(channels=4, norm="none")
        sigmas = [
            float(torch.linalg.matrix_norm(c.weight.flatten(1), ord=2)) for c in _convs(plain)
        ]
        assert max(abs(s - 1) for s in sigmas) > 0.1  # not a coincidence of the initialisation


@pytest.mark.parametrize("norm", ["batch", "instance", "none"])
def test_norm_options_build_the_right_layers(norm):
    net = PatchGAN(channels=4, norm=norm)
    kinds = {"batch": nn.BatchNorm2d, "instance": nn.InstanceNorm2d, "none": ()}[norm]
    norms = [m for m in net.modules() if isinstance(m, nn.BatchNorm2d | nn.InstanceNorm2d)]
    assert len(norms) == (0 if norm == "none" else 3)
    assert all(isinstance(m, kinds) for m in norms)
    # a convolution followed by a norm has no bias; the first and last always have one
    biases = [c.bias is not None for c in _convs(net)]
    assert biases == [True, *([norm == "none"] * 3), True]
    # the channels double up to 8x, then the logits
    assert [c.out_channels for c in _convs(net)] == [4, 8, 16, 32, 1]
    assert [c.out_channels for c in _convs(PatchGAN(channels=2, depth=5))] == [
        2,
        4,
        8,
        16,
        16,
        16,
        1,
    ]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"in_channels": 0}, "in_channels must be a positive integer, got 0"),
        ({"channels": 2.5}, "channels must be a positive integer, got 2.5"),
        ({"depth": 0}, "depth must be a positive integer, got 0"),
        ({"depth": True}, "depth must be a positive integer, got True"),
        ({"norm": "batchnorm"}, "unknown PatchGAN norm 'batchnorm'; known: batch, none, instance"),
        ({"norm": "inst"}, "unknown PatchGAN norm 'inst'; known: instance, none, batch"),
        ({"spectral_norm": "yes"}, "spectral_norm must be True or False, got 'yes'"),
        ({"padding": 3}, "padding must be 0, 1 or 2 (at most half the 4x4 kernel), got 3"),
    ],
)
def test_bad_arguments_are_one_clear_error(kwargs, message):
    with pytest.raises(RestorekitError) as e:
        PatchGAN(**kwargs)
    assert str(e.value) == message


def test_bad_inputs_are_one_clear_error():
    net = PatchGAN(channels=4)
    with pytest.raises(RestorekitError) as e:
        net(torch.rand(1, 1, 23, 40))
    assert str(e.value) == "PatchGAN input must be at least 24x24 pixels, got 23x40"
    with pytest.raises(RestorekitError, match="PatchGAN input must have 1 channels, got 3"):
        net(torch.rand(1, 3, 32, 32))
    with pytest.raises(RestorekitError, match=r"must have shape \(B, C, H, W\), got \(32, 32\)"):
        net(torch.rand(32, 32))


@pytest.mark.parametrize("kw", [{"norm": "batch"}, {"norm": "none", "spectral_norm": True}])
def test_every_parameter_gets_a_gradient_and_the_same_seed_gives_the_same_output(kw):
    x = torch.rand(2, 2, 37, 31)

    def run() -> tuple[PatchGAN, torch.Tensor]:
        torch.manual_seed(0)
        net = PatchGAN(in_channels=2, channels=4, **kw).train()
        return net, net(x)

    net, y = run()
    y.square().mean().backward()
    for name, p in net.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, name
    assert torch.equal(run()[1], y)


@pytest.mark.parametrize("kw", [{}, {"norm": "instance", "spectral_norm": True, "padding": 2}])
def test_build_and_model_file_round_trip(tmp_path, kw):
    assert MODELS["patchgan"] is PatchGAN
    args = {"in_channels": 3, "channels": 4, "depth": 2, **kw}
    torch.manual_seed(0)
    net = build("patchgan", **args)
    assert net.config == args and net.registry_name == "patchgan"
    with torch.no_grad():  # move batch-norm statistics and the power-iteration vectors
        net.train()(torch.rand(2, 3, 40, 40))
    save_model(tmp_path / "d.safetensors", net)
    loaded, meta = load_model(tmp_path / "d.safetensors", expect="patchgan")
    assert meta["args"] == args and not loaded.training
    x = torch.rand(1, 3, 45, 50)
    torch.testing.assert_close(loaded(x), net.eval()(x), rtol=0, atol=0)
