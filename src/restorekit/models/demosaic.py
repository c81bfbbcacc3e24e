"""Learned demosaicing: a small CNN that works on the pixel-unshuffled Bayer mosaic.

The network sees the raw packed into ``pack x pack`` blocks (pixel-unshuffle), so every input
channel is one fixed position of the Bayer tile: the "which colour is this pixel" information the
1-channel full-resolution form lacks is in the channel index. The body runs at ``1/pack`` of the
resolution (a quarter by default), which is what makes it fast on a CPU, and pixel-shuffle brings
the ``3 * pack**2`` output channels back to full-resolution RGB.

Two inputs (the research notes compare them):

- ``input_mode="mosaic"``: the 1-channel raw, packed to ``pack**2`` channels.
- ``input_mode="sparse"``: the 3-channel sparse form (each sample in its own colour plane, zeros
  elsewhere), packed to ``3 * pack**2`` channels.

With ``base="mhc"`` or ``"bilinear"`` the network is residual: it also sees the classical estimate
(Malvar-He-Cutler or bilinear, in torch) and predicts the correction to it; the last convolution
starts at zero, so an untrained network returns the classical estimate. ``base="none"`` predicts
RGB directly. ``separable=True`` replaces each inner 3x3 convolution by a depthwise 3x3 followed
by a pointwise 1x1 (MobileNet).

With ``noise_map=True`` the network also sees the noise level of the raw (joint demosaicing and
denoising): a map of the standard deviation of each raw sample's noise, on the raw's [0, 1] scale,
packed like the raw (one channel per position of the ``pack x pack`` block), so one network serves
clean raws (a zero map) and noisy ones, Gaussian (a constant map) or heteroscedastic
(Poisson-Gaussian: a map that follows the signal), as the shipped denoisers do with theirs.

Every Bayer layout works: the network is trained on RGGB and a raw of another layout is first
padded by one mirrored row and/or column, which turns it into RGGB (mirror padding keeps the
colour of every position), and cropped back afterwards.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from torch import nn

from restorekit._checks import check_image
from restorekit.degrade.cfa import CFA, parse_cfa, sparse_from_mosaic
from restorekit.errors import RestorekitError

__all__ = [
    "NOISE_MAP_SCALE",
    "DemosaicNet",
    "canonical_offset",
    "demosaic_joint",
    "demosaic_learned",
    "noise_map",
]

#: the noise map enters the network multiplied by this (sigma 25 on the 0..255 scale -> 1)
NOISE_MAP_SCALE = 255 / 25

InputMode = Literal["mosaic", "sparse"]
Base = Literal["mhc", "bilinear", "none"]

_INPUT_MODES = ("mosaic", "sparse")
_BASES = ("mhc", "bilinear", "none")


def canonical_offset(cfa: CFA | str) -> tuple[int, int]:
    """Rows and columns to add on top and left so that a raw of layout ``cfa`` becomes RGGB.

    Example:
        >>> canonical_offset("RGGB"), canonical_offset("GRBG"), canonical_offset("BGGR")
        ((0, 0), (0, 1), (1, 1))
    """
    cfa = parse_cfa(cfa)
    for dy in (0, 1):
        for dx in (0, 1):
            # padding dy rows on top shows the layout as seen from dy rows *before* the start
            if cfa.shifted(-dy % 2, -dx % 2) is CFA.RGGB:
                return dy, dx
    raise AssertionError(f"no offset maps {cfa} to RGGB")  # unreachable: 4 layouts, 4 offsets


def _classical(base: str, raw: torch.Tensor) -> torch.Tensor:
    # imported here: classical/ is a sibling of models/ (both depend only on degrade/)
    from restorekit.classical.demosaic import demosaic_bilinear, demosaic_malvar

    return (demosaic_malvar if base == "mhc" else demosaic_bilinear)(raw, CFA.RGGB)


class _SeparableConv(nn.Sequential):
    """Depthwise 3x3 then pointwise 1x1 (MobileNet's separable convolution)."""

    def __init__(self, channels: int) -> None:
        super().__init__(
            nn.Conv2d(channels, channels, 3, padding=1, groups=channels),
            nn.Conv2d(channels, channels, 1),
        )


class DemosaicNet(nn.Module):
    """A CNN demosaicer whose body runs on the pixel-unshuffled raw (see the module docstring).

    Args:
        input_mode: ``"mosaic"`` (1-channel raw) or ``"sparse"`` (3-channel sparse raw).
        base: classical estimate the network corrects: ``"mhc"``, ``"bilinear"`` or ``"none"``
            (direct prediction).
        channels: feature channels of the body.
        depth: number of inner 3x3 convolutions (each followed by a ReLU).
        pack: pixel-unshuffle factor, 2 or 4 (the body runs at ``1/pack`` resolution).
        separable: depthwise-separable inner convolutions.
        noise_map: the network also takes the raw's noise level (joint demosaicing and
            denoising); ``forward``'s ``noise`` is then a sigma per image or a map.

    Shape:
        ``(B, 1, H, W) -> (B, 3, H, W)``, any ``H, W >= 4``: the raw is mirror-padded to a
        multiple of ``pack`` and the output cropped back. Input and output are in [0, 1] in the
        raw's colour space; the output is not clipped.

    Example:
        >>> net = DemosaicNet(channels=16, depth=2)
        >>> net(torch.rand(1, 1, 37, 31), "GBRG").shape
        torch.Size([1, 3, 37, 31])
        >>> raw = torch.rand(1, 1, 16, 16)  # untrained: the last conv is zero, so the output is MHC
        >>> from restorekit.classical.demosaic import demosaic_malvar
        >>> torch.allclose(net(raw, "RGGB"), demosaic_malvar(raw, "RGGB"), atol=1e-6)
        True
    """

    def __init__(
        self,
        input_mode: InputMode = "mosaic",
        base: Base = "mhc",
        channels: int = 64,
        depth: int = 4,
        pack: int = 4,
        separable: bool = False,
        noise_map: bool = False,
    ) -> None:
        super().__init__()
        if input_mode not in _INPUT_MODES:
            raise RestorekitError(f"input_mode must be one of {_INPUT_MODES}, got {input_mode!r}")
        if base not in _BASES:
            raise RestorekitError(f"base must be one of {_BASES}, got {base!r}")
        if pack not in (2, 4):
            raise RestorekitError(f"pack must be 2 or 4, got {pack}")
        if channels < 1 or depth < 0:
            raise RestorekitError(f"need channels >= 1 and depth >= 0, got {channels}, {depth}")
        self.input_mode = input_mode
        self.base = base
        self.pack = pack
        self.noise_map = noise_map
        raw_channels = (1 if input_mode == "mosaic" else 3) * pack * pack
        in_channels = raw_channels + (0 if base == "none" else 3 * pack * pack)
        in_channels += pack * pack if noise_map else 0
        self.head = nn.Conv2d(in_channels, channels, 3, padding=1)
        inner: list[nn.Module] = []
        for _ in range(depth):
            conv = _SeparableConv(channels) if separable else nn.Conv2d(channels, channels, 3, 1, 1)
            inner += [conv, nn.ReLU(inplace=True)]
        self.body = nn.Sequential(*inner)
        self.tail = nn.Conv2d(channels, 3 * pack * pack, 3, padding=1)
        if base != "none":
            # residual learning starts from the classical estimate
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

    def forward(
        self,
        raw: torch.Tensor,
        cfa: CFA | str = CFA.RGGB,
        noise: float | torch.Tensor | None = None,
    ) -> torch.Tensor:
        """Demosaic ``raw`` of layout ``cfa``; ``noise`` (a network with ``noise_map``): the noise
        standard deviation on the raw's [0, 1] scale, one value, one per image ``(B,)`` or a map
        ``(B, 1, H, W)``; ``None`` is a clean raw."""
        check_image(raw, channels=1, name="raw", min_size=4)
        B, C, H, W = raw.shape
        if noise is not None and not self.noise_map:
            raise RestorekitError(
                "this demosaicer takes no noise level (it was trained on clean raws)"
            )
        # mirror-pad to RGGB on the top/left and to a multiple of `pack` on the bottom/right;
        # mirror ("reflect") padding keeps every position's colour, so the result is still RGGB
        top, left = canonical_offset(cfa)
        bottom = -(H + top) % self.pack
        right = -(W + left) % self.pack
        x = F.pad(raw, (left, right, top, bottom), mode="reflect")
        feats = [F.pixel_unshuffle(self._raw_input(x), self.pack)]
        estimate = None
        if self.base != "none":
            estimate = _classical(self.base, x)
            feats.append(F.pixel_unshuffle(estimate, self.pack))
        if self.noise_map:
            sigma = noise_map(raw, 0.0 if noise is None else noise) * NOISE_MAP_SCALE
            sigma = F.pad(sigma, (left, right, top, bottom), mode="reflect")
            feats.append(F.pixel_unshuffle(sigma, self.pack))
        y = self.tail(self.body(F.relu(self.head(torch.cat(feats, dim=1)))))
        y = F.pixel_shuffle(y, self.pack)
        if estimate is not None:
            y = estimate + y
        return y[:, :, top : top + H, left : left + W]

    def _raw_input(self, x: torch.Tensor) -> torch.Tensor:
        return x if self.input_mode == "mosaic" else sparse_from_mosaic(x, CFA.RGGB)

    def grow_from(self, source: DemosaicNet) -> None:
        """Start from a trained demosaicer and compute exactly its function: at least its
        channels (the new ones start cut off from the old), and optionally a noise map its head
        did not have (those weights start at zero, so a zero map changes nothing)."""
        from restorekit.models.denoise import _embed_conv

        keep = ("input_mode", "base", "pack")
        if (
            any(getattr(self, k) != getattr(source, k) for k in keep)
            or len(self.body) != len(source.body)
            or self.head.out_channels < source.head.out_channels
            or (source.noise_map and not self.noise_map)
        ):
            raise RestorekitError(
                "cannot grow this demosaicnet from the source: it needs the same input, base, "
                "pack and depth, no fewer channels, and a noise map if the source has one"
            )
        old = dict(source.named_modules())
        with torch.no_grad():
            for name, module in self.named_modules():
                if isinstance(module, nn.Conv2d):
                    if module.groups > 1:  # depthwise: channel to itself
                        module.weight[: old[name].out_channels] = old[name].weight
                        module.bias[: old[name].out_channels] = old[name].bias
                    else:
                        _embed_conv(module, old[name])

    @property
    def receptive_radius(self) -> int:
        """Pixels of context on each side that influence an output pixel (an upper bound).

        Tiled inference uses it as the overlap that makes tiles equal to whole-image inference.
        """
        convs = 2 + len(self.body) // 2  # head, inner, tail: 3x3 at 1/pack resolution
        base = 0 if self.base == "none" else 2  # MHC's 5x5 filters; bilinear's 3x3 fewer
        return (convs + 1) * self.pack + base  # +1 block for where a pixel sits in its block


def noise_map(raw: torch.Tensor, noise: float | torch.Tensor) -> torch.Tensor:
    """The noise standard deviation of every sample of ``raw`` ``(B, 1, H, W)``: from one value,
    one per image ``(B,)``, or a map ``(B, 1, H, W)`` (returned as it is).

    Example:
        >>> noise_map(torch.zeros(2, 1, 4, 4), torch.tensor([0.1, 0.2]))[:, 0, 0, 0].tolist()
        [0.10000000149011612, 0.20000000298023224]
    """
    B, _, H, W = raw.shape
    sigma = torch.as_tensor(noise, dtype=raw.dtype, device=raw.device)
    if sigma.dim() == 4:
        if sigma.shape != (B, 1, H, W):
            raise RestorekitError(f"a noise map must be {(B, 1, H, W)}, got {tuple(sigma.shape)}")
        return sigma
    if sigma.dim() > 1 or sigma.numel() not in (1, B):
        raise RestorekitError(f"noise: one value or one per image ({B}), got {tuple(sigma.shape)}")
    return sigma.reshape(-1, 1, 1, 1).expand(B, 1, H, W)


def demosaic_learned(
    raw: torch.Tensor,
    cfa: CFA | str,
    model: nn.Module | None = None,
    tile: int = 1024,
    noise: float | torch.Tensor | None = None,
    ensemble: int = 1,
) -> torch.Tensor:
    """Demosaic with a trained network: the shipped one unless ``model`` is given.

    Runs in float32 without gradients; images with more than ``tile * tile`` pixels are processed
    in tiles (:func:`restorekit.models.tiling.tiled`) with an overlap of the network's receptive
    radius, which gives the whole-image result with bounded memory.

    Args:
        raw: Bayer mosaic ``(B, 1, H, W)`` in [0, 1].
        cfa: its layout.
        model: a :class:`DemosaicNet` (default: ``load_pretrained("demosaic")``).
        tile: core tile side for large images.
        noise: the raw's noise standard deviation on its [0, 1] scale (one value, one per image
            or a ``(B, 1, H, W)`` map), for a network with a noise map; ``None``: a clean raw.
        ensemble: average over this many symmetries of the square (1, 2, 4 or 8, in the
            denoisers' :data:`~restorekit.models.control.ENSEMBLE_ORDER`; the geometric
            self-ensemble of Lim et al. 2017): each symmetry's mosaic is demosaiced with its own
            layout (:meth:`CFA.transformed`), so the four Bayer phases all take part; that many
            times slower.

    Returns:
        RGB ``(B, 3, H, W)`` in ``raw``'s dtype, not clipped.
    """
    from restorekit.data.patches import dihedral, dihedral_inverse
    from restorekit.models.control import ENSEMBLE_ORDER
    from restorekit.models.tiling import tiled

    if ensemble not in (1, 2, 4, 8):
        raise RestorekitError(f"ensemble must be 1, 2, 4 or 8 symmetries, got {ensemble}")

    if model is None:
        from restorekit.models.pretrained import load_pretrained

        model = load_pretrained("demosaic")
    cfa = parse_cfa(cfa)
    check_image(raw, channels=1, name="raw", min_size=4)
    # channels-last convolutions are ~30 % faster on CPU here (oneDNN); a no-op after the first call
    model = model.to(memory_format=torch.channels_last)
    x = raw.float()
    if getattr(model, "noise_map", False):
        # the raw and its noise map travel together (through the tiles, too)
        x = torch.cat([x, noise_map(x, 0.0 if noise is None else noise)], dim=1)
    elif noise is not None:
        raise RestorekitError("this demosaicer takes no noise level (it was trained on clean raws)")

    def whole(t: torch.Tensor, layout: CFA) -> torch.Tensor:
        def run(t: torch.Tensor) -> torch.Tensor:
            return model(t[:, :1], layout, t[:, 1:]) if t.shape[1] == 2 else model(t, layout)

        if t[0, 0].numel() <= tile * tile:  # H * W pixels
            return run(t)
        pack = getattr(model, "pack", 2)
        radius = getattr(model, "receptive_radius", 64)
        return tiled(run, t, tile=tile, overlap=radius, multiple=pack)

    H, W = x.shape[-2:]
    with torch.inference_mode():
        y = whole(x, cfa)  # ENSEMBLE_ORDER starts with the identity
        for k in ENSEMBLE_ORDER[1:ensemble]:
            y += dihedral_inverse(whole(dihedral(x, k), cfa.transformed(k, H, W)), k)
    return (y / ensemble if ensemble > 1 else y).to(raw.dtype)


def demosaic_joint(
    raw: torch.Tensor,
    cfa: CFA | str,
    noise: float | torch.Tensor | None = None,
    tile: int = 1024,
    ensemble: int = 1,
) -> torch.Tensor:
    """Joint demosaicing and denoising with the shipped joint network (``demosaic-joint``):
    :func:`demosaic_learned` with its model; ``noise`` and ``ensemble`` as there (``None``: a
    clean raw)."""
    from restorekit.models.pretrained import load_pretrained

    model = load_pretrained("demosaic-joint")
    return demosaic_learned(raw, cfa, model, tile=tile, noise=noise, ensemble=ensemble)
