"""Learned super-resolution: a residual network that works at low resolution, and its inverse.

:class:`SRNet` is the upscaler (the G_HR of the cycle model too). Its whole body runs on the
low-resolution input, as in ESPCN, EDSR and the light models of the NTIRE efficiency challenges
(IMDN, RLFN, SPAN); only the last convolution's ``3 * scale**2`` channels are rearranged into the
large image (pixel-shuffle, Shi et al. 2016). The network predicts the correction to a
nearest-neighbour enlargement of the input (a global skip that costs nothing: each input pixel is
added to its ``scale x scale`` block), and the correction starts at zero, so an untrained network
is a nearest-neighbour upscaler. Everything is convolutions, ReLU and a reshape: it runs in
channels-last on a CPU and exports to ONNX with dynamic sizes.

:class:`DegradeNet` goes the other way (HR -> LR, the G_LR of SRResCycGAN: convolution, residual
blocks, convolution): the high-resolution image is pixel-unshuffled by ``scale``, so it too works
at low resolution, and it learns the correction to a box average (the skip).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from restorekit._checks import check_image
from restorekit.errors import RestorekitError

__all__ = ["SHIPPED_SCALES", "DegradeNet", "ResBlock", "SRNet", "load_upscaler", "upscale_learned"]


class ResBlock(nn.Module):
    """Convolution, ReLU, convolution, plus the input (EDSR's block, no batch norm).

    Example:
        >>> ResBlock(8)(torch.rand(1, 8, 5, 7)).shape
        torch.Size([1, 8, 5, 7])
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(channels, channels, 3, padding=1)
        self.conv2 = nn.Conv2d(channels, channels, 3, padding=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.conv2(F.relu(self.conv1(x)))


def _check_sizes(scale: int, channels: int, blocks: int) -> None:
    if not isinstance(scale, int) or scale < 2:
        raise RestorekitError(f"scale must be an integer >= 2, got {scale!r}")
    if channels < 1 or blocks < 0:
        raise RestorekitError(f"need channels >= 1 and blocks >= 0, got {channels}, {blocks}")


class SRNet(nn.Module):
    """A CPU-efficient upscaler whose body runs at the input's resolution (module docstring).

    Args:
        scale: the integer magnification (2, 3, 4, ...).
        channels: feature channels of the body.
        blocks: residual blocks (two 3x3 convolutions each).
        in_channels: image channels (3 for RGB, 1 for gray).

    Shape:
        ``(B, C, H, W) -> (B, C, scale * H, scale * W)``, any size; values in [0, 1] (sRGB, as the
        training images), not clipped.

    References:
        Shi et al., "Real-time single image and video super-resolution using an efficient sub-pixel
        convolutional neural network", CVPR 2016; Lim et al., "Enhanced deep residual networks for
        single image super-resolution" (EDSR), CVPRW 2017.

    Example:
        >>> net = SRNet(scale=3, channels=8, blocks=1)
        >>> x = torch.rand(1, 3, 7, 5)
        >>> net(x).shape
        torch.Size([1, 3, 21, 15])
        >>> bool(torch.equal(net(x), x.repeat_interleave(3, -1).repeat_interleave(3, -2)))
        True
    """

    def __init__(
        self, scale: int = 4, channels: int = 48, blocks: int = 6, in_channels: int = 3
    ) -> None:
        super().__init__()
        _check_sizes(scale, channels, blocks)
        self.scale = scale
        self.in_channels = in_channels
        self.head = nn.Conv2d(in_channels, channels, 3, padding=1)
        self.body = nn.Sequential(*(ResBlock(channels) for _ in range(blocks)))
        self.tail = nn.Conv2d(channels, in_channels * scale * scale, 3, padding=1)
        # the correction starts at zero: an untrained network is a nearest-neighbour upscaler
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        check_image(x, channels=self.in_channels, name="image")
        s = self.scale
        feat = self.head(x)
        y = self.tail(self.body(feat) + feat)
        # channel c * s^2 + k of y is position k of the s x s block of colour c: repeating each
        # input channel s^2 times adds every input pixel to its whole block (nearest neighbour)
        y = y + x.repeat_interleave(s * s, dim=1)
        return F.pixel_shuffle(y, s)

    @property
    def receptive_radius(self) -> int:
        """Input pixels of context on each side that influence an output pixel (3x3 convs)."""
        return 2 + 2 * len(self.body)


class DegradeNet(nn.Module):
    """HR -> LR: a learned degradation (SRResCycGAN's G_LR), working at low resolution.

    The HR image is pixel-unshuffled by ``scale`` (each ``scale x scale`` block becomes channels),
    with ``noise_channels`` planes of white Gaussian noise beside it (a real degradation is random:
    sensor noise, compression; a deterministic network could only imitate it with a pattern),
    then convolution, residual blocks, convolution; the output is added to the box average of each
    block, and that correction starts at zero.

    Args:
        scale: the integer reduction.
        channels: feature channels.
        blocks: residual blocks.
        in_channels: image channels.
        noise_channels: planes of N(0, 1) noise the network sees (drawn from ``generator``).

    Shape:
        ``(B, C, H, W) -> (B, C, H / scale, W / scale)``; ``H`` and ``W`` multiples of ``scale``.

    Example:
        >>> net = DegradeNet(scale=2, channels=8, blocks=1)
        >>> x = torch.rand(2, 3, 8, 6)
        >>> bool(torch.allclose(net(x), F.avg_pool2d(x, 2)))
        True
    """

    def __init__(
        self,
        scale: int = 4,
        channels: int = 32,
        blocks: int = 2,
        in_channels: int = 3,
        noise_channels: int = 0,
    ) -> None:
        super().__init__()
        _check_sizes(scale, channels, blocks)
        if noise_channels < 0:
            raise RestorekitError(f"noise_channels must be >= 0, got {noise_channels}")
        self.scale = scale
        self.in_channels = in_channels
        self.noise_channels = noise_channels
        self.head = nn.Conv2d(in_channels * scale * scale + noise_channels, channels, 3, padding=1)
        self.body = nn.Sequential(*(ResBlock(channels) for _ in range(blocks)))
        self.tail = nn.Conv2d(channels, in_channels, 3, padding=1)
        nn.init.zeros_(self.tail.weight)
        nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        check_image(x, channels=self.in_channels, name="image")
        B, C, H, W = x.shape
        s = self.scale
        if H % s or W % s:
            raise RestorekitError(f"image size {H}x{W} is not a multiple of the scale {s}")
        feats = [F.pixel_unshuffle(x, s)]
        if self.noise_channels:
            shape = (B, self.noise_channels, H // s, W // s)
            feats.append(torch.randn(shape, generator=generator).to(x))
        y = self.tail(self.body(self.head(torch.cat(feats, dim=1))))
        return y + F.avg_pool2d(x, s)


#: shipped upscalers: scale -> the name in :data:`restorekit.models.pretrained.PRETRAINED`
SHIPPED_SCALES = {2: "sr-x2", 3: "sr-x3", 4: "sr-x4"}


def load_upscaler(scale: int) -> nn.Module:
    """The shipped supervised (bicubic-degradation) upscaler for an integer ``scale``.

    Raises:
        RestorekitError: no shipped model for ``scale`` (the message lists the scales there are).
    """
    from restorekit.models.pretrained import load_pretrained

    if scale not in SHIPPED_SCALES:
        have = ", ".join(str(s) for s in SHIPPED_SCALES)
        raise RestorekitError(
            f"no shipped upscaler for scale {scale:g}; the shipped scales: {have}"
        )
    return load_pretrained(SHIPPED_SCALES[scale])


def upscale_learned(
    x: torch.Tensor,
    scale: int | None = None,
    model: nn.Module | None = None,
    tile: int = 256,
    progress: bool = False,
) -> torch.Tensor:
    """Super-resolve with a trained :class:`SRNet`: the shipped one of ``scale`` unless ``model``
    is given.

    Runs in float32 without gradients, channels-last; inputs with a side over ``tile`` pixels
    are processed in tiles whose overlap is the network's receptive radius
    (:func:`restorekit.models.tiling.tiled`), which gives the whole-image result in bounded memory.

    Args:
        x: LR image ``(B, C, H, W)`` in [0, 1] (sRGB, as the training images).
        scale: the magnification; must be the model's when both are given.
        model: an upscaler (default: :func:`load_upscaler` of ``scale``).
        tile: core tile side in input pixels for large images.
        progress: a progress bar over the tiles.

    Returns:
        ``(B, C, scale * H, scale * W)`` in ``x``'s dtype, not clipped.
    """
    from restorekit.models.tiling import tiled

    if model is None:
        if scale is None:
            raise RestorekitError("give the scale or a model")
        model = load_upscaler(scale)
    s = int(getattr(model, "scale", 0))
    if scale is not None and scale != s:
        raise RestorekitError(f"the model upscales by {s}, not {scale:g}")
    check_image(x, channels=model.in_channels)
    model = model.eval().to(memory_format=torch.channels_last)
    lr = x.float().contiguous(memory_format=torch.channels_last)
    H, W = lr.shape[-2:]
    with torch.inference_mode():
        if max(H, W) <= tile:
            y = model(lr)
        else:
            radius = getattr(model, "receptive_radius", 32)
            y = tiled(model, lr, tile=tile, overlap=radius, multiple=1, progress=progress, scale=s)
    return y.to(x.dtype)
