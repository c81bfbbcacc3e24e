"""The real AV1 codec pair for tests: aomenc codes a picture losslessly with a grain table,
dav1d decodes it with and without the grain (Debian aom-tools and dav1d; the README installs them).

What the seed in the stream is: aomenc 3.6 (libaom) writes the first frame's grain with the
table's ``random_seed + 3381`` (mod 2^16, and 7391 in place of 0), not with the table's seed:
libaom advances the seed for the next frame (``random_seed += 3381``) before the first frame's
header is written. :func:`stream_seed` says it once.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import numpy as np

AOMENC = shutil.which("aomenc") or "aomenc"
DAV1D = shutil.which("dav1d") or "dav1d"


# ----------------------------------------------------------------------------------------------
# The codec pair
# ----------------------------------------------------------------------------------------------


def stream_seed(table_seed: int) -> int:
    """The grain seed aomenc writes for the first frame of a table entry with ``table_seed``."""
    s = (table_seed + 3381) & 0xFFFF
    return 7391 if s == 0 else s


def write_y4m(path: Path, y: np.ndarray, cb: np.ndarray | None, cr: np.ndarray | None) -> None:
    h, w = y.shape
    if cb is None:
        cs = "mono"
    elif cb.shape == y.shape:
        cs = "444"
    elif cb.shape[0] == h:
        cs = "422"
    else:
        cs = "420jpeg"
    data = y.tobytes() + (b"" if cb is None or cr is None else cb.tobytes() + cr.tobytes())
    header = f"YUV4MPEG2 W{w} H{h} F25:1 Ip A1:1 C{cs}\n".encode()
    path.write_bytes(header + b"FRAME\n" + data)


def read_y4m(path: Path) -> tuple[np.ndarray, np.ndarray | None, np.ndarray | None]:
    """The first frame of a y4m file (our own parser: header tokens, one FRAME line)."""
    data = path.read_bytes()
    end = data.index(b"\n")
    tokens = data[:end].split()
    assert tokens[0] == b"YUV4MPEG2", tokens
    fields = {t[:1]: t[1:].decode() for t in tokens[1:]}
    w, h = int(fields[b"W"]), int(fields[b"H"])
    cs = fields.get(b"C", "420jpeg")
    pos = data.index(b"\n", end + 1) + 1  # after "FRAME...\n"
    y = np.frombuffer(data, np.uint8, h * w, pos).reshape(h, w)
    if cs.startswith("mono"):
        return y, None, None
    ch, cw = {"420": ((h + 1) // 2, (w + 1) // 2), "422": (h, (w + 1) // 2), "444": (h, w)}[cs[:3]]
    pos += h * w
    cb = np.frombuffer(data, np.uint8, ch * cw, pos).reshape(ch, cw)
    cr = np.frombuffer(data, np.uint8, ch * cw, pos + ch * cw).reshape(ch, cw)
    return y, cb, cr


Planes = tuple[np.ndarray, np.ndarray | None, np.ndarray | None]


def code_frame(tmp: Path, planes: Planes, table: Path) -> tuple[Planes, Planes]:
    """Code one frame losslessly with ``table``; return the decodes without and with grain."""
    y, cb, cr = planes
    src = tmp / "src.y4m"
    write_y4m(src, y, cb, cr)
    extra = []
    if cb is None:
        extra = ["--monochrome"]
    elif cb.shape == y.shape:
        extra = ["--profile=1"]  # 4:4:4
    elif cb.shape[0] == y.shape[0]:
        extra = ["--profile=2"]  # 4:2:2
    ivf = tmp / "out.ivf"
    cmd = [AOMENC, "--lossless=1", f"--film-grain-table={table}", "--limit=1", "--passes=1"]
    cmd += ["--cpu-used=6", "--ivf", "-q", "-o", str(ivf), *extra, str(src)]
    run = subprocess.run(cmd, capture_output=True, text=True)
    assert run.returncode == 0, f"aomenc refused the table: {run.stderr[-500:]}"
    out = []
    for grain in (0, 1):
        dec = tmp / f"dec{grain}.y4m"
        subprocess.run(
            [DAV1D, "-q", "-i", str(ivf), "--filmgrain", str(grain), "-o", str(dec)], check=True
        )
        out.append(read_y4m(dec))
    return out[0], out[1]
