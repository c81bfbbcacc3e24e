"""Argument checks and the batch reduction shared by every loss."""

from __future__ import annotations

import torch

from restorekit._checks import closest_names
from restorekit.errors import RestorekitError

__all__ = ["REDUCTIONS", "check_reduction", "reduce_batch"]

#: ``"mean"``: one scalar, the mean over the batch; ``"none"``: one value per sample, ``(B,)``.
REDUCTIONS: tuple[str, ...] = ("mean", "none")


def check_reduction(reduction: str) -> str:
    """Return ``reduction`` if it is one of :data:`REDUCTIONS`.

    Example:
        >>> check_reduction("none")
        'none'
        >>> check_reduction("sum")
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: unknown reduction 'sum'; known: mean, none
    """
    if reduction not in REDUCTIONS:
        known = ", ".join(closest_names(str(reduction), REDUCTIONS))
        raise RestorekitError(f"unknown reduction {reduction!r}; known: {known}")
    return reduction


def reduce_batch(values: torch.Tensor, reduction: str) -> torch.Tensor:
    """Reduce per-sample loss values ``(B,)`` to a scalar mean, or keep them (``"none"``).

    Example:
        >>> reduce_batch(torch.tensor([1.0, 3.0]), "mean")
        tensor(2.)
    """
    return values.mean() if check_reduction(reduction) == "mean" else values
