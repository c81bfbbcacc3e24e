"""Pictures for reports: labelled comparison strips of image crops."""

from __future__ import annotations

import os
from collections.abc import Sequence

import numpy as np
import torch

__all__ = ["best_crop_box", "comparison_strip", "crop_to_uint8", "save_figure"]


def best_crop_box(target: torch.Tensor, size: int = 96, step: int = 2) -> tuple[int, int, int, int]:
    """The ``size`` x ``size`` window with the most gradient energy: where methods differ most.

    Offsets are multiples of ``step`` (2 keeps a Bayer phase).
    Returns ``(top, left, height, width)``.

    Example:
        >>> x = torch.zeros(1, 1, 64, 64); x[..., 40:, 40:] = 1
        >>> best_crop_box(x, size=16)[:2]
        (40, 40)
    """
    B, C, H, W = target.shape
    size_h, size_w = min(size, H), min(size, W)
    g = target[0].mean(0).double()
    energy = torch.zeros(H, W, dtype=torch.float64)
    energy[:, 1:] += (g[:, 1:] - g[:, :-1]).abs()
    energy[1:, :] += (g[1:, :] - g[:-1, :]).abs()
    integral = torch.nn.functional.pad(energy.cumsum(0).cumsum(1), (1, 0, 1, 0))
    tops = torch.arange(0, H - size_h + 1, step * 4)
    lefts = torch.arange(0, W - size_w + 1, step * 4)
    bottoms, rights = tops + size_h, lefts + size_w
    # the energy of every candidate window at once, from the integral image
    e = (
        integral[bottoms][:, rights]
        - integral[tops][:, rights]
        - integral[bottoms][:, lefts]
        + integral[tops][:, lefts]
    )
    i, j = divmod(int(e.argmax()), e.shape[1])
    return int(tops[i]), int(lefts[j]), size_h, size_w


def crop_to_uint8(x: torch.Tensor, box: tuple[int, int, int, int], scale: int = 1) -> np.ndarray:
    """Crop ``(1, C, H, W)`` by ``box`` given in target pixels (``scale`` maps it onto a smaller
    input, e.g. a low-resolution image), and return it as HxWx3 uint8 at the box's size.

    Example:
        >>> crop_to_uint8(torch.ones(1, 1, 8, 8), (0, 0, 4, 4), scale=2).shape
        (4, 4, 3)
    """
    top, left, h, w = box
    if scale > 1:
        top, left, h, w = top // scale, left // scale, max(1, h // scale), max(1, w // scale)
    c = x[0, :, top : top + h, left : left + w].detach().double().clamp(0, 1)
    if c.shape[0] == 1:
        c = c.expand(3, -1, -1)
    a = (c * 255).round().byte().permute(1, 2, 0).numpy()
    if scale > 1:
        a = a.repeat(scale, axis=0).repeat(scale, axis=1)
    return np.ascontiguousarray(a)


def comparison_strip(
    tiles: Sequence[tuple[str, np.ndarray]],
    path: str | os.PathLike,
    zoom: int = 2,
    columns: int = 4,
) -> None:
    """Save crops side by side, each with its label underneath, as one PNG (written atomically).

    Args:
        tiles: ``(label, HxWx3 uint8)`` pairs, all the same size.
        path: the PNG to write.
        zoom: nearest-neighbour magnification so that artefacts are visible.
        columns: tiles per row.
    """
    from PIL import Image, ImageDraw, ImageFont

    from restorekit.io import from_numpy, write_image

    h, w = tiles[0][1].shape[:2]
    th, tw = h * zoom, w * zoom
    label_h, pad = 34, 6
    rows = (len(tiles) + columns - 1) // columns
    cols = min(columns, len(tiles))
    canvas = Image.new("RGB", (cols * (tw + pad) + pad, rows * (th + label_h + pad) + pad), "white")
    draw = ImageDraw.Draw(canvas)
    try:
        font = ImageFont.load_default(size=13)
    except TypeError:  # Pillow < 10.1
        font = ImageFont.load_default()
    for i, (label, arr) in enumerate(tiles):
        r, c = divmod(i, columns)
        x0, y0 = pad + c * (tw + pad), pad + r * (th + label_h + pad)
        tile = Image.fromarray(arr).resize((tw, th), Image.NEAREST)
        canvas.paste(tile, (x0, y0))
        for j, line in enumerate(label.split("\n")[:2]):
            draw.text((x0 + 2, y0 + th + 2 + 15 * j), line, fill="black", font=font)
    write_image(path, from_numpy(np.asarray(canvas)))


def save_figure(fig: object, path: str | os.PathLike, dpi: int = 110) -> None:
    """Render a matplotlib ``Figure`` with the Agg canvas (no display, no pyplot state) and write
    the PNG atomically."""
    import io

    from matplotlib.backends.backend_agg import FigureCanvasAgg

    from restorekit.io.files import atomic_write

    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)  # type: ignore[attr-defined]
    atomic_write(path, buf.getvalue())
