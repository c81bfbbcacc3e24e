"""The learned grain engine: the shipped :class:`~restorekit.models.GrainNet` applied to images.

The network was trained against the Boolean engine (``configs/grain/learned.yaml``) and takes the
Boolean model's parameters, so it is a drop-in for :func:`restorekit.film.boolean.render_boolean`
within the ranges it was trained on (stored in the model file; outside them it refuses). It runs
each channel as a gray image through the shared tiled inference
(:func:`restorekit.models.tiling.tiled`), with the noise drawn for the whole image first, so the
result does not depend on the tiles and memory stays bounded on large images.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from restorekit.errors import RestorekitError
from restorekit.film._common import engine_setup
from restorekit.film.boolean import BooleanGrain
from restorekit.models.tiling import tiled

__all__ = ["check_learned_params", "render_learned"]

#: core tile side of the shared tiled inference (the receptive field is the basis kernel)
_TILE = 2048


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
        progress: called with the number of output rows finished, per channel.

    Returns:
        ``(B, C, round(H zoom), round(W zoom))`` in [0, 1], float32.
    """
    per, (Ho, Wo) = engine_setup(x, params, BooleanGrain, zoom)
    B, C, H, W = x.shape
    if model is None:
        from restorekit.models.pretrained import load_pretrained

        model = load_pretrained("grain")
    conds = [check_learned_params(model, p, zoom) for p in per]
    u = x.float()
    if (Ho, Wo) != (H, W):
        u = F.interpolate(u, size=(Ho, Wo), mode="nearest")
    k = model.noise_channels
    m = model.margin
    out = torch.empty(B, C, Ho, Wo, dtype=torch.float32)

    def grain_of(tile: torch.Tensor, cond: torch.Tensor) -> torch.Tensor:
        # a tile of [image padded by m | noise]: the network's grain on its inner part, padded
        # back to the tile's size (tiled() keeps only cores at least m inside a tile)
        g = model.synthesize(tile[:, :1], cond, tile[:, 1:])
        return torch.nn.functional.pad(g, (m, m, m, m))

    with torch.inference_mode():
        for b in range(B):
            for c in range(C):
                noise = torch.randn(1, k, Ho + 2 * m, Wo + 2 * m, generator=generator)
                padded = F.pad(u[b : b + 1, c : c + 1], (m, m, m, m), mode="replicate")
                g = tiled(
                    lambda t, cond=conds[c]: grain_of(t, cond),
                    torch.cat([padded, noise], dim=1),
                    tile=_TILE,
                    overlap=m,
                    multiple=1,
                )
                out[b, c] = (u[b, c] + g[0, 0, m : m + Ho, m : m + Wo]).clamp(0, 1)
                if progress is not None:
                    progress(Ho)
    return out
