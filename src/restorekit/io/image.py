"""Reading and writing image files as float tensors.

This is the only module that knows about uint8 / uint16. A file becomes a float32 tensor
``(1, C, H, W)`` in [0, 1] (C = 1 gray, 3 RGB, 4 RGBA); a tensor becomes a file by clipping to
[0, 1] and rounding to 8 or 16 bits. Values are whatever the file holds (usually sRGB).

Formats: PNG (8 and 16 bit), JPEG (8 bit), TIFF (8 and 16 bit, through tifffile). Pillow decodes
8-bit PNG and JPEG; OpenCV decodes and encodes 16-bit PNG (Pillow truncates 16-bit RGB to 8 bit).
Writes are atomic: the file is encoded in memory, written to a temporary file beside the target
and renamed over it, so a failure never leaves a half-written output.
"""

from __future__ import annotations

import io as _io
import os
import struct
from pathlib import Path
from typing import Literal

import numpy as np
import torch

from restorekit._checks import check_image
from restorekit.errors import ImageFileError, RestorekitError
from restorekit.io.files import atomic_write

__all__ = [
    "IMAGE_SUFFIXES",
    "from_numpy",
    "list_images",
    "read_image",
    "read_image_with_depth",
    "to_numpy",
    "write_image",
]

Mode = Literal["keep", "alpha", "gray", "rgb", "rgba"]
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".tif", ".tiff")
_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
# BT.601 luma weights, used only when a colour file is read as gray.
_LUMA = np.array([0.299, 0.587, 0.114])


def _suffix(path: Path) -> str:
    s = path.suffix.lower()
    if s not in IMAGE_SUFFIXES:
        raise ImageFileError(
            f"'{path}': unsupported image type {s or '(none)'}; "
            f"use one of {', '.join(IMAGE_SUFFIXES)}"
        )
    return s


def _png_bit_depth(data: bytes) -> int:
    """Bit depth from the PNG IHDR chunk (signature, length, 'IHDR', width, height, depth)."""
    if len(data) < 29 or not data.startswith(_PNG_SIGNATURE) or data[12:16] != b"IHDR":
        return 0
    return struct.unpack(">B", data[24:25])[0]


def _decode_pil(data: bytes, path: Path) -> np.ndarray:
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(_io.BytesIO(data)) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L"):
                return np.asarray(im, dtype=np.uint16).copy()
            if im.mode == "I":
                arr = np.asarray(im)
                if arr.min() < 0 or arr.max() > 65535:
                    raise ImageFileError(f"'{path}': 32-bit integer images are not supported")
                return arr.astype(np.uint16)
            if im.mode in ("F",):
                raise ImageFileError(f"'{path}': floating-point images are not supported")
            if im.mode == "1":
                im = im.convert("L")
            elif im.mode == "P":
                im = im.convert("RGBA" if "transparency" in im.info else "RGB")
            elif im.mode == "LA":
                im = im.convert("RGBA")
            elif im.mode not in ("L", "RGB", "RGBA"):
                im = im.convert("RGB")
            return np.asarray(im).copy()
    except UnidentifiedImageError:
        raise ImageFileError(f"'{path}': not an image file (or a corrupt one)") from None
    except (OSError, SyntaxError, ValueError) as e:
        if isinstance(e, ImageFileError):
            raise
        raise ImageFileError(f"'{path}': truncated or corrupt image ({e})") from None


def _decode_png16(data: bytes, path: Path) -> np.ndarray:
    import cv2

    # Pillow cannot decode 16-bit colour PNG: check integrity with it, then decode with OpenCV.
    from PIL import Image

    try:
        with Image.open(_io.BytesIO(data)) as im:
            im.verify()
    except Exception as e:
        raise ImageFileError(f"'{path}': truncated or corrupt image ({e})") from None
    arr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_UNCHANGED)
    if arr is None:
        raise ImageFileError(f"'{path}': truncated or corrupt image")
    if arr.ndim == 3:  # OpenCV stores colour as BGR(A)
        arr = arr[..., [2, 1, 0, 3][: arr.shape[2]]] if arr.shape[2] in (3, 4) else arr
    return np.ascontiguousarray(arr)


def _decode_tiff(data: bytes, path: Path) -> np.ndarray:
    import tifffile

    try:
        arr = tifffile.imread(_io.BytesIO(data))
    except Exception as e:
        raise ImageFileError(f"'{path}': truncated or corrupt TIFF ({e})") from None
    if arr.ndim == 3 and arr.shape[0] in (1, 3, 4) and arr.shape[-1] not in (1, 3, 4):
        arr = np.moveaxis(arr, 0, -1)  # planar (C, H, W) storage
    if arr.ndim == 3 and arr.shape[-1] == 1:
        arr = arr[..., 0]
    if arr.ndim not in (2, 3) or (arr.ndim == 3 and arr.shape[-1] not in (3, 4)):
        raise ImageFileError(f"'{path}': unsupported TIFF layout {arr.shape}")
    if arr.dtype not in (np.uint8, np.uint16):
        raise ImageFileError(f"'{path}': unsupported TIFF sample type {arr.dtype}; use 8 or 16 bit")
    return arr


def _apply_mode(arr: np.ndarray, mode: Mode, path: Path) -> np.ndarray:
    """Make the channel layout what ``mode`` asks for; arr is HxW or HxWxC (C = 3 or 4)."""
    if mode not in ("keep", "alpha", "gray", "rgb", "rgba"):
        raise RestorekitError(f"unknown mode {mode!r}; use keep, alpha, gray, rgb or rgba")
    peak = 65535 if arr.dtype == np.uint16 else 255
    if mode == "alpha":  # as "keep", but real transparency stays as a 4th channel
        if arr.ndim == 3 and arr.shape[2] == 4 and (arr[..., 3] == peak).all():
            arr = arr[..., :3]
        return arr
    if arr.ndim == 3 and arr.shape[2] == 4 and mode != "rgba":
        if (arr[..., 3] != peak).any():
            raise ImageFileError(
                f"'{path}': has transparency (a non-opaque alpha channel), not supported here"
            )
        arr = arr[..., :3]
    if mode == "gray" and arr.ndim == 3:
        arr = np.clip(np.rint(arr[..., :3] @ _LUMA), 0, peak).astype(arr.dtype)
    elif mode in ("rgb", "rgba") and arr.ndim == 2:
        arr = np.repeat(arr[..., None], 3, axis=2)
    if mode == "rgba" and arr.shape[2] == 3:
        arr = np.concatenate([arr, np.full((*arr.shape[:2], 1), peak, arr.dtype)], axis=2)
    return arr


def from_numpy(arr: np.ndarray, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 / uint16 ``HxW`` or ``HxWxC`` array -> float ``(1, C, H, W)`` in [0, 1].

    Args:
        arr: the image array.
        dtype: float32 (default) or float64; the division by 255 / 65535 happens in this precision.

    Example:
        >>> from_numpy(np.full((2, 3), 255, np.uint8)).shape
        torch.Size([1, 1, 2, 3])
    """
    if arr.dtype == np.uint8:
        peak = 255.0
    elif arr.dtype == np.uint16:
        peak = 65535.0
    else:
        raise RestorekitError(f"expected a uint8 or uint16 array, got {arr.dtype}")
    np_dtype = np.float64 if dtype == torch.float64 else np.float32
    t = torch.from_numpy(arr.astype(np_dtype) / np_dtype(peak)).to(dtype)
    return t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None].contiguous()


def to_numpy(x: torch.Tensor, bits: int = 8) -> np.ndarray:
    """float ``(1, C, H, W)`` or ``(C, H, W)`` in [0, 1] -> uint8/uint16 ``HxW`` or ``HxWxC``.

    Values are clipped to [0, 1] and rounded to the nearest code.

    Example:
        >>> to_numpy(torch.full((1, 1, 1, 2), 0.5)).tolist()
        [[128, 128]]
    """
    if bits not in (8, 16):
        raise RestorekitError(f"bits must be 8 or 16, got {bits}")
    if x.ndim == 4:
        if x.shape[0] != 1:
            raise RestorekitError(f"expected one image, got a batch of {x.shape[0]}")
        x = x[0]
    if x.ndim != 3:
        raise RestorekitError(f"expected (1, C, H, W) or (C, H, W), got {tuple(x.shape)}")
    peak = 255 if bits == 8 else 65535
    C, H, W = x.shape
    out = np.empty((H, W, C), np.uint8 if bits == 8 else np.uint16)
    x = x.detach().to("cpu")
    rows = max(1, (1 << 18) // max(1, W * C))  # blocks of about 256 K values stay in cache
    for r in range(0, H, rows):
        # float64: the product of a float32 value and the peak is exact, so is its rounding
        block = x[:, r : r + rows].to(torch.float64).clamp_(0, 1).mul_(peak).round_()
        out[r : r + rows] = block.permute(1, 2, 0).numpy()
    return out[..., 0] if C == 1 else out


def read_image_with_depth(path: str | os.PathLike, mode: Mode = "keep") -> tuple[torch.Tensor, int]:
    """Read an image file, returning the tensor and the file's bit depth (8 or 16).

    Args:
        path: a PNG, JPEG or TIFF file.
        mode: ``keep`` (gray stays 1 channel, RGB 3, an opaque RGBA becomes RGB),
            ``alpha`` (as ``keep``, but an RGBA with real transparency stays 4 channels),
            ``gray`` (colour is converted with BT.601 luma weights), ``rgb`` (gray is repeated),
            ``rgba``.

    Returns:
        ``(image, bits)`` with image float32 ``(1, C, H, W)`` in [0, 1].

    Raises:
        ImageFileError: missing, unreadable, truncated or non-image file, or an RGBA file with
            real transparency read with ``keep``, ``gray`` or ``rgb``.

    Example:
        >>> import tempfile
        >>> f = os.path.join(tempfile.mkdtemp(), "x16.tif")
        >>> write_image(f, torch.full((1, 1, 2, 2), 0.25), bits=16)
        >>> x, bits = read_image_with_depth(f)
        >>> bits, round(x.max().item() * 65535)
        (16, 16384)
    """
    p = Path(path)
    suffix = _suffix(p)
    if not p.is_file():
        raise ImageFileError(f"'{p}': no such file")
    data = p.read_bytes()
    if suffix == ".png" and _png_bit_depth(data) == 16:
        arr = _decode_png16(data, p)
    elif suffix in (".tif", ".tiff"):
        arr = _decode_tiff(data, p)
    else:
        arr = _decode_pil(data, p)
    bits = 16 if arr.dtype == np.uint16 else 8
    return from_numpy(_apply_mode(arr, mode, p)), bits


def read_image(path: str | os.PathLike, mode: Mode = "keep") -> torch.Tensor:
    """Read an image file as float32 ``(1, C, H, W)`` in [0, 1].

    See :func:`read_image_with_depth` for the arguments.

    Example:
        >>> import tempfile, os
        >>> f = os.path.join(tempfile.mkdtemp(), "x.png")
        >>> write_image(f, torch.full((1, 3, 4, 5), 0.5))
        >>> read_image(f).shape
        torch.Size([1, 3, 4, 5])
    """
    return read_image_with_depth(path, mode)[0]


def _encode(arr: np.ndarray, suffix: str, bits: int, quality: int) -> bytes:
    if suffix in (".tif", ".tiff"):
        import tifffile

        buf = _io.BytesIO()
        photometric = "minisblack" if arr.ndim == 2 else "rgb"
        extras = {"extrasamples": ["unassalpha"]} if arr.ndim == 3 and arr.shape[2] == 4 else {}
        tifffile.imwrite(buf, arr, photometric=photometric, compression="zlib", **extras)
        return buf.getvalue()
    if suffix == ".png" and bits == 16 and arr.ndim == 3:
        import cv2

        bgr = arr[..., [2, 1, 0, 3][: arr.shape[2]]]
        ok, enc = cv2.imencode(".png", np.ascontiguousarray(bgr))
        if not ok:
            raise ImageFileError("OpenCV could not encode the 16-bit PNG")
        return enc.tobytes()
    from PIL import Image

    if suffix in (".jpg", ".jpeg"):
        if bits != 8:
            raise RestorekitError("JPEG holds only 8-bit images; use PNG or TIFF for 16 bit")
        if arr.ndim == 3 and arr.shape[2] == 4:
            raise RestorekitError("JPEG has no alpha channel; use PNG or TIFF for RGBA")
    buf = _io.BytesIO()
    im = Image.fromarray(arr)  # uint16 2-D becomes mode I;16
    if suffix == ".png":
        # zlib level 3: about 20 % faster than Pillow's default 6 on photographs and grain,
        # files a few per cent larger; lossless either way
        im.save(buf, format="PNG", compress_level=3)
    else:
        im.save(buf, format="JPEG", quality=quality, subsampling=0)
    return buf.getvalue()


def write_image(path: str | os.PathLike, x: torch.Tensor, bits: int = 8, quality: int = 95) -> None:
    """Write one image atomically (temporary file + rename).

    Args:
        path: target ``.png``, ``.jpg``/``.jpeg`` or ``.tif``/``.tiff``; its folder must exist.
        x: ``(1, C, H, W)`` or ``(C, H, W)`` float in [0, 1], C in 1, 3, 4; clipped and rounded.
        bits: 8 or 16 (16 only for PNG and TIFF).
        quality: JPEG quality.

    Raises:
        RestorekitError: bad tensor, bad bit depth for the format, or a missing folder.

    Example:
        >>> import tempfile
        >>> f = os.path.join(tempfile.mkdtemp(), "gray.png")
        >>> write_image(f, torch.rand(1, 1, 8, 8))
        >>> read_image(f).shape
        torch.Size([1, 1, 8, 8])
    """
    p = Path(path)
    suffix = _suffix(p)
    if isinstance(x, torch.Tensor) and x.ndim == 3:
        x = x.unsqueeze(0)
    check_image(x, channels=(1, 3, 4))
    arr = to_numpy(x, bits)
    folder = p.parent if str(p.parent) else Path(".")
    if not folder.is_dir():
        raise RestorekitError(f"cannot write '{p}': folder '{folder}' does not exist")
    data = _encode(arr, suffix, bits, quality)
    atomic_write(p, data)


def list_images(folder: str | os.PathLike) -> list[Path]:
    """Sorted paths of the image files directly in ``folder``.

    Raises:
        RestorekitError: ``folder`` is not a folder, or holds no image.

    Example:
        >>> import tempfile
        >>> d = tempfile.mkdtemp()
        >>> write_image(os.path.join(d, "b.png"), torch.zeros(1, 1, 2, 2))
        >>> write_image(os.path.join(d, "a.tif"), torch.zeros(1, 1, 2, 2))
        >>> [p.name for p in list_images(d)]
        ['a.tif', 'b.png']
    """
    d = Path(folder)
    if not d.is_dir():
        raise RestorekitError(f"'{d}': not a folder")
    paths = sorted(p for p in d.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file())
    if not paths:
        raise RestorekitError(f"'{d}': no images ({', '.join(IMAGE_SUFFIXES)})")
    return paths


def attach_alpha(y: torch.Tensor, alpha: torch.Tensor | None) -> torch.Tensor:
    """Give an RGB result ``y`` the alpha plane of its input: unchanged when the size is the
    same, resized alike (bicubic, clipped) when not. One-channel results (a Bayer mosaic) and
    ``alpha=None`` return ``y`` as it is.
    """
    import torch.nn.functional as F

    if alpha is None or y.shape[1] != 3:
        return y
    if tuple(alpha.shape[-2:]) != tuple(y.shape[-2:]):
        alpha = F.interpolate(alpha, size=tuple(y.shape[-2:]), mode="bicubic", align_corners=False)
        alpha = alpha.clamp(0, 1)
    return torch.cat([y, alpha.to(y.dtype)], dim=1)
