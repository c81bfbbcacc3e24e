"""3D lookup tables: ``.cube`` and Hald CLUT files, and applying a LUT in torch.

A :class:`LUT3D` holds a table ``(N, N, N, 3)`` indexed ``[r, g, b]`` (the layout of
colour-science's ``LUT3D.table``), the input domain it spans, and an optional per-channel 1D
shaper (:class:`LUT1D`) applied before it, as a Resolve ``.cube`` with both ``LUT_1D_SIZE`` and
``LUT_3D_SIZE`` stores it. Values are whatever the file holds (for looks on ordinary images:
sRGB-encoded in [0, 1]).

Files:

- ``.cube`` (Adobe / Iridas Cube LUT Specification 1.0, and Resolve's variant with a shaper):
  ``TITLE``, ``DOMAIN_MIN`` / ``DOMAIN_MAX``, ``LUT_1D_SIZE``, ``LUT_3D_SIZE``,
  ``LUT_1D_INPUT_RANGE`` / ``LUT_3D_INPUT_RANGE``, ``#`` comments; data rows "R G B" with red
  changing fastest. :func:`read_cube` is strict: a wrong number of rows, a missing size, a
  non-numeric value or an unknown keyword is one clear error.
- Hald CLUT images (RawTherapee, G'MIC, ImageMagick): a square image of side ``L^3`` for level
  ``L`` holds ``N = L^2`` entries per axis; pixel ``k`` (row-major) is the output for input
  ``(k mod N, (k div N) mod N, k div N^2) / (N - 1)``. 8- or 16-bit PNG / TIFF.

Applying (:func:`apply_lut`): trilinear or tetrahedral interpolation as colour-science's
``table_interpolation_trilinear`` / ``table_interpolation_tetrahedral`` (the input is mapped from
the domain to the table's index range and clipped to it), differentiable in the image and the
table, batched, on any device, blended with the input by ``strength``; large images are
processed in chunks of pixels (a LUT is pointwise, so chunks need no overlap).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import torch

from restorekit._checks import check_image
from restorekit.errors import ImageFileError, RestorekitError

__all__ = [
    "INTERPOLATIONS",
    "LUT1D",
    "LUT3D",
    "apply_lut",
    "hald_level",
    "identity_lut",
    "lut_stencil",
    "read_cube",
    "read_hald",
    "read_lut",
    "resample_lut",
    "write_cube",
    "write_hald",
]

#: the interpolation methods of :func:`apply_lut`
INTERPOLATIONS = ("tetrahedral", "trilinear")

#: pixels per chunk in :func:`apply_lut` (bounded temporaries on huge images)
_CHUNK = 1 << 18

_UNIT_DOMAIN = ((0.0, 0.0, 0.0), (1.0, 1.0, 1.0))


def _check_domain(domain: tuple, what: str) -> tuple[tuple[float, ...], tuple[float, ...]]:
    lo, hi = (tuple(float(v) for v in row) for row in domain)
    if len(lo) != 3 or len(hi) != 3:
        raise RestorekitError(f"{what} domain needs 3 minima and 3 maxima, got {domain!r}")
    pairs = zip(lo, hi, strict=True)
    if not all(math.isfinite(a) and math.isfinite(b) and a < b for a, b in pairs):
        raise RestorekitError(f"{what} domain needs finite minima below maxima, got {domain!r}")
    return lo, hi


@dataclass(frozen=True)
class LUT1D:
    """A per-channel 1D LUT: ``table`` ``(M, 3)``, output of channel c at input
    ``domain[0][c] + i / (M - 1) * (domain[1][c] - domain[0][c])``; linear interpolation."""

    table: torch.Tensor
    domain: tuple[tuple[float, ...], tuple[float, ...]] = _UNIT_DOMAIN

    def __post_init__(self) -> None:
        t = self.table
        if not (
            isinstance(t, torch.Tensor) and t.ndim == 2 and t.shape[1] == 3 and t.shape[0] >= 2
        ):
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise RestorekitError(f"a 1D LUT table must have shape (M >= 2, 3), got {shape}")
        object.__setattr__(self, "domain", _check_domain(self.domain, "1D LUT"))

    @property
    def size(self) -> int:
        return self.table.shape[0]


@dataclass(frozen=True)
class LUT3D:
    """A 3D LUT: ``table`` ``(N, N, N, 3)`` indexed ``[r, g, b]``, spanning ``domain``
    (``(min RGB, max RGB)``), after an optional per-channel ``shaper``.

    Example:
        >>> lut = identity_lut(17)
        >>> lut.size, tuple(lut.table.shape)
        (17, (17, 17, 17, 3))
    """

    table: torch.Tensor
    domain: tuple[tuple[float, ...], tuple[float, ...]] = _UNIT_DOMAIN
    shaper: LUT1D | None = None
    title: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        t = self.table
        ok = isinstance(t, torch.Tensor) and t.ndim == 4 and t.shape[3] == 3
        if not ok or not (t.shape[0] == t.shape[1] == t.shape[2] >= 2):
            shape = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
            raise RestorekitError(
                f"a 3D LUT table must have shape (N, N, N, 3), N >= 2, got {shape}"
            )
        if not t.is_floating_point():
            raise RestorekitError(f"a 3D LUT table must be float, got {t.dtype}")
        object.__setattr__(self, "domain", _check_domain(self.domain, "3D LUT"))

    @property
    def size(self) -> int:
        return self.table.shape[0]


def identity_lut(size: int = 33, dtype: torch.dtype = torch.float32) -> LUT3D:
    """The 3D LUT that returns its input: ``table[r, g, b] = (r, g, b) / (size - 1)``."""
    if isinstance(size, bool) or not isinstance(size, int) or size < 2:
        raise RestorekitError(f"a LUT size must be an integer >= 2, got {size!r}")
    axis = torch.linspace(0, 1, size, dtype=torch.float64)
    r, g, b = torch.meshgrid(axis, axis, axis, indexing="ij")
    return LUT3D(torch.stack([r, g, b], dim=-1).to(dtype))


# -- applying ------------------------------------------------------------------------------------


def _to_unit(v: torch.Tensor, domain: tuple) -> torch.Tensor:
    lo = torch.tensor(domain[0], dtype=v.dtype, device=v.device)
    hi = torch.tensor(domain[1], dtype=v.dtype, device=v.device)
    return ((v - lo) / (hi - lo)).clamp(0, 1)


def _apply_1d(v: torch.Tensor, lut: LUT1D) -> torch.Tensor:
    """``v`` ``(P, 3)`` through a per-channel 1D LUT (linear interpolation, clipped domain)."""
    t = lut.table.to(v)
    m = lut.size
    s = _to_unit(v, lut.domain) * (m - 1)
    i = s.detach().floor().clamp(max=m - 2).long()
    f = s - i
    lo = t.gather(0, i)
    hi = t.gather(0, i + 1)
    return lo + f * (hi - lo)


def _tetrahedra(n: int, device: torch.device) -> torch.Tensor:
    """Per comparison code ``4 [fr > fg] + 2 [fg > fb] + [fr > fb]``: the flat offsets of the
    four vertices of the cell's tetrahedron, ``(8, 4)`` (codes 1 and 6 cannot occur)."""
    stride = (n * n, n, 1)
    rows = []
    for code in range(8):
        r_gt_g, g_gt_b, r_gt_b = (code >> 2) & 1, (code >> 1) & 1, code & 1
        # rank the axes by pairwise wins (a tie goes to the axis the comparisons favour)
        wins = (r_gt_g + r_gt_b, (1 - r_gt_g) + g_gt_b, (1 - r_gt_b) + (1 - g_gt_b))
        a1, a2, _ = sorted(range(3), key=lambda a: -wins[a])
        rows.append((0, stride[a1], stride[a1] + stride[a2], n * n + n + 1))
    return torch.tensor(rows, device=device)


def lut_stencil(
    v: torch.Tensor, lut: LUT3D, method: str = "tetrahedral"
) -> tuple[torch.Tensor, torch.Tensor]:
    """The table rows and weights that interpolate each colour of ``v`` ``(P, 3)``.

    The 3D part of :func:`apply_lut` is ``sum_k w[:, k] * table.reshape(-1, 3)[idx[:, k]]``: 8
    cell corners for trilinear, the 4 corners of the cell's tetrahedron for tetrahedral. A LUT fit
    (:mod:`restorekit.film.look_fit`) uses it as the rows of its linear system.

    Returns:
        ``idx`` ``(P, K)`` int64 rows of the flattened table (row ``r n^2 + g n + b``) and ``w``
        ``(P, K)`` in ``v``'s dtype (differentiable in ``v``), ``K`` = 8 or 4.
    """
    n = lut.size
    s = _to_unit(v, lut.domain) * (n - 1)
    i = s.detach().floor().clamp_(max=n - 2).long()  # the cell; at the top edge f = 1
    f = s - i
    base = (i[:, 0] * (n * n) + i[:, 1] * n + i[:, 2])[:, None]
    fr, fg, fb = f[:, 0:1], f[:, 1:2], f[:, 2:3]
    if method == "trilinear":
        corners = torch.tensor(
            [r * n * n + g * n + b for r in (0, 1) for g in (0, 1) for b in (0, 1)],
            device=v.device,
        )
        wr, wg, wb = (torch.cat([1 - c, c], dim=1) for c in (fr, fg, fb))
        w = (wr[:, :, None, None] * wg[:, None, :, None] * wb[:, None, None, :]).reshape(-1, 8)
        return base + corners, w
    # Tetrahedral: with the fractions sorted f1 >= f2 >= f3 along axes a1, a2, a3, the point lies
    # in the tetrahedron c000, c000 + e_a1, c000 + e_a1 + e_a2, c111 of its cell, and
    #   out = (1 - f1) c000 + (f1 - f2) c(e_a1) + (f2 - f3) c(e_a1 + e_a2) + f3 c111.
    # Three comparisons name the tetrahedron; ties give the same value whichever is chosen
    # (the interpolant is continuous across the faces).
    code = ((fr > fg).long() << 2) | ((fg > fb).long() << 1) | (fr > fb).long()
    offsets = _tetrahedra(n, v.device).index_select(0, code[:, 0])  # (P, 4)
    f1 = torch.maximum(torch.maximum(fr, fg), fb)
    f3 = torch.minimum(torch.minimum(fr, fg), fb)
    f2 = fr + fg + fb - f1 - f3
    return base + offsets, torch.cat([1 - f1, f1 - f2, f2 - f3, f3], dim=1)


def _apply_3d(v: torch.Tensor, lut: LUT3D, method: str) -> torch.Tensor:
    """``v`` ``(P, 3)`` through the 3D table (after the domain mapping and clipping)."""
    n = lut.size
    flat = lut.table.to(v).reshape(n**3, 3)  # row r * n^2 + g * n + b
    idx, w = lut_stencil(v, lut, method)
    out = w[:, :1] * flat.index_select(0, idx[:, 0])
    for k in range(1, idx.shape[1]):
        out = out + w[:, k : k + 1] * flat.index_select(0, idx[:, k])
    return out


def _check_lut_args(lut: LUT3D | LUT1D, method: str, strength: float) -> None:
    if not isinstance(lut, (LUT3D, LUT1D)):
        raise RestorekitError(f"lut must be a LUT3D or LUT1D, got {type(lut).__name__}")
    if method not in INTERPOLATIONS:
        raise RestorekitError(
            f"unknown LUT interpolation {method!r}; known: {', '.join(INTERPOLATIONS)}"
        )
    if isinstance(strength, bool) or not isinstance(strength, (int, float)):
        raise RestorekitError(f"strength must be a number in [0, 1], got {strength!r}")
    if not 0 <= strength <= 1:
        raise RestorekitError(f"strength must be in [0, 1], got {strength}")


def apply_lut_rgb(v: torch.Tensor, lut: LUT3D | LUT1D, method: str = "tetrahedral") -> torch.Tensor:
    """Colours ``(..., 3)`` through ``lut`` (shaper, then table): the pointwise core of
    :func:`apply_lut`, without chunking or blending. Differentiable in ``v`` and the tables."""
    shape = v.shape
    flat = v.reshape(-1, 3)
    if isinstance(lut, LUT1D):
        return _apply_1d(flat, lut).reshape(shape)
    if lut.shaper is not None:
        flat = _apply_1d(flat, lut.shaper)
    return _apply_3d(flat, lut, method).reshape(shape)


def apply_lut(
    x: torch.Tensor,
    lut: LUT3D | LUT1D,
    method: str = "tetrahedral",
    strength: float = 1.0,
    chunk: int = _CHUNK,
) -> torch.Tensor:
    """Apply a LUT to an RGB image.

    Args:
        x: ``(B, 3, H, W)`` image in the LUT's domain (for looks: sRGB-encoded [0, 1]).
        lut: a :class:`LUT3D` (its shaper first, if any) or a :class:`LUT1D`.
        method: ``"tetrahedral"`` (default; what Resolve and ffmpeg prefer) or ``"trilinear"``.
            Both equal colour-science's interpolators; inputs outside the domain are clipped.
        strength: in [0, 1]; the result is ``x + strength * (lut(x) - x)``.
        chunk: pixels per chunk when no gradient is needed (bounds the temporaries).

    Returns:
        ``(B, 3, H, W)``, ``x``'s dtype and device. Differentiable in ``x`` and the table(s).

    Example:
        >>> x = torch.rand(2, 3, 5, 7, dtype=torch.float64)
        >>> bool(torch.allclose(apply_lut(x, identity_lut(9, torch.float64)), x))
        True
    """
    check_image(x, channels=3)
    _check_lut_args(lut, method, strength)
    if strength == 0:
        return x.clone()
    B, C, H, W = x.shape
    v = x.permute(0, 2, 3, 1).reshape(-1, 3)  # one RGB row per pixel
    grad = torch.is_grad_enabled() and (x.requires_grad or lut.table.requires_grad)
    if grad or v.shape[0] <= chunk:
        out = apply_lut_rgb(v, lut, method)
    else:
        out = torch.empty_like(v)
        for start in range(0, v.shape[0], chunk):
            out[start : start + chunk] = apply_lut_rgb(v[start : start + chunk], lut, method)
    y = out.reshape(B, H, W, 3).permute(0, 3, 1, 2)
    if strength != 1:
        y = x + strength * (y - x)
    return y.contiguous()


def resample_lut(lut: LUT3D | LUT1D, size: int, method: str = "tetrahedral") -> LUT3D:
    """``lut`` (shaper included) sampled on a ``size``^3 grid over the unit domain."""
    grid = identity_lut(size, torch.float64).table
    src = lut if isinstance(lut, LUT1D) else LUT3D(lut.table.double(), lut.domain, lut.shaper)
    return LUT3D(apply_lut_rgb(grid, src, method).float(), title=getattr(lut, "title", ""))


# -- .cube ---------------------------------------------------------------------------------------

_KEYWORDS = (
    "TITLE",
    "LUT_1D_SIZE",
    "LUT_3D_SIZE",
    "DOMAIN_MIN",
    "DOMAIN_MAX",
    "LUT_1D_INPUT_RANGE",
    "LUT_3D_INPUT_RANGE",
)


def _floats(words: list[str], where: str, count: int) -> list[float]:
    if len(words) != count:
        raise ImageFileError(f"{where}: expected {count} numbers, got {len(words)}")
    try:
        values = [float(w) for w in words]
    except ValueError:
        raise ImageFileError(f"{where}: not a number: {' '.join(words)!r}") from None
    if not all(math.isfinite(v) for v in values):
        raise ImageFileError(f"{where}: values must be finite, got {' '.join(words)!r}")
    return values


def read_cube(path: str | os.PathLike) -> LUT3D | LUT1D:
    """Read a ``.cube`` file (Adobe / Iridas 1.0, or Resolve's with a 1D shaper).

    Returns:
        A :class:`LUT3D` (with its shaper when the file has both a 1D and a 3D table), or a
        :class:`LUT1D` for a 1D-only file.

    Raises:
        ImageFileError: a missing file, or one line naming the first problem (line number
            included): no size, an unknown keyword, a non-numeric value, a wrong row count.
    """
    p = Path(path)
    if not p.is_file():
        raise ImageFileError(f"no such file: {p}")
    try:
        text = p.read_text(encoding="utf-8-sig")
    except UnicodeDecodeError:
        raise ImageFileError(f"{p}: not a .cube file (not text)") from None
    title = ""
    sizes: dict[str, int] = {}
    ranges: dict[str, tuple] = {}
    rows: list[list[float]] = []
    for number, line in enumerate(text.splitlines(), start=1):
        where = f"{p}, line {number}"
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        words = line.split()
        key = words[0].upper()
        if key[0].isalpha():
            if rows:
                raise ImageFileError(f"{where}: keyword {words[0]} after the table data")
            if key not in _KEYWORDS:
                raise ImageFileError(f"{where}: unknown keyword {words[0]!r}")
            if key == "TITLE":
                m = re.match(r'\s*TITLE\s+"?(.*?)"?\s*$', line, flags=re.IGNORECASE)
                title = m.group(1) if m else ""
            elif key in ("LUT_1D_SIZE", "LUT_3D_SIZE"):
                (size,) = _floats(words[1:], where, 1)
                lo, hi = (2, 65536) if key == "LUT_1D_SIZE" else (2, 256)
                if size != int(size) or not lo <= size <= hi:
                    raise ImageFileError(f"{where}: {key} must be an integer in [{lo}, {hi}]")
                sizes[key] = int(size)
            elif key in ("DOMAIN_MIN", "DOMAIN_MAX"):
                ranges[key] = tuple(_floats(words[1:], where, 3))
            else:
                lo_hi = _floats(words[1:], where, 2)
                ranges[key] = ((lo_hi[0],) * 3, (lo_hi[1],) * 3)
            continue
        rows.append(_floats(words, where, 3))
    if not sizes:
        raise ImageFileError(f"{p}: not a .cube file: no LUT_3D_SIZE or LUT_1D_SIZE")
    n1, n3 = sizes.get("LUT_1D_SIZE", 0), sizes.get("LUT_3D_SIZE", 0)
    expected = n1 + n3**3
    if len(rows) != expected:
        what = " + ".join(
            s for s in (f"{n1} (1D)" if n1 else "", f"{n3}^3 (3D)" if n3 else "") if s
        )
        raise ImageFileError(f"{p}: expected {what} = {expected} table rows, got {len(rows)}")
    data = torch.tensor(rows, dtype=torch.float64)
    domain = (
        ranges.get("DOMAIN_MIN", (0.0, 0.0, 0.0)),
        ranges.get("DOMAIN_MAX", (1.0, 1.0, 1.0)),
    )
    try:
        shaper = None
        if n1:
            shaper = LUT1D(data[:n1].float(), ranges.get("LUT_1D_INPUT_RANGE", domain))
            if not n3:
                return shaper
        # with a shaper, DOMAIN_* (if any) is the shaper's; the table spans its own input range
        dom3 = ranges.get("LUT_3D_INPUT_RANGE", _UNIT_DOMAIN if n1 else domain)
        # rows run with red fastest: reshape to [b, g, r] and swap to [r, g, b]
        table = data[n1:].reshape(n3, n3, n3, 3).permute(2, 1, 0, 3).contiguous().float()
        return LUT3D(table, dom3, shaper, title=title)
    except RestorekitError as e:
        raise ImageFileError(f"{p}: {e}") from None


def _format_row(values: list[float], decimals: int) -> str:
    return " ".join(f"{v:.{decimals}f}" for v in values)


def write_cube(
    path: str | os.PathLike, lut: LUT3D | LUT1D, title: str | None = None, decimals: int = 6
) -> None:
    """Write ``lut`` as a ``.cube`` file (atomically).

    A plain :class:`LUT3D` (or :class:`LUT1D`) is written in the Adobe / Iridas 1.0 layout
    (``DOMAIN_MIN`` / ``DOMAIN_MAX`` when not the unit cube), which Resolve, ffmpeg's ``lut3d``
    and colour-science read; a LUT with a shaper in Resolve's layout (``LUT_1D_SIZE`` then
    ``LUT_3D_SIZE`` with their ``_INPUT_RANGE``, which needs equal ranges on the three channels).
    ``decimals`` digits after the point (6 keeps 16-bit Hald values exact).
    """
    from restorekit.io.files import atomic_write

    if not isinstance(lut, (LUT3D, LUT1D)):
        raise RestorekitError(f"lut must be a LUT3D or LUT1D, got {type(lut).__name__}")
    name = lut.title if title is None and isinstance(lut, LUT3D) else (title or "")
    lines = [f'TITLE "{name}"'] if name else []
    lines.append("# written by restorekit")
    shaper = lut if isinstance(lut, LUT1D) else lut.shaper
    cube = lut if isinstance(lut, LUT3D) else None

    def domain_lines(domain: tuple, key: str) -> list[str]:
        if key == "DOMAIN":
            if domain == _UNIT_DOMAIN:
                return []
            return [
                f"DOMAIN_MIN {_format_row(list(domain[0]), decimals)}",
                f"DOMAIN_MAX {_format_row(list(domain[1]), decimals)}",
            ]
        lo, hi = domain
        if len(set(lo)) != 1 or len(set(hi)) != 1:
            raise RestorekitError(
                f"Resolve's {key} needs one range for all channels, got {domain!r}"
            )
        return [f"{key} {lo[0]:.{decimals}f} {hi[0]:.{decimals}f}"]

    if shaper is not None and cube is not None:
        lines += [f"LUT_1D_SIZE {shaper.size}", *domain_lines(shaper.domain, "LUT_1D_INPUT_RANGE")]
        lines += [f"LUT_3D_SIZE {cube.size}", *domain_lines(cube.domain, "LUT_3D_INPUT_RANGE")]
    elif cube is not None:
        lines += [f"LUT_3D_SIZE {cube.size}", *domain_lines(cube.domain, "DOMAIN")]
    else:
        assert shaper is not None
        lines += [f"LUT_1D_SIZE {shaper.size}", *domain_lines(shaper.domain, "DOMAIN")]
    blocks = []
    if shaper is not None:
        blocks.append(shaper.table.detach().double().cpu())
    if cube is not None:
        n = cube.size
        # red fastest: [r, g, b] -> [b, g, r] rows
        blocks.append(cube.table.detach().double().cpu().permute(2, 1, 0, 3).reshape(n**3, 3))
    for block in blocks:
        lines += [_format_row(row, decimals) for row in block.tolist()]
    atomic_write(path, "\n".join(lines) + "\n")


# -- Hald CLUT images ----------------------------------------------------------------------------


def hald_level(width: int, height: int) -> int:
    """The level ``L`` of a Hald image of ``width`` x ``height`` (``L^3`` square, ``L >= 2``)."""
    level = round(width ** (1 / 3))
    if width != height or level < 2 or level**3 != width:
        raise RestorekitError(
            f"a Hald CLUT image is a square of side L^3 (8, 27, 64, 125, 216, ..., 1728 for "
            f"levels 2..12), got {width}x{height}"
        )
    return level


def read_hald(path: str | os.PathLike) -> LUT3D:
    """Read a Hald CLUT image (8- or 16-bit PNG / TIFF) as a :class:`LUT3D` of size ``L^2``."""
    from restorekit.io import read_image

    x = read_image(path)
    if x.shape[1] != 3:
        raise ImageFileError(f"{path}: a Hald CLUT must be an RGB image, got {x.shape[1]} channel")
    try:
        level = hald_level(x.shape[3], x.shape[2])
    except RestorekitError as e:
        raise ImageFileError(f"{path}: {e}") from None
    n = level * level
    # pixel k = r + n g + n^2 b in row-major order: reshape to [b, g, r] and swap to [r, g, b]
    rows = x[0].permute(1, 2, 0).reshape(n, n, n, 3)
    return LUT3D(rows.permute(2, 1, 0, 3).contiguous(), title=Path(path).stem)


def write_hald(
    path: str | os.PathLike, lut: LUT3D | LUT1D, level: int | None = None, bits: int = 16
) -> None:
    """Write ``lut`` as a Hald CLUT image (atomically).

    A LUT of size ``L^2`` without shaper and on the unit domain is written as it is at level
    ``L``; any other is resampled (tetrahedral) at ``level`` (default: the smallest whose
    ``L^2`` is at least the LUT's size; shapers and domains are folded in).
    """
    from restorekit.io import write_image

    if not isinstance(lut, (LUT3D, LUT1D)):
        raise RestorekitError(f"lut must be a LUT3D or LUT1D, got {type(lut).__name__}")
    size = lut.size
    if level is None:
        level = max(2, math.ceil(math.sqrt(size) - 1e-9))
    if isinstance(level, bool) or not isinstance(level, int) or not 2 <= level <= 16:
        raise RestorekitError(f"a Hald level must be an integer in [2, 16], got {level!r}")
    n = level * level
    exact = (
        isinstance(lut, LUT3D) and lut.shaper is None and lut.domain == _UNIT_DOMAIN and size == n
    )
    table = lut.table if exact else resample_lut(lut, n).table
    image = table.detach().float().cpu().permute(2, 1, 0, 3).reshape(level**3, level**3, 3)
    write_image(path, image.permute(2, 0, 1)[None].clamp(0, 1), bits=bits)


def read_lut(path: str | os.PathLike) -> LUT3D | LUT1D:
    """A ``.cube`` file or a Hald CLUT image, by suffix."""
    p = Path(path)
    if p.suffix.lower() == ".cube":
        return read_cube(p)
    if p.suffix.lower() in (".png", ".tif", ".tiff"):
        return read_hald(p)
    raise ImageFileError(
        f"{p}: not a LUT file: use a .cube file or a Hald CLUT image (.png, .tif, .tiff)"
    )
