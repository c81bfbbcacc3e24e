"""Fit grain models to measured grain: Boolean parameters and Gaussian-engine curves.

The measurements are those of flat regions (blocks where the image is a plane, so what varies is
grain): per block its mean grey level and the autocovariance of its grain at small lags
(:func:`block_statistics`). :func:`fit_boolean` finds the radius :math:`\\mu_r` and filter
:math:`\\sigma_f` whose closed-form autocovariance
(:func:`~restorekit.film.boolean.boolean_autocovariance`) best matches them at every grey level
at once; :func:`fit_gaussian` turns them into the curves of the Gaussian engine. The AV1 table fit
is :func:`restorekit.film.av1.fit_av1_table`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F

from restorekit.errors import RestorekitError
from restorekit.film.boolean import (
    BooleanGrain,
    boolean_covariance_integral,
    boolean_covariance_table,
)
from restorekit.film.gaussian import GaussianGrain, kernel_from_autocovariance
from restorekit.metrics.grain import autocovariance

__all__ = [
    "BlockStatistics",
    "GrainEstimate",
    "block_statistics",
    "estimate_grain",
    "fit_av1_checked",
    "fit_boolean",
    "fit_gaussian",
    "plane_residual",
]

#: radial lags (output pixels) the Boolean fit matches: (rows, cols), the two axes averaged
_FIT_LAGS = ((0, 0), (0, 1), (1, 1), (0, 2), (1, 2), (0, 3))


@dataclass
class BlockStatistics:
    """Grain statistics of flat blocks, pooled into grey-level bins.

    ``levels (K,)`` mean grey level of each bin, ``counts (K,)`` blocks in it, ``cov (K, 2L+1,
    2L+1)`` the mean autocovariance of the grain (lags -L..L), for one channel. ``removed`` is the
    fraction of each block's degrees of freedom its background took (1 / pixels for a mean, 3 /
    pixels for a plane): for grain whose correlation is short beside the block, that removal
    lowers the measured autocovariance at small lags by about ``removed`` times the grain's
    covariance integral, which :func:`fit_boolean` adds to its model.
    """

    levels: torch.Tensor
    counts: torch.Tensor
    cov: torch.Tensor
    removed: float = 0.0

    def at(self, lag: tuple[int, int]) -> torch.Tensor:
        """``(K,)`` covariance at a lag, averaged with its transpose (the axes are alike)."""
        L = self.cov.shape[-1] // 2
        a, b = lag
        return (self.cov[:, L + a, L + b] + self.cov[:, L + b, L + a]) / 2


def block_statistics(
    image: torch.Tensor,
    grain: torch.Tensor,
    mask: torch.Tensor,
    block: int = 32,
    bins: int = 12,
    max_lag: int = 4,
    min_level: float = 0.03,
    max_level: float = 0.97,
    removed_dof: int = 1,
) -> list[BlockStatistics]:
    """Per channel, the autocovariance of ``grain`` over the flat blocks of ``mask``, pooled by
    the blocks' mean grey level.

    Args:
        image: ``(1, C, H, W)`` the clean (or denoised) image in [0, 1].
        grain: ``(1, C, H, W)`` the grain (image with grain minus clean).
        mask: ``(nby, nbx)`` boolean, True for the flat ``block x block`` blocks (from the top
            left; a partial block at the edge is not used).
        block: block size, pixels.
        bins: grey-level bins between ``min_level`` and ``max_level``.
        max_lag: the largest lag measured.
        min_level, max_level: blocks darker or brighter are left out (little grain, clipped).
        removed_dof: degrees of freedom of each block's background taken from ``grain`` (1: its
            mean, which the autocovariance removes anyway; 3: a plane, :func:`plane_residual`).

    Raises:
        RestorekitError: no flat block within the grey-level range.
    """
    C = image.shape[1]
    nby, nbx = mask.shape
    ys, xs = torch.nonzero(mask, as_tuple=True)
    if ys.numel() == 0:
        raise RestorekitError("no flat block to estimate the grain from")
    out = []
    for c in range(C):
        blocks_u, blocks_g = [], []
        for y, x in zip(ys.tolist(), xs.tolist(), strict=True):
            sl = (slice(y * block, (y + 1) * block), slice(x * block, (x + 1) * block))
            blocks_u.append(image[0, c][sl])
            blocks_g.append(grain[0, c][sl])
        u = torch.stack(blocks_u).to(torch.float64).mean(dim=(-2, -1))
        cov = autocovariance(torch.stack(blocks_g)[:, None], max_lag)[:, 0]  # (n, 2L+1, 2L+1)
        keep = (u >= min_level) & (u <= max_level)
        if not keep.any():
            raise RestorekitError(
                f"no flat block with a grey level in [{min_level}, {max_level}] in channel {c}"
            )
        u, cov = u[keep], cov[keep]
        idx = ((u - min_level) / (max_level - min_level) * bins).floor().clamp(0, bins - 1).long()
        onehot = F.one_hot(idx, bins).to(torch.float64)  # (n, bins)
        counts = onehot.sum(0)
        used = counts > 0
        levels = (onehot * u[:, None]).sum(0)[used] / counts[used]
        pooled = torch.einsum("nk,nij->kij", onehot, cov)[used] / counts[used][:, None, None]
        out.append(BlockStatistics(levels, counts[used], pooled, removed_dof / block**2))
    return out


def fit_boolean(stats: BlockStatistics) -> tuple[BooleanGrain, float]:
    """Fit :math:`\\mu_r` and :math:`\\sigma_f` (constant radius) to one channel's statistics.

    Minimises, over every grey-level bin (weighted by its number of blocks) and the lags
    (0, 0), (0, 1), (1, 1), (0, 2), (1, 2), (0, 3), the squared difference of the closed-form
    autocovariance (less the background removal's share, :class:`BlockStatistics`) and the
    measured one, relative to the measured variance: a log-spaced grid search,
    then Nelder-Mead (scipy) in :math:`(\\log \\mu_r, \\log \\sigma_f)`.

    Returns:
        The fitted :class:`~restorekit.film.boolean.BooleanGrain` (pixels of the measured image)
        and the final relative RMS residual.
    """
    from scipy.optimize import minimize

    measured = torch.stack([stats.at(lag) for lag in _FIT_LAGS], dim=1)  # (K, lags)
    var = measured[:, :1].clamp(min=1e-12)
    w = (stats.counts / stats.counts.sum())[:, None]

    def cost(p: tuple[float, float], resolution: int) -> float:
        r, b = math.exp(p[0]), math.exp(p[1])
        model = boolean_covariance_table(stats.levels, r, b, _FIT_LAGS, resolution=resolution)
        if stats.removed:
            model = model - stats.removed * boolean_covariance_integral(stats.levels, r)[:, None]
        return float((w * ((model - measured) / var) ** 2).sum())

    grid = [
        (math.log(r), math.log(b))
        for r in _log_space(0.1, 4.0, 13)
        for b in _log_space(0.2, 4.0, 11)
    ]
    start = min(grid, key=lambda p: cost(p, 61))
    res = minimize(
        lambda p: cost(p, 161), start, method="Nelder-Mead", options={"xatol": 1e-3, "fatol": 1e-9}
    )
    r, b = (math.exp(v) for v in res.x)
    return BooleanGrain(radius=r, blur=b), math.sqrt(max(res.fun, 0.0))


def _log_space(lo: float, hi: float, n: int) -> list[float]:
    return [lo * (hi / lo) ** (i / (n - 1)) for i in range(n)]


def fit_gaussian(stats: BlockStatistics, radius: int = 3) -> GaussianGrain:
    """The Gaussian engine's curves from one channel's statistics: the std at each bin's grey
    level, and the kernel of the autocovariance pooled over the bins (each normalised to unit
    variance, weighted by its blocks), cut to lags ``-radius..radius``."""
    L = stats.cov.shape[-1] // 2
    if radius > L:
        raise RestorekitError(f"radius {radius} exceeds the measured lags ({L})")
    var = stats.cov[:, L, L].clamp(min=0)
    w = stats.counts / stats.counts.sum()
    shape = (stats.cov / var.clamp(min=1e-12)[:, None, None] * w[:, None, None]).sum(0)
    shape = shape[L - radius : L + radius + 1, L - radius : L + radius + 1]
    return GaussianGrain(
        tuple(float(v) for v in stats.levels),
        tuple(float(v) for v in var.sqrt()),
        kernel_from_autocovariance(shape),
    )


def plane_residual(image: torch.Tensor, block: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Per ``block x block`` block (from the top left, whole blocks only), the least-squares
    plane :math:`a + b x + c y` of each channel and what is left of the image.

    On a flat block, the residual is the grain (less 3 of its ``block^2`` degrees of freedom):
    unlike a denoiser's residual it keeps the grain's lowest frequencies.

    Returns:
        ``(plane, residual)``, each ``(B, C, nby block, nbx block)``.
    """
    B, C, H, W = image.shape
    nby, nbx = H // block, W // block
    if nby == 0 or nbx == 0:
        raise RestorekitError(f"the image ({H}x{W}) is smaller than one {block}x{block} block")
    x = image[..., : nby * block, : nbx * block].to(torch.float64)
    # (B, C, nby, block, nbx, block) -> (B, C, nby, nbx, block * block)
    blocks = x.reshape(B, C, nby, block, nbx, block).permute(0, 1, 2, 4, 3, 5)
    blocks = blocks.reshape(B, C, nby, nbx, block * block)
    t = torch.arange(block, dtype=torch.float64) - (block - 1) / 2
    yy, xx = torch.meshgrid(t, t, indexing="ij")
    A = torch.stack([torch.ones_like(xx), xx, yy], -1).reshape(-1, 3)
    P = A @ torch.linalg.solve(A.T @ A, A.T)  # projection on the planes
    plane = blocks @ P.T

    def back(v: torch.Tensor) -> torch.Tensor:
        v = v.reshape(B, C, nby, nbx, block, block).permute(0, 1, 2, 4, 3, 5)
        return v.reshape(B, C, nby * block, nbx * block)

    return back(plane), back(blocks - plane)


@dataclass
class GrainEstimate:
    """What :func:`estimate_grain` fitted: per channel a Boolean model (and its relative RMS
    residual) and Gaussian curves, one AV1 table, and how many flat blocks it used."""

    boolean: list[BooleanGrain]
    boolean_residual: list[float]
    gaussian: list[GaussianGrain]
    av1: Any
    flat_blocks: int
    total_blocks: int
    levels: list[list[float]]

    def summary(self) -> str:
        names = ("gray",) if len(self.boolean) == 1 else ("R", "G", "B")
        lines = [f"flat blocks: {self.flat_blocks} of {self.total_blocks}"]
        for name, b, res, g in zip(
            names, self.boolean, self.boolean_residual, self.gaussian, strict=True
        ):
            std = ", ".join(f"{u:.2f}:{s * 255:.1f}" for u, s in zip(g.levels, g.std, strict=True))
            lines.append(
                f"{name}: Boolean radius {b.radius:.3f} px, blur {b.blur:.3f} px "
                f"(fit residual {100 * res:.1f} %); grain std (0..255) by level: {std}"
            )
        a = self.av1
        lines.append(
            f"AV1: ar_coeff_lag {a.ar_coeff_lag}, {len(a.scaling_points_y)} luma points"
            + (
                f", {len(a.scaling_points_cb)} Cb / {len(a.scaling_points_cr)} Cr points"
                if len(self.boolean) == 3
                else ""
            )
        )
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        import dataclasses

        return {
            "flat_blocks": self.flat_blocks,
            "total_blocks": self.total_blocks,
            "boolean": [
                {"radius": b.radius, "blur": b.blur, "fit_residual": r}
                for b, r in zip(self.boolean, self.boolean_residual, strict=True)
            ],
            "gaussian": [
                {"levels": list(g.levels), "std": list(g.std), "kernel": g.kernel.tolist()}
                for g in self.gaussian
            ],
            "av1": dataclasses.asdict(self.av1),
        }


def estimate_grain(image: torch.Tensor, block: int = 32, method: str = "gaussian") -> GrainEstimate:
    """Fit every grain model to one grainy image (``restorekit grain estimate``).

    1. Flat blocks: :func:`restorekit.film.analysis.grainy_flat_blocks` (libaom's test on a
       denoised copy, where the grain no longer hides whether a block is flat).
    2. The grain of each flat block: what is left after its least-squares plane
       (:func:`plane_residual`), which keeps the grain's low frequencies.
    3. Per channel: :func:`block_statistics`, :func:`fit_boolean`, :func:`fit_gaussian`; and
       :func:`restorekit.film.av1.fit_av1_table` on the luma (gray) or on YCbCr (RGB, the
       conversion of :func:`restorekit.film.av1.av1_grain`).

    Args:
        image: ``(1, C, H, W)``, C 1 or 3, in [0, 1].
        block: flat-block size.
        method: the denoiser that finds the flat blocks.

    Raises:
        RestorekitError: no flat block (one line).
    """
    from restorekit.film.analysis import expand_block_mask, grainy_flat_blocks, require_flat
    from restorekit.film.av1 import rgb_to_av1_ycbcr

    if image.ndim != 4 or image.shape[0] != 1 or image.shape[1] not in (1, 3):
        raise RestorekitError(
            f"estimate_grain takes one gray or RGB image (1, C, H, W), got {tuple(image.shape)}"
        )
    mask = grainy_flat_blocks(image, block, method)
    require_flat(mask, block)
    plane, grain = plane_residual(image, block)
    stats = block_statistics(plane, grain, mask[0], block=block, removed_dof=3)
    fits = [fit_boolean(s) for s in stats]
    gaussian = [fit_gaussian(s) for s in stats]
    H, W = plane.shape[-2:]
    pixel_mask = expand_block_mask(mask, block, (H, W))[0, 0].numpy()
    clean = plane[0].numpy() * 255
    noise = grain[0].numpy() * 255
    if image.shape[1] == 3:
        av1 = fit_av1_checked(
            rgb_to_av1_ycbcr(clean), rgb_to_av1_ycbcr(noise, offset=False), pixel_mask
        )
    else:
        av1 = fit_av1_checked(clean[:1], noise[:1], pixel_mask)
    return GrainEstimate(
        boolean=[f for f, _ in fits],
        boolean_residual=[r for _, r in fits],
        gaussian=gaussian,
        av1=av1,
        flat_blocks=int(mask.sum()),
        total_blocks=int(mask.numel()),
        levels=[s.levels.tolist() for s in stats],
    )


def fit_av1_checked(clean: Any, grain: Any, mask: Any, ar_lag: int = 3) -> Any:
    """:func:`restorekit.film.av1.fit_av1_table` at ``ar_lag``, checked by re-synthesis: the
    fitted table is applied to the clean planes and its grain must keep each plane's standard
    deviation within a factor of 2 of the measured one and its mean within a quarter of that
    standard deviation; otherwise the next shorter lag is fitted (lag 0 is kept).

    Grain that is not AV1's own (Boolean grain, whose blur makes it strongly correlated, and
    whose chroma in YCbCr mirrors the luma) can drive the lag-3 least squares to coefficients
    that saturate and templates that explode; this keeps such a fit out of a table.

    Args:
        clean: ``(P, H, W)`` planes on 0..255 (Y, or Y Cb Cr 4:4:4), float.
        grain: the grain, same layout.
        mask: ``(H, W)`` boolean, the pixels to fit on.
        ar_lag: the lag to try first.
    """
    import numpy as np

    from restorekit.film.av1 import apply_av1_grain, fit_av1_table

    planes = [np.clip(np.rint(c), 0, 255).astype(np.uint8) for c in clean]
    for lag in range(ar_lag, -1, -1):
        if len(planes) == 1:
            params = fit_av1_table(clean[0], grain[0], mask, ar_lag=lag)
            out = apply_av1_grain(planes[0], None, None, params)[:1]
        else:
            params = fit_av1_table(list(clean), list(grain), [mask] * 3, ar_lag=lag)
            out = apply_av1_grain(*planes, params, (0, 0))
        ok = True
        for k, o in enumerate(out):
            g = o.astype(np.float64) - planes[k]
            want = float(grain[k][mask].std())
            got, shift = float(g[mask].std()), abs(float(g[mask].mean()))
            if want > 0.5 and not (0.5 * want <= got <= 2 * want and shift <= 0.25 * want):
                ok = False
        if ok or lag == 0:
            return params
    raise AssertionError("unreachable: lag 0 returns")
