"""Denoising backbones, each callable as ``model(noisy, level)``.

All are residual (they predict the noise and subtract it, as DnCNN does) and take a noisy image
``(B, C, H, W)`` with ``C = in_channels`` (1 gray or 3 RGB), values around [0, 1], not clipped.

- :class:`DnCNN` (Zhang et al. 2017): conv+ReLU, ``depth - 2`` x (conv+BN+ReLU), conv; full
  resolution.
- :class:`ResNetDenoiser`: the research notes' ResNet, residual blocks of conv+BN+ReLU, conv+BN
  with a skip each; full resolution.
- :class:`FFDNet` (Zhang et al. 2018): pixel-unshuffle by 2, plain conv+ReLU body at half
  resolution, pixel-shuffle back: four times fewer multiply-accumulates per layer.
- :class:`UNetDenoiser`: pixel-unshuffle by 2, then a small U-Net (residual blocks at 1/2, 1/4 and
  1/8 resolution, strided-conv down, transposed-conv up, additive skips, as DRUNet without its
  size); the CPU-efficient backbone: a wide receptive field for few MACs per pixel.

``level`` is the inference-time control in [0, 1]. A plain network ignores it. With
``conditional=True`` (:class:`FFDNet`, :class:`UNetDenoiser`) the network also sees a noise-level
map, FFDNet's strong baseline for continuous-level denoising: ``level`` selects the noise level
``sigma = lo + level * (hi - lo)`` of ``sigma_range`` (0..255 scale), so level 0 is the weakest
and level 1 the strongest denoising the model was trained for. Modulated networks (AdaFM, FTN,
DNI in :mod:`restorekit.models.modulation`) give ``level`` the role of their coefficient alpha.

References:
    Zhang, Zuo, Chen, Meng, Zhang, "Beyond a Gaussian denoiser: residual learning of deep CNN for
    image denoising", IEEE TIP 2017 (DnCNN).
    Zhang, Zuo, Zhang, "FFDNet: toward a fast and flexible solution for CNN-based image
    denoising", IEEE TIP 2018.
    Zhang, Li, Zuo, Zhang, Van Gool, Timofte, "Plug-and-play image restoration with deep denoiser
    prior", IEEE TPAMI 2021 (DRUNet).
"""

from __future__ import annotations

import itertools

import torch
import torch.nn.functional as F
from torch import nn

from restorekit._checks import check_image
from restorekit.errors import RestorekitError

__all__ = ["DnCNN", "FFDNet", "ResNetDenoiser", "UNetDenoiser", "level_tensor"]


def level_tensor(level: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """The control ``level`` as a ``(B, 1, 1, 1)`` tensor, refusing values outside [0, 1].

    Example:
        >>> level_tensor(0.5, torch.zeros(2, 1, 4, 4)).flatten().tolist()
        [0.5, 0.5]
        >>> level_tensor(1.5, torch.zeros(1, 1, 4, 4))
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: level (alpha) must be in [0, 1], got 1.5
    """
    B = x.shape[0]
    if isinstance(level, torch.Tensor):
        t = level.to(dtype=x.dtype, device=x.device).reshape(-1)
        if t.numel() not in (1, B):
            raise RestorekitError(f"level needs 1 or {B} values (one per image), got {t.numel()}")
        outside = ~((t >= 0) & (t <= 1))  # NaN is outside too
        if not torch.compiler.is_compiling() and not torch.jit.is_tracing() and outside.any():
            bad = float(t[outside][0])
            raise RestorekitError(f"level (alpha) must be in [0, 1], got {bad:g}")
        return t.expand(B).reshape(B, 1, 1, 1)
    level = float(level)
    if not 0.0 <= level <= 1.0:
        raise RestorekitError(f"level (alpha) must be in [0, 1], got {level:g}")
    return torch.full((B, 1, 1, 1), level, dtype=x.dtype, device=x.device)


class _Denoiser(nn.Module):
    """What every backbone shares: the input check, the noise-level map, the residual output."""

    #: the network's body sees sizes divisible by this (the input is padded and cropped back)
    multiple = 1

    def __init__(
        self,
        in_channels: int,
        conditional: bool = False,
        sigma_range: tuple[float, float] = (0.0, 75.0),
    ) -> None:
        super().__init__()
        if in_channels not in (1, 3):
            raise RestorekitError(f"in_channels must be 1 or 3, got {in_channels}")
        lo, hi = (float(s) for s in sigma_range)
        if not 0 <= lo < hi:
            raise RestorekitError(
                f"sigma_range must be (lo, hi) with 0 <= lo < hi, got {sigma_range}"
            )
        self.in_channels = in_channels
        self.conditional = conditional
        self.sigma_range = (lo, hi)

    def level_to_sigma(self, level: torch.Tensor) -> torch.Tensor:
        """The noise level (0..255 scale) a conditional model is told, for a ``level`` in [0, 1]."""
        lo, hi = self.sigma_range
        return lo + level * (hi - lo)

    def sigma_to_level(self, sigma: float) -> float:
        """The level at which a conditional model is told ``sigma`` (0..255 scale), clipped."""
        lo, hi = self.sigma_range
        return min(1.0, max(0.0, (sigma - lo) / (hi - lo)))

    def noise_map(self, level: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """``(B, 1, H, W)`` filled with each image's sigma on the [0, 1] scale."""
        B, _, H, W = x.shape
        sigma = self.level_to_sigma(level_tensor(level, x)) / 255
        return sigma.expand(B, 1, H, W)

    def forward(self, x: torch.Tensor, level: float | torch.Tensor = 0.0) -> torch.Tensor:
        check_image(x, channels=(self.in_channels,))
        level_tensor(level, x)  # refuse a level outside [0, 1] even where it is not used
        B, C, H, W = x.shape
        m = self.multiple
        ph, pw = -H % m, -W % m
        # reflect padding needs the pad smaller than the side; replicate covers tiny images
        mode = "reflect" if ph < H and pw < W else "replicate"
        xp = F.pad(x, (0, pw, 0, ph), mode=mode) if ph or pw else x
        noise = self.estimate_noise(xp, level)
        return x - noise[..., :H, :W]

    def estimate_noise(self, x: torch.Tensor, level: float | torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


def _zero_(conv: nn.Conv2d) -> nn.Conv2d:
    """Start a residual branch's last convolution at zero: the untrained branch is the identity."""
    nn.init.zeros_(conv.weight)
    if conv.bias is not None:
        nn.init.zeros_(conv.bias)
    return conv


class DnCNN(_Denoiser):
    """DnCNN: ``depth`` 3x3 convolutions of ``channels`` at full resolution, predicting the noise.

    Args:
        in_channels: 1 (gray) or 3 (RGB).
        channels: features per layer (64 in the paper).
        depth: convolutions in all (17 in the paper for a known sigma).
        batch_norm: BN after the inner convolutions (the paper's; off for tiny batches).

    Example:
        >>> net = DnCNN(channels=8, depth=3)
        >>> net(torch.rand(1, 1, 37, 31)).shape
        torch.Size([1, 1, 37, 31])
    """

    def __init__(
        self, in_channels: int = 1, channels: int = 64, depth: int = 17, batch_norm: bool = True
    ) -> None:
        super().__init__(in_channels)
        if depth < 2:
            raise RestorekitError(f"depth must be >= 2, got {depth}")
        layers: list[nn.Module] = [nn.Conv2d(in_channels, channels, 3, padding=1), nn.ReLU(True)]
        for _ in range(depth - 2):
            layers += [nn.Conv2d(channels, channels, 3, padding=1, bias=not batch_norm)]
            layers += [nn.BatchNorm2d(channels)] if batch_norm else []
            layers += [nn.ReLU(True)]
        layers.append(nn.Conv2d(channels, in_channels, 3, padding=1))
        self.body = nn.Sequential(*layers)

    def estimate_noise(self, x: torch.Tensor, level: float | torch.Tensor) -> torch.Tensor:
        return self.body(x)


class _ResBlock(nn.Module):
    """conv, (BN), ReLU, conv, (BN), plus the input."""

    def __init__(self, channels: int, batch_norm: bool) -> None:
        super().__init__()
        norm = (lambda: nn.BatchNorm2d(channels)) if batch_norm else nn.Identity
        self.body = nn.Sequential(
            nn.Conv2d(channels, channels, 3, padding=1, bias=not batch_norm),
            norm(),
            nn.ReLU(True),
            nn.Conv2d(channels, channels, 3, padding=1, bias=not batch_norm),
            norm(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.body(x)


class ResNetDenoiser(_Denoiser):
    """The research notes' ResNet: a head conv, ``blocks`` residual blocks, a tail conv.

    Each block is conv+BN+ReLU, conv+BN with a skip; ``2 * blocks + 2`` convolutions in all (the
    notes use 5 to 16 layers). It predicts the noise, at full resolution.

    Example:
        >>> ResNetDenoiser(channels=8, blocks=1)(torch.rand(2, 1, 20, 20)).shape
        torch.Size([2, 1, 20, 20])
    """

    def __init__(
        self, in_channels: int = 1, channels: int = 64, blocks: int = 4, batch_norm: bool = True
    ) -> None:
        super().__init__(in_channels)
        self.head = nn.Sequential(nn.Conv2d(in_channels, channels, 3, padding=1), nn.ReLU(True))
        self.blocks = nn.Sequential(*[_ResBlock(channels, batch_norm) for _ in range(blocks)])
        self.tail = nn.Conv2d(channels, in_channels, 3, padding=1)

    def estimate_noise(self, x: torch.Tensor, level: float | torch.Tensor) -> torch.Tensor:
        return self.tail(self.blocks(self.head(x)))


class FFDNet(_Denoiser):
    """FFDNet's layout: pixel-unshuffle by 2, ``depth`` convolutions at half resolution, shuffle.

    Args:
        in_channels: 1 or 3.
        channels: features per layer (64 gray / 96 colour in the paper).
        depth: convolutions in all (15 gray / 12 colour in the paper).
        conditional: feed the noise-level map (FFDNet); without it a plain half-resolution net.
        sigma_range: the noise levels (0..255) ``level`` 0 and 1 stand for, when conditional.

    Example:
        >>> net = FFDNet(channels=8, depth=3, conditional=True, sigma_range=(5, 75))
        >>> net(torch.rand(1, 1, 37, 31), 0.5).shape
        torch.Size([1, 1, 37, 31])
    """

    multiple = 2

    def __init__(
        self,
        in_channels: int = 1,
        channels: int = 64,
        depth: int = 12,
        conditional: bool = False,
        sigma_range: tuple[float, float] = (0.0, 75.0),
    ) -> None:
        super().__init__(in_channels, conditional, sigma_range)
        if depth < 2:
            raise RestorekitError(f"depth must be >= 2, got {depth}")
        packed = 4 * in_channels
        layers: list[nn.Module] = [nn.Conv2d(packed + conditional, channels, 3, padding=1)]
        for _ in range(depth - 2):
            layers += [nn.ReLU(True), nn.Conv2d(channels, channels, 3, padding=1)]
        layers += [nn.ReLU(True), _zero_(nn.Conv2d(channels, packed, 3, padding=1))]
        self.body = nn.Sequential(*layers)

    def estimate_noise(self, x: torch.Tensor, level: float | torch.Tensor) -> torch.Tensor:
        z = F.pixel_unshuffle(x, 2)  # (B, 4C, H/2, W/2): each 2x2 block in the channels
        if self.conditional:
            z = torch.cat([z, self.noise_map(level, z)], dim=1)
        return F.pixel_shuffle(self.body(z), 2)


class _Level(nn.Sequential):
    """``blocks`` residual blocks (conv, ReLU, conv, skip) without normalisation."""

    def __init__(self, channels: int, blocks: int) -> None:
        super().__init__(*[_ResBlock(channels, batch_norm=False) for _ in range(blocks)])


class UNetDenoiser(_Denoiser):
    """A small U-Net over the pixel-unshuffled image (the CPU-efficient backbone).

    The image is packed by 2 (half resolution), then ``len(channels)`` levels: at each,
    ``blocks`` residual blocks; a 2x2 stride-2 convolution goes down, a 2x2 transposed convolution
    comes up and is added to the skip. Without normalisation layers, so it works at any batch size
    and noise level.

    Args:
        in_channels: 1 or 3.
        channels: features at 1/2, 1/4, 1/8... of the resolution.
        blocks: residual blocks per level on each side (and at the bottom).
        conditional: feed the noise-level map (FFDNet-style) at the input.
        sigma_range: the noise levels (0..255) ``level`` 0 and 1 stand for, when conditional.

    Example:
        >>> net = UNetDenoiser(3, channels=(8, 16), blocks=1, conditional=True)
        >>> net(torch.rand(1, 3, 37, 31), 0.2).shape
        torch.Size([1, 3, 37, 31])
    """

    def __init__(
        self,
        in_channels: int = 1,
        channels: tuple[int, ...] = (32, 64, 128),
        blocks: int = 2,
        conditional: bool = False,
        sigma_range: tuple[float, float] = (0.0, 75.0),
    ) -> None:
        super().__init__(in_channels, conditional, sigma_range)
        channels = tuple(int(c) for c in channels)
        if not channels or blocks < 1:
            raise RestorekitError("UNetDenoiser needs at least one level and one block")
        self.multiple = 2 ** len(channels)
        packed = 4 * in_channels
        self.head = nn.Conv2d(packed + conditional, channels[0], 3, padding=1)
        self.down_levels = nn.ModuleList(_Level(c, blocks) for c in channels[:-1])
        self.downs = nn.ModuleList(
            nn.Conv2d(a, b, 2, stride=2) for a, b in itertools.pairwise(channels)
        )
        self.bottom = _Level(channels[-1], blocks)
        self.ups = nn.ModuleList(
            nn.ConvTranspose2d(b, a, 2, stride=2) for a, b in itertools.pairwise(channels)
        )
        self.up_levels = nn.ModuleList(_Level(c, blocks) for c in channels[:-1])
        self.tail = _zero_(nn.Conv2d(channels[0], packed, 3, padding=1))

    def widths(self) -> tuple[tuple[int, ...], int]:
        """The channels of each level and the blocks per level."""
        levels = [*self.down_levels, self.bottom]
        return tuple(lv[0].body[0].out_channels for lv in levels), len(self.bottom)

    def estimate_noise(self, x: torch.Tensor, level: float | torch.Tensor) -> torch.Tensor:
        z = F.pixel_unshuffle(x, 2)  # (B, 4C, H/2, W/2)
        if self.conditional:
            z = torch.cat([z, self.noise_map(level, z)], dim=1)
        z = self.head(z)
        skips = []
        for level_blocks, down in zip(self.down_levels, self.downs, strict=True):
            z = level_blocks(z)
            skips.append(z)
            z = down(z)
        z = self.bottom(z)
        for up, level_blocks, skip in zip(
            reversed(self.ups), reversed(self.up_levels), reversed(skips), strict=True
        ):
            z = level_blocks(up(z) + skip)
        return F.pixel_shuffle(self.tail(z), 2)

    def grow_from(self, source: UNetDenoiser) -> None:
        """Start from a trained, narrower or shallower U-Net and compute exactly its function.

        Each level of ``self`` must have at least the source's channels and blocks (same input,
        levels, conditioning and sigma range). The source's weights fill the leading channels; the
        weights from a new channel into an old one are zero, so the new channels (randomly
        initialised) change nothing until training teaches them to; the blocks beyond the
        source's are residual blocks whose last convolution is zero, the identity.
        """
        mine, theirs = self.widths(), source.widths()
        if (
            any(
                getattr(self, k) != getattr(source, k)
                for k in ("in_channels", "conditional", "sigma_range")
            )
            or len(mine[0]) != len(theirs[0])
            or any(a < b for a, b in zip(mine[0], theirs[0], strict=True))
            or mine[1] < theirs[1]
        ):
            raise RestorekitError(
                f"cannot grow a unet-denoiser of (channels, blocks) {theirs} into {mine}: it "
                "needs the same input, levels, conditioning and sigma range, and no fewer "
                "channels or blocks"
            )
        old = dict(source.named_modules())
        with torch.no_grad():
            for name, module in self.named_modules():
                if not isinstance(module, nn.Conv2d | nn.ConvTranspose2d):
                    continue
                if name in old:
                    _embed_conv(module, old[name])
                elif name.endswith(".body.3"):  # the last convolution of a new residual block
                    _zero_(module)


def _embed_conv(big: nn.Conv2d | nn.ConvTranspose2d, small: nn.Conv2d | nn.ConvTranspose2d) -> None:
    """Copy ``small`` into the leading channels of ``big`` and zero the weights from the new
    input channels into the old output channels (the new outputs keep their initialisation)."""
    w_big, w_small = big.weight, small.weight
    if isinstance(big, nn.ConvTranspose2d):  # its weights are (in, out, kh, kw)
        w_big, w_small = w_big.transpose(0, 1), w_small.transpose(0, 1)
    o, i = w_small.shape[:2]
    w_big[:o, :i] = w_small
    w_big[:o, i:] = 0
    if big.bias is not None:
        big.bias[:o] = small.bias
