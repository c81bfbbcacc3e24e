"""JPEG compression artefacts, made by a real encoder and decoder (Pillow's libjpeg).

Each image is converted to 8 bits (clipped and rounded, by :func:`restorekit.io.to_numpy`),
encoded at the given quality with Pillow's defaults (baseline, 4:2:0 chroma subsampling for
colour, the standard IJG tables scaled by quality), decoded by Pillow and converted back to float.
The round trip runs on the CPU, one image at a time; it is not differentiable.
"""

from __future__ import annotations

import io as _io

import numpy as np
import torch
from torch import nn

from restorekit._checks import check_image
from restorekit.errors import RestorekitError
from restorekit.io import from_numpy, to_numpy

__all__ = ["JPEG", "jpeg", "sample_jpeg_quality"]


def _check_quality_int(q: object, name: str = "JPEG quality") -> int:
    if isinstance(q, bool) or not isinstance(q, int) or not 1 <= q <= 100:
        raise RestorekitError(f"{name} must be an integer in 1..100, got {q!r}")
    return q


def _qualities(quality: int | torch.Tensor, B: int) -> list[int]:
    """One checked integer quality per image."""
    if not isinstance(quality, torch.Tensor):
        return [_check_quality_int(quality)] * B
    q = quality.detach().cpu().reshape(-1)
    if q.numel() == 1:
        q = q.expand(B)
    if q.numel() != B:
        raise RestorekitError(
            f"JPEG quality must be an int or a ({B},) tensor, got shape {tuple(quality.shape)}"
        )
    if q.is_floating_point() and not bool((q == q.round()).all()):
        raise RestorekitError(f"JPEG quality must hold integers, got {q.tolist()}")
    return [_check_quality_int(int(v)) for v in q.tolist()]


def jpeg(x: torch.Tensor, quality: int | torch.Tensor) -> torch.Tensor:
    """Round-trip each image through a real JPEG encoder and decoder.

    The image is clipped to [0, 1] and rounded to 8 bits first (JPEG holds 8-bit samples), then
    saved by Pillow at ``quality`` with its default settings (4:2:0 chroma subsampling for RGB) and
    read back. The result equals ``Image.open(saved).convert()`` of the 8-bit image, divided by
    255. Not differentiable: the output carries no gradient to ``x`` (use a straight-through
    estimator outside if one is needed).

    Args:
        x: image ``(B, C, H, W)`` in [0, 1], sRGB (JPEG's YCbCr is defined on gamma-encoded
            values), C 1 (gray) or 3 (RGB).
        quality: the IJG quality, an integer 1..100 for every image or a ``(B,)`` integer tensor,
            one per image. Higher is better; 100 still loses a little (rounding and 4:2:0).

    Returns:
        The decoded image, same shape, dtype and device as ``x``, values ``k / 255``.

    Raises:
        RestorekitError: a channel count other than 1 or 3, a quality outside 1..100 or not an
            integer.

    Example:
        >>> x = torch.linspace(0, 1, 64).repeat(1, 3, 64, 1)
        >>> y = jpeg(x, 90)
        >>> y.shape, y.dtype, bool((y - x).abs().mean() < 0.01)
        (torch.Size([1, 3, 64, 64]), torch.float32, True)
        >>> jpeg(x, 0)
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: JPEG quality must be an integer in 1..100, got 0
    """
    from PIL import Image

    check_image(x, channels=(1, 3))
    qualities = _qualities(quality, x.shape[0])
    out = []
    for image, q in zip(x.detach(), qualities, strict=True):
        buf = _io.BytesIO()
        Image.fromarray(to_numpy(image, bits=8)).save(buf, format="JPEG", quality=q)
        with Image.open(buf) as decoded:
            out.append(from_numpy(np.asarray(decoded), dtype=torch.float64))
    return torch.cat(out).to(device=x.device, dtype=x.dtype)


def sample_jpeg_quality(lo: int, hi: int, generator: torch.Generator | None = None) -> int:
    """Draw a JPEG quality uniformly from the integers ``lo..hi`` (both included).

    Args:
        lo: the lowest quality, 1..100.
        hi: the highest quality, ``lo..100``.
        generator: the random source (CPU).

    Returns:
        The quality, a Python int.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> qs = [sample_jpeg_quality(30, 95, generator=g) for _ in range(1000)]
        >>> min(qs), max(qs)
        (30, 95)
    """
    lo = _check_quality_int(lo, "lowest JPEG quality")
    hi = _check_quality_int(hi, "highest JPEG quality")
    if lo > hi:
        raise RestorekitError(f"JPEG quality range must have lo <= hi, got ({lo}, {hi})")
    return int(torch.randint(lo, hi + 1, (1,), generator=generator).item())


class JPEG(nn.Module):
    """Module twin of :func:`jpeg`."""

    def __init__(self, quality: int) -> None:
        super().__init__()
        self.quality = _check_quality_int(quality)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return jpeg(x, self.quality)

    def extra_repr(self) -> str:
        return f"quality={self.quality}"
