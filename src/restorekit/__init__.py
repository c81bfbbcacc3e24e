"""restorekit: learned image restoration measured against classical baselines.

Images are float tensors ``(B, C, H, W)`` in [0, 1]; see ``restorekit.io`` for files.
Heavy optional libraries (OpenCV, bm3d, colour-demosaicing, scikit-image) are imported lazily.
"""

from __future__ import annotations

__version__ = "0.1.0"

from restorekit.errors import RestorekitError

__all__ = ["RestorekitError", "__version__"]
