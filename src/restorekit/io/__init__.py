"""Image files in and out: the only place that knows uint8 and uint16."""

from __future__ import annotations

from restorekit.io.files import atomic_write
from restorekit.io.image import (
    IMAGE_SUFFIXES,
    attach_alpha,
    from_numpy,
    list_images,
    read_image,
    read_image_with_depth,
    to_numpy,
    write_image,
)

__all__ = [
    "IMAGE_SUFFIXES",
    "atomic_write",
    "attach_alpha",
    "from_numpy",
    "list_images",
    "read_image",
    "read_image_with_depth",
    "to_numpy",
    "write_image",
]
