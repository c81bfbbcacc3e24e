"""Tiled inference: run a network over an image piece by piece, with no seams.

The image is cut into core tiles of ``tile x tile`` pixels; each is extended by ``overlap`` pixels
of real context on every side (less at the image border), the network runs on the extended tile,
and only the core is kept. When ``overlap`` is at least the network's receptive radius, no kept
pixel sees a tile edge, so the result equals whole-image inference (up to float summation order):
there is nothing to blend and no seam. Tiles start at multiples of ``multiple`` so that a network
that packs pixels (pixel-unshuffle by 4) or a Bayer raw (phase 2) sees the same grid as in the
whole image. Peak memory is one extended tile's activations plus the output.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch

from restorekit._checks import check_image
from restorekit.errors import RestorekitError

__all__ = ["tile_spans", "tiled"]


def tile_spans(n: int, tile: int, overlap: int) -> list[tuple[int, int, int, int]]:
    """Along one axis of length ``n``: ``(core_start, core_end, ext_start, ext_end)`` per tile.

    Example:
        >>> tile_spans(10, 4, 2)
        [(0, 4, 0, 6), (4, 8, 2, 10), (8, 10, 6, 10)]
    """
    spans = []
    for start in range(0, n, tile):
        end = min(start + tile, n)
        spans.append((start, end, max(0, start - overlap), min(n, end + overlap)))
    return spans


def tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    tile: int = 512,
    overlap: int = 32,
    multiple: int = 4,
    progress: bool = False,
    scale: int = 1,
) -> torch.Tensor:
    """Apply ``fn`` (output ``scale`` times the input's size, any channel count) tile by tile.

    Args:
        fn: the network call, e.g. ``lambda t: model(t, cfa)``; it must accept any size.
        x: the image ``(B, C, H, W)``.
        tile: core tile side in pixels (rounded up to a multiple of ``multiple``).
        overlap: context on each side, at least the network's receptive radius for an exact
            result (rounded up to a multiple of ``multiple``).
        multiple: tile starts are multiples of this (the network's packing, or 2 for a Bayer raw).
        progress: show a progress bar over tiles.
        scale: ``fn``'s output is ``scale`` times its input's height and width (an upscaler);
            ``tile`` and ``overlap`` count input pixels.

    Returns:
        ``(B, C_out, scale * H, scale * W)``, on ``x``'s device, in ``fn``'s output dtype.

    Example:
        >>> blur = torch.nn.Conv2d(1, 1, 5, padding=2, bias=False)
        >>> x = torch.rand(1, 1, 50, 70)
        >>> with torch.no_grad():
        ...     whole, parts = blur(x), tiled(blur, x, tile=16, overlap=2)
        >>> bool((whole - parts).abs().max() < 1e-6)
        True
    """
    from tqdm import tqdm

    check_image(x)
    if tile < 1 or overlap < 0 or multiple < 1 or scale < 1:
        raise RestorekitError(
            f"need tile >= 1, overlap >= 0, multiple >= 1, scale >= 1; got {tile}, {overlap}, "
            f"{multiple}, {scale}"
        )
    tile = math.ceil(tile / multiple) * multiple
    overlap = math.ceil(overlap / multiple) * multiple
    B, C, H, W = x.shape
    rows, cols = tile_spans(H, tile, overlap), tile_spans(W, tile, overlap)
    s = scale
    out: torch.Tensor | None = None
    with tqdm(total=len(rows) * len(cols), desc="tiles", disable=not progress) as bar:
        for r0, r1, er0, er1 in rows:
            for c0, c1, ec0, ec1 in cols:
                y = fn(x[:, :, er0:er1, ec0:ec1])
                if y.shape[-2:] != (s * (er1 - er0), s * (ec1 - ec0)):
                    expected = f", not {scale} times it" if scale != 1 else ""
                    raise RestorekitError(
                        f"fn changed the tile size {(er1 - er0, ec1 - ec0)} "
                        f"to {tuple(y.shape[-2:])}{expected}"
                    )
                if out is None:
                    out = torch.empty(B, y.shape[1], s * H, s * W, dtype=y.dtype, device=y.device)
                out[:, :, s * r0 : s * r1, s * c0 : s * c1] = y[
                    :, :, s * (r0 - er0) : s * (r1 - er0), s * (c0 - ec0) : s * (c1 - ec0)
                ]
                bar.update(1)
    assert out is not None  # H, W >= 1 gives at least one tile
    return out
