"""Input handling shared by the metrics: pair checks, border crop, optional Y channel, float64."""

from __future__ import annotations

from collections.abc import Sequence

import torch

from restorekit._checks import check_image, check_positive
from restorekit.errors import RestorekitError
from restorekit.metrics.color import rgb_to_y

__all__ = ["check_data_range", "check_pair", "crop_border", "prepare_pair"]


def check_pair(
    x: torch.Tensor,
    y: torch.Tensor,
    channels: Sequence[int] | int | None = (1, 3),
) -> None:
    """Check that ``x`` and ``y`` are images of one shape.

    Raises:
        RestorekitError: naming both shapes.

    Example:
        >>> check_pair(torch.zeros(1, 3, 8, 8), torch.zeros(1, 3, 8, 9))
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: x and y must have the same shape, got (1, 3, 8, 8) ...
    """
    check_image(x, channels=channels, name="x")
    check_image(y, channels=channels, name="y")
    if x.shape != y.shape:
        raise RestorekitError(
            f"x and y must have the same shape, got {tuple(x.shape)} and {tuple(y.shape)}"
        )


def crop_border(x: torch.Tensor, crop: int) -> torch.Tensor:
    """Remove ``crop`` pixels on every side.

    Example:
        >>> crop_border(torch.zeros(1, 1, 8, 10), 2).shape
        torch.Size([1, 1, 4, 6])
    """
    if isinstance(crop, bool) or not isinstance(crop, int) or crop < 0:
        raise RestorekitError(f"crop must be an int >= 0, got {crop!r}")
    if crop == 0:
        return x
    H, W = x.shape[-2:]
    if 2 * crop >= H or 2 * crop >= W:
        raise RestorekitError(
            f"crop={crop} removes the whole {H}x{W} image (need 2 * crop < height and width)"
        )
    return x[..., crop : H - crop, crop : W - crop]


def prepare_pair(
    x: torch.Tensor,
    y: torch.Tensor,
    crop: int = 0,
    y_only: bool = False,
    channels: Sequence[int] | int | None = (1, 3),
) -> tuple[torch.Tensor, torch.Tensor]:
    """Check a pair, convert RGB to BT.601 Y if asked, crop the border, cast to float64.

    Gray images are used as they are when ``y_only`` is set.

    Example:
        >>> x, y = torch.zeros(2, 3, 8, 8), torch.ones(2, 3, 8, 8)
        >>> a, b = prepare_pair(x, y, crop=1, y_only=True)
        >>> a.shape, a.dtype
        (torch.Size([2, 1, 6, 6]), torch.float64)
    """
    check_pair(x, y, channels=channels)
    x, y = x.to(torch.float64), y.to(torch.float64)
    if y_only and x.shape[1] == 3:
        x, y = rgb_to_y(x), rgb_to_y(y)
    return crop_border(x, crop), crop_border(y, crop)


def check_data_range(data_range: float) -> float:
    """Return ``data_range`` as a positive float (the peak-to-peak range of the images)."""
    return check_positive(data_range, "data_range", allow_zero=False)
