"""Discriminators for adversarial training: the PatchGAN of pix2pix and CycleGAN.

A discriminator takes an image ``(B, C, H, W)`` (values around [0, 1], linear or sRGB as the
generator's output) and returns raw scores (logits), to be turned into losses by
:mod:`restorekit.losses.gan`. A conditional discriminator sees the input and the output (or the
target) concatenated along the channels: give it ``in_channels`` for both.

References:
    P. Isola, J.-Y. Zhu, T. Zhou, A. Efros, "Image-to-image translation with conditional
    adversarial networks", CVPR, 2017 (pix2pix, the PatchGAN). J.-Y. Zhu, T. Park, P. Isola,
    A. Efros, "Unpaired image-to-image translation using cycle-consistent adversarial networks",
    ICCV, 2017 (CycleGAN). T. Miyato, T. Kataoka, M. Koyama, Y. Yoshida, "Spectral normalization
    for generative adversarial networks", ICLR, 2018.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn.utils.parametrizations import spectral_norm as _spectral_norm

from restorekit._checks import check_image, closest_names
from restorekit.errors import RestorekitError

__all__ = ["PATCHGAN_NORMS", "PatchGAN"]

#: The normalisations :class:`PatchGAN` can put after its inner convolutions.
PATCHGAN_NORMS: tuple[str, ...] = ("batch", "instance", "none")

#: Every convolution of the PatchGAN is 4x4.
_KERNEL = 4


def _positive_int(value: int, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise RestorekitError(f"{name} must be a positive integer, got {value!r}")
    return value


class PatchGAN(nn.Module):
    """The pix2pix / CycleGAN PatchGAN discriminator (``NLayerDiscriminator``): a map of logits.

    Each logit judges one patch of the input, of :attr:`receptive_field` pixels a side (70 for the
    default ``depth=3``: the classic "70x70 PatchGAN"), so the discriminator scores local texture
    and leaves the global structure to a pixel loss. The layers, all 4x4 convolutions:

    1. conv stride 2 to ``channels``, LeakyReLU(0.2) (no normalisation);
    2. ``depth - 1`` x (conv stride 2, norm, LeakyReLU(0.2)), the channels doubling each time up
       to ``8 * channels``;
    3. conv stride 1 (doubling once more, capped alike), norm, LeakyReLU(0.2);
    4. conv stride 1 to one channel: the logits, no activation.

    A convolution followed by a normalisation has no bias (the norm's shift replaces it); with
    ``norm="none"`` they all have one. ``"instance"`` is pix2pix's ``InstanceNorm2d`` without
    affine parameters or running statistics. Weights start with PyTorch's default initialisation
    (pix2pix draws them from N(0, 0.02)). With ``norm="batch"`` in training mode the scores of a
    sample depend on the rest of its batch: use ``"none"`` or ``"instance"`` with
    :func:`restorekit.losses.gan.gradient_penalty`.

    Args:
        in_channels: channels of the input (the sum of both images for a conditional
            discriminator).
        channels: features of the first layer (``ndf``, 64 in the paper).
        depth: stride-2 convolutions (``n_layers``, 3 in the paper); the output is about
            ``1 / 2**depth`` of the input's size.
        norm: ``"batch"`` (pix2pix), ``"instance"`` (CycleGAN) or ``"none"``.
        spectral_norm: spectral normalisation (Miyato et al. 2018) on every convolution, with
            ``torch.nn.utils.parametrizations.spectral_norm`` (one power iteration per training
            forward pass).
        padding: zero padding of every convolution: 1 as pix2pix, 2 as pix2pixHD; 0 to 2.

    Shape:
        ``(B, in_channels, H, W) -> (B, 1, h, w)`` with each side at least :attr:`min_size`.

    References:
        P. Isola, J.-Y. Zhu, T. Zhou, A. Efros, "Image-to-image translation with conditional
        adversarial networks", CVPR, 2017.

    Example:
        >>> net = PatchGAN(channels=8)
        >>> net.receptive_field, net.min_size
        (70, 24)
        >>> net(torch.rand(2, 1, 64, 64)).shape
        torch.Size([2, 1, 6, 6])
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: int = 64,
        depth: int = 3,
        norm: str = "batch",
        spectral_norm: bool = False,
        padding: int = 1,
    ) -> None:
        super().__init__()
        _positive_int(in_channels, "in_channels")
        _positive_int(channels, "channels")
        _positive_int(depth, "depth")
        if norm not in PATCHGAN_NORMS:
            known = ", ".join(closest_names(str(norm), PATCHGAN_NORMS))
            raise RestorekitError(f"unknown PatchGAN norm {norm!r}; known: {known}")
        if not isinstance(spectral_norm, bool):
            raise RestorekitError(f"spectral_norm must be True or False, got {spectral_norm!r}")
        if isinstance(padding, bool) or not isinstance(padding, int) or not 0 <= padding <= 2:
            raise RestorekitError(
                f"padding must be 0, 1 or 2 (at most half the 4x4 kernel), got {padding!r}"
            )
        self.in_channels = in_channels
        self.norm = norm
        self.padding = padding

        def conv(c_in: int, c_out: int, stride: int, bias: bool = True) -> nn.Module:
            layer = nn.Conv2d(c_in, c_out, _KERNEL, stride=stride, padding=padding, bias=bias)
            return _spectral_norm(layer) if spectral_norm else layer

        def normalised(c: int) -> list[nn.Module]:
            if norm == "batch":
                return [nn.BatchNorm2d(c)]
            if norm == "instance":
                return [nn.InstanceNorm2d(c, affine=False, track_running_stats=False)]
            return []

        has_norm = norm != "none"
        layers: list[nn.Module] = [conv(in_channels, channels, 2), nn.LeakyReLU(0.2, True)]
        width = channels
        for n in range(1, depth):
            prev, width = width, channels * min(2**n, 8)
            layers += [conv(prev, width, 2, bias=not has_norm), *normalised(width)]
            layers += [nn.LeakyReLU(0.2, True)]
        prev, width = width, channels * min(2**depth, 8)
        layers += [conv(prev, width, 1, bias=not has_norm), *normalised(width)]
        layers += [nn.LeakyReLU(0.2, True)]
        layers.append(conv(width, 1, 1))
        self.body = nn.Sequential(*layers)

    def _strides(self) -> list[int]:
        """The stride of each convolution, input to output."""
        return [m.stride[0] for m in self.body if isinstance(m, nn.Conv2d)]

    @property
    def receptive_field(self) -> int:
        """The side, in input pixels, of the patch each output logit sees (70 for depth 3)."""
        r = 1
        for s in reversed(self._strides()):  # r' = (r - 1) * stride + kernel, output to input
            r = (r - 1) * s + _KERNEL
        return r

    @property
    def min_size(self) -> int:
        """The smallest input side that gives a non-empty map of logits (24 for depth 3)."""
        m = 1
        for s in reversed(self._strides()):  # a layer's output side is (n + 2p - k) // s + 1
            m = max(1, s * (m - 1) + _KERNEL - 2 * self.padding)
        return m

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Logits ``(B, 1, h, w)``, one per patch of the image ``x`` ``(B, in_channels, H, W)``."""
        check_image(x, channels=(self.in_channels,), name="PatchGAN input", min_size=self.min_size)
        B, C, H, W = x.shape
        return self.body(x)

    def extra_repr(self) -> str:
        return f"receptive_field={self.receptive_field}"
