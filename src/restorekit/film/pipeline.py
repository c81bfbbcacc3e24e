"""The digital-to-film pipeline: look, then tone, then grain.

Colour domain: the image is sRGB-encoded in [0, 1] throughout, as the files hold it. A look
(3D LUT) maps sRGB to sRGB, as RawTherapee's Hald CLUTs and most ``.cube`` looks for photographs
do; the tone's cross-talk and halation work in linear light inside
:func:`~restorekit.film.tone.apply_tone` and its curve on the encoded values; grain is rendered
on the encoded result, the grey level the Boolean model's coverage stands for (as
``restorekit grain render`` does).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from restorekit._checks import check_image
from restorekit.errors import RestorekitError
from restorekit.film.lut import LUT1D, LUT3D, apply_lut
from restorekit.film.tone import FilmTone, apply_tone

TYPE_CHECKING = False
if TYPE_CHECKING:
    from restorekit.film.av1 import AV1GrainParams
    from restorekit.film.boolean import BooleanGrain

__all__ = ["GRAIN_ENGINES", "blend_grain", "film_pipeline", "render_grain"]

#: the grain engines :func:`render_grain` runs by name
GRAIN_ENGINES = ("boolean", "gaussian", "av1", "learned", "boolean-reference")


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
        y = blend_grain(y, grain(y), grain_amount)
    return y.clamp(0, 1)


def blend_grain(clean: torch.Tensor, grainy: torch.Tensor, amount: float) -> torch.Tensor:
    """``clean + amount (grainy - clean)``, clipped to [0, 1]; ``clean`` is enlarged (nearest
    neighbour, as the grain engines do) when ``grainy`` is a zoomed render."""
    import torch.nn.functional as F

    if clean.shape[-2:] != grainy.shape[-2:]:
        clean = F.interpolate(clean, size=grainy.shape[-2:], mode="nearest")
    return (clean + amount * (grainy - clean)).clamp(0, 1)


def render_grain(
    engine: str,
    x: torch.Tensor,
    params: Sequence[BooleanGrain] | None,
    generator: torch.Generator | None,
    zoom: float = 1.0,
    progress: Callable[[int], None] | None = None,
    av1: AV1GrainParams | None = None,
) -> torch.Tensor:
    """Render grain with the engine named ``engine`` (one of :data:`GRAIN_ENGINES`): what
    ``restorekit grain render`` and the local web page call.

    Args:
        engine: ``boolean``, ``boolean-reference``, ``gaussian`` (its spectrum and variance
            from the Boolean parameters, constant radius only), ``learned`` or ``av1``.
        x: ``(B, C, H, W)`` in [0, 1].
        params: the Boolean parameters per channel (not used by ``av1``).
        generator: the random source (``av1`` draws from its own seed instead).
        zoom: output size over input size.
        progress: called with rows finished, where the engine reports them.
        av1: the AV1 film grain parameters of ``engine="av1"``.
    """
    if engine == "boolean":
        from restorekit.film.boolean import render_boolean

        return render_boolean(x, params, generator, zoom=zoom, progress=progress)
    if engine == "boolean-reference":
        from restorekit.film.boolean import render_boolean_reference

        return render_boolean_reference(x, params, generator, zoom=zoom)
    if engine == "learned":
        from restorekit.film.learned import render_learned

        return render_learned(x, params, generator, zoom=zoom, progress=progress)
    if engine == "gaussian":
        from restorekit.film.gaussian import GaussianGrain, render_gaussian

        if any(p.radius_sigma for p in params):
            raise RestorekitError(
                "the gaussian engine takes its curves from a constant-radius Boolean model: "
                "radius_sigma must be 0"
            )
        curves = [GaussianGrain.from_boolean(p, zoom=zoom) for p in params]
        return render_gaussian(x, curves, generator, zoom=zoom)
    if engine == "av1":
        from restorekit.film.av1 import av1_grain

        if av1 is None:
            raise RestorekitError("the av1 engine needs its AV1 film grain parameters (a table)")
        return av1_grain(x, av1, generator)
    raise RestorekitError(f"unknown grain engine {engine!r}; known: {', '.join(GRAIN_ENGINES)}")
