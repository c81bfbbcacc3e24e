"""Camera raw files: read the Bayer mosaic with LibRaw (through rawpy) and develop it to sRGB.

:func:`read_raw` returns a :class:`RawImage`: the visible Bayer mosaic, linear, black-subtracted
and scaled to [0, 1] per CFA site, with what the file says about its colour (CFA layout, white
balance, camera-to-sRGB matrix, black and white levels, orientation). :func:`develop` turns it
into an sRGB picture, in this order:

1. white balance: each CFA site is multiplied by its channel's gain, the gains divided by their
   smallest so that every channel reaches 1 at the same raw level; then clipped at 1. This is
   dcraw's and LibRaw's default highlight mode ("clip"): saturated highlights become white;
   nothing is reconstructed.
2. demosaic with any ``demosaic_fn(mosaic, cfa)``, by default
   :func:`restorekit.classical.demosaic.demosaic` with a method name; clipped to [0, 1].
3. the camera-to-sRGB matrix when the file has one (identity otherwise), clipped to [0, 1].
4. the sRGB transfer function (:func:`restorekit.color.srgb_encode`).
5. the orientation the camera recorded (LibRaw's ``flip``).

With the same demosaicing this matches LibRaw's ``postprocess(use_camera_wb=True,
no_auto_bright=True, gamma=(2.4, 12.92), output_color=sRGB)`` step by step.

rawpy is imported only when a raw file is read (``pip install rawpy``).
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch

from restorekit._checks import check_image
from restorekit.color import SRGB_TO_XYZ_D65, srgb_encode
from restorekit.degrade.cfa import CFA
from restorekit.errors import ImageFileError, RestorekitError

__all__ = [
    "RawImage",
    "apply_flip",
    "camera_to_srgb_matrix",
    "cfa_from_pattern",
    "develop",
    "read_raw",
    "white_balance_mosaic",
]

WhiteBalance = Literal["camera", "none"]
DemosaicFn = Callable[[torch.Tensor, CFA], torch.Tensor]

# The old Kodak KDC TIFF tag holding the camera-to-sRGB matrix (3 rows of 1 + 3 SRATIONALs). LibRaw
# reads it into its internal rgb_cam, which rawpy does not expose, so restorekit reads it itself.
_KODAK_RGB_CAM_TAG = 37400


@dataclass(frozen=True, eq=False)
class RawImage:
    """A camera raw's Bayer mosaic and what the file says about its colour.

    Attributes:
        mosaic: the visible Bayer mosaic ``(1, 1, H, W)``, float32, linear camera RGB in [0, 1]:
            ``(value - black) / (white - black)`` per CFA site, clipped. No white balance yet.
        cfa: the layout of ``mosaic``'s top-left 2x2 tile.
        camera_wb: white-balance gains ``(R, G, B)`` with G = 1, from ``wb_source``.
        wb_source: ``"camera"`` (as shot), ``"daylight"`` (the camera's WB was missing or zero;
            LibRaw's daylight gains, from the colour matrix) or ``"none"`` (neither: 1, 1, 1).
        camera_to_srgb: ``(3, 3)`` float64 matrix taking white-balanced camera RGB to linear
            sRGB (each row sums to 1), or ``None`` when the file has no colour matrix.
        matrix_source: ``"rgb_xyz_matrix"`` (LibRaw's XYZ-to-camera matrix, converted as dcraw
            does), ``"kodak_tag_37400"`` (an old Kodak KDC tag) or ``"none"``.
        black_levels: the black level at each site of the 2x2 tile, row by row (raw units).
        white_level: the saturation level (raw units).
        bits: significant bits of ``white_level`` (14 for 16383).
        flip: LibRaw's orientation code (0 none, 3 180 degrees, 5 90 ccw, 6 90 cw).
        metadata: what else LibRaw reports (path, sizes, raw gains, exposure, LibRaw messages).
    """

    mosaic: torch.Tensor
    cfa: CFA
    camera_wb: tuple[float, float, float]
    wb_source: Literal["camera", "daylight", "none"]
    camera_to_srgb: torch.Tensor | None
    matrix_source: Literal["rgb_xyz_matrix", "kodak_tag_37400", "none"]
    black_levels: tuple[float, float, float, float]
    white_level: int
    bits: int
    flip: int = 0
    metadata: dict[str, Any] = field(default_factory=dict)

    @property
    def shape(self) -> tuple[int, int]:
        """``(H, W)`` of the mosaic (before orientation)."""
        return int(self.mosaic.shape[-2]), int(self.mosaic.shape[-1])


def cfa_from_pattern(
    raw_pattern: np.ndarray | None,
    color_desc: bytes | str,
    top_margin: int = 0,
    left_margin: int = 0,
) -> CFA:
    """The Bayer layout of the visible image from LibRaw's ``raw_pattern`` and ``color_desc``.

    ``raw_pattern`` holds colour indices into ``color_desc`` for the top-left tile of the *full*
    raw (rawpy's convention); the visible image starts ``top_margin`` rows and ``left_margin``
    columns in, which shifts the phase.

    Args:
        raw_pattern: rawpy's ``raw_pattern`` (2x2 for Bayer, 6x6 for X-Trans, ``None`` when the
            sensor has no colour filter pattern).
        color_desc: rawpy's ``color_desc``, e.g. ``b"RGBG"`` (index 3 is the second green).
        top_margin: rows of the full raw above the visible image.
        left_margin: columns of the full raw left of the visible image.

    Returns:
        The :class:`~restorekit.degrade.CFA` of the visible image's top-left tile.

    Raises:
        RestorekitError: the sensor is not an RGB Bayer one (X-Trans, CYGM, no CFA).

    Example:
        >>> cfa_from_pattern(np.array([[1, 0], [2, 3]]), b"RGBG")
        <CFA.GRBG: 'GRBG'>
        >>> cfa_from_pattern(np.array([[1, 0], [2, 3]]), b"RGBG", left_margin=1)
        <CFA.RGGB: 'RGGB'>
        >>> cfa_from_pattern(np.zeros((6, 6), int), b"RGBG")
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: 6x6 colour filter pattern (Fuji X-Trans?): not a Bayer sensor; restorekit develops RGB Bayer raws (RGGB, BGGR, GRBG, GBRG) only
    """  # noqa: E501
    only = "restorekit develops RGB Bayer raws (RGGB, BGGR, GRBG, GBRG) only"
    desc = color_desc.decode("ascii", "replace") if isinstance(color_desc, bytes) else color_desc
    if raw_pattern is None:
        raise RestorekitError(f"no colour filter pattern (monochrome or Foveon?); {only}")
    pattern = np.asarray(raw_pattern)
    if pattern.shape != (2, 2):
        kind = " (Fuji X-Trans?)" if pattern.shape == (6, 6) else ""
        shape = "x".join(str(s) for s in pattern.shape)
        raise RestorekitError(f"{shape} colour filter pattern{kind}: not a Bayer sensor; {only}")
    try:
        letters = [desc[int(i)] for i in pattern.ravel()]
    except IndexError:
        raise RestorekitError(
            f"colour filter pattern {pattern.tolist()} does not match the colours {desc!r}"
        ) from None
    if sorted(letters) != ["B", "G", "G", "R"]:
        raise RestorekitError(f"colour filters {''.join(letters)} (e.g. CYGM): {only}")
    return CFA("".join(letters)).shifted(top_margin % 2, left_margin % 2)


def camera_to_srgb_matrix(rgb_xyz_matrix: np.ndarray | torch.Tensor) -> torch.Tensor | None:
    """The camera-to-linear-sRGB matrix from an XYZ-to-camera matrix, built as dcraw does.

    .. math::

        C = M_{\\mathrm{xyz \\to cam}} \\, M_{\\mathrm{sRGB \\to xyz}}, \\qquad
        C_{ij} \\leftarrow C_{ij} / \\textstyle\\sum_k C_{ik}, \\qquad
        M_{\\mathrm{cam \\to sRGB}} = C^{-1}

    The row normalisation makes sRGB white map to camera (1, 1, 1), i.e. the matrix applies to
    white-balanced camera RGB and keeps white white (each row of the result sums to 1).

    Args:
        rgb_xyz_matrix: LibRaw's ``rgb_xyz_matrix`` (``cam_xyz``), 3x3 or 4x3 (a 4th row, for
            4-colour sensors, is ignored). Rows are camera R, G, B.

    Returns:
        ``(3, 3)`` float64, or ``None`` when the matrix is all zero (the file has none), not
        finite, or singular.

    References:
        D. Coffin, dcraw.c, ``cam_xyz_coeff`` (1997-2018).

    Example:
        >>> xyz_to_srgb = np.linalg.inv(np.array(SRGB_TO_XYZ_D65))  # a camera that sees sRGB
        >>> torch.allclose(camera_to_srgb_matrix(xyz_to_srgb), torch.eye(3, dtype=torch.float64))
        True
        >>> camera_to_srgb_matrix(np.zeros((4, 3))) is None
        True
    """
    m = np.asarray(rgb_xyz_matrix, dtype=np.float64)
    if m.ndim != 2 or m.shape[0] < 3 or m.shape[1] != 3:
        raise RestorekitError(f"rgb_xyz_matrix must be 3x3 or 4x3, got shape {m.shape}")
    m = m[:3]
    if not np.isfinite(m).all() or not m.any():
        return None
    cam_rgb = m @ np.array(SRGB_TO_XYZ_D65)
    sums = cam_rgb.sum(axis=1, keepdims=True)
    if (np.abs(sums) < 1e-12).any():
        return None
    try:
        out = np.linalg.inv(cam_rgb / sums)
    except np.linalg.LinAlgError:
        return None
    return torch.from_numpy(out)


def white_balance_mosaic(
    mosaic: torch.Tensor, cfa: CFA, gains: tuple[float, float, float]
) -> torch.Tensor:
    """Multiply each CFA site by its channel's gain and clip at 1 (highlights clipped).

    Args:
        mosaic: Bayer raw ``(B, 1, H, W)``, linear, in [0, 1].
        cfa: its layout.
        gains: ``(R, G, B)`` multipliers, applied as given.

    Returns:
        The white-balanced mosaic in [0, 1].

    Example:
        >>> white_balance_mosaic(torch.full((1, 1, 2, 2), 0.4), CFA.RGGB, (2.0, 1.0, 3.0))
        tensor([[[[0.8000, 0.4000],
                  [0.4000, 1.0000]]]])
    """
    check_image(mosaic, channels=1, name="mosaic")
    return (mosaic * _gain_map(mosaic, cfa, gains)).clamp(0, 1)


def _gain_map(mosaic: torch.Tensor, cfa: CFA, gains: tuple[float, float, float]) -> torch.Tensor:
    """Each CFA site's gain, ``(H, W)``."""
    H, W = mosaic.shape[-2:]
    tile = torch.tensor(
        [[gains[c] for c in row] for row in cfa.tile], dtype=mosaic.dtype, device=mosaic.device
    )
    # repeat the 2x2 gain tile over the image (one extra tile covers odd sizes), then crop
    return tile.repeat((H + 1) // 2, (W + 1) // 2)[:H, :W]


def apply_flip(x: torch.Tensor, flip: int) -> torch.Tensor:
    """Orient an image ``(..., H, W)`` by LibRaw's ``flip`` code, as LibRaw's output does.

    The code's bits: 2 flips top-bottom, 1 flips left-right, 4 then transposes; so 3 is a 180
    degree turn, 5 a quarter turn counter-clockwise, 6 a quarter turn clockwise.

    Example:
        >>> x = torch.tensor([[1, 2], [3, 4]])
        >>> apply_flip(x, 6).tolist()  # clockwise
        [[3, 1], [4, 2]]
        >>> apply_flip(x, 5).tolist()  # counter-clockwise
        [[2, 4], [1, 3]]
    """
    if not 0 <= int(flip) <= 7:
        raise RestorekitError(f"flip must be a LibRaw orientation code 0..7, got {flip}")
    if flip & 2:
        x = x.flip(-2)
    if flip & 1:
        x = x.flip(-1)
    if flip & 4:
        x = x.transpose(-2, -1)
    return x


def develop(
    raw: RawImage,
    demosaic_fn: DemosaicFn | None = None,
    white_balance: WhiteBalance = "camera",
    method: str | None = None,
    color_matrix: bool = True,
    orient: bool = True,
    noise: float | None = None,
) -> tuple[torch.Tensor, dict[str, Any]]:
    """Develop a raw into an sRGB picture: white balance, demosaic, colour matrix, sRGB curve.

    The steps and their clipping are listed in the module docstring.

    Args:
        raw: from :func:`read_raw`.
        demosaic_fn: ``fn(mosaic (B, 1, H, W), cfa) -> RGB (B, 3, H, W)`` on linear data.
            ``None`` uses ``restorekit.classical.demosaic.demosaic(mosaic, cfa, method)``.
        white_balance: ``"camera"`` applies ``raw.camera_wb`` (whatever ``raw.wb_source`` it
            came from), ``"none"`` leaves the camera's raw colours (gains 1, 1, 1).
        method: with no ``demosaic_fn``, the classical method to use (default ``"mhc"``);
            with one, the name reported in the info (default: the function's name).
        color_matrix: apply ``raw.camera_to_srgb`` when there is one (else the identity).
        orient: turn the picture as the camera recorded (``raw.flip``).
        noise: the raw's noise standard deviation on its normalised [0, 1] scale (from the black
            and white levels), for a joint demosaicer: ``demosaic_fn`` is then called with
            ``noise=`` the map of each sample's level after white balance (the level times the
            site's gain).

    Returns:
        ``(rgb, info)``: ``rgb`` is float32 ``(1, 3, H, W)`` sRGB-encoded in [0, 1] (``H`` and
        ``W`` swapped by a quarter-turn ``flip``); ``info`` says what was done: ``method``,
        ``cfa``, ``white_balance`` (``camera``, ``daylight``, ``unity`` or ``none``), ``wb_gains``
        (as applied), ``matrix`` (its source, or ``identity (...)``), ``black_levels``,
        ``white_level``, ``highlights``, ``flip``.

    Raises:
        RestorekitError: an unknown ``white_balance`` or demosaicing method, or a
            ``demosaic_fn`` that does not return ``(B, 3, H, W)``.

    Example:
        >>> raw = RawImage(torch.full((1, 1, 4, 6), 0.25), CFA.RGGB, (2.0, 1.0, 1.5), "camera",
        ...                None, "none", (0.0, 0.0, 0.0, 0.0), 1023, 10)
        >>> rgb, info = develop(raw, method="bilinear")
        >>> rgb.shape, info["wb_gains"], info["matrix"]
        (torch.Size([1, 3, 4, 6]), [2.0, 1.0, 1.5], 'identity (the file has no colour matrix)')
    """
    check_image(raw.mosaic, channels=1, name="raw.mosaic", min_size=2)
    if white_balance == "camera":
        wb_name = {"camera": "camera", "daylight": "daylight", "none": "unity"}[raw.wb_source]
        low = min(raw.camera_wb)
        gains = tuple(g / low for g in raw.camera_wb)
    elif white_balance == "none":
        wb_name, gains = "none", (1.0, 1.0, 1.0)
    else:
        raise RestorekitError(f"white_balance must be 'camera' or 'none', got {white_balance!r}")

    if demosaic_fn is None:
        from restorekit.classical.demosaic import demosaic

        name = method or "mhc"

        def demosaic_fn(r: torch.Tensor, c: CFA) -> torch.Tensor:
            return demosaic(r, c, name)

    else:
        name = method or getattr(demosaic_fn, "__name__", type(demosaic_fn).__name__)

    x = white_balance_mosaic(raw.mosaic, raw.cfa, gains)  # type: ignore[arg-type]
    if noise is None:
        rgb = demosaic_fn(x, raw.cfa)
    else:
        level = noise * _gain_map(x, raw.cfa, gains)  # type: ignore[arg-type]
        rgb = demosaic_fn(x, raw.cfa, noise=level.expand_as(x))
    B, C, H, W = x.shape
    if not isinstance(rgb, torch.Tensor) or tuple(rgb.shape) != (B, 3, H, W):
        got = tuple(rgb.shape) if isinstance(rgb, torch.Tensor) else type(rgb).__name__
        raise RestorekitError(f"demosaic_fn {name!r} must return {(B, 3, H, W)}, got {got}")
    rgb = rgb.float().clamp(0, 1)

    if not color_matrix:
        matrix = "identity (colour matrix disabled)"
    elif raw.camera_to_srgb is None:
        matrix = "identity (the file has no colour matrix)"
    else:
        matrix = raw.matrix_source
        m = raw.camera_to_srgb.to(rgb.device, torch.float32)
        # out[b, i] = sum_j m[i, j] * rgb[b, j] at every pixel
        rgb = torch.einsum("ij,bjhw->bihw", m, rgb).clamp(0, 1)

    out = srgb_encode(rgb)
    if orient:
        out = apply_flip(out, raw.flip)
    info: dict[str, Any] = {
        "method": name,
        "cfa": raw.cfa.value,
        "white_balance": wb_name,
        "wb_gains": [round(float(g), 6) for g in gains],
        "matrix": matrix,
        "black_levels": list(raw.black_levels),
        "white_level": raw.white_level,
        "highlights": "clipped after white balance",
        "flip": raw.flip if orient else 0,
    }
    if noise is not None:
        info["noise"] = noise
    return out.contiguous(), info


@contextmanager
def _libraw_stderr(messages: list[str]) -> Iterator[None]:
    """Collect what LibRaw's C code prints on file descriptor 2 (e.g. "Unexpected end of file")
    into ``messages`` instead of the terminal, so a user's error stays one line."""
    try:
        saved = os.dup(2)
    except OSError:  # no stderr at all: nothing to redirect
        yield
        return
    with tempfile.TemporaryFile() as tmp:
        os.dup2(tmp.fileno(), 2)
        try:
            yield
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            tmp.seek(0)
            text = tmp.read().decode("utf-8", "replace")
            messages.extend(line.strip() for line in text.splitlines() if line.strip())


def _kodak_rgb_cam(path: Path) -> np.ndarray | None:
    """The camera-to-sRGB matrix of an old Kodak KDC file (TIFF tag 37400), or ``None``."""
    with path.open("rb") as f:
        if f.read(4) not in (b"II*\x00", b"MM\x00*"):
            return None
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            todo = list(tif.pages)
            while todo:
                page = todo.pop()
                todo.extend(getattr(page, "pages", None) or [])  # SubIFDs
                tag = page.tags.get(_KODAK_RGB_CAM_TAG)
                if tag is None or len(tag.value) != 24:
                    continue
                # 12 rationals (numerator, denominator): 3 rows of an unused value + 3 entries
                q = np.asarray(tag.value, dtype=np.float64).reshape(12, 2)
                if (q[:, 1] == 0).any():
                    return None
                m = (q[:, 0] / q[:, 1]).reshape(3, 4)[:, 1:]
                return m if m.any() and np.isfinite(m).all() else None
    except Exception:  # a best-effort extra: LibRaw has already read the file
        return None
    return None


def _libraw_reason(e: Exception) -> str:
    arg = e.args[0] if e.args else type(e).__name__
    return arg.decode("utf-8", "replace") if isinstance(arg, bytes) else str(arg)


def _gain(values: Any, desc: str) -> tuple[float, float, float] | None:
    """``(R, G, B)`` gains with G = 1 from LibRaw's 4 per-colour values, or ``None`` if unusable."""
    try:
        v = [float(values[desc.index(ch)]) for ch in "RGB"]
    except (TypeError, ValueError, IndexError):
        return None
    if not all(np.isfinite(v)) or min(v) <= 0:
        return None
    return (v[0] / v[1], 1.0, v[2] / v[1])


def read_raw(path: str | os.PathLike) -> RawImage:
    """Read a camera raw file's visible Bayer mosaic and colour information with LibRaw.

    The mosaic is normalised per CFA site with the file's black levels (rawpy's
    ``black_level_per_channel``, mapped onto the tile through ``raw_pattern``) and white level:
    ``(value - black) / (white - black)``, clipped to [0, 1]. Pattern-wise black levels beyond the
    per-channel ones are not applied.

    The white-balance gains are the camera's as shot; if the file has none (all zero), LibRaw's
    daylight gains; if those are missing too, 1, 1, 1. ``wb_source`` records which. The camera
    gives the second green its own gain in some files; restorekit uses the first green's.

    The colour matrix comes from LibRaw's ``rgb_xyz_matrix`` (:func:`camera_to_srgb_matrix`);
    when that is all zero, from the camera-to-sRGB matrix an old Kodak KDC file stores in TIFF
    tag 37400 (which LibRaw also uses); else there is none.

    Args:
        path: a raw file LibRaw reads (DNG, NEF, CR2, ARW, KDC, ...).

    Returns:
        A :class:`RawImage`.

    Raises:
        ImageFileError: a missing file, a file that is not a raw LibRaw reads (or a truncated or
            corrupt one), or a sensor that is not RGB Bayer (X-Trans, CYGM, Foveon, an already
            demosaiced linear DNG).
        RestorekitError: rawpy is not installed.
    """
    p = Path(path)
    if not p.is_file():
        raise ImageFileError(f"'{p}': no such file")
    try:
        import rawpy
    except ImportError:
        raise RestorekitError("reading camera raw files needs rawpy: pip install rawpy") from None

    messages: list[str] = []
    try:
        with _libraw_stderr(messages), rawpy.imread(str(p)) as r:
            if r.raw_type != rawpy.RawType.Flat:
                raise ImageFileError(
                    f"'{p}': the raw holds {r.num_colors} values per pixel (a linear DNG, sRAW or "
                    "Foveon file), not a Bayer mosaic; restorekit develops Bayer raws only"
                )
            desc = r.color_desc.decode("ascii", "replace")
            pattern = r.raw_pattern
            top, left = int(r.sizes.top_margin), int(r.sizes.left_margin)
            try:
                cfa = cfa_from_pattern(pattern, desc, top, left)
            except RestorekitError as e:
                raise ImageFileError(f"'{p}': {e}") from None
            visible = np.array(r.raw_image_visible, dtype=np.float32)
            black_per_channel = [float(b) for b in r.black_level_per_channel]
            white = int(r.white_level)
            camera_wb = list(r.camera_whitebalance)
            daylight_wb = list(r.daylight_whitebalance)
            rgb_xyz = np.array(r.rgb_xyz_matrix, dtype=np.float64)
            sizes, other = r.sizes, r.other
            camera_white = r.camera_white_level_per_channel
    except rawpy.LibRawError as e:
        detail = "; ".join([_libraw_reason(e), *(m.removeprefix(f"{p}: ") for m in messages)])
        raise ImageFileError(
            f"'{p}': not a camera raw file LibRaw can read, or a truncated or corrupt one "
            f"(LibRaw: {detail})"
        ) from None

    # black level at each site of the visible 2x2 tile, through the (margin-shifted) pattern
    black = tuple(
        black_per_channel[int(pattern[(i + top) % 2, (j + left) % 2])]
        for i in range(2)
        for j in range(2)
    )
    if white <= max(black):
        raise ImageFileError(f"'{p}': white level {white} is not above the black level {black}")
    H, W = visible.shape
    tile = np.array(black, dtype=np.float32).reshape(2, 2)
    black_map = np.tile(tile, ((H + 1) // 2, (W + 1) // 2))[:H, :W]
    mosaic = np.clip((visible - black_map) / (white - black_map), 0.0, 1.0)

    wb, wb_source = _gain(camera_wb, desc), "camera"
    if wb is None:
        wb, wb_source = _gain(daylight_wb, desc), "daylight"
    if wb is None:
        wb, wb_source = (1.0, 1.0, 1.0), "none"

    rows = [desc.index(ch) for ch in "RGB"]  # rgb_xyz_matrix rows are LibRaw colour indices
    matrix, matrix_source = camera_to_srgb_matrix(rgb_xyz[rows]), "rgb_xyz_matrix"
    if matrix is None:
        kodak = _kodak_rgb_cam(p)
        matrix = None if kodak is None else torch.from_numpy(kodak)
        matrix_source = "none" if kodak is None else "kodak_tag_37400"

    metadata: dict[str, Any] = {
        "path": str(p),
        "libraw_version": ".".join(str(v) for v in rawpy.libraw_version),
        "color_desc": desc,
        "raw_pattern": np.asarray(pattern).tolist(),
        "raw_size": (int(sizes.raw_height), int(sizes.raw_width)),
        "margins": (top, left),
        "camera_whitebalance": camera_wb,
        "daylight_whitebalance": daylight_wb,
        "black_level_per_channel": black_per_channel,
        "camera_white_level_per_channel": camera_white,
        "rgb_xyz_matrix": rgb_xyz.tolist(),
        "iso": float(other.iso_speed),
        "shutter_s": float(other.shutter_speed),
        "aperture": float(other.aperture),
        "focal_length_mm": float(other.focal_length),
        "timestamp": other.timestamp.isoformat() if other.timestamp else None,
        "libraw_messages": messages,
    }
    return RawImage(
        mosaic=torch.from_numpy(mosaic)[None, None],
        cfa=cfa,
        camera_wb=wb,
        wb_source=wb_source,  # type: ignore[arg-type]
        camera_to_srgb=matrix,
        matrix_source=matrix_source,  # type: ignore[arg-type]
        black_levels=black,  # type: ignore[arg-type]
        white_level=white,
        bits=white.bit_length(),
        flip=int(sizes.flip),
        metadata=metadata,
    )
