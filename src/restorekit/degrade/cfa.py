"""Bayer colour filter arrays: the CFA layouts and mosaicking.

A Bayer raw is ``(B, 1, H, W)`` plus a :class:`CFA` naming the colours of its top-left 2x2 tile.
The same samples can be held as a 3-channel *sparse* image ``(B, 3, H, W)``: each pixel keeps the
one colour its filter passed and zeros elsewhere.
"""

from __future__ import annotations

from enum import Enum

import torch
from torch import nn

from restorekit._checks import check_image, closest_names
from restorekit.errors import RestorekitError

__all__ = [
    "CFA",
    "Mosaic",
    "cfa_mask",
    "mosaic",
    "mosaic_sparse",
    "parse_cfa",
    "sparse_from_mosaic",
]

_CHANNEL = {"R": 0, "G": 1, "B": 2}


class CFA(str, Enum):
    """A Bayer layout, named by the colours of the 2x2 tile read row by row from the top left.

    ``RGGB`` has R at (0, 0), G at (0, 1) and (1, 0), B at (1, 1).
    """

    RGGB = "RGGB"
    BGGR = "BGGR"
    GRBG = "GRBG"
    GBRG = "GBRG"

    @property
    def tile(self) -> tuple[tuple[int, int], tuple[int, int]]:
        """Channel index (0 R, 1 G, 2 B) at each position of the 2x2 tile.

        Example:
            >>> CFA.RGGB.tile
            ((0, 1), (1, 2))
        """
        c = [_CHANNEL[ch] for ch in self.value]
        return ((c[0], c[1]), (c[2], c[3]))

    def shifted(self, dy: int, dx: int) -> CFA:
        """The layout seen from a crop that starts ``dy`` rows and ``dx`` columns further in.

        Example:
            >>> CFA.RGGB.shifted(0, 1)
            <CFA.GRBG: 'GRBG'>
        """
        v = self.value
        grid = [[v[0], v[1]], [v[2], v[3]]]
        out = "".join(grid[(i + dy) % 2][(j + dx) % 2] for i in range(2) for j in range(2))
        return CFA(out)

    def transformed(self, k: int, height: int, width: int) -> CFA:
        """The layout of a ``height x width`` mosaic after the symmetry ``k`` of the square
        (:func:`restorekit.data.patches.dihedral`: bit 0 flips left-right, bit 1 up-down, bit 2
        transposes; an odd side moves the phase under a flip).

        Example:
            >>> CFA.RGGB.transformed(1, 4, 4), CFA.RGGB.transformed(1, 4, 5)
            (<CFA.GRBG: 'GRBG'>, <CFA.RGGB: 'RGGB'>)
            >>> CFA.GRBG.transformed(4, 4, 4)
            <CFA.GBRG: 'GBRG'>
        """
        v = self.value
        out = []
        for i in range(2):
            for j in range(2):
                r, c = (j, i) if k & 4 else (i, j)  # undo in reverse order: transpose first
                if k & 2:
                    r = height - 1 - r
                if k & 1:
                    c = width - 1 - c
                out.append(v[2 * (r % 2) + c % 2])
        return CFA("".join(out))

    def __str__(self) -> str:
        return self.value


def parse_cfa(cfa: CFA | str) -> CFA:
    """Turn a name like ``"rggb"`` into a :class:`CFA`, or raise an error listing the known ones.

    Example:
        >>> parse_cfa("bggr")
        <CFA.BGGR: 'BGGR'>
        >>> parse_cfa("RGBG")
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: unknown CFA 'RGBG'; known: RGGB, GRBG, BGGR, GBRG
    """
    if isinstance(cfa, CFA):
        return cfa
    name = str(cfa).strip().upper()
    try:
        return CFA(name)
    except ValueError:
        known = closest_names(name, [c.value for c in CFA])
        raise RestorekitError(f"unknown CFA {cfa!r}; known: {', '.join(known)}") from None


def cfa_mask(
    cfa: CFA | str,
    height: int,
    width: int,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """A 0/1 mask ``(1, 3, H, W)`` that is 1 where a pixel's filter passes that channel.

    Example:
        >>> cfa_mask("RGGB", 2, 2)[0, :, :, :].tolist()
        [[[1.0, 0.0], [0.0, 0.0]], [[0.0, 1.0], [1.0, 0.0]], [[0.0, 0.0], [0.0, 1.0]]]
    """
    tile = parse_cfa(cfa).tile
    mask = torch.zeros(1, 3, height, width, device=device, dtype=dtype)
    for i in range(2):
        for j in range(2):
            mask[0, tile[i][j], i::2, j::2] = 1
    return mask


def mosaic(x: torch.Tensor, cfa: CFA | str) -> torch.Tensor:
    """Sample an RGB image through a Bayer filter into a 1-channel raw.

    Equals ``colour_demosaicing.mosaicing_CFA_Bayer(x, cfa)``.

    Args:
        x: RGB image, linear or sRGB (the mosaic keeps whichever it gets).
        cfa: the layout.

    Returns:
        The mosaic, one value per pixel.

    Shape:
        ``(B, 3, H, W) -> (B, 1, H, W)``

    Example:
        >>> x = torch.arange(12.0).reshape(1, 3, 2, 2) / 12
        >>> (mosaic(x, "RGGB") * 12).round().tolist()
        [[[[0.0, 5.0], [6.0, 11.0]]]]
    """
    check_image(x, channels=3)
    B, C, H, W = x.shape
    mask = cfa_mask(cfa, H, W, device=x.device, dtype=x.dtype)
    return (x * mask).sum(dim=1, keepdim=True)


def mosaic_sparse(x: torch.Tensor, cfa: CFA | str) -> torch.Tensor:
    """Sample an RGB image through a Bayer filter, keeping the samples in their own channel.

    Shape:
        ``(B, 3, H, W) -> (B, 3, H, W)``, zero where a channel was not sampled.

    Example:
        >>> mosaic_sparse(torch.ones(1, 3, 2, 2), "RGGB").sum(dim=(2, 3)).tolist()
        [[1.0, 2.0, 1.0]]
    """
    check_image(x, channels=3)
    B, C, H, W = x.shape
    return x * cfa_mask(cfa, H, W, device=x.device, dtype=x.dtype)


def sparse_from_mosaic(raw: torch.Tensor, cfa: CFA | str) -> torch.Tensor:
    """Spread a 1-channel mosaic into the 3-channel sparse form.

    Shape:
        ``(B, 1, H, W) -> (B, 3, H, W)``

    Example:
        >>> x = torch.rand(1, 3, 4, 6)
        >>> torch.equal(sparse_from_mosaic(mosaic(x, "GBRG"), "GBRG"), mosaic_sparse(x, "GBRG"))
        True
    """
    check_image(raw, channels=1, name="mosaic")
    B, C, H, W = raw.shape
    return raw * cfa_mask(cfa, H, W, device=raw.device, dtype=raw.dtype)


class Mosaic(nn.Module):
    """Module twin of :func:`mosaic` (or :func:`mosaic_sparse` with ``sparse=True``)."""

    def __init__(self, cfa: CFA | str = CFA.RGGB, sparse: bool = False) -> None:
        super().__init__()
        self.cfa = parse_cfa(cfa)
        self.sparse = sparse

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return mosaic_sparse(x, self.cfa) if self.sparse else mosaic(x, self.cfa)

    def extra_repr(self) -> str:
        return f"cfa={self.cfa.value}, sparse={self.sparse}"
