"""The digital-to-film pipeline: look, then tone, then grain.

Colour domain: the image is sRGB-encoded in [0, 1] throughout, as the files hold it. A look
(3D LUT) maps sRGB to sRGB, as RawTherapee's Hald CLUTs and most ``.cube`` looks for photographs
do; the tone's cross-talk and halation work in linear light inside
:func:`~restorekit.film.tone.apply_tone` and its curve on the encoded values; grain is rendered
on the encoded result, the grey level the Boolean model's coverage stands for (as
``restorekit grain render`` does).
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from restorekit._checks import check_image
from restorekit.errors import RestorekitError
from restorekit.film.lut import LUT1D, LUT3D, apply_lut
from restorekit.film.tone import FilmTone, apply_tone

__all__ = ["film_pipeline"]


def film_pipeline(
    x: torch.Tensor,
    look: LUT3D | LUT1D | None = None,
    strength: float = 1.0,
    tone: FilmTone | None = None,
    grain: Callable[[torch.Tensor], torch.Tensor] | None = None,
    method: str = "tetrahedral",
    grain_amount: float = 1.0,
) -> torch.Tensor:
    """Make a digital image look as if shot on film.

    Args:
        x: ``(B, 3, H, W)`` sRGB-encoded in [0, 1].
        look: a LUT (or none), applied with ``strength`` in [0, 1] and ``method``.
        tone: film tone (or none).
        grain: a grain engine call ``image -> grainy image`` (or none), e.g.
            ``lambda t: render_learned(t, BooleanGrain(0.5), generator)``.
        method: the look's interpolation.
        grain_amount: in [0, 1]; the grain's deviation is scaled by it (``y + a (grain(y) - y)``):
            the Boolean model's grain at a given radius is as strong as physics makes it, and a
            photograph usually wants less.

    Returns:
        ``(B, 3, H, W)`` in [0, 1].

    Example:
        >>> from restorekit.film.lut import identity_lut
        >>> x = torch.rand(1, 3, 8, 8)
        >>> bool(torch.allclose(film_pipeline(x, identity_lut(5)), x, atol=1e-6))
        True
    """
    check_image(x, channels=3)
    y = x
    if look is not None:
        y = apply_lut(y, look, method, strength)
    if tone is not None:
        y = apply_tone(y, tone)
    if not 0 <= grain_amount <= 1:
        raise RestorekitError(f"the grain amount must be in [0, 1], got {grain_amount}")
    if grain is not None and grain_amount > 0:
        y = y.clamp(0, 1)
        y = y + grain_amount * (grain(y) - y)
    return y.clamp(0, 1)
