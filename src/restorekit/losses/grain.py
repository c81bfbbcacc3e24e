"""Distribution losses for random textures (film grain), built on :mod:`restorekit.metrics.grain`.

A pixel loss between two grain renders trains a network to predict the grain's mean, a flat
grain-free image; these losses compare statistics instead, so the prediction and the target may be
independent realisations of the same grain:

- :func:`spectrum_loss`: squared log ratio of the radially averaged power spectra;
- :func:`variance_loss`: squared log ratio of the variance per intensity (plus the squared mean
  per intensity, relative to the target's standard deviation: grain must not shift the image);
- :func:`gram_loss`: Gram matrices of fixed random multi-scale convolution features (texture
  statistics beyond second order, as in Gatys et al. 2015 with a random instead of a VGG network;
  Ustyuzhaninov et al. 2017 showed random features suffice for texture synthesis).

Inputs are *grain pairs*: ``(B, 2C, H, W)`` with the grain (render minus clean image) in the first
``C`` channels and the clean intensity it was rendered on in the last ``C``; the intensity is only
used to bin the variance. Every loss returns one value per sample, ``(B,)`` with
``reduction="none"``, so they compose in :class:`~restorekit.losses.CompositeLoss` (and its
:class:`~restorekit.losses.LossSchedule`) like the pixel losses.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from restorekit.errors import RestorekitError
from restorekit.losses._common import check_reduction, reduce_batch
from restorekit.metrics.grain import intensity_moments, radial_power_spectrum

__all__ = [
    "GramLoss",
    "SpectrumLoss",
    "VarianceLoss",
    "gram_loss",
    "spectrum_loss",
    "split_grain_pair",
    "variance_loss",
]

_EPS = 1e-10


def split_grain_pair(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(B, 2C, H, W)`` -> ``(grain, intensity)``, each ``(B, C, H, W)``."""
    if x.ndim != 4 or x.shape[1] % 2:
        raise RestorekitError(
            f"a grain pair is (B, 2C, H, W): grain channels then intensity channels, "
            f"got {tuple(x.shape)}"
        )
    C = x.shape[1] // 2
    return x[:, :C], x[:, C:]


def _check_same(x: torch.Tensor, y: torch.Tensor) -> None:
    if x.shape != y.shape:
        raise RestorekitError(
            f"x and y must have one shape, got {tuple(x.shape)} and {tuple(y.shape)}"
        )


def _check_group(group: int) -> int:
    if isinstance(group, bool) or not isinstance(group, int) or group < 1:
        raise RestorekitError(f"group must be an integer >= 1, got {group!r}")
    return group


def _pool(t: torch.Tensor, group: int) -> torch.Tensor:
    """Sum ``(B, ...)`` over consecutive groups of ``group`` samples -> ``(B / group, ...)``."""
    _check_group(group)
    if t.shape[0] % group:
        raise RestorekitError(f"the batch ({t.shape[0]}) is not a multiple of group ({group})")
    return t.reshape(t.shape[0] // group, group, *t.shape[1:]).sum(1)


def _per_sample(per_group: torch.Tensor, group: int) -> torch.Tensor:
    return per_group.repeat_interleave(group)


def spectrum_loss(
    x: torch.Tensor, y: torch.Tensor, bins: int = 8, group: int = 1, reduction: str = "mean"
) -> torch.Tensor:
    """Mean over channels and rings of :math:`(\\log P_x - \\log P_y)^2`, the radially averaged
    power spectra (:func:`~restorekit.metrics.grain.radial_power_spectrum`) of the two grains.

    With ``group`` > 1 the spectra of each run of ``group`` consecutive samples are averaged
    before the logarithm (samples rendered with one grain's parameters, arranged so by the
    recipe): a pooled estimate is less noisy, and the log of a noisy estimate is biased by an
    amount that depends on the grain's distribution, not only its spectrum. Each sample of a
    group gets the group's value.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> clean = torch.rand(2, 1, 64, 64, generator=g)
        >>> a = torch.cat([0.1 * torch.randn(2, 1, 64, 64, generator=g), clean], 1)
        >>> b = torch.cat([0.1 * torch.randn(2, 1, 64, 64, generator=g), clean], 1)
        >>> bool(spectrum_loss(a, b) < 0.05), bool(spectrum_loss(a, 2 * b) > 1.5)  # log 4 ^ 2
        (True, True)
    """
    check_reduction(reduction)
    _check_same(x, y)
    gx, _ = split_grain_pair(x)
    gy, _ = split_grain_pair(y)
    px = _pool(radial_power_spectrum(gx, bins=bins), group) / group
    py = _pool(radial_power_spectrum(gy, bins=bins), group) / group
    per = (torch.log(px + _EPS) - torch.log(py + _EPS)).pow(2).flatten(1).mean(1)
    return reduce_batch(_per_sample(per, group).to(x.dtype), reduction)


def variance_loss(
    x: torch.Tensor,
    y: torch.Tensor,
    bins: int = 8,
    min_count: int = 64,
    mean_weight: float = 1.0,
    group: int = 1,
    reduction: str = "mean",
) -> torch.Tensor:
    """Variance (and mean) of the grain per intensity bin, prediction against target.

    Over the bins holding at least ``min_count`` pixels in the target,

    .. math::

        \\overline{(\\log v_x - \\log v_y)^2} + w\\, \\overline{(m_x - m_y)^2 / v_y}

    with :math:`v, m` the variance and mean of the grain in the bin
    (:func:`~restorekit.metrics.grain.variance_per_intensity`, binned by the *target's* intensity
    channels for both) and :math:`w` = ``mean_weight``. 0 for a sample with no such bin. With
    ``group`` > 1 the bins pool the pixels of each run of ``group`` consecutive samples (as
    :func:`spectrum_loss`).
    """
    check_reduction(reduction)
    _check_same(x, y)
    gx, _ = split_grain_pair(x)
    gy, iy = split_grain_pair(y)
    nx, mx, vx = _bin_moments(iy, gx, bins, group)
    n, my, vy = _bin_moments(iy, gy, bins, group)
    used = (n >= min_count).to(vx.dtype)
    log_term = (torch.log(vx + _EPS) - torch.log(vy + _EPS)).pow(2)
    mean_term = (mx - my).pow(2) / (vy + _EPS)
    per_bin = (log_term + mean_weight * mean_term) * used
    per = per_bin.flatten(1).sum(1) / used.flatten(1).sum(1).clamp(min=1)
    return reduce_batch(_per_sample(per, group).to(x.dtype), reduction)


def _bin_moments(
    image: torch.Tensor, grain: torch.Tensor, bins: int, group: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Pixel count, mean and variance of ``grain`` per intensity bin, pooled over groups."""
    count, s1, s2 = (_pool(t, group) for t in intensity_moments(image, grain, bins))
    n = count.clamp(min=1)
    mean = s1 / n
    return count, mean, (s2 / n - mean.pow(2)).clamp(min=0)


class _RandomFeatures(nn.Module):
    """Fixed random convolution features at several scales (never trained; seeded)."""

    def __init__(self, features: int = 8, scales: int = 3, size: int = 5, seed: int = 0) -> None:
        super().__init__()
        g = torch.Generator().manual_seed(seed)
        w = torch.randn(scales, features, 1, size, size, generator=g)
        w = w - w.mean(dim=(-2, -1), keepdim=True)  # zero mean: the features see texture, not level
        w = w / w.flatten(2).norm(dim=2)[:, :, None, None, None]
        self.register_buffer("weight", w)
        self.scales = scales

    def forward(self, g: torch.Tensor) -> list[torch.Tensor]:
        B, C, H, W = g.shape
        x = g.reshape(B * C, 1, H, W)  # each channel on its own
        out = []
        for s in range(self.scales):
            if s:
                x = F.avg_pool2d(x, 2)
            if min(x.shape[-2:]) < self.weight.shape[-1]:
                break
            f = F.relu(F.conv2d(x, self.weight[s].to(x.dtype)))  # (B C, K, h, w)
            out.append(f.reshape(B, C, *f.shape[1:]))
        return out


def gram_loss(
    x: torch.Tensor,
    y: torch.Tensor,
    features: _RandomFeatures | None = None,
    group: int = 1,
    reduction: str = "mean",
) -> torch.Tensor:
    """Squared difference of Gram matrices of fixed random features, relative to the target's.

    For each scale :math:`s` and channel, :math:`G = F F^T / n` over the ``n`` positions of the
    features ``F`` (ReLU of zero-mean random 5x5 filters, at 1, 1/2, 1/4 resolution); the loss is
    :math:`\\sum_s \\|G_x - G_y\\|_F^2 / \\|G_y\\|_F^2` averaged over channels. Scale free: grain
    ten times stronger does not weigh more. ``group`` pools the Gram matrices of consecutive
    samples (as :func:`spectrum_loss`).
    """
    check_reduction(reduction)
    _check_same(x, y)
    feats = features if features is not None else _RandomFeatures().to(x.device)
    gx, _ = split_grain_pair(x)
    gy, _ = split_grain_pair(y)
    _check_group(group)
    total = torch.zeros(x.shape[0] // group, dtype=torch.float64, device=x.device)
    for fx, fy in zip(feats(gx), feats(gy), strict=True):
        Gx = _pool(_gram(fx), group) / group
        Gy = _pool(_gram(fy), group) / group
        num = (Gx - Gy).pow(2).flatten(2).sum(2)
        den = Gy.pow(2).flatten(2).sum(2) + _EPS
        total = total + (num / den).mean(1)
    return reduce_batch(_per_sample(total, group).to(x.dtype), reduction)


def _gram(f: torch.Tensor) -> torch.Tensor:
    B, C, K, H, W = f.shape
    m = f.to(torch.float64).reshape(B, C, K, H * W)
    return m @ m.transpose(-1, -2) / (H * W)


class SpectrumLoss(nn.Module):
    """Module twin of :func:`spectrum_loss`."""

    def __init__(self, bins: int = 8, group: int = 1, reduction: str = "mean") -> None:
        super().__init__()
        self.bins, self.group, self.reduction = (
            bins,
            _check_group(group),
            check_reduction(reduction),
        )

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return spectrum_loss(x, y, self.bins, self.group, self.reduction)


class VarianceLoss(nn.Module):
    """Module twin of :func:`variance_loss`."""

    def __init__(
        self,
        bins: int = 8,
        min_count: int = 64,
        mean_weight: float = 1.0,
        group: int = 1,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.bins, self.min_count, self.mean_weight = bins, min_count, mean_weight
        self.group, self.reduction = _check_group(group), check_reduction(reduction)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return variance_loss(
            x, y, self.bins, self.min_count, self.mean_weight, self.group, self.reduction
        )


class GramLoss(nn.Module):
    """Module twin of :func:`gram_loss` (its random features are built once, from ``seed``)."""

    def __init__(
        self,
        features: int = 8,
        scales: int = 3,
        seed: int = 0,
        group: int = 1,
        reduction: str = "mean",
    ) -> None:
        super().__init__()
        self.features = _RandomFeatures(features, scales, seed=seed)
        self.group, self.reduction = _check_group(group), check_reduction(reduction)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return gram_loss(x, y, self.features, self.group, self.reduction)
