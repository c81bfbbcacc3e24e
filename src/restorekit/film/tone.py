"""Film tone: parametric operators of our own for the tonal side of a film look.

Three operators, each a pure function with its parameters in a frozen dataclass:

- :func:`crosstalk` mixes the channels in linear light with a 3x3 matrix whose rows sum to 1
  (greys stay grey): the dye layers' unwanted absorptions that make film colours purer or
  muddier;
- :func:`halation` adds a glow around highlights in linear light, mostly in red: light that
  went through the emulsion, reflected off the film base and came back into the red-sensitive
  layer. The glow is the part of the luminance above ``threshold``, blurred by a Gaussian of
  ``radius`` pixels (computed at a reduced resolution when the radius is large, so a 12 MP image
  costs little), added with per-channel ``tint`` times ``strength``;
- :func:`characteristic_curve` shapes the sRGB-encoded values per channel with a toe and a
  shoulder (film's S-curve), then maps [0, 1] to [black, white] (a print's faded blacks and
  dim whites):

  .. math::

      y = x - t\\,x (1 - x)^2 + s\\,x^2 (1 - x), \\qquad
      out = b + (w - b)\\,y,

  with toe ``t`` and shoulder ``s`` in [0, 1]. The cubic keeps 0 and 1 fixed and is monotone on
  [0, 1] for those ranges: its slope is ``1 - t`` at black and ``1 - s`` at white, and the two
  bumps never overlap (the toe's negative slope lies below 1/3, the shoulder's above 2/3).

:func:`apply_tone` runs them in that order (cross-talk, halation, curve) with a :class:`FilmTone`;
:data:`TONE_PRESETS` holds a few named settings of our own.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

from restorekit._checks import check_image
from restorekit.color import srgb_decode, srgb_encode
from restorekit.errors import RestorekitError

__all__ = [
    "TONE_PRESETS",
    "CharacteristicCurve",
    "FilmTone",
    "Halation",
    "apply_tone",
    "characteristic_curve",
    "crosstalk",
    "halation",
    "tone_preset",
]


def _triple(value: float | Sequence[float], name: str, lo: float, hi: float) -> tuple[float, ...]:
    values = (value,) * 3 if isinstance(value, (int, float)) else tuple(value)
    if len(values) != 3 or not all(
        isinstance(v, (int, float)) and not isinstance(v, bool) and lo <= v <= hi for v in values
    ):
        raise RestorekitError(
            f"{name} must be a number in [{lo:g}, {hi:g}] or three, got {value!r}"
        )
    return tuple(float(v) for v in values)


@dataclass(frozen=True)
class CharacteristicCurve:
    """Per-channel (R, G, B) toe and shoulder in [0, 1], output black and white levels."""

    toe: tuple[float, ...] = (0.0, 0.0, 0.0)
    shoulder: tuple[float, ...] = (0.0, 0.0, 0.0)
    black: tuple[float, ...] = (0.0, 0.0, 0.0)
    white: tuple[float, ...] = (1.0, 1.0, 1.0)

    def __post_init__(self) -> None:
        for name in ("toe", "shoulder", "black", "white"):
            object.__setattr__(self, name, _triple(getattr(self, name), name, 0, 1))
        if not all(b < w for b, w in zip(self.black, self.white, strict=True)):
            raise RestorekitError(f"black must be below white, got {self.black} and {self.white}")


@dataclass(frozen=True)
class Halation:
    """Glow around highlights: luminance above ``threshold`` (linear), blurred by ``radius``
    pixels, added with ``tint`` (R, G, B) times ``strength``."""

    strength: float = 0.0
    radius: float = 12.0
    threshold: float = 0.7
    tint: tuple[float, ...] = (1.0, 0.35, 0.08)

    def __post_init__(self) -> None:
        if not 0 <= self.strength <= 4:
            raise RestorekitError(f"halation strength must be in [0, 4], got {self.strength}")
        if not 0.5 <= self.radius <= 500:
            raise RestorekitError(f"halation radius must be in [0.5, 500] px, got {self.radius}")
        if not 0 <= self.threshold < 1:
            raise RestorekitError(f"halation threshold must be in [0, 1), got {self.threshold}")
        object.__setattr__(self, "tint", _triple(self.tint, "halation tint", 0, 1))


@dataclass(frozen=True)
class FilmTone:
    """Cross-talk matrix (rows sum to 1), halation and characteristic curve, applied in order."""

    matrix: tuple[tuple[float, ...], ...] = ((1.0, 0.0, 0.0), (0.0, 1.0, 0.0), (0.0, 0.0, 1.0))
    halation: Halation = field(default_factory=Halation)
    curve: CharacteristicCurve = field(default_factory=CharacteristicCurve)

    def __post_init__(self) -> None:
        rows = tuple(tuple(float(v) for v in row) for row in self.matrix)
        if len(rows) != 3 or any(len(r) != 3 for r in rows):
            raise RestorekitError(f"the cross-talk matrix must be 3x3, got {self.matrix!r}")
        if any(abs(sum(r) - 1) > 1e-6 for r in rows):
            raise RestorekitError(
                f"each cross-talk row must sum to 1 (greys stay grey), got {rows}"
            )
        object.__setattr__(self, "matrix", rows)


def crosstalk(x: torch.Tensor, matrix: Sequence[Sequence[float]]) -> torch.Tensor:
    """Mix the channels of a linear RGB image ``(B, 3, H, W)``: ``out_i = sum_j M_ij x_j``."""
    check_image(x, channels=3)
    m = torch.tensor(matrix, dtype=x.dtype, device=x.device)
    return torch.einsum("ij,bjhw->bihw", m, x)


def _gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Separable Gaussian blur (radius 3 sigma, reflected borders) of ``(B, C, H, W)``."""
    r = max(1, math.ceil(3 * sigma))
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    k = torch.exp(-0.5 * (t / sigma) ** 2)
    k = k / k.sum()
    C = x.shape[1]
    mode = "reflect" if min(x.shape[-2:]) > r else "replicate"
    y = F.conv2d(
        F.pad(x, (r, r, 0, 0), mode=mode), k.view(1, 1, 1, -1).repeat(C, 1, 1, 1), groups=C
    )
    return F.conv2d(
        F.pad(y, (0, 0, r, r), mode=mode), k.view(1, 1, -1, 1).repeat(C, 1, 1, 1), groups=C
    )


def halation(x: torch.Tensor, params: Halation) -> torch.Tensor:
    """Add halation to a linear RGB image ``(B, 3, H, W)`` (see the module docstring).

    Blurs wider than 4 px run on a copy reduced by ``floor(radius / 4)`` (area average) and
    enlarged back (bilinear): the glow has no detail finer than its radius.
    """
    check_image(x, channels=3)
    if params.strength == 0:
        return x
    luminance = (0.2126 * x[:, 0:1] + 0.7152 * x[:, 1:2] + 0.0722 * x[:, 2:3]).clamp(min=0)
    bright = (luminance - params.threshold).clamp(min=0) / (1 - params.threshold)
    H, W = x.shape[-2:]
    factor = max(1, min(int(params.radius // 4), H, W))
    small = F.avg_pool2d(bright, factor, ceil_mode=True) if factor > 1 else bright
    glow = _gaussian_blur(small, params.radius / factor)
    if factor > 1:
        glow = F.interpolate(glow, size=(H, W), mode="bilinear", align_corners=False)
    tint = torch.tensor(params.tint, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)
    return x + params.strength * tint * glow


def characteristic_curve(x: torch.Tensor, curve: CharacteristicCurve) -> torch.Tensor:
    """Toe / shoulder S-curve and black / white levels per channel on sRGB-encoded ``x``.

    The cubic of the module docstring, expanded and scaled by the output range, is evaluated
    by Horner's rule: ``b + u (c1 + u (c2 + u c3))`` with ``c1 = (w - b)(1 - t)``,
    ``c2 = (w - b)(2t + s)``, ``c3 = -(w - b)(t + s)``.
    """
    check_image(x, channels=3)

    def coefficient(values: list[float]) -> torch.Tensor:
        return torch.tensor(values, dtype=x.dtype, device=x.device).view(1, 3, 1, 1)

    rows = list(zip(curve.toe, curve.shoulder, curve.black, curve.white, strict=True))
    c1 = coefficient([(w - b) * (1 - t) for t, s, b, w in rows])
    c2 = coefficient([(w - b) * (2 * t + s) for t, s, b, w in rows])
    c3 = coefficient([-(w - b) * (t + s) for t, s, b, w in rows])
    black = coefficient(list(curve.black))
    u = x.clamp(0, 1)
    return torch.addcmul(black, u, torch.addcmul(c1, u, torch.addcmul(c2, u, c3)))


def apply_tone(x: torch.Tensor, tone: FilmTone) -> torch.Tensor:
    """Cross-talk and halation in linear light, then the curve on sRGB-encoded values.

    Args:
        x: ``(B, 3, H, W)`` sRGB-encoded in [0, 1].
        tone: the parameters.

    Returns:
        ``(B, 3, H, W)`` sRGB-encoded in [0, 1].

    Example:
        >>> grey = torch.full((1, 3, 4, 4), 0.5)
        >>> bool(torch.allclose(apply_tone(grey, FilmTone()), grey))
        True
    """
    check_image(x, channels=3)
    linear = srgb_decode(x.clamp(0, 1))
    linear = halation(crosstalk(linear, tone.matrix), tone.halation)
    return characteristic_curve(srgb_encode(linear.clamp(0, 1)), tone.curve).clamp(0, 1)


#: named tone settings of our own (no film stock is claimed)
TONE_PRESETS: dict[str, FilmTone] = {
    "neutral": FilmTone(),
    "soft-negative": FilmTone(
        matrix=((0.94, 0.04, 0.02), (0.03, 0.94, 0.03), (0.02, 0.05, 0.93)),
        halation=Halation(strength=0.25, radius=10, threshold=0.75),
        curve=CharacteristicCurve(
            toe=(0.25, 0.25, 0.3), shoulder=(0.45, 0.45, 0.4), black=(0.03, 0.03, 0.04)
        ),
    ),
    "vivid-slide": FilmTone(
        matrix=((1.12, -0.08, -0.04), (-0.05, 1.1, -0.05), (-0.03, -0.09, 1.12)),
        halation=Halation(strength=0.15, radius=8, threshold=0.8),
        curve=CharacteristicCurve(toe=0.55, shoulder=0.35),
    ),
    "faded-print": FilmTone(
        matrix=((0.9, 0.07, 0.03), (0.05, 0.9, 0.05), (0.03, 0.07, 0.9)),
        halation=Halation(strength=0.35, radius=14, threshold=0.7),
        curve=CharacteristicCurve(
            toe=0.2, shoulder=0.5, black=(0.08, 0.07, 0.09), white=(0.96, 0.95, 0.92)
        ),
    ),
}


def tone_preset(name: str) -> FilmTone:
    """A :data:`TONE_PRESETS` entry; an unknown name lists the known ones (closest first)."""
    from restorekit._checks import closest_names

    if name not in TONE_PRESETS:
        known = ", ".join(closest_names(name, list(TONE_PRESETS)))
        raise RestorekitError(f"unknown tone preset {name!r}; known: {known}")
    return TONE_PRESETS[name]
