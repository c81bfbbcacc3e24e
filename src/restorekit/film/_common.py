"""What every grain engine checks first: the image, one parameter set per channel, the zoom."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import TypeVar

import torch

from restorekit._checks import check_image
from restorekit.errors import RestorekitError

P = TypeVar("P")


def engine_setup(
    x: torch.Tensor, params: P | Sequence[P], kind: type[P], zoom: float
) -> tuple[list[P], tuple[int, int]]:
    """Check an engine's call; return its parameters per channel and the output size.

    Args:
        x: ``(B, C, H, W)`` image.
        params: one ``kind`` for every channel, or a sequence of one per channel.
        kind: the engine's parameter class.
        zoom: output size over input size, finite and > 0.

    Returns:
        ``(per_channel, (round(H zoom), round(W zoom)))`` (each side at least 1).

    Example:
        >>> engine_setup(torch.zeros(1, 3, 10, 8), 0.5, float, 1.5)
        ([0.5, 0.5, 0.5], (15, 12))
    """
    check_image(x, name="image")
    if isinstance(zoom, bool) or not (
        isinstance(zoom, (int, float)) and math.isfinite(zoom) and zoom > 0
    ):
        raise RestorekitError(f"zoom must be a finite number > 0, got {zoom!r}")
    C, H, W = x.shape[1:]
    if isinstance(params, kind):
        per = [params] * C
    else:
        per = list(params)  # type: ignore[arg-type]
        if len(per) != C or not all(isinstance(p, kind) for p in per):
            raise RestorekitError(
                f"give one {kind.__name__}, or one per channel ({C}), got {len(per)} values"
            )
    return per, (max(1, round(H * zoom)), max(1, round(W * zoom)))
