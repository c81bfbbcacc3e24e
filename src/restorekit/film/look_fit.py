"""Learn a 3D LUT from example pairs (before, after): regularised least squares on the table.

With the interpolation fixed, a LUT's output is linear in its table: each colour is a weighted sum
of 4 (tetrahedral) or 8 (trilinear) table rows (:func:`~restorekit.film.lut.lut_stencil`). The
fit minimises, over the table ``T`` (``n^3`` rows, one column per output channel),

.. math::

    \\frac{1}{P} \\sum_p \\lVert A_p T - y_p \\rVert^2
    + \\lambda_s \\sum_{\\text{neighbours } i, j} \\lVert (T_i - I_i) - (T_j - I_j) \\rVert^2
    + \\lambda_m \\sum_c \\sum_{i \\to j \\text{ along } c} \\max(0, T_{i,c} - T_{j,c})^2,

the data term over all ``P`` pixels of the pairs, the smoothness term of Zeng et al. (squared
differences between neighbouring entries along r, g and b; here of the table's offset from the
identity ``I``, so that it pulls towards a smooth change of colour rather than towards a flat
table) and their monotonicity term (output
channel c must not decrease along input axis c; squared hinge here, so the problem stays smooth).
Pixels with the same input colour are merged first (their mean output, weighted by their count),
so 100 photographs become about a million distinct colours; the normal equations are a sparse
``n^3 x n^3`` system solved by conjugate gradients from the identity, then a few active-set rounds
add the monotonicity penalty where the table decreases. Entries that no example reaches are
filled by the smoothness term: the look's offsets nearby carry on smoothly (a discrete harmonic
extension of ``T - I``).

References:
    H. Zeng, J. Cai, L. Li, Z. Cao, L. Zhang, "Learning image-adaptive 3D lookup tables for high
    performance photo enhancement in real-time", IEEE TPAMI 44(4), 2022 (smoothness and
    monotonicity regularisers).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np
import torch

from restorekit._checks import check_image
from restorekit.errors import RestorekitError
from restorekit.film.lut import INTERPOLATIONS, LUT3D, identity_lut, lut_stencil

__all__ = ["ColourSamples", "LutFit", "colour_samples", "fit_lut"]

#: a table step more negative than this (one 16-bit code) counts as decreasing
_TOLERANCE = 1 / 65535
#: relative residual at which conjugate gradients stop (the table is then exact to ~1e-6)
_RTOL = 1e-7


@dataclass(frozen=True)
class ColourSamples:
    """Distinct input colours ``(U, 3)``, the mean output of each ``(U, 3)`` and the pixel count
    of each ``(U,)`` (float64 / int64)."""

    inputs: torch.Tensor
    outputs: torch.Tensor
    counts: torch.Tensor

    @property
    def pixels(self) -> int:
        return int(self.counts.sum())


def colour_samples(pairs: Iterable[tuple[torch.Tensor, torch.Tensor]]) -> ColourSamples:
    """Merge the pixels of ``(before, after)`` image pairs by input colour (16-bit bins).

    Args:
        pairs: ``(before, after)``, each ``(B, 3, H, W)`` in [0, 1], the same shape.

    Example:
        >>> x = torch.tensor([0.0, 0.0, 1.0]).view(1, 3, 1, 1).expand(1, 3, 2, 2)
        >>> s = colour_samples([(x, x * 0.5)])
        >>> s.counts.tolist(), s.outputs.tolist()
        ([4], [[0.0, 0.0, 0.5]])
    """
    keys, ins, outs = [], [], []
    for before, after in pairs:
        check_image(before, channels=3, name="before image")
        check_image(after, channels=3, name="after image")
        if before.shape != after.shape:
            raise RestorekitError(
                f"a before/after pair must have the same size, got {tuple(before.shape[-2:])} "
                f"and {tuple(after.shape[-2:])}"
            )
        v = before.detach().permute(0, 2, 3, 1).reshape(-1, 3).double().clamp(0, 1)
        q = (v * 65535).round().long()
        keys.append((q[:, 0] << 32) | (q[:, 1] << 16) | q[:, 2])
        ins.append(v)
        outs.append(after.detach().permute(0, 2, 3, 1).reshape(-1, 3).double())
    if not keys:
        raise RestorekitError("no example pairs to fit a look to")
    key = torch.cat(keys)
    unique, inverse, counts = torch.unique(key, return_inverse=True, return_counts=True)
    U = len(unique)

    def mean(rows: list[torch.Tensor]) -> torch.Tensor:
        total = torch.zeros(U, 3, dtype=torch.float64).index_add_(0, inverse, torch.cat(rows))
        return total / counts[:, None]

    return ColourSamples(mean(ins), mean(outs), counts)


@dataclass(frozen=True)
class LutFit:
    """What a fit did: the table, its data error, the monotonicity it reached, the time."""

    lut: LUT3D
    rmse: float  # over all example pixels, [0, 1] scale
    decreasing: int  # table steps that still decrease (by more than a 16-bit code) along their axis
    rounds: int  # active-set rounds of the monotonicity penalty
    seconds: float


def _neighbour_differences(n: int):
    """Sparse ``D`` with one row per pair of neighbouring entries (along r, g, b): T_j - T_i, and
    the axis of each row."""
    import scipy.sparse as sp

    ids = np.arange(n**3).reshape(n, n, n)
    lo = [np.take(ids, range(n - 1), axis=a).ravel() for a in range(3)]
    hi = [np.take(ids, range(1, n), axis=a).ravel() for a in range(3)]
    i, j = np.concatenate(lo), np.concatenate(hi)
    m = len(i)
    rows = np.r_[np.arange(m), np.arange(m)]
    D = sp.csr_matrix((np.r_[-np.ones(m), np.ones(m)], (rows, np.r_[i, j])), shape=(m, n**3))
    axis = np.repeat(np.arange(3), m // 3)
    return D, axis


def fit_lut(
    samples: ColourSamples,
    size: int = 33,
    method: str = "tetrahedral",
    smoothness: float = 1e-6,
    monotonicity: float = 1e-2,
    max_rounds: int = 8,
    progress: Callable[[str], None] | None = None,
) -> LutFit:
    """Fit a ``size``^3 LUT to example colours (see the module docstring for the objective).

    Args:
        samples: from :func:`colour_samples`.
        size: entries per axis (33 is the colourists' usual size; 2..129).
        method: the interpolation the LUT will be applied with (``tetrahedral`` or
            ``trilinear``); the fit is exact for that one.
        smoothness: lambda_s (the data term is a mean over pixels, so it does not grow with the
            number of examples).
        monotonicity: lambda_m; 0 turns the penalty off.
        max_rounds: active-set rounds of the monotonicity penalty at most.
        progress: called with a line per stage.

    Returns:
        A :class:`LutFit`; ``fit.lut`` has the unit domain, no shaper.
    """
    import scipy.sparse as sp
    from scipy.sparse.linalg import cg

    if isinstance(size, bool) or not isinstance(size, int) or not 2 <= size <= 129:
        raise RestorekitError(f"a LUT size must be an integer in [2, 129], got {size!r}")
    if method not in INTERPOLATIONS:
        raise RestorekitError(
            f"unknown LUT interpolation {method!r}; known: {', '.join(INTERPOLATIONS)}"
        )
    for name, value in (("smoothness", smoothness), ("monotonicity", monotonicity)):
        if not value >= 0:
            raise RestorekitError(f"{name} must be >= 0, got {value}")
    say = progress or (lambda _: None)
    start = time.perf_counter()
    n = size
    identity = identity_lut(n, torch.float64)
    idx, w = lut_stencil(samples.inputs, identity, method)
    U, K = idx.shape
    weight = (samples.counts.double() / samples.pixels).sqrt()  # mean over pixels
    A = sp.csr_matrix(
        ((w * weight[:, None]).numpy().ravel(), (np.repeat(np.arange(U), K), idx.numpy().ravel())),
        shape=(U, n**3),
    )
    D, axis = _neighbour_differences(n)
    start_table = identity.table.reshape(-1, 3).numpy()
    # smoothness on T - identity: where no example reaches, the look's nearby offsets carry on
    g = A.T @ (samples.outputs * weight[:, None]).numpy() + smoothness * (D.T @ (D @ start_table))
    H = (A.T @ A + smoothness * (D.T @ D)).tocsr()
    say(f"{U} distinct colours from {samples.pixels} pixels; solving {n}^3 x 3")

    def solve(matrices: list, x0: np.ndarray) -> np.ndarray:
        """Conjugate gradients per output channel, Jacobi-preconditioned, from ``x0``."""
        cols = []
        for c, matrix in enumerate(matrices):
            jacobi = sp.diags(1 / matrix.diagonal())
            sol, info = cg(matrix, g[:, c], x0=x0[:, c], rtol=_RTOL, maxiter=5000, M=jacobi)
            if info < 0:
                raise RestorekitError(f"the LUT fit's solver failed (scipy cg code {info})")
            cols.append(sol)
        return np.stack(cols, axis=1)

    def decreasing(table: np.ndarray) -> np.ndarray:
        # each difference row measures the output channel of its own axis
        steps = np.stack([D @ table[:, c] for c in range(3)], axis=1)
        return steps[np.arange(len(axis)), axis] < -_TOLERANCE

    table = solve([H] * 3, start_table)
    active = decreasing(table)
    rounds = 0
    weight_m = monotonicity
    while monotonicity > 0 and active.any() and rounds < max_rounds:
        rounds += 1
        # the squared hinge on the steps that decreased so far, per output channel
        mats = []
        for c in range(3):
            Dc = D[np.flatnonzero(active & (axis == c))]
            mats.append((H + weight_m * (Dc.T @ Dc)).tocsr())
        table = solve(mats, table)
        now = decreasing(table)
        say(f"monotonicity round {rounds}: {int(now.sum())} decreasing steps")
        if not now.any():
            break
        if not (now & ~active).any():
            weight_m *= 10  # the same steps still decrease: press harder
        active = active | now
    residual = A @ table - (samples.outputs * weight[:, None]).numpy()  # the data term alone
    rmse = float(np.sqrt((residual**2).sum() / 3))
    lut = LUT3D(torch.from_numpy(table).reshape(n, n, n, 3).float())
    return LutFit(lut, rmse, int(decreasing(table).sum()), rounds, time.perf_counter() - start)
