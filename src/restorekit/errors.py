"""The errors restorekit raises for a user's mistake.

Every error a user can cause (a missing file, a bad argument, a wrong image mode) is a
:class:`RestorekitError`. The CLI prints such an error as one line and exits non-zero; any other
exception is a bug in restorekit and keeps its traceback.
"""

from __future__ import annotations

__all__ = ["ImageFileError", "RestorekitError"]


class RestorekitError(ValueError):
    """A user-facing error: bad input, bad argument, unreadable file.

    Subclasses ``ValueError`` so that callers who validate with ``except ValueError`` still work.
    """


class ImageFileError(RestorekitError):
    """An image file is missing, truncated, not an image, or in a mode restorekit cannot use."""
