"""Perceptual (feature) loss: L1 or L2 between feature maps of a frozen network.

The feature network is a plain :class:`torch.nn.Sequential` whose children are named layers;
the loss compares the outputs of the named ones. Two builders make such a network:

- :func:`vgg19_features`: VGG19's ``features`` stack (16 convolutions, torchvision's layout)
  loaded from a local weights file the user gives (a torchvision ``vgg19`` state dict, saved with
  ``torch.save`` or as safetensors). Nothing is ever downloaded. Its children are named
  ``conv1_1, relu1_1, conv1_2, relu1_2, pool1, conv2_1, ..., relu5_4, pool5``
  (:data:`VGG19_LAYERS`, in torchvision's order: index ``i`` of torchvision's
  ``vgg19().features`` is ``VGG19_LAYERS[i]``).
- :func:`random_features`: a fixed, seeded random convolution stack (``conv1, relu1, ...``),
  for tests and for runs without VGG weights.

ESRGAN and SRResCycGAN compare VGG19 features *before* the last activation, ``conv5_4``
(torchvision's ``features[:35]``), with an L1 distance; that is the default here.
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from restorekit._checks import check_positive, closest_names
from restorekit.errors import ImageFileError, RestorekitError
from restorekit.losses._common import check_reduction, reduce_batch
from restorekit.metrics._common import check_pair

__all__ = [
    "CRITERIA",
    "DEFAULT_VGG19_LAYERS",
    "NORMALIZATIONS",
    "VGG19_LAYERS",
    "PerceptualLoss",
    "perceptual_loss",
    "random_features",
    "vgg19_features",
]

#: The distances between feature maps: mean absolute (``"l1"``) or mean squared (``"l2"``).
CRITERIA: tuple[str, ...] = ("l1", "l2")

#: Input normalisations: ImageNet's mean and std (what VGG was trained on), or none.
NORMALIZATIONS: tuple[str, ...] = ("imagenet", "none")

_IMAGENET_MEAN = (0.485, 0.456, 0.406)
_IMAGENET_STD = (0.229, 0.224, 0.225)

# torchvision's VGG configuration "E" (VGG19): output channels of each 3x3 conv, "M" a 2x2 max pool
_VGG19_CONFIG: tuple[int | str, ...] = (
    *(64, 64, "M"),
    *(128, 128, "M"),
    *(256, 256, 256, 256, "M"),
    *(512, 512, 512, 512, "M"),
    *(512, 512, 512, 512, "M"),
)


def _vgg19_layer_names() -> tuple[str, ...]:
    names: list[str] = []
    block, i = 1, 1
    for v in _VGG19_CONFIG:
        if v == "M":
            names.append(f"pool{block}")
            block, i = block + 1, 1
        else:
            names += [f"conv{block}_{i}", f"relu{block}_{i}"]
            i += 1
    return tuple(names)


#: The 37 children of VGG19's ``features`` in torchvision's order (index = torchvision index).
VGG19_LAYERS: tuple[str, ...] = _vgg19_layer_names()

#: ESRGAN's and SRResCycGAN's layer: the last convolution, before its ReLU.
DEFAULT_VGG19_LAYERS: tuple[str, ...] = ("conv5_4",)


# --- the feature networks ---------------------------------------------------------------------


def _frozen(net: nn.Sequential) -> nn.Sequential:
    net.requires_grad_(False)
    return net.eval()


def _vgg19_shapes() -> dict[str, tuple[int, ...]]:
    """torchvision's ``features`` keys (``"0.weight"`` ...) and their shapes."""
    shapes: dict[str, tuple[int, ...]] = {}
    index, c_in = 0, 3
    for v in _VGG19_CONFIG:
        if v == "M":
            index += 1
            continue
        shapes[f"{index}.weight"] = (int(v), c_in, 3, 3)
        shapes[f"{index}.bias"] = (int(v),)
        c_in, index = int(v), index + 2  # the conv and its ReLU
    return shapes


def _read_state_dict(path: str | os.PathLike) -> dict[str, torch.Tensor]:
    """The tensors of a ``.safetensors`` file or of a ``torch.save``'d state dict (any suffix)."""
    p = Path(path)
    if not p.is_file():
        raise ImageFileError(f"no such file: {p}")
    if p.suffix.lower() == ".safetensors":
        from safetensors import SafetensorError
        from safetensors.torch import load

        try:
            return load(p.read_bytes())
        except (SafetensorError, ValueError, UnicodeDecodeError, OverflowError):
            raise ImageFileError(f"{p}: not a safetensors file (corrupt or truncated)") from None
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as e:  # unpickling a bad file fails in many ways; all are the file's fault
        raise ImageFileError(
            f"{p}: not a PyTorch weights file (corrupt, truncated or not a state dict; "
            f"{type(e).__name__})"
        ) from None
    if not isinstance(state, Mapping) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise ImageFileError(f"{p}: does not hold a state dict (names -> tensors)")
    return dict(state)


def _order(key: str) -> tuple[int, str]:
    head, _, tail = key.partition(".")
    return (int(head), tail) if head.isdigit() else (1 << 30, key)


def _vgg19_state(state: Mapping[str, torch.Tensor], source: str) -> dict[str, torch.Tensor]:
    """The ``features`` tensors of a VGG19 state dict, keyed by our layer names, checked."""
    if any(k.startswith("features.") for k in state):
        feats = {
            k.removeprefix("features."): v for k, v in state.items() if k.startswith("features.")
        }
    else:  # a saved ``vgg19().features.state_dict()``: keys "0.weight", ...
        feats = {k: v for k, v in state.items() if not k.startswith("classifier.")}
    shapes = _vgg19_shapes()
    missing = sorted(set(shapes) - set(feats), key=_order)
    unexpected = sorted(set(feats) - set(shapes), key=_order)
    what = f"{source} does not fit torchvision's VGG19 features"
    if missing or unexpected:
        first = (
            f"missing 'features.{missing[0]}'"
            if missing
            else f"unexpected 'features.{unexpected[0]}'"
        )
        raise RestorekitError(
            f"{what}: {first} ({len(missing)} missing, {len(unexpected)} unexpected tensors)"
        )
    for k, shape in shapes.items():
        t = feats[k]
        if not t.is_floating_point():
            raise RestorekitError(f"{what}: 'features.{k}' has dtype {t.dtype}, VGG19 needs floats")
        if tuple(t.shape) != shape:
            raise RestorekitError(
                f"{what}: 'features.{k}' has shape {tuple(t.shape)}, VGG19 needs {shape}"
            )
    out: dict[str, torch.Tensor] = {}
    for k, v in feats.items():
        index, _, kind = k.partition(".")
        out[f"{VGG19_LAYERS[int(index)]}.{kind}"] = v.detach().to(torch.float32)
    return out


def _check_layer_names(layers: Sequence[str], known: Sequence[str], what: str) -> list[str]:
    names = [layers] if isinstance(layers, str) else list(layers)
    if not names:
        raise RestorekitError(f"give at least one layer of {what}")
    for name in names:
        if name not in known:
            close = ", ".join(closest_names(str(name), known)[:5])
            raise RestorekitError(f"unknown layer {name!r} of {what}; closest: {close}")
    return names


def vgg19_features(
    path: str | os.PathLike, layers: Sequence[str] | str = DEFAULT_VGG19_LAYERS
) -> nn.Sequential:
    """VGG19's ``features`` stack with weights from a local file, frozen, up to ``layers``.

    The file is a torchvision ``vgg19`` state dict: keys ``features.N.weight`` and
    ``features.N.bias`` (``classifier.*`` keys are ignored; a bare ``features`` state dict,
    ``N.weight``, works too), written by ``torch.save`` (read with ``weights_only=True``, so
    loading never runs code) or as ``.safetensors``. All 16 convolutions must be there with
    VGG19's shapes (a VGG16 file is refused even if the layers asked for would fit), then the
    stack is cut after the deepest of ``layers``. Weights are cast to float32.

    Args:
        path: the weights file, e.g. torchvision's ``vgg19-dcbb9e9d.pth``. Never downloaded.
        layers: names from :data:`VGG19_LAYERS` the loss will compare (``"relu2_2"``,
            ``"conv5_4"``, ...).

    Returns:
        An ``nn.Sequential`` of named children (:data:`VGG19_LAYERS`), in eval mode, every
        parameter with ``requires_grad=False``. It expects ImageNet-normalised RGB.

    Raises:
        ImageFileError: a missing file, a file that is not a state dict (corrupt, truncated).
        RestorekitError: a state dict that is not VGG19's (a missing, unexpected or misshapen
            tensor, named), an unknown layer name.

    Example:
        >>> vgg19_features("no/such/vgg19.pth")
        Traceback (most recent call last):
        ...
        restorekit.errors.ImageFileError: no such file: no/such/vgg19.pth
    """
    names = _check_layer_names(layers, VGG19_LAYERS, "VGG19")
    state = _vgg19_state(_read_state_dict(path), str(path))
    last = max(VGG19_LAYERS.index(n) for n in names)
    children: OrderedDict[str, nn.Module] = OrderedDict()
    c_in = 3
    for name in VGG19_LAYERS[: last + 1]:
        if name.startswith("conv"):
            w = state[f"{name}.weight"]
            # built on the meta device (no random initialisation), the loaded tensors assigned
            children[name] = nn.Conv2d(c_in, w.shape[0], 3, padding=1, device="meta")
            c_in = w.shape[0]
        elif name.startswith("relu"):
            children[name] = nn.ReLU()
        else:
            children[name] = nn.MaxPool2d(2, 2)
    net = nn.Sequential(children)
    own = {k: state[k] for k in net.state_dict()}
    net.load_state_dict(own, assign=True)
    return _frozen(net)


def random_features(
    depth: int = 4, channels: int = 16, seed: int = 0, in_channels: int = 3
) -> nn.Sequential:
    """A fixed random convolution stack to use as a feature network (no weights file needed).

    ``depth`` blocks of a 3x3 convolution (``channels`` outputs, He-normal weights from
    ``torch.Generator().manual_seed(seed)``, zero bias) and a ReLU, named ``conv1, relu1, conv2,
    ...``. The same arguments give the same network on every machine. Never trained.

    Args:
        depth: the number of conv + ReLU blocks, >= 1.
        channels: the width of every block, >= 1.
        seed: the seed of the weights.
        in_channels: the input channels (3 for RGB; gray images are repeated to 3).

    Returns:
        A frozen ``nn.Sequential`` in eval mode.

    Example:
        >>> net = random_features(depth=2, channels=8)
        >>> [name for name, _ in net.named_children()]
        ['conv1', 'relu1', 'conv2', 'relu2']
        >>> torch.equal(net.conv2.weight, random_features(depth=2, channels=8).conv2.weight)
        True
    """
    for value, name in ((depth, "depth"), (channels, "channels"), (in_channels, "in_channels")):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise RestorekitError(f"{name} must be an integer >= 1, got {value!r}")
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise RestorekitError(f"seed must be an integer, got {seed!r}")
    g = torch.Generator().manual_seed(seed)
    children: OrderedDict[str, nn.Module] = OrderedDict()
    c_in = in_channels
    for i in range(1, depth + 1):
        conv = nn.Conv2d(c_in, channels, 3, padding=1, device="meta")
        w = torch.randn(channels, c_in, 3, 3, generator=g) * math.sqrt(2.0 / (9 * c_in))
        conv.weight = nn.Parameter(w)
        conv.bias = nn.Parameter(torch.zeros(channels))
        children[f"conv{i}"] = conv
        children[f"relu{i}"] = nn.ReLU()
        c_in = channels
    return _frozen(nn.Sequential(children))


# --- the loss ---------------------------------------------------------------------------------


def _in_channels(features: nn.Sequential) -> int:
    for m in features.modules():
        if isinstance(m, nn.Conv2d):
            return m.in_channels
    raise RestorekitError("the feature network has no Conv2d layer")


def _check_features(features: nn.Module) -> nn.Sequential:
    if not isinstance(features, nn.Sequential):
        raise RestorekitError(
            f"features must be an nn.Sequential of named layers, got {type(features).__name__}"
        )
    return features


def _check_choice(value: str | None, known: tuple[str, ...], what: str) -> str:
    key = "none" if value is None else value
    if key not in known:
        raise RestorekitError(
            f"unknown {what} {value!r}; known: {', '.join(closest_names(str(value), known))}"
        )
    return key


def _check_weights(weights: Sequence[float] | None, n: int) -> list[float]:
    if weights is None:
        return [1.0] * n
    ws = [weights] if isinstance(weights, (int, float)) else list(weights)
    if len(ws) != n:
        raise RestorekitError(f"give one weight per layer: {n} layers, {len(ws)} weights")
    return [check_positive(w, "layer weight") for w in ws]


def _prepare(x: torch.Tensor, c_in: int, normalize: str, dtype: torch.dtype) -> torch.Tensor:
    """Gray to RGB when the network wants 3 channels, ImageNet normalisation, the net's dtype."""
    B, C, H, W = x.shape
    if c_in != C:
        if not (C == 1 and c_in == 3):
            raise RestorekitError(f"the feature network takes {c_in} channels, got {C}")
        x = x.expand(B, 3, H, W)  # gray is the same value in R, G and B
    x = x.to(dtype)
    if normalize == "imagenet":
        mean = torch.tensor(_IMAGENET_MEAN, device=x.device, dtype=dtype).view(1, 3, 1, 1)
        std = torch.tensor(_IMAGENET_STD, device=x.device, dtype=dtype).view(1, 3, 1, 1)
        x = (x - mean) / std
    return x


def _extract(features: nn.Sequential, x: torch.Tensor, names: list[str]) -> list[torch.Tensor]:
    """The outputs of the named children, running the stack only as deep as needed."""
    wanted = set(names)
    found: dict[str, torch.Tensor] = {}
    for name, layer in features.named_children():
        x = layer(x)
        if name in wanted:
            found[name] = x
            if len(found) == len(wanted):
                break
    return [found[n] for n in names]


def perceptual_loss(
    x: torch.Tensor,
    y: torch.Tensor,
    features: nn.Sequential,
    layers: Sequence[str] | str | None = None,
    weights: Sequence[float] | None = None,
    criterion: str = "l1",
    normalize: str | None = "imagenet",
    reduction: str = "mean",
) -> torch.Tensor:
    """Distance between the feature maps of ``x`` and ``y`` at named layers of a network.

    .. math::
        \\ell_b = \\sum_l w_l \\, \\frac{1}{C_l H_l W_l} \\sum
        \\left| \\phi_l(x_b) - \\phi_l(y_b) \\right|^p, \\qquad p = 1 \\ (\\text{l1}),
        \\ 2 \\ (\\text{l2})

    The network runs in the dtype and on the device of its parameters (the result is returned
    in ``x``'s dtype). Gradients flow to ``x`` (and ``y`` if it requires them), never into the
    network: it should be frozen (:func:`vgg19_features` and :func:`random_features` are).

    Args:
        x: restored image ``(B, C, H, W)`` in [0, 1], sRGB, C 1 or 3 (gray is repeated to RGB
            for a 3-channel network).
        y: target image, same shape.
        features: an ``nn.Sequential`` whose children are named (see the module docstring).
        layers: names of children whose outputs are compared; ``None`` is the last child.
        weights: one weight >= 0 per layer; ``None`` weighs each 1.
        criterion: ``"l1"`` (mean absolute difference) or ``"l2"`` (mean squared).
        normalize: ``"imagenet"`` subtracts ImageNet's mean and divides by its std (for VGG);
            ``"none"`` or ``None`` feeds [0, 1] as is.
        reduction: ``"mean"`` over the batch (a scalar) or ``"none"`` (one value per sample).

    Returns:
        A scalar, or ``(B,)`` with ``reduction="none"``, in ``x``'s dtype.

    Shape:
        ``(B, C, H, W), (B, C, H, W) -> ()`` or ``(B,)``, with C 1 or 3.

    References:
        J. Johnson, A. Alahi, L. Fei-Fei, "Perceptual losses for real-time style transfer and
        super-resolution", ECCV, 2016. X. Wang et al., "ESRGAN: Enhanced super-resolution
        generative adversarial networks", ECCV Workshops, 2018.

    Example:
        >>> net = random_features(depth=2, channels=4)
        >>> x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0))
        >>> perceptual_loss(x, x, net, layers=["relu1", "relu2"])
        tensor(0.)
        >>> bool(perceptual_loss(x, x.flip(-1), net) > 0)
        True
    """
    check_reduction(reduction)
    crit = _check_choice(criterion, CRITERIA, "criterion")
    norm = _check_choice(normalize, NORMALIZATIONS, "normalize")
    net = _check_features(features)
    known = [name for name, _ in net.named_children()]
    if not known:
        raise RestorekitError("the feature network has no layers")
    names = _check_layer_names(known[-1:] if layers is None else layers, known, "the features")
    ws = _check_weights(weights, len(names))
    check_pair(x, y)
    c_in = _in_channels(net)
    if norm == "imagenet" and c_in != 3:
        raise RestorekitError(
            f"normalize='imagenet' needs a feature network with 3 input channels, got {c_in}"
        )
    dtype = next(net.parameters()).dtype
    fx = _extract(net, _prepare(x, c_in, norm, dtype), names)
    fy = _extract(net, _prepare(y, c_in, norm, dtype), names)
    total = torch.zeros(x.shape[0], dtype=dtype, device=fx[0].device)
    for w, a, b in zip(ws, fx, fy, strict=True):
        d = (a - b).abs() if crit == "l1" else (a - b).square()
        total = total + w * d.flatten(1).mean(dim=1)
    return reduce_batch(total.to(x.dtype), reduction)


class PerceptualLoss(nn.Module):
    """Module twin of :func:`perceptual_loss`; it owns a frozen feature network.

    Give exactly one of ``features`` (a network), ``weights_file`` (VGG19 weights, see
    :func:`vgg19_features`) and ``random`` (:func:`random_features` with its defaults), so the loss
    builds from a config: ``perceptual: {weights_file: vgg19.pth, layers: [conv5_4]}`` or
    ``perceptual: {random: true}``. The network is frozen and stays in eval mode when the loss is
    put in training mode. Its parameters are part of this module (``.to(device)`` moves them).

    Args:
        features: an ``nn.Sequential`` of named layers.
        layers: the layers compared; ``None`` is ``("conv5_4",)`` for VGG19 and the last child
            otherwise.
        weights: one weight per layer (``None``: 1 each).
        criterion: ``"l1"`` or ``"l2"``.
        normalize: ``"imagenet"`` or ``"none"``.
        reduction: ``"mean"`` or ``"none"``.
        weights_file: a torchvision VGG19 state dict file.
        random: use a seeded random feature network.

    Example:
        >>> loss = PerceptualLoss(random=True, layers=["relu2", "relu4"], weights=[1.0, 0.5])
        >>> x = torch.rand(2, 3, 16, 16, requires_grad=True)
        >>> loss(x, torch.rand(2, 3, 16, 16)).backward()
        >>> x.grad.abs().sum() > 0, all(p.grad is None for p in loss.parameters())
        (tensor(True), True)
    """

    def __init__(
        self,
        features: nn.Sequential | None = None,
        layers: Sequence[str] | str | None = None,
        weights: Sequence[float] | None = None,
        criterion: str = "l1",
        normalize: str | None = "imagenet",
        reduction: str = "mean",
        *,
        weights_file: str | os.PathLike | None = None,
        random: bool = False,
    ) -> None:
        super().__init__()
        given = [
            n for n, v in (("features", features), ("weights_file", weights_file)) if v is not None
        ]
        if random:
            given.append("random")
        if len(given) != 1:
            got = ", ".join(given) if given else "none"
            raise RestorekitError(
                f"give exactly one of features, weights_file and random to PerceptualLoss, "
                f"got {got}"
            )
        if weights_file is not None:
            layers = DEFAULT_VGG19_LAYERS if layers is None else layers
            features = vgg19_features(weights_file, layers)
        elif random:
            features = random_features()
        self.features = _frozen(_check_features(features))
        known = [name for name, _ in self.features.named_children()]
        if not known:
            raise RestorekitError("the feature network has no layers")
        self.layers = _check_layer_names(
            known[-1:] if layers is None else layers, known, "the features"
        )
        self.weights = _check_weights(weights, len(self.layers))
        self.criterion = _check_choice(criterion, CRITERIA, "criterion")
        self.normalize = _check_choice(normalize, NORMALIZATIONS, "normalize")
        self.reduction = check_reduction(reduction)

    def train(self, mode: bool = True) -> PerceptualLoss:
        super().train(mode)
        self.features.eval()  # frozen: batch-norm statistics or dropout never change
        return self

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return perceptual_loss(
            x,
            y,
            self.features,
            self.layers,
            self.weights,
            self.criterion,
            self.normalize,
            self.reduction,
        )

    def extra_repr(self) -> str:
        return (
            f"layers={self.layers}, weights={self.weights}, criterion={self.criterion!r}, "
            f"normalize={self.normalize!r}, reduction={self.reduction!r}"
        )
