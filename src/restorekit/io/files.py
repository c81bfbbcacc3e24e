"""Writing files whole or not at all."""

from __future__ import annotations

import os
import secrets
from pathlib import Path

__all__ = ["atomic_write"]


def atomic_write(path: str | os.PathLike, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through a temporary file in the same folder and a rename.

    A crash or an error leaves either the old file or none, never half of one. The file gets the
    permissions any new file gets here (0666 less the umask), as a plain ``open`` would give it;
    ``tempfile.mkstemp`` would make it private (0600). Missing parent folders are created. A
    ``str`` is written as UTF-8.

    Example:
        >>> import tempfile
        >>> f = os.path.join(tempfile.mkdtemp(), "a", "note.txt")
        >>> atomic_write(f, "hello")
        >>> open(f).read()
        'hello'
    """
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    tmp = p.with_name(f".{p.name}.{os.getpid()}.{secrets.token_hex(4)}.part")
    raw = data.encode() if isinstance(data, str) else data
    try:
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    finally:
        tmp.unlink(missing_ok=True)
