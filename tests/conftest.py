"""pytest configuration. Shared helpers live in tests/helpers.py (``from helpers import ...``)."""

from __future__ import annotations

from helpers import DATA, assert_close, read_uint8, shared_images, to_tensor  # noqa: F401
