"""Statistical film grain: filtered Gaussian noise with a given spectrum and variance per intensity.

The grain at a pixel of grey level ``u`` is

.. math::

    g(x) = s\\big(u(x)\\big)\\, (k * n)(x), \\qquad n \\sim \\mathcal N(0, 1) \\text{ white},

with :math:`s(u)` a standard-deviation curve (piecewise linear through given points, looked up
at 4096 tabulated grey levels) and :math:`k` a zero-phase kernel of unit energy whose power
spectrum :math:`|K(f)|^2` is the grain's normalised noise power spectrum. Both come from
measurements (:mod:`restorekit.film.estimate`) or from the Boolean model's closed form
(:meth:`GaussianGrain.from_boolean`): a grain with the Boolean model's second-order statistics
at the cost of one small convolution. What it cannot have is the Boolean model's change of
texture with intensity (its spectrum is one shape for every grey level) and its skew near black
and white; the benchmark measures both.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from restorekit.errors import RestorekitError
from restorekit.film._common import engine_setup
from restorekit.film.boolean import BooleanGrain, boolean_autocovariance

__all__ = ["GaussianGrain", "kernel_from_autocovariance", "render_gaussian"]

#: grey levels at which the std curve is tabulated for rendering
_LEVELS = 4096


@dataclass(frozen=True)
class GaussianGrain:
    """One channel's Gaussian grain: a std curve and a spectrum-shaping kernel.

    Args:
        levels: grey levels of the std curve, strictly increasing in [0, 1].
        std: grain standard deviation at each level (0..1 scale), >= 0.
        kernel: ``(k, k)`` zero-phase filter, odd ``k``; normalised to unit energy.
    """

    levels: tuple[float, ...]
    std: tuple[float, ...]
    kernel: torch.Tensor

    def __post_init__(self) -> None:
        lv, sd = list(self.levels), list(self.std)
        if len(lv) < 1 or len(lv) != len(sd):
            raise RestorekitError(
                f"levels and std need the same length >= 1, got {len(lv)} and {len(sd)}"
            )
        if any(not 0 <= v <= 1 for v in lv) or any(b <= a for a, b in itertools.pairwise(lv)):
            raise RestorekitError(f"levels must increase strictly within [0, 1], got {lv}")
        if any(not (math.isfinite(s) and s >= 0) for s in sd):
            raise RestorekitError(f"std values must be finite and >= 0, got {sd}")
        k = self.kernel
        if k.ndim != 2 or k.shape[0] != k.shape[1] or k.shape[0] % 2 == 0:
            raise RestorekitError(f"kernel must be square with an odd size, got {tuple(k.shape)}")
        energy = float(k.double().pow(2).sum())
        if not energy > 0:
            raise RestorekitError("kernel must not be all zeros")
        object.__setattr__(self, "kernel", (k.double() / math.sqrt(energy)).float())

    def std_at(self, u: torch.Tensor) -> torch.Tensor:
        """The std curve at grey levels ``u`` (linear between points, constant outside)."""
        lv = torch.tensor(self.levels, dtype=torch.float64, device=u.device)
        sd = torch.tensor(self.std, dtype=torch.float64, device=u.device)
        if len(lv) == 1:
            return torch.full_like(u, float(sd[0]))
        v = u.to(torch.float64).clamp(float(lv[0]), float(lv[-1]))
        i = torch.searchsorted(lv, v.contiguous(), right=True).clamp(1, len(lv) - 1)
        t = (v - lv[i - 1]) / (lv[i] - lv[i - 1])
        return (sd[i - 1] + t * (sd[i] - sd[i - 1])).to(u.dtype)

    @classmethod
    def from_boolean(
        cls,
        grain: BooleanGrain,
        zoom: float = 1.0,
        levels: Sequence[float] = tuple(i / 20 for i in range(1, 20)),
        shape_level: float = 0.5,
        radius: int | None = None,
    ) -> GaussianGrain:
        """Curves of the Boolean model (constant radius): the std from its closed-form variance
        at ``levels``, the kernel from its closed-form autocovariance at ``shape_level``.

        Example:
            >>> g = GaussianGrain.from_boolean(BooleanGrain(radius=0.5, blur=0.8), levels=[0.5])
            >>> round(g.std_at(torch.tensor([0.5])).item(), 4), g.kernel.shape
            (0.1354, torch.Size([7, 7]))
        """
        if grain.radius_sigma != 0:
            raise RestorekitError("from_boolean needs a constant radius (radius_sigma 0)")
        var = [float(boolean_autocovariance(u, grain, [(0, 0)], zoom=zoom)[0]) for u in levels]
        R = radius if radius is not None else max(2, math.ceil(3 * grain.blur * zoom))
        d = torch.arange(-R, R + 1, dtype=torch.float64)
        lags = torch.stack(torch.meshgrid(d, d, indexing="ij"), -1).reshape(-1, 2)
        cov = boolean_autocovariance(shape_level, grain, lags, zoom=zoom).view(2 * R + 1, -1)
        kernel = kernel_from_autocovariance(cov)
        # the model has no grain on black and on white: the curve ends at 0 on both sides
        std = [math.sqrt(max(v, 0.0)) for v in var]
        edges = list(levels)
        if edges[0] > 0:
            edges, std = [0.0, *edges], [0.0, *std]
        if edges[-1] < 1:
            edges, std = [*edges, 1.0], [*std, 0.0]
        return cls(tuple(edges), tuple(std), kernel)


def _filter(noise: torch.Tensor, k: torch.Tensor) -> torch.Tensor:
    """``noise (B, 1, H + 2r, W + 2r)`` filtered by ``k`` (valid). A kernel of rank one (every
    Boolean-derived kernel: the model is isotropic and Gaussian-filtered) is applied as a column
    then a row filter, each a product over sliding windows, about twice as fast as the 2-D
    convolution of one channel here."""
    size = k.shape[0]
    if size == 1:
        return noise * k[0, 0]
    U, S, V = torch.linalg.svd(k.double())
    if S[1] > 1e-3 * S[0]:
        return F.conv2d(noise, k[None, None])
    row = (V[0] * S[0].sqrt()).to(noise.dtype)
    col = (U[:, 0] * S[0].sqrt()).to(noise.dtype)
    out = noise.unfold(-1, size, 1) @ row  # (B, 1, H + 2r, W)
    return out.unfold(-2, size, 1) @ col  # (B, 1, H, W)


def kernel_from_autocovariance(cov: torch.Tensor, size: int | None = None) -> torch.Tensor:
    """A zero-phase kernel ``k`` with ``k * k^T`` close to the autocovariance ``cov``.

    ``cov`` is ``(2R + 1, 2R + 1)`` centred on lag 0. Its DFT (on a grid twice as large, zero
    padded) is the power spectrum; ``k`` is the inverse DFT of its square root (negative values
    from truncation are set to 0), cropped to ``size`` (default ``2R + 1``) and scaled to unit
    energy.
    """
    if cov.ndim != 2 or cov.shape[0] != cov.shape[1] or cov.shape[0] % 2 == 0:
        raise RestorekitError(f"cov must be square with an odd size, got {tuple(cov.shape)}")
    R = cov.shape[0] // 2
    n = 4 * R + 4
    grid = torch.zeros(n, n, dtype=torch.float64)
    idx = torch.arange(-R, R + 1) % n
    grid[idx[:, None], idx[None, :]] = cov.to(torch.float64)
    power = torch.fft.fft2(grid).real.clamp(min=0)
    k = torch.fft.ifft2(power.sqrt()).real
    k = torch.fft.fftshift(k)
    c = n // 2
    half = (size or 2 * R + 1) // 2
    k = k[c - half : c + half + 1, c - half : c + half + 1]
    return (k / k.pow(2).sum().sqrt()).float()


def render_gaussian(
    x: torch.Tensor,
    params: GaussianGrain | Sequence[GaussianGrain],
    generator: torch.Generator | None = None,
    zoom: float = 1.0,
) -> torch.Tensor:
    """Add Gaussian grain (module docstring) to ``x``, clamped to [0, 1].

    Args:
        x: ``(B, C, H, W)`` image in [0, 1].
        params: one :class:`GaussianGrain` for every channel, or one per channel. Its curves are
            in output pixels (for a Boolean-derived grain, build it with the same ``zoom``).
        generator: the random source.
        zoom: output size over input size; the image is enlarged with nearest-neighbour
            sampling first (each input pixel a uniform patch of film, as in the Boolean model).

    Returns:
        ``(B, C, round(H zoom), round(W zoom))`` float32.

    Example:
        >>> g = GaussianGrain((0.0, 1.0), (0.05, 0.05), torch.ones(1, 1))
        >>> gen = torch.Generator().manual_seed(0)
        >>> out = render_gaussian(torch.full((1, 1, 256, 256), 0.5), g, gen)
        >>> round((out - 0.5).std().item(), 2)
        0.05
    """
    per, (Ho, Wo) = engine_setup(x, params, GaussianGrain, zoom)
    B, C, H, W = x.shape
    u = x.float()
    if (Ho, Wo) != (H, W):
        u = F.interpolate(u, size=(Ho, Wo), mode="nearest")
    out = torch.empty_like(u)
    for c, p in enumerate(per):
        k = p.kernel
        r = k.shape[0] // 2
        noise = torch.randn(B, 1, u.shape[-2] + 2 * r, u.shape[-1] + 2 * r, generator=generator)
        shaped = _filter(noise, k)
        # the std curve tabulated at 4096 grey levels and looked up (nearest level): a
        # piecewise-linear search per pixel costs more than the filtering
        table = p.std_at(torch.linspace(0, 1, _LEVELS, device=u.device)).to(u.dtype)
        index = (u[:, c : c + 1].clamp(0, 1) * (_LEVELS - 1)).round_().long()
        shaped.mul_(table[index])
        out[:, c : c + 1] = shaped.add_(u[:, c : c + 1]).clamp_(0, 1)
    return out
