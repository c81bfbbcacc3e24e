"""What the web page tests share: the bad uploads they send, a free port."""

from __future__ import annotations

import io
import socket
import struct
import zlib

import numpy as np

from helpers import shared_images


def png_bomb(side: int = 20000) -> bytes:
    """A valid 8-bit gray PNG of side x side zeros: a few hundred kB that decode to side^2 bytes."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (
            struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
        )

    z = zlib.compressobj(9)
    row = b"\x00" * (side + 1)  # filter byte + pixels
    idat = b"".join(z.compress(row) for _ in range(side)) + z.flush()
    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def bad_uploads() -> dict[str, tuple[bytes, str]]:
    """name -> (bytes, what the page must say)."""
    from PIL import Image

    kodak = shared_images("test/color/Kodak24")[0].read_bytes()
    rgb = np.asarray(Image.open(io.BytesIO(kodak)).convert("RGB"))[:64, :64]
    jpeg = io.BytesIO()
    Image.fromarray(rgb).save(jpeg, "JPEG", quality=90)
    cmyk = io.BytesIO()
    Image.fromarray(rgb).convert("CMYK").save(cmyk, "JPEG", quality=90)
    import tifffile

    tif16 = io.BytesIO()
    tifffile.imwrite(tif16, (rgb.astype(np.uint16) * 257))
    return {
        "bomb.png": (png_bomb(), "the image is too large"),
        "text.png": (b"hello, this is not an image\n" * 10, "not a PNG, JPEG or TIFF"),
        "truncated.jpg": (jpeg.getvalue()[: len(jpeg.getvalue()) // 2], "truncated or corrupt"),
        "16bit.tif": (tif16.getvalue(), "16-bit image"),
        "cmyk.jpg": (cmyk.getvalue(), "CMYK image: converted to RGB"),
    }


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
