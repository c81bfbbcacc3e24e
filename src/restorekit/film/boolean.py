"""The Boolean film-grain model of Newson, Delon and Galerne (2017): two renderers, a closed form.

Film is a layer of silver-halide grains: a pixel of grey level ``u`` (the fraction of light the
film absorbs there) is a region where disks (the developed grains) of radius ``r`` fall at random
with Poisson intensity

.. math::

    \\lambda(u) = \\frac{\\log\\big(1/(1 - u)\\big)}{\\pi\\, E[r^2]},
    \\qquad E[r^2] = \\mu_r^2 + \\sigma_r^2,

so that a point is covered with probability :math:`1 - e^{-\\lambda \\pi E[r^2]} = u`: the
grains preserve the image on average. The rendered image is the indicator of the union of the
disks seen through a Gaussian filter of standard deviation :math:`\\sigma_f` (the enlarger's
optics, or the eye), sampled at the output pixels; the model is resolution free, so it renders at
any zoom ``s``. Every length (``radius``, ``radius_sigma``, ``blur``) is in *input* pixels.

Two renderers draw the same realisation (:func:`boolean_grains` places the disks):

- :func:`render_boolean_reference`: the paper's pixel-wise algorithm, vectorised: ``N`` Gaussian
  offsets shared by every pixel (as the authors' code draws them), each output pixel the fraction
  of its ``N`` offset points that fall in a disk. Slow; the yardstick for tests.
- :func:`render_boolean`: the fast renderer (grain-wise): each disk is written as runs of covered
  points on a regular sub-grid of ``q x q`` points per output pixel (a difference array and a
  cumulative sum, so a disk costs a few operations per sub-row), and the Gaussian filter is a
  separable strided convolution from the sub-grid to the output pixels. Deterministic where the
  reference is Monte Carlo: it computes the filtered model itself, with the sub-grid's quadrature
  error (well under 1 % of the variance for ``q >= 3`` points per ``min(radius, blur)``). It runs
  in bands of output rows, generating the disks of each band's cells as it goes, so memory stays
  bounded (a 12 MP image uses a few hundred MB).

:func:`boolean_autocovariance` is the model's closed form for a constant radius: the covariance of
the covered indicator,

.. math::

    C(h) = (1 - u)^2 \\big(e^{\\lambda \\gamma_r(h)} - 1\\big), \\qquad
    \\gamma_r(h) = 2r^2 \\arccos\\frac{h}{2r} - \\frac{h}{2}\\sqrt{4r^2 - h^2} \\quad (h < 2r),

(:math:`\\gamma_r` the area shared by two disks at distance :math:`h`), seen through the filter
twice: :math:`\\mathrm{cov}(d) = (C * G_{\\sqrt{2}\\sigma_f})(d)`. The reference with ``N`` shared
offsets has, on average over the offsets, :math:`C(d)/N + (1 - 1/N)\\,\\mathrm{cov}(d)`, and a
spread from the random offsets of several per cent at ``N = 800``: the closed form, not the
reference, is the yardstick.

References:
    A. Newson, J. Delon, B. Galerne, "A stochastic film grain model for resolution-independent
    rendering", Computer Graphics Forum 36(8), 2017.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from restorekit.errors import RestorekitError
from restorekit.film._common import engine_setup

__all__ = [
    "BooleanGrain",
    "GrainSet",
    "boolean_autocovariance",
    "boolean_covariance_integral",
    "boolean_covariance_table",
    "boolean_flat_spectrum",
    "boolean_grains",
    "boolean_intensity",
    "boolean_mean_render",
    "render_boolean",
    "render_boolean_reference",
]

#: the largest grey level the model renders: at u = 1 the intensity is infinite
U_MAX = 0.999
#: log-normal radii are cut at this many standard deviations of log(r) (with E[r^2] corrected)
_LOG_CUT = 4.0
#: the Gaussian filter is cut at this many standard deviations
_FILTER_CUT = 4.0
#: cells per generation chunk (rows of input pixels whose disks are drawn at once)
_CHUNK_ROWS = 32


@dataclass(frozen=True)
class BooleanGrain:
    """Parameters of the Boolean grain model for one channel (lengths in input pixels).

    Args:
        radius: mean grain radius :math:`\\mu_r`, > 0.
        radius_sigma: standard deviation :math:`\\sigma_r` of a log-normal radius, >= 0 (0: every
            grain has radius ``radius``).
        blur: standard deviation :math:`\\sigma_f` of the Gaussian filter, > 0.
        samples: Monte Carlo samples ``N`` of the reference renderer, >= 1.

    Raises:
        RestorekitError: a value out of range, naming it.

    Example:
        >>> BooleanGrain(radius=0.5, blur=0.8).max_radius
        0.5
        >>> BooleanGrain(radius=-1)
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: radius must be a finite number > 0, got -1
    """

    radius: float = 0.5
    radius_sigma: float = 0.0
    blur: float = 0.8
    samples: int = 800

    def __post_init__(self) -> None:
        for name, allow_zero in (("radius", False), ("radius_sigma", True), ("blur", False)):
            v = getattr(self, name)
            ok = isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v)
            if not ok or v < 0 or (v == 0 and not allow_zero):
                bound = ">= 0" if allow_zero else "> 0"
                raise RestorekitError(f"{name} must be a finite number {bound}, got {v!r}")
        s = self.samples
        if isinstance(s, bool) or not isinstance(s, int) or s < 1:
            raise RestorekitError(f"samples must be an integer >= 1, got {s!r}")

    @property
    def _log_params(self) -> tuple[float, float]:
        """(m, s) of log(r) ~ N(m, s^2) for the mean and standard deviation of the radius."""
        s2 = math.log1p((self.radius_sigma / self.radius) ** 2)
        return math.log(self.radius) - s2 / 2, math.sqrt(s2)

    @property
    def max_radius(self) -> float:
        """The largest radius drawn (log-normal radii are cut at 4 standard deviations of log r)."""
        if self.radius_sigma == 0:
            return float(self.radius)
        m, s = self._log_params
        return math.exp(m + _LOG_CUT * s)

    @property
    def second_moment(self) -> float:
        """:math:`E[r^2]` of the radii actually drawn (the cut log-normal's, when it is one)."""
        if self.radius_sigma == 0:
            return float(self.radius) ** 2
        m, s = self._log_params
        cut = math.log(self.max_radius)
        phi = 0.5 * math.erfc(-(cut - m - 2 * s * s) / (s * math.sqrt(2)))  # P(z < ...)
        tail = 0.5 * math.erfc(_LOG_CUT / math.sqrt(2))
        return math.exp(2 * m + 2 * s * s) * phi + self.max_radius**2 * tail


def boolean_intensity(u: torch.Tensor, grain: BooleanGrain) -> torch.Tensor:
    """The Poisson intensity :math:`\\lambda(u)` (disks per square input pixel) for grey levels
    ``u`` (clamped to [0, :data:`U_MAX`]).

    Example:
        >>> lam = boolean_intensity(torch.tensor([0.5]), BooleanGrain(radius=0.5))
        >>> round(float(lam), 4)  # log 2 / (pi / 4)
        0.8825
    """
    v = u.to(torch.float64).clamp(0, U_MAX)
    return -torch.log1p(-v) / (math.pi * grain.second_moment)


@dataclass
class GrainSet:
    """Disks of one channel, sorted by the cell (input pixel) that holds their centre.

    Cells are those of the input image padded by ``pad`` pixels on every side (with the border's
    grey level), so that grains outside the image still cover its border as they would inside.
    ``x``, ``y`` are in input pixels of the unpadded image (pixel ``(i, j)`` covers
    ``[j, j + 1) x [i, i + 1)``).
    """

    x: torch.Tensor
    y: torch.Tensor
    r: torch.Tensor
    #: index of each grain's cell in the padded cell grid (row-major), non-decreasing
    cell: torch.Tensor
    #: ``(rows, cols)`` of the padded cell grid
    grid: tuple[int, int]
    pad: int


def _padding(grain: BooleanGrain, zoom: float) -> int:
    return math.ceil(grain.max_radius + _FILTER_CUT * grain.blur + 2.0 / zoom) + 1


def _draw_cells(
    u_rows: torch.Tensor, row0: int, pad: int, grain: BooleanGrain, generator: torch.Generator
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
    """Disks of the cells of padded rows ``row0 ..`` (``u_rows``: their grey levels)."""
    rows, cols = u_rows.shape
    lam = boolean_intensity(u_rows, grain).flatten()
    counts = torch.poisson(lam, generator=generator).long()
    cell = torch.repeat_interleave(torch.arange(rows * cols, dtype=torch.long), counts)
    n = cell.numel()
    r_idx, c_idx = cell // cols, cell % cols
    pos = torch.rand(2, n, generator=generator, dtype=torch.float64)
    x = (c_idx - pad).to(torch.float64) + pos[0]
    y = (r_idx + row0 - pad).to(torch.float64) + pos[1]
    if grain.radius_sigma == 0:
        r = torch.full((n,), float(grain.radius), dtype=torch.float64)
    else:
        m, s = grain._log_params
        z = torch.randn(n, generator=generator, dtype=torch.float64).clamp(max=_LOG_CUT)
        r = torch.exp(m + s * z)
    return x, y, r, cell + row0 * cols


def boolean_grains(
    u: torch.Tensor,
    grain: BooleanGrain,
    generator: torch.Generator | None = None,
    zoom: float = 1.0,
) -> GrainSet:
    """Draw every disk of one channel (for the reference renderer and for tests).

    Args:
        u: ``(H, W)`` grey levels in [0, 1].
        grain: the model's parameters.
        generator: the random source.
        zoom: the output zoom the disks will be rendered at (sets the padding).

    Returns:
        A :class:`GrainSet`; the same generator state gives the disks :func:`render_boolean`
        draws for this channel.
    """
    pad = _padding(grain, zoom)
    up = F.pad(u[None, None].to(torch.float64), (pad,) * 4, mode="replicate")[0, 0]
    rows, cols = up.shape
    gen = generator if generator is not None else torch.Generator()
    parts = [
        _draw_cells(up[r0 : r0 + _CHUNK_ROWS], r0, pad, grain, gen)
        for r0 in range(0, rows, _CHUNK_ROWS)
    ]
    x, y, r, cell = (torch.cat(t) for t in zip(*parts, strict=True))
    return GrainSet(x, y, r, cell, (rows, cols), pad)


def _filter_taps(q: int, sigma_sub: float) -> tuple[torch.Tensor, int]:
    """Weights of output pixel ``a`` on sub-points ``a q + t``: (taps, t_min)."""
    half = math.ceil(_FILTER_CUT * sigma_sub + q)
    t = torch.arange(-half, half + 1, dtype=torch.float64)
    d = t - (q - 1) / 2  # sub-point offset from the output pixel's centre, in sub-points
    w = torch.exp(-0.5 * (d / sigma_sub) ** 2)
    keep = d.abs() <= _FILTER_CUT * sigma_sub + 0.5
    t, w = t[keep], w[keep]
    return w / w.sum(), int(t[0])


def subgrid_density(grain: BooleanGrain, zoom: float = 1.0, quality: float = 3.0) -> int:
    """Sub-points per output pixel (per axis) of :func:`render_boolean`: ``quality`` points per
    ``min(radius, blur)``, at least 2 per output pixel."""
    step = min(grain.radius, grain.blur) / quality  # input pixels between sub-points
    return max(2, math.ceil(1.0 / (zoom * step)))


def boolean_mean_render(
    x: torch.Tensor,
    params: BooleanGrain | Sequence[BooleanGrain],
    zoom: float = 1.0,
    quality: float = 3.0,
) -> torch.Tensor:
    """The expected render of the model (its mean over every draw of the disks), exactly up to
    :func:`render_boolean`'s sub-grid quadrature: a point ``y`` is covered by a Poisson number
    of disks with mean :math:`m(y) = \\int \\lambda(u(z))\\, P(r \\ge |y - z|)\\, dz`, so it is
    covered with probability :math:`1 - e^{-m(y)}`, and the mean render is that seen through the
    Gaussian filter at the output pixels. On a flat field it is ``u``; on a picture it is the
    image blurred by the filter and, across an edge, pushed towards the brighter side (the
    coverage is not linear in ``u``: the bright side's disks reach into the dark side). The grain
    of a render is ``render - boolean_mean_render`` (what the learned engine is trained to add to
    the image, and what the benchmark measures). The whole image is computed at once: for
    training patches and benchmark crops, not for 12 MP pictures.

    Args:
        x: ``(B, C, H, W)`` image in [0, 1].
        params: one :class:`BooleanGrain` for every channel, or one per channel.
        zoom, quality: as :func:`render_boolean`.

    Returns:
        ``(B, C, round(H zoom), round(W zoom))``, float32.

    Example:
        >>> flat = torch.full((1, 1, 16, 16), 0.3)
        >>> torch.allclose(boolean_mean_render(flat, BooleanGrain()), flat, atol=1e-6)
        True
    """
    per_channel, (Ho, Wo) = engine_setup(x, params, BooleanGrain, zoom)
    B, C = x.shape[:2]
    out = torch.empty(B, C, Ho, Wo, dtype=torch.float32)
    for c in range(C):
        grain = per_channel[c]
        q = subgrid_density(grain, zoom, quality)
        h = 1.0 / (zoom * q)  # sub-point spacing, input pixels
        taps, t0 = _filter_taps(q, grain.blur / h)
        taps32 = taps.to(torch.float32)
        kernel = _cover_kernel(grain, h)
        R = kernel.shape[-1] // 2
        Hs, Ws = (Ho - 1) * q + taps.numel(), (Wo - 1) * q + taps.numel()
        H, W = x.shape[-2:]
        # the input pixel under every sub-point the covering disks' centres can come from
        rows = torch.floor((torch.arange(t0 - R, t0 + Hs + R) + 0.5) * h).long().clamp(0, H - 1)
        cols = torch.floor((torch.arange(t0 - R, t0 + Ws + R) + 0.5) * h).long().clamp(0, W - 1)
        for b in range(B):
            lam = boolean_intensity(x[b, c], grain).to(torch.float32)[rows][:, cols]
            count = F.conv2d(lam[None, None], kernel[None, None])[0, 0]  # (Hs, Ws)
            cover = -torch.expm1(-count)
            rowsf = _strided_filter(cover, taps32, q, Wo)
            out[b, c] = _strided_filter(rowsf.T.contiguous(), taps32, q, Ho).T
    return out


def _cover_kernel(grain: BooleanGrain, h: float, supersample: int = 4) -> torch.Tensor:
    """``K[i, j] h^2``: the area of sub-cell ``(i, j)`` (spacing ``h``, centred) times the mean of
    ``P(r >= d)`` over it (``supersample^2`` points), scaled so that the kernel sums to
    ``pi E[r^2]`` exactly (a flat field's mean render is then its grey level)."""
    R = math.ceil(grain.max_radius / h) + 1
    k = supersample
    t = (torch.arange(-R * k, (R + 1) * k, dtype=torch.float64) + 0.5) / k - 0.5
    d = torch.hypot(t[:, None], t[None, :]) * h
    if grain.radius_sigma == 0:
        p = (d <= grain.radius).to(torch.float64)
    else:
        m, s = grain._log_params
        z = (torch.log(d.clamp(min=1e-12)) - m) / s
        p = torch.where(d <= grain.max_radius, 0.5 * torch.erfc(z / math.sqrt(2)), 0.0)
    p = p.view(2 * R + 1, k, 2 * R + 1, k).mean(dim=(1, 3))
    return (p * (math.pi * grain.second_moment / p.sum())).to(torch.float32)


def render_boolean(
    x: torch.Tensor,
    params: BooleanGrain | Sequence[BooleanGrain],
    generator: torch.Generator | None = None,
    zoom: float = 1.0,
    quality: float = 3.0,
    band: int = 64,
    progress: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Render Boolean film grain, fast (grain-wise on a sub-grid; see the module docstring).

    Args:
        x: ``(B, C, H, W)`` image in [0, 1]; each channel is a film layer, its value the grey level
            ``u`` the grains reproduce on average (linear or sRGB: the model preserves the value).
        params: one :class:`BooleanGrain` for every channel, or one per channel.
        generator: the random source (``None``: a fresh unseeded one).
        zoom: output size over input size, > 0 (the grain is resolution free).
        quality: sub-points per ``min(radius, blur)`` (:func:`subgrid_density`); 3 keeps the
            quadrature error of the variance under 1 %.
        band: output rows rendered at once (memory).
        progress: called with the number of output rows finished, per band and channel.

    Returns:
        ``(B, C, round(H zoom), round(W zoom))`` in [0, 1], float32.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> out = render_boolean(torch.full((1, 1, 64, 64), 0.5), BooleanGrain(), g)
        >>> out.shape, round(out.mean().item(), 2)
        (torch.Size([1, 1, 64, 64]), 0.5)
    """
    per_channel, (Ho, Wo) = engine_setup(x, params, BooleanGrain, zoom)
    B, C, H, W = x.shape
    gen = generator if generator is not None else torch.Generator()
    out = torch.empty(B, C, Ho, Wo, dtype=torch.float32)
    for b in range(B):
        for c in range(C):
            out[b, c] = _render_channel(
                x[b, c], per_channel[c], gen, zoom, quality, band, (Ho, Wo), progress
            )
    return out


def _render_channel(
    u: torch.Tensor,
    grain: BooleanGrain,
    gen: torch.Generator,
    zoom: float,
    quality: float,
    band: int,
    size: tuple[int, int],
    progress: Callable[[int], None] | None,
) -> torch.Tensor:
    Ho, Wo = size
    H, W = u.shape
    q = subgrid_density(grain, zoom, quality)
    h = 1.0 / (zoom * q)  # sub-point spacing, input pixels
    taps, t0 = _filter_taps(q, grain.blur / h)
    L = taps.numel()
    taps32 = taps.to(torch.float32)
    pad = _padding(grain, zoom)
    up = F.pad(u[None, None].to(torch.float64), (pad,) * 4, mode="replicate")[0, 0]
    rows_total = up.shape[0]
    r_max = grain.max_radius
    # sub-columns n0 .. n0 + Ws - 1 feed output columns 0 .. Wo - 1
    n0 = t0
    Ws = (Wo - 1) * q + L
    cache: dict[int, tuple[torch.Tensor, ...]] = {}
    next_chunk = 0
    out = torch.empty(Ho, Wo, dtype=torch.float32)
    for a0 in range(0, Ho, band):
        a1 = min(Ho, a0 + band)
        m0 = a0 * q + t0
        Hs = (a1 - 1 - a0) * q + L
        y_lo, y_hi = (m0 + 0.5) * h - r_max, (m0 + Hs - 0.5) * h + r_max
        c_lo = max(0, math.floor(y_lo) + pad) // _CHUNK_ROWS
        c_hi = min(rows_total - 1, math.floor(y_hi) + pad) // _CHUNK_ROWS
        while next_chunk <= c_hi:  # chunks are drawn in order: the stream is deterministic
            r0 = next_chunk * _CHUNK_ROWS
            cache[next_chunk] = _draw_cells(up[r0 : r0 + _CHUNK_ROWS], r0, pad, grain, gen)
            next_chunk += 1
        for k in [k for k in cache if k < c_lo]:
            del cache[k]
        gx, gy, gr, _ = (
            torch.cat(t) for t in zip(*(cache[k] for k in range(c_lo, c_hi + 1)), strict=True)
        )
        covered = _rasterize(gx, gy, gr, h, m0, n0, Hs, Ws)
        # separable Gaussian, strided from the sub-grid to the output pixels
        rowsf = _strided_filter(covered, taps32, q, Wo)  # (Hs, Wo)
        out[a0:a1] = _strided_filter(rowsf.T.contiguous(), taps32, q, a1 - a0).T
        if progress is not None:
            progress(a1 - a0)
    while next_chunk * _CHUNK_ROWS < rows_total:  # the rest of the stream, as boolean_grains
        r0 = next_chunk * _CHUNK_ROWS
        _draw_cells(up[r0 : r0 + _CHUNK_ROWS], r0, pad, grain, gen)
        next_chunk += 1
    return out


def _strided_filter(x: torch.Tensor, taps: torch.Tensor, q: int, n_out: int) -> torch.Tensor:
    """``out[:, a] = sum_t taps[t] x[:, a q + t]`` for ``a < n_out``: each row filtered and
    decimated by ``q`` (a matrix-vector product over overlapping windows, no copy)."""
    L = taps.numel()
    need = (n_out - 1) * q + L
    if x.shape[1] < need:
        x = F.pad(x, (0, need - x.shape[1]))
    return x.unfold(1, L, q)[:, :n_out] @ taps


def _rasterize(
    gx: torch.Tensor,
    gy: torch.Tensor,
    gr: torch.Tensor,
    h: float,
    m0: int,
    n0: int,
    Hs: int,
    Ws: int,
) -> torch.Tensor:
    """Float mask of the sub-points ``((n + 0.5) h, (m + 0.5) h)``, ``m0 <= m < m0 + Hs``,
    ``n0 <= n < n0 + Ws``, covered by a disk: each disk adds +1/-1 at the ends of its run on each
    sub-row it crosses; a cumulative sum along the rows counts the disks over every point."""
    # sub-grid units relative to the band: sub-point (m, n) sits at (m, n)
    Y = (gy / h - 0.5 - m0).to(torch.float32)
    X = (gx / h - 0.5 - n0).to(torch.float32)
    R = (gr / h).to(torch.float32)
    near = (Y + R >= 0) & (Hs - 1 >= Y - R) & (X + R >= 0) & (Ws - 1 >= X - R)
    X, Y, R = X[near], Y[near], R[near]
    diff = torch.zeros(Hs * (Ws + 1), dtype=torch.float32)
    if X.numel() == 0:
        return diff.view(Hs, Ws + 1)[:, :Ws]
    m_first = torch.ceil(Y - R)
    span = int((torch.floor(Y + R) - m_first).max().item()) + 1
    R2 = R * R
    for dm in range(span):
        m = m_first + dm
        dy = m - Y
        half = torch.sqrt((R2 - dy * dy).clamp(min=0))
        n_lo = torch.ceil(X - half).clamp(min=0)
        n_hi = torch.floor(X + half).clamp(max=Ws - 1)
        ok = (dy.abs() <= R) & (m >= 0) & (m <= Hs - 1) & (n_hi >= n_lo)
        # runs that are not on the band add 0 at a clamped (valid) place: no compaction needed
        row = m.clamp(0, Hs - 1).long() * (Ws + 1)
        weight = ok.to(torch.float32)
        diff.index_add_(0, row + n_lo.clamp(max=Ws).long(), weight)
        diff.index_add_(0, row + (n_hi + 1).clamp(min=0, max=Ws).long(), -weight)
    counts = diff.view(Hs, Ws + 1).cumsum(1)[:, :Ws]
    return (counts > 0.5).to(torch.float32)


def render_boolean_reference(
    x: torch.Tensor,
    params: BooleanGrain | Sequence[BooleanGrain],
    generator: torch.Generator | None = None,
    zoom: float = 1.0,
    chunk: int = 1 << 18,
) -> torch.Tensor:
    """Render Boolean grain with the paper's pixel-wise Monte Carlo algorithm (vectorised).

    For each channel: draw the disks (:func:`boolean_grains`, the same stream as
    :func:`render_boolean`), then ``N = samples`` Gaussian offsets :math:`\\xi_k` of standard
    deviation ``blur``, shared by every pixel; output pixel ``p`` is the fraction of the points
    :math:`p + \\xi_k` that lie in a disk (each point checks the disks of its own and neighbouring
    cells). Cost: pixels x N x disks per neighbourhood; use it on crops.

    Args:
        x, params, generator, zoom: as :func:`render_boolean`.
        chunk: sample points checked at once (memory).

    Returns:
        ``(B, C, round(H zoom), round(W zoom))`` in [0, 1], float32.
    """
    per_channel, (Ho, Wo) = engine_setup(x, params, BooleanGrain, zoom)
    B, C, H, W = x.shape
    gen = generator if generator is not None else torch.Generator()
    out = torch.empty(B, C, Ho, Wo, dtype=torch.float32)
    for b in range(B):
        for c in range(C):
            grain = per_channel[c]
            grains = boolean_grains(x[b, c], grain, gen, zoom)
            offsets = grain.blur * torch.randn(grain.samples, 2, generator=gen, dtype=torch.float64)
            out[b, c] = _reference_channel(grains, grain, offsets, zoom, (Ho, Wo), chunk)
    return out


def _reference_channel(
    grains: GrainSet,
    grain: BooleanGrain,
    offsets: torch.Tensor,
    zoom: float,
    size: tuple[int, int],
    chunk: int,
) -> torch.Tensor:
    Ho, Wo = size
    rows, cols = grains.grid
    ncell = rows * cols
    start = torch.searchsorted(grains.cell, torch.arange(ncell + 1))
    per_cell = int((start[1:] - start[:-1]).max().item()) if ncell else 0
    reach = math.ceil(grain.max_radius)
    yy, xx = torch.meshgrid(
        (torch.arange(Ho, dtype=torch.float64) + 0.5) / zoom,
        (torch.arange(Wo, dtype=torch.float64) + 0.5) / zoom,
        indexing="ij",
    )
    px = (xx.reshape(-1, 1) + offsets[:, 0]).reshape(-1)  # pixel-major, N points each
    py = (yy.reshape(-1, 1) + offsets[:, 1]).reshape(-1)
    hit = torch.zeros(px.numel(), dtype=torch.bool)
    k = torch.arange(per_cell)
    for s in range(0, px.numel(), chunk):
        x, y = px[s : s + chunk], py[s : s + chunk]
        cx = torch.floor(x).long() + grains.pad
        cy = torch.floor(y).long() + grains.pad
        inside = torch.zeros(x.numel(), dtype=torch.bool)
        for dy in range(-reach, reach + 1):
            for dx in range(-reach, reach + 1):
                ny, nx = cy + dy, cx + dx
                valid = (ny >= 0) & (ny < rows) & (nx >= 0) & (nx < cols)
                cell = (ny * cols + nx).clamp(0, max(ncell - 1, 0))
                first, last = start[cell], start[cell + 1]
                idx = first[:, None] + k[None, :]  # (points, per_cell)
                ok = (idx < last[:, None]) & valid[:, None]
                idx = idx.clamp(max=max(grains.x.numel() - 1, 0))
                if grains.x.numel() == 0:
                    continue
                d2 = (grains.x[idx] - x[:, None]) ** 2 + (grains.y[idx] - y[:, None]) ** 2
                inside |= (ok & (d2 <= grains.r[idx] ** 2)).any(1)
        hit[s : s + chunk] = inside
    return hit.view(Ho * Wo, -1).to(torch.float32).mean(1).view(Ho, Wo)


def _disk_intersection(h: torch.Tensor, r: float) -> torch.Tensor:
    """Area shared by two disks of radius ``r`` whose centres are ``h`` apart."""
    hc = h.clamp(max=2 * r)
    area = 2 * r * r * torch.acos(hc / (2 * r)) - hc / 2 * torch.sqrt(
        (4 * r * r - hc * hc).clamp(min=0)
    )
    return torch.where(h < 2 * r, area, torch.zeros_like(area))


def boolean_autocovariance(
    u: float,
    grain: BooleanGrain,
    lags: Sequence[tuple[float, float]] | torch.Tensor,
    zoom: float = 1.0,
    samples: int | None = None,
    resolution: int = 241,
) -> torch.Tensor:
    """Closed-form autocovariance of the rendered model on a flat field (constant radius).

    .. math::

        \\mathrm{cov}(d) = \\int C(|z|)\\, G_{\\sqrt 2 \\sigma_f}(z - d)\\, dz

    with :math:`C` the indicator's covariance (module docstring), computed by quadrature on a
    ``resolution x resolution`` grid over the disk :math:`|z| \\le 2r` where :math:`C` lives.
    ``samples=N`` gives instead the expectation for the reference renderer with ``N`` shared
    offsets, :math:`C(d)/N + (1 - 1/N)\\,\\mathrm{cov}(d)`.

    Args:
        u: grey level in [0, :data:`U_MAX`].
        grain: the model (``radius_sigma`` must be 0).
        lags: ``(rows, cols)`` lags in output pixels.
        zoom: output pixels per input pixel.
        samples: see above.
        resolution: quadrature points per axis.

    Returns:
        ``(len(lags),)`` covariance, float64 (grey levels on the [0, 1] scale).

    Example:
        >>> g = BooleanGrain(radius=0.5, blur=0.8)
        >>> round(float(boolean_autocovariance(0.5, g, [(0, 0)])[0]), 4)  # filtered variance
        0.0183
        >>> round(float(boolean_autocovariance(0.5, g, [(0, 0)], samples=1)[0]), 4)  # u (1 - u)
        0.25
    """
    if grain.radius_sigma != 0:
        raise RestorekitError("the closed form is for a constant radius (radius_sigma 0)")
    if not 0 <= u <= U_MAX:
        raise RestorekitError(f"u must be in [0, {U_MAX}], got {u!r}")
    table = boolean_covariance_table([u], grain.radius, grain.blur, lags, zoom, resolution)[0]
    if samples is not None:
        d = torch.as_tensor(lags, dtype=torch.float64).reshape(-1, 2) / zoom
        lam = float(boolean_intensity(torch.tensor([u]), grain)[0])
        point = (1 - u) ** 2 * torch.expm1(lam * _disk_intersection(d.norm(dim=1), grain.radius))
        table = point / samples + (1 - 1 / samples) * table
    return table


def boolean_covariance_table(
    levels: Sequence[float] | torch.Tensor,
    radius: float,
    blur: float,
    lags: Sequence[tuple[float, float]] | torch.Tensor,
    zoom: float = 1.0,
    resolution: int = 241,
) -> torch.Tensor:
    """:func:`boolean_autocovariance` for several grey levels at once (constant radius).

    Returns:
        ``(len(levels), len(lags))`` float64.
    """
    r = float(radius)
    u = torch.as_tensor(levels, dtype=torch.float64).reshape(-1).clamp(0, U_MAX)
    lam = -torch.log1p(-u) / (math.pi * r * r)
    d = torch.as_tensor(lags, dtype=torch.float64).reshape(-1, 2) / zoom  # input pixels
    t = torch.linspace(-2 * r, 2 * r, resolution, dtype=torch.float64)
    zy, zx = torch.meshgrid(t, t, indexing="ij")
    dz = (t[1] - t[0]) ** 2
    gamma = _disk_intersection(torch.sqrt(zx**2 + zy**2), r).reshape(-1)  # (res^2,)
    C = (1 - u)[:, None] ** 2 * torch.expm1(lam[:, None] * gamma[None])  # (K, res^2)
    var2 = 2 * blur**2
    dist2 = (zy.reshape(1, -1) - d[:, :1]) ** 2 + (zx.reshape(1, -1) - d[:, 1:]) ** 2
    G = torch.exp(-dist2 / (2 * var2)) / (2 * math.pi * var2)  # (lags, res^2)
    return C @ G.T * dz


def boolean_flat_spectrum(
    levels: Sequence[float] | torch.Tensor,
    radius: float,
    blur: float,
    size: int = 64,
    rings: int = 16,
    reach: int = 12,
    resolution: int = 121,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Closed-form variance and radially averaged power spectrum of the model's grain on flat
    fields (constant radius): the Fourier transform of :func:`boolean_covariance_table` over the
    lags within ``reach`` pixels, on a ``size x size`` frequency grid, averaged over the rings of
    :func:`restorekit.metrics.grain.radial_power_spectrum` (so it is what that function measures
    on a large render, in expectation).

    Returns:
        ``(len(levels),)`` variance and ``(len(levels), rings)`` spectrum, float64.

    Example:
        >>> var, spec = boolean_flat_spectrum([0.5], 0.5, 0.8, size=32, rings=4)
        >>> round(float(var[0]), 4), bool((spec[0, :-1] > spec[0, 1:]).all())  # low-pass
        (0.0183, True)
    """
    from restorekit.metrics.grain import ring_weights

    k = torch.arange(-reach, reach + 1, dtype=torch.float64)
    lags = torch.cartesian_prod(k, k)  # (rows, cols)
    cov = boolean_covariance_table(levels, radius, blur, lags, resolution=resolution)
    f = torch.fft.fftfreq(size, dtype=torch.float64)
    phase = 2 * math.pi * (f[:, None, None] * lags[:, 0] + f[None, :, None] * lags[:, 1])
    power = torch.einsum("kl,hwl->khw", cov, torch.cos(phase))  # even covariance: real
    spectrum = torch.einsum("khw,hwr->kr", power, ring_weights(size, size, rings))
    return cov[:, len(lags) // 2], spectrum


def boolean_covariance_integral(
    levels: Sequence[float] | torch.Tensor, radius: float, zoom: float = 1.0, resolution: int = 241
) -> torch.Tensor:
    """:math:`\\int \\mathrm{cov}(d)\\, dd` over all lags, in output pixels squared (the noise
    power at zero frequency; the filter does not change it): what removing a block's mean or
    plane takes from its measured autocovariance (about this times fitted parameters / pixels).

    Returns:
        ``(len(levels),)`` float64.
    """
    r = float(radius)
    u = torch.as_tensor(levels, dtype=torch.float64).reshape(-1).clamp(0, U_MAX)
    lam = -torch.log1p(-u) / (math.pi * r * r)
    t = torch.linspace(-2 * r, 2 * r, resolution, dtype=torch.float64)
    zy, zx = torch.meshgrid(t, t, indexing="ij")
    gamma = _disk_intersection(torch.sqrt(zx**2 + zy**2), r).reshape(-1)
    C = (1 - u)[:, None] ** 2 * torch.expm1(lam[:, None] * gamma[None])
    return C.sum(1) * (t[1] - t[0]) ** 2 * zoom**2
