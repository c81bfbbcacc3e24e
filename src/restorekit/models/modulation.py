"""Continuous-level modulation of any denoising backbone: AdaFM, FTN and DNI.

Each turns one trained network into a family indexed by a coefficient ``alpha`` in [0, 1] (the
``level`` argument of ``model(x, level)``): at 0 it is the base network, trained at a first noise
level; at 1 it is tuned to a second level; in between it moves continuously.

- **AdaFM** (He, Dong, Qiao, CVPR 2019): after every convolution but the last, a depthwise
  ``k x k`` convolution, identity at initialisation; ``y + alpha * (adafm(y) - y)``, i.e. the
  filter ``I + alpha (W - I)`` and bias ``alpha b``. Costs ``k * k`` MACs per feature and pixel.
- **FTN** (Lee et al., "Smoother network tuning and interpolation for continuous-level image
  processing", 2020): a small network over each convolution's *kernel* (two grouped 1x1 convs
  with a PReLU between, identity at initialisation, zero bias), and the kernel used is
  ``W(alpha) = (1 - alpha) W + alpha FTN(W)``; the bias moves by ``alpha * db``. The kernels are
  computed once per call, so inference costs what the base network costs.
- **DNI** (Wang et al., CVPR 2019): two networks of the same architecture (the second fine-tuned
  from the first) and every weight interpolated, ``(1 - alpha) theta_0 + alpha theta_1``.

:class:`ModulatedDenoiser` holds the base network under ``base.`` with its own parameter names,
so a base model file loads into it unchanged (:meth:`ModulatedDenoiser.load_base`), and training
the modulation with the base frozen is ``freeze: [base]`` in a config.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.func import functional_call

from restorekit.errors import RestorekitError
from restorekit.models.denoise import level_tensor

__all__ = [
    "SCHEMES",
    "AdaFM",
    "DNIDenoiser",
    "FilterTransition",
    "ModulatedDenoiser",
    "check_same_network",
    "dni_from_files",
    "interpolate_states",
]

SCHEMES = ("adafm", "ftn")

_CONVS = (nn.Conv2d, nn.ConvTranspose2d)


def _modulated_convs(net: nn.Module) -> list[tuple[str, nn.Module]]:
    """Every convolution of ``net`` except the last (the output layer), in registration order."""
    convs = [(name, m) for name, m in net.named_modules() if isinstance(m, _CONVS)]
    if len(convs) < 2:
        raise RestorekitError(f"{type(net).__name__} has fewer than two convolutions to modulate")
    return convs[:-1]


class AdaFM(nn.Module):
    """An AdaFM layer: a depthwise ``k x k`` convolution applied as ``y + alpha (f(y) - y)``.

    It starts as the identity (a centred delta, zero bias), so inserting it leaves the network
    unchanged at any alpha until it is trained. ``alpha`` is set by :class:`ModulatedDenoiser`
    before each call, a float or a ``(B, 1, 1, 1)`` tensor.

    Example:
        >>> layer = AdaFM(4, kernel_size=5)
        >>> y = torch.rand(1, 4, 8, 8)
        >>> layer.alpha = 1.0
        >>> torch.equal(layer(y), y)
        True
    """

    def __init__(self, channels: int, kernel_size: int = 5) -> None:
        super().__init__()
        if kernel_size < 1 or kernel_size % 2 == 0:
            raise RestorekitError(f"AdaFM kernel_size must be odd and >= 1, got {kernel_size}")
        weight = torch.zeros(channels, 1, kernel_size, kernel_size)
        weight[:, :, kernel_size // 2, kernel_size // 2] = 1.0
        self.weight = nn.Parameter(weight)
        self.bias = nn.Parameter(torch.zeros(channels))
        self.alpha: float | torch.Tensor = 0.0

    def forward(self, y: torch.Tensor) -> torch.Tensor:
        C, _, k, _ = self.weight.shape
        filtered = F.conv2d(y, self.weight, self.bias, padding=k // 2, groups=C)
        return y + self.alpha * (filtered - y)


def _adafm_hook(
    conv: nn.Module, inputs: tuple[torch.Tensor, ...], out: torch.Tensor
) -> torch.Tensor:
    # A module-level function that reaches the layer through the hooked convolution, where it is
    # kept as a plain (unregistered) attribute: the layer's weights belong to the
    # ModulatedDenoiser's ``adafm`` dict, so ``base.*`` holds exactly the base network's tensors.
    # deepcopy (export) copies the reference consistently with the copied dict.
    return conv.__dict__["_adafm_layer"](out)


class FilterTransition(nn.Module):
    """FTN over one convolution's kernel: grouped 1x1 conv, PReLU, grouped 1x1 conv.

    The kernel ``(N, M, k, k)`` is read as N "images" of M channels and size ``k x k``; the 1x1
    convolutions mix the M channels in groups of ``group_size``. Both start as the identity with
    zero bias and the PReLU slope starts at 1, so ``FTN(W) = W`` at initialisation (the research
    notes: fine-tuning did not converge before this initialisation).

    Example:
        >>> ftn = FilterTransition(32)
        >>> w = torch.randn(16, 32, 3, 3)
        >>> torch.allclose(ftn(w), w)
        True
    """

    def __init__(self, channels: int, group_size: int = 16) -> None:
        super().__init__()
        groups = max(1, channels // group_size) if channels % group_size == 0 else 1
        self.conv1 = nn.Conv2d(channels, channels, 1, groups=groups)
        self.act = nn.PReLU(channels, init=1.0)
        self.conv2 = nn.Conv2d(channels, channels, 1, groups=groups)
        for conv in (self.conv1, self.conv2):
            per_group = channels // groups
            eye = torch.eye(per_group).repeat(groups, 1)  # (channels, per_group)
            with torch.no_grad():
                conv.weight.copy_(eye[:, :, None, None])
                conv.bias.zero_()

    def forward(self, kernel: torch.Tensor) -> torch.Tensor:
        return self.conv2(self.act(self.conv1(kernel)))


class ModulatedDenoiser(nn.Module):
    """A denoising backbone with AdaFM or FTN modulation; ``model(x, level)`` with level = alpha.

    Args:
        backbone: the registered name of the base network (e.g. ``"unet-denoiser"``).
        backbone_args: its constructor arguments.
        scheme: ``"adafm"`` or ``"ftn"``.
        kernel_size: the AdaFM filter size (5 in the AdaFM paper for denoising).
        group_size: channels per group of the FTN's 1x1 convolutions.

    Example:
        >>> net = ModulatedDenoiser("dncnn", {"channels": 8, "depth": 3, "batch_norm": False})
        >>> x = torch.rand(1, 1, 16, 16)
        >>> torch.equal(net(x, 0.0), net.base(x)), torch.allclose(net(x, 1.0), net.base(x))
        (True, True)
    """

    def __init__(
        self,
        backbone: str,
        backbone_args: dict[str, Any] | None = None,
        scheme: str = "adafm",
        kernel_size: int = 5,
        group_size: int = 16,
    ) -> None:
        super().__init__()
        from restorekit.models import build

        if scheme not in SCHEMES:
            raise RestorekitError(f"scheme must be one of {', '.join(SCHEMES)}, got {scheme!r}")
        self.scheme = scheme
        self.base = build(backbone, **(backbone_args or {}))
        self.in_channels = self.base.in_channels
        convs = _modulated_convs(self.base)
        self.adafm = nn.ModuleDict()
        self.ftn = nn.ModuleDict()
        self.ftn_bias = nn.ParameterDict()
        for name, conv in convs:
            key = name.replace(".", "-")
            if scheme == "adafm":
                self.adafm[key] = AdaFM(conv.out_channels, kernel_size)
                object.__setattr__(conv, "_adafm_layer", self.adafm[key])
                conv.register_forward_hook(_adafm_hook)
            else:
                self.ftn[key] = FilterTransition(conv.weight.shape[1], group_size)
                if conv.bias is not None:
                    self.ftn_bias[key] = nn.Parameter(torch.zeros_like(conv.bias))
        self._conv_names = [name for name, _ in convs]

    def load_base(self, state: dict[str, torch.Tensor], source: str = "base weights") -> None:
        """Load the weights of a plain base network (its own names, without ``base.``)."""
        own = self.base.state_dict()
        expected = set(own)
        missing = sorted(expected - set(state))
        unexpected = sorted(set(state) - expected)
        if missing or unexpected:
            what = f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
            raise RestorekitError(f"{source} does not fit the base of this modulated model: {what}")
        for k, v in state.items():
            if tuple(v.shape) != tuple(own[k].shape):
                raise RestorekitError(
                    f"{source} does not fit the base: {k!r} is {tuple(v.shape)}, "
                    f"the base has {tuple(own[k].shape)}"
                )
        self.base.load_state_dict(state)

    def modulated_weights(self, alpha: float) -> dict[str, torch.Tensor]:
        """FTN: the base network's kernels and biases at ``alpha``, by parameter name."""
        convs = dict(self.base.named_modules())
        out = {}
        for name in self._conv_names:
            key = name.replace(".", "-")
            conv = convs[name]
            w = conv.weight
            out[f"{name}.weight"] = (1 - alpha) * w + alpha * self.ftn[key](w)
            if conv.bias is not None:
                out[f"{name}.bias"] = conv.bias + alpha * self.ftn_bias[key]
        return out

    def forward(self, x: torch.Tensor, level: float | torch.Tensor = 0.0) -> torch.Tensor:
        alpha = level_tensor(level, x)
        if self.scheme == "adafm":
            for layer in self.adafm.values():
                layer.alpha = alpha
            try:
                return self.base(x)
            finally:  # calling the base alone afterwards runs the plain base network
                for layer in self.adafm.values():
                    layer.alpha = 0.0
        if alpha.numel() > 1 and not torch.all(alpha == alpha.flatten()[0]):
            raise RestorekitError("an FTN model takes one level per call, not one per image")
        return functional_call(self.base, self.modulated_weights(alpha.flatten()[0]), (x,))


def check_same_network(a: nn.Module, b: nn.Module, names: tuple[str, str] = ("a", "b")) -> None:
    """Refuse two networks whose registry names, arguments, tensor names or shapes differ."""
    ra, rb = getattr(a, "registry_name", None), getattr(b, "registry_name", None)
    if ra != rb or getattr(a, "config", None) != getattr(b, "config", None):
        raise RestorekitError(
            f"DNI needs two networks of one architecture: {names[0]} is {ra} "
            f"{getattr(a, 'config', None)}, {names[1]} is {rb} {getattr(b, 'config', None)}"
        )
    sa, sb = a.state_dict(), b.state_dict()
    if set(sa) != set(sb):
        diff = sorted(set(sa) ^ set(sb))
        raise RestorekitError(f"DNI: {names[0]} and {names[1]} differ in tensor {diff[0]!r}")
    for k in sa:
        if sa[k].shape != sb[k].shape:
            raise RestorekitError(
                f"DNI: {k!r} is {tuple(sa[k].shape)} in {names[0]}, "
                f"{tuple(sb[k].shape)} in {names[1]}"
            )


def interpolate_states(
    a: dict[str, torch.Tensor], b: dict[str, torch.Tensor], alpha: float
) -> dict[str, torch.Tensor]:
    """Deep network interpolation: ``(1 - alpha) a + alpha b`` for every floating-point tensor.

    Integer tensors (BatchNorm's batch counter) are taken from ``a``.

    Example:
        >>> a, b = {"w": torch.zeros(2)}, {"w": torch.ones(2)}
        >>> interpolate_states(a, b, 0.25)["w"].tolist()
        [0.25, 0.25]
    """
    if set(a) != set(b):
        diff = sorted(set(a) ^ set(b))
        raise RestorekitError(f"DNI: the two networks differ in tensor {diff[0]!r}")
    out = {}
    for k, va in a.items():
        vb = b[k]
        if va.shape != vb.shape:
            raise RestorekitError(
                f"DNI: {k!r} is {tuple(va.shape)} in one network, {tuple(vb.shape)} in the other"
            )
        out[k] = torch.lerp(va, vb, alpha) if va.is_floating_point() else va
    return out


class DNIDenoiser(nn.Module):
    """Two networks of one architecture, interpolated at each call (deep network interpolation).

    ``net0`` is the network for level 0 and ``net1`` the one for level 1 (fine-tuned from
    ``net0``, as DNI requires for a smooth path). Build one from two model files with
    :func:`restorekit.models.dni_from_files`.

    Example:
        >>> net = DNIDenoiser("dncnn", {"channels": 8, "depth": 3, "batch_norm": False})
        >>> net(torch.rand(1, 1, 16, 16), 0.5).shape
        torch.Size([1, 1, 16, 16])
    """

    def __init__(self, backbone: str, backbone_args: dict[str, Any] | None = None) -> None:
        super().__init__()
        from restorekit.models import build

        self.net0 = build(backbone, **(backbone_args or {}))
        self.net1 = build(backbone, **(backbone_args or {}))
        self.in_channels = self.net0.in_channels

    def forward(self, x: torch.Tensor, level: float | torch.Tensor = 0.0) -> torch.Tensor:
        alpha = level_tensor(level, x)
        if alpha.numel() > 1 and not torch.all(alpha == alpha.flatten()[0]):
            raise RestorekitError("a DNI model takes one level per call, not one per image")
        a = float(alpha.flatten()[0])
        state = interpolate_states(_tensors(self.net0), _tensors(self.net1), a)
        return functional_call(self.net0, state, (x,))


def _tensors(net: nn.Module) -> dict[str, torch.Tensor]:
    """Parameters and buffers by name, not detached (so DNI stays differentiable)."""
    return {**dict(net.named_parameters()), **dict(net.named_buffers())}


def dni_from_files(path0: str, path1: str) -> DNIDenoiser:
    """A :class:`DNIDenoiser` from two model files of one architecture (level 0 and level 1).

    Raises:
        RestorekitError: the files hold different networks (name, arguments, tensor names or
            shapes), named in one line.
    """
    from restorekit.models import build
    from restorekit.models.weights import load_model, model_args

    a, _ = load_model(path0)
    b, _ = load_model(path1)
    check_same_network(a, b, names=(str(path0), str(path1)))
    net = build("dni", backbone=a.registry_name, backbone_args=model_args(a))
    net.net0.load_state_dict(a.state_dict())
    net.net1.load_state_dict(b.state_dict())
    return net.eval()
