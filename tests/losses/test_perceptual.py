"""Perceptual loss: with a random feature network, and VGG19 weights in torchvision's layout.

torchvision is not installed here, so the reference VGG19 below is written from torchvision's
``vgg.py`` (configuration "E", ``make_layers`` without batch norm): a plain ``nn.Sequential`` of
numbered children, saved under ``features.N.*`` beside a (tiny stand-in) ``classifier``.
"""

from __future__ import annotations

import re

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from helpers import assert_close
from restorekit.errors import ImageFileError, RestorekitError
from restorekit.losses import (
    VGG19_LAYERS,
    CompositeLoss,
    PerceptualLoss,
    get_loss,
    perceptual_loss,
    random_features,
    vgg19_features,
)

CFG_E = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M"] + [512, 512, 512, 512, "M"] * 2
CFG_D = [64, 64, "M", 128, 128, "M", 256, 256, 256, "M"] + [512, 512, 512, "M"] * 2


def _make_layers(cfg) -> nn.Sequential:
    """torchvision's ``make_layers(cfg, batch_norm=False)``."""
    layers: list[nn.Module] = []
    c = 3
    for v in cfg:
        if v == "M":
            layers.append(nn.MaxPool2d(kernel_size=2, stride=2))
        else:
            layers += [nn.Conv2d(c, v, kernel_size=3, padding=1), nn.ReLU(inplace=True)]
            c = v
    return nn.Sequential(*layers)


def _raises(cls, message, fn, *args, **kwargs):
    with pytest.raises(cls, match=f"^{re.escape(message)}$"):
        fn(*args, **kwargs)


def _images(shape=(2, 3, 32, 32), seed=0):
    g = torch.Generator().manual_seed(seed)
    return torch.rand(shape, generator=g), torch.rand(shape, generator=g)


@pytest.fixture(scope="module")
def vgg19(tmp_path_factory):
    """A randomly initialised torchvision-layout VGG19 ``features``, and its state dict files."""
    with torch.device("meta"):
        features = _make_layers(CFG_E)
    g = torch.Generator().manual_seed(0)
    state = {}
    for k, v in features.state_dict().items():
        fan_in = v[0].numel() if v.ndim == 4 else 1
        t = torch.randn(v.shape, generator=g) * (2.0 / fan_in) ** 0.5 * (1 if v.ndim == 4 else 0.1)
        state[f"features.{k}"] = t
    features.load_state_dict(
        {k.removeprefix("features."): v for k, v in state.items()}, assign=True
    )
    state["classifier.0.weight"] = torch.randn(2, 2, generator=g)  # stand-in: it is ignored
    state["classifier.0.bias"] = torch.zeros(2)
    folder = tmp_path_factory.mktemp("vgg")
    pth, st = folder / "vgg19.pth", folder / "vgg19.safetensors"
    torch.save(state, pth)
    save_file(state, st)
    return features.eval(), state, pth, st


# --- the layer table --------------------------------------------------------------------------


def test_layer_names_follow_torchvision_indices():
    assert len(VGG19_LAYERS) == 37 == len(_make_layers(CFG_E))
    assert VGG19_LAYERS.index("conv5_4") == 34 and VGG19_LAYERS.index("relu5_4") == 35
    assert VGG19_LAYERS.index("relu2_2") == 8 and VGG19_LAYERS[-1] == "pool5"


# --- VGG19 from a file ------------------------------------------------------------------------


@pytest.mark.parametrize("fmt", ["pth", "safetensors"])
def test_vgg19_file_loads_and_gives_torchvision_features(vgg19, fmt):
    ref, state, pth, st = vgg19
    net = vgg19_features(pth if fmt == "pth" else st, layers=("relu2_2", "conv5_4"))
    assert [n for n, _ in net.named_children()] == list(VGG19_LAYERS[:35])  # cut after conv5_4
    assert not any(p.requires_grad for p in net.parameters()) and not net.training
    assert torch.equal(net.conv1_1.weight, state["features.0.weight"])
    assert torch.equal(net.conv5_4.bias, state["features.34.bias"])
    x = torch.rand(1, 3, 32, 32, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        assert_close(net(x), ref[:35](x), atol=1e-5, rtol=1e-5)
        assert_close(net[:9](x), ref[:9](x), atol=1e-6, rtol=1e-6)


def test_a_bare_features_state_dict_loads_too(vgg19, tmp_path):
    _, state, _, _ = vgg19
    bare = {k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")}
    torch.save(bare, tmp_path / "features.pth")
    net = vgg19_features(tmp_path / "features.pth", layers="relu1_2")
    assert torch.equal(net.conv1_2.weight, state["features.2.weight"])
    assert len(net) == 4


def test_perceptual_loss_from_a_weights_file_builds_by_name(vgg19):
    _, _, pth, _ = vgg19
    loss = get_loss("perceptual", weights_file=str(pth), layers=["relu1_2", "relu2_2"])
    assert loss.layers == ["relu1_2", "relu2_2"] and len(loss.features) == 9
    default = PerceptualLoss(weights_file=pth)
    assert default.layers == ["conv5_4"]
    x, y = _images(shape=(1, 3, 16, 16))
    assert loss(x, x).item() == 0 and loss(x, y).item() > 0


def test_missing_file():
    _raises(ImageFileError, "no such file: nowhere/vgg19.pth", vgg19_features, "nowhere/vgg19.pth")


def test_corrupt_and_truncated_files(vgg19, tmp_path):
    _, _, pth, st = vgg19
    bad = tmp_path / "noise.pth"
    bad.write_bytes(bytes(range(256)) * 4)
    with pytest.raises(
        ImageFileError, match=rf"^{re.escape(str(bad))}: not a PyTorch weights file"
    ):
        vgg19_features(bad)
    cut = tmp_path / "cut.pth"
    cut.write_bytes(pth.read_bytes()[:100_000])
    with pytest.raises(
        ImageFileError, match=rf"^{re.escape(str(cut))}: not a PyTorch weights file"
    ):
        vgg19_features(cut)
    cut_st = tmp_path / "cut.safetensors"
    cut_st.write_bytes(st.read_bytes()[:100_000])
    _raises(
        ImageFileError,
        f"{cut_st}: not a safetensors file (corrupt or truncated)",
        vgg19_features,
        cut_st,
    )


class _NotWeights:
    pass


def test_pickles_that_are_not_state_dicts_are_refused(tmp_path):
    f = tmp_path / "object.pth"
    torch.save(_NotWeights(), f)  # weights_only=True refuses to build arbitrary objects
    with pytest.raises(ImageFileError, match=rf"^{re.escape(str(f))}: not a PyTorch weights file"):
        vgg19_features(f)
    g = tmp_path / "numbers.pth"
    torch.save({"a": 1}, g)
    _raises(
        ImageFileError, f"{g}: does not hold a state dict (names -> tensors)", vgg19_features, g
    )


def test_a_dropped_layer_is_named(vgg19, tmp_path):
    _, state, _, _ = vgg19
    dropped = {k: v for k, v in state.items() if not k.startswith("features.34.")}
    f = tmp_path / "dropped.pth"
    torch.save(dropped, f)
    message = (
        f"{f} does not fit torchvision's VGG19 features: missing 'features.34.bias' "
        "(2 missing, 0 unexpected tensors)"
    )
    _raises(RestorekitError, message, vgg19_features, f)


def test_a_wrong_shape_is_named(vgg19, tmp_path):
    _, state, _, _ = vgg19
    gray = dict(state, **{"features.0.weight": state["features.0.weight"][:, :1].contiguous()})
    f = tmp_path / "gray.safetensors"
    save_file(gray, f)
    message = (
        f"{f} does not fit torchvision's VGG19 features: 'features.0.weight' has shape "
        "(64, 1, 3, 3), VGG19 needs (64, 3, 3, 3)"
    )
    _raises(RestorekitError, message, vgg19_features, f)


def test_a_vgg16_file_is_refused(tmp_path):
    # The key layout is enough to refuse it (VGG16 and VGG19 differ from features.16 on), so
    # the stand-in tensors are tiny.
    keys = [f"features.{k}" for k in _make_layers(CFG_D).state_dict()]
    f = tmp_path / "vgg16.pth"
    torch.save({k: torch.zeros(1) for k in keys}, f)
    message = (
        f"{f} does not fit torchvision's VGG19 features: missing 'features.16.bias' "
        "(12 missing, 6 unexpected tensors)"
    )
    _raises(RestorekitError, message, vgg19_features, f)


def test_unknown_vgg_layer(vgg19):
    _, _, pth, _ = vgg19
    with pytest.raises(RestorekitError, match=r"^unknown layer 'relu6_1' of VGG19; closest: "):
        vgg19_features(pth, layers=["relu6_1"])


# --- the loss with a random feature network ---------------------------------------------------


def test_zero_for_identical_images_positive_otherwise():
    net = random_features()
    x, y = _images()
    assert perceptual_loss(x, x.clone(), net).item() == 0
    assert (perceptual_loss(x, y, net, reduction="none") > 0).all()


def test_gradient_reaches_the_input_and_never_the_features():
    loss = PerceptualLoss(random=True, layers=["relu1", "relu4"])
    x, y = _images()
    x.requires_grad_(True)
    loss(x, y).backward()
    assert x.grad is not None and x.grad.abs().sum() > 0
    assert all(not p.requires_grad and p.grad is None for p in loss.parameters())


def test_features_stay_frozen_and_in_eval_mode():
    net = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU())
    loss = PerceptualLoss(features=net, normalize="none")
    assert not any(p.requires_grad for p in net.parameters())
    loss.train()
    assert loss.training and not loss.features.training
    before = net[1].running_mean.clone()
    loss(*_images())
    assert torch.equal(net[1].running_mean, before)  # eval: batch norm statistics unchanged


def test_value_by_hand_with_weights_and_criteria():
    net = random_features(depth=3, channels=5, seed=3)
    x, y = _images(seed=4)
    norm = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
    std = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)
    a, b = net[:2]((x - norm) / std), net[:2]((y - norm) / std)
    c, d = net[:6]((x - norm) / std), net[:6]((y - norm) / std)
    want_l1 = 2.0 * (a - b).abs().mean(dim=(1, 2, 3)) + 0.5 * (c - d).abs().mean(dim=(1, 2, 3))
    got = perceptual_loss(x, y, net, ["relu1", "relu3"], [2.0, 0.5], reduction="none")
    assert_close(got, want_l1, atol=1e-6, rtol=1e-5)
    want_l2 = (c - d).square().mean()
    assert_close(perceptual_loss(x, y, net, "relu3", criterion="l2"), want_l2, rtol=1e-5)
    raw = perceptual_loss(x, y, net, "relu3", normalize="none")
    assert_close(raw, (net(x) - net(y)).abs().mean(), rtol=1e-5)


def test_gray_images_are_compared_as_rgb():
    net = random_features()
    x, y = _images(shape=(2, 1, 16, 16))
    rgb = perceptual_loss(x.expand(2, 3, 16, 16), y.expand(2, 3, 16, 16), net)
    assert_close(perceptual_loss(x, y, net), rgb, atol=0)


def test_gradcheck_in_float64():
    net = random_features(depth=2, channels=3).double()
    x, y = (t.double() for t in _images(shape=(1, 3, 6, 6)))
    x.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda t: perceptual_loss(t, y, net, ["relu1", "relu2"], reduction="none"), (x,)
    )


def test_module_equals_function_and_composite_builds_it():
    net = random_features()
    x, y = _images()
    assert torch.equal(PerceptualLoss(random=True)(x, y), perceptual_loss(x, y, net))
    composite = CompositeLoss({"l1": 1.0, "perceptual": 0.1}, perceptual={"random": True})
    total, parts = composite(x, y)
    assert sorted(parts) == ["l1", "perceptual"]
    assert_close(total, parts["l1"] + 0.1 * parts["perceptual"], atol=1e-6)


def test_random_features_are_seeded():
    a, b, c = random_features(seed=1), random_features(seed=1), random_features(seed=2)
    assert torch.equal(a.conv3.weight, b.conv3.weight)
    assert not torch.equal(a.conv3.weight, c.conv3.weight)
    state = torch.get_rng_state()
    random_features()
    assert torch.equal(torch.get_rng_state(), state)  # the global RNG is not touched


# --- bad arguments ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({}, "give exactly one of features, weights_file and random to PerceptualLoss, got none"),
        (
            {"random": True, "weights_file": "v.pth"},
            "give exactly one of features, weights_file and random to PerceptualLoss, got "
            "weights_file, random",
        ),
        ({"random": True, "criterion": "l3"}, "unknown criterion 'l3'; known: l1, l2"),
        (
            {"random": True, "normalize": "imgnet"},
            "unknown normalize 'imgnet'; known: imagenet, none",
        ),
        (
            {"random": True, "layers": ["relu1"], "weights": [1, 2]},
            "give one weight per layer: 1 layers, 2 weights",
        ),
        ({"random": True, "weights": [-1]}, "layer weight must be a finite number >= 0, got -1"),
        ({"random": True, "reduction": "sum"}, "unknown reduction 'sum'; known: mean, none"),
        (
            {"features": nn.Conv2d(3, 3, 1)},
            "features must be an nn.Sequential of named layers, got Conv2d",
        ),
    ],
)
def test_bad_options(kwargs, message):
    _raises(RestorekitError, message, PerceptualLoss, **kwargs)


def test_bad_inputs():
    loss = PerceptualLoss(random=True)
    _raises(
        RestorekitError,
        "x and y must have the same shape, got (1, 3, 8, 8) and (1, 3, 8, 9)",
        loss,
        torch.rand(1, 3, 8, 8),
        torch.rand(1, 3, 8, 9),
    )
    gray_net = random_features(in_channels=1)
    _raises(
        RestorekitError,
        "normalize='imagenet' needs a feature network with 3 input channels, got 1",
        perceptual_loss,
        *_images(shape=(1, 1, 8, 8)),
        gray_net,
    )
    _raises(RestorekitError, "depth must be an integer >= 1, got 0", random_features, depth=0)
