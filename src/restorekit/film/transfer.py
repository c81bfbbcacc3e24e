"""Classical unpaired colour transfer, baked into 3D LUTs: the baselines for looks learned
without pairs.

Both learn a colour map from the pixels of a set of plain images (source) to those of a set of
images with a look (target), never paired, and return it as a :class:`~restorekit.film.lut.LUT3D`
(the map evaluated on the LUT's grid), so it applies to new images and exports as ``.cube``:

- :func:`histogram_matching_lut`: per-channel histogram matching, each channel's source quantiles
  sent to the target's (``F_target^-1(F_source(v))``);
- :func:`sliced_transfer_lut`: Pitie, Kokaram and Dahyot's iterative distribution transfer (a
  sliced optimal-transport transfer): repeat "rotate the colour space at random, match the three
  1D marginals, rotate back"; the whole 3D distribution moves to the target's.

References:
    F. Pitie, A. C. Kokaram, R. Dahyot, "Automated colour grading using colour distribution
    transfer", Computer Vision and Image Understanding 107(1-2), 2007.
"""

from __future__ import annotations

import torch

from restorekit.errors import RestorekitError
from restorekit.film.lut import LUT3D, identity_lut

__all__ = ["histogram_matching_lut", "sliced_transfer_lut"]

_QUANTILES = 1024


def _pixels(x: torch.Tensor, name: str) -> torch.Tensor:
    if x.ndim != 2 or x.shape[1] != 3 or len(x) < 2:
        raise RestorekitError(f"{name} must be (N >= 2, 3) RGB rows, got {tuple(x.shape)}")
    return x.double()


def _match_1d(values: torch.Tensor, source: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Send ``values`` through the monotone map taking the quantiles of ``source`` to those of
    ``target`` (``_QUANTILES`` levels, linear in between; flat beyond the ends)."""
    q = torch.linspace(0, 1, _QUANTILES, dtype=torch.float64)
    xs = torch.quantile(source, q)
    ys = torch.quantile(target, q)
    xs = xs + torch.arange(_QUANTILES, dtype=torch.float64) * 1e-12  # strictly increasing
    i = torch.searchsorted(xs, values.contiguous()).clamp(1, _QUANTILES - 1)
    x0, x1, y0, y1 = xs[i - 1], xs[i], ys[i - 1], ys[i]
    t = ((values - x0) / (x1 - x0)).clamp(0, 1)
    return y0 + t * (y1 - y0)


def _subsample(x: torch.Tensor, n: int, generator: torch.Generator | None) -> torch.Tensor:
    if len(x) <= n:
        return x
    return x[torch.randperm(len(x), generator=generator)[:n]]


def histogram_matching_lut(source: torch.Tensor, target: torch.Tensor, size: int = 33) -> LUT3D:
    """Per-channel histogram matching from ``source`` pixels ``(N, 3)`` to ``target`` ``(M, 3)``.

    Example:
        >>> src = torch.rand(5000, 3)
        >>> lut = histogram_matching_lut(src, src**2, size=5)
        >>> round(lut.table[4, 4, 4, 0].item(), 2), round(lut.table[2, 2, 2, 0].item(), 2)
        (1.0, 0.25)
    """
    source, target = _pixels(source, "source"), _pixels(target, "target")
    grid = identity_lut(size, torch.float64).table.reshape(-1, 3)
    g = torch.Generator().manual_seed(0)
    source, target = _subsample(source, 2_000_000, g), _subsample(target, 2_000_000, g)
    out = torch.stack([_match_1d(grid[:, c], source[:, c], target[:, c]) for c in range(3)], 1)
    return LUT3D(out.reshape(size, size, size, 3).float())


def _random_rotation(generator: torch.Generator | None) -> torch.Tensor:
    q, r = torch.linalg.qr(torch.randn(3, 3, generator=generator, dtype=torch.float64))
    return q * torch.sign(torch.diagonal(r))  # uniform (Haar) orthogonal matrix


def sliced_transfer_lut(
    source: torch.Tensor,
    target: torch.Tensor,
    size: int = 33,
    iterations: int = 30,
    samples: int = 200_000,
    generator: torch.Generator | None = None,
) -> LUT3D:
    """Iterative distribution transfer (Pitie et al. 2007) from ``source`` to ``target`` pixels.

    Each iteration draws a random rotation, matches the three rotated marginals of the (moving)
    source sample to the target's, and moves the LUT's grid by the same maps.

    Args:
        source, target: ``(N, 3)`` and ``(M, 3)`` RGB rows in [0, 1].
        size: the LUT's entries per axis.
        iterations: rotations (Pitie et al. use about 20-30 for 3D colour).
        samples: pixels drawn from each set (the 1D matches need only their quantiles).
        generator: the random rotations and samples.
    """
    source, target = _pixels(source, "source"), _pixels(target, "target")
    if iterations < 1:
        raise RestorekitError(f"iterations must be >= 1, got {iterations}")
    src = _subsample(source, samples, generator).clone()
    tgt = _subsample(target, samples, generator)
    grid = identity_lut(size, torch.float64).table.reshape(-1, 3).clone()
    for _ in range(iterations):
        R = _random_rotation(generator)
        ps, pt, pg = src @ R, tgt @ R, grid @ R
        ms = torch.stack([_match_1d(ps[:, k], ps[:, k], pt[:, k]) for k in range(3)], 1)
        mg = torch.stack([_match_1d(pg[:, k], ps[:, k], pt[:, k]) for k in range(3)], 1)
        src = src + (ms - ps) @ R.T
        grid = grid + (mg - pg) @ R.T
    return LUT3D(grid.clamp(0, 1).reshape(size, size, size, 3).float())
