"""The learned grain engine: the shipped :class:`~restorekit.models.GrainNet` applied to images.

The network was trained against the Boolean engine (``configs/grain/learned.yaml``) and takes the
Boolean model's parameters, so it is a drop-in for :func:`restorekit.film.boolean.render_boolean`
within the ranges it was trained on (stored in the model file; outside them it refuses). It runs
each channel as a gray image in bands of rows, so memory stays bounded on large images.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from restorekit._checks import check_image
from restorekit.errors import RestorekitError
from restorekit.film.boolean import BooleanGrain

__all__ = ["check_learned_params", "render_learned"]

#: rows of output computed at once (the network's receptive field is its basis kernel)
_BAND = 512


def check_learned_params(model: nn.Module, grain: BooleanGrain, zoom: float) -> torch.Tensor:
    """The network's ``(radius, spread, blur)`` for ``grain`` at ``zoom`` (output pixels),
    refusing values outside the ranges it was trained on."""
    values = (grain.radius * zoom, grain.radius_sigma / grain.radius, grain.blur * zoom)
    names = ("radius x zoom", "radius_sigma / radius", "blur x zoom")
    for v, (lo, hi), name in zip(values, model.ranges, names, strict=True):
        if not lo - 1e-9 <= v <= hi + 1e-9:
            raise RestorekitError(
                f"the learned grain engine was trained for {name} in [{lo:g}, {hi:g}], got "
                f"{v:.3g}; use --engine boolean for this grain"
            )
    return torch.tensor(values, dtype=torch.float32)


def render_learned(
    x: torch.Tensor,
    params: BooleanGrain | Sequence[BooleanGrain],
    generator: torch.Generator | None = None,
    zoom: float = 1.0,
    model: nn.Module | None = None,
    progress: Callable[[int], None] | None = None,
) -> torch.Tensor:
    """Render grain with the learned engine (the shipped network unless ``model`` is given).

    Args:
        x: ``(B, C, H, W)`` image in [0, 1].
        params: one :class:`~restorekit.film.boolean.BooleanGrain` for every channel, or one per
            channel (``samples`` is not used).
        generator: the random source of the network's noise.
        zoom: output size over input size; the image is enlarged with nearest-neighbour sampling
            (each input pixel a uniform patch of film, as in the Boolean model).
        model: a :class:`~restorekit.models.GrainNet` (default: the shipped ``grain`` model).
        progress: called with the number of output rows finished, per band and channel.

    Returns:
        ``(B, C, round(H zoom), round(W zoom))`` in [0, 1], float32.
    """
    check_image(x, name="image")
    if not (isinstance(zoom, (int, float)) and math.isfinite(zoom) and zoom > 0):
        raise RestorekitError(f"zoom must be a finite number > 0, got {zoom!r}")
    B, C, H, W = x.shape
    per = [params] * C if isinstance(params, BooleanGrain) else list(params)
    if len(per) != C:
        raise RestorekitError(f"give one BooleanGrain, or one per channel ({C}), got {len(per)}")
    if model is None:
        from restorekit.models.pretrained import load_pretrained

        model = load_pretrained("grain")
    conds = [check_learned_params(model, p, zoom) for p in per]
    Ho, Wo = max(1, round(H * zoom)), max(1, round(W * zoom))
    u = x.float()
    if (Ho, Wo) != (H, W):
        u = F.interpolate(u, size=(Ho, Wo), mode="nearest")
    k = model.noise_channels
    r = model.basis.kernel_size[0] // 2
    out = torch.empty(B, C, Ho, Wo, dtype=torch.float32)
    with torch.inference_mode():
        for b in range(B):
            for c in range(C):
                for a0 in range(0, Ho, _BAND):
                    a1 = min(Ho, a0 + _BAND)
                    # noise for the band plus the basis kernel's reach, drawn band by band
                    noise = torch.randn(1, k, a1 - a0 + 2 * r, Wo + 2 * r, generator=generator)
                    band = u[b : b + 1, c : c + 1, a0:a1]
                    band_p = F.pad(band, (r, r, r, r), mode="replicate")
                    g = model(band_p, conds[c][None], noise)[..., r:-r, r:-r] if r else None
                    if g is None:
                        g = model(band, conds[c][None], noise)
                    out[b, c, a0:a1] = (band[0, 0] + g[0, 0]).clamp(0, 1)
                    if progress is not None:
                        progress(a1 - a0)
    return out
