"""MATLAB-compatible bicubic resizing: the downscale that makes super-resolution's LR images.

:func:`imresize` reproduces MATLAB's ``imresize(x, scale, 'bicubic')`` (Image Processing Toolbox),
the resize behind every published "bicubic" super-resolution number:

- Keys' cubic kernel with :math:`a = -0.5` (torch's ``interpolate`` defaults to :math:`a = -0.75`);
- when shrinking, the kernel is stretched by ``1 / scale`` (MATLAB's default antialiasing), so a x4
  downscale averages over 16 input pixels per axis, not 4;
- pixel centres are aligned: output pixel ``i`` (from 0) samples input position
  ``(i + 0.5) / scale - 0.5``;
- outside the image the input is mirrored with the edge pixel repeated
  (``[..., 2, 1, 0, 0, 1, 2, ...]``); the weights of each output pixel are normalised to sum 1;
- separable: the axis that shrinks most is resized first (height first on a tie).

Each axis is one dense ``(out, in)`` weight matrix (:func:`resize_matrix`), applied with a matrix
product, so the resize is fast on CPU and GPU and differentiable in ``x``. The products cost
``in * out`` per row or column; that stays cheap up to a few thousand pixels a side (tile larger
images).

Unlike MATLAB on ``uint8`` images, the result is neither rounded nor clipped, between the two
passes or at the end: bicubic overshoots by a few percent at sharp edges, and values slightly
outside [0, 1] are kept (clip or round when converting to 8 bits, as ``io/`` does).
"""

from __future__ import annotations

import math
from functools import lru_cache

import numpy as np
import torch
from torch import nn

from restorekit._checks import check_image, check_positive
from restorekit.errors import RestorekitError

__all__ = [
    "Downscale",
    "Resize",
    "cubic_kernel",
    "downscale",
    "imresize",
    "imresize_output_size",
    "resize_matrix",
]

_KERNEL_WIDTH = 4.0  # support of the cubic kernel, in input pixels


def cubic_kernel(t: np.ndarray) -> np.ndarray:
    """Keys' cubic convolution kernel with :math:`a = -0.5`, as MATLAB's ``cubic``.

    .. math::
        k(t) = \\begin{cases}
        1.5|t|^3 - 2.5|t|^2 + 1 & |t| \\le 1 \\\\
        -0.5|t|^3 + 2.5|t|^2 - 4|t| + 2 & 1 < |t| \\le 2 \\\\
        0 & \\text{otherwise}
        \\end{cases}

    Args:
        t: distances, in pixels.

    Returns:
        The kernel values, same shape as ``t``, float64.

    References:
        R. Keys, "Cubic convolution interpolation for digital image processing", IEEE Trans.
        ASSP, 1981.

    Example:
        >>> cubic_kernel(np.array([0.0, 0.5, 1.0, 1.5, 2.0])).tolist()
        [1.0, 0.5625, 0.0, -0.0625, 0.0]
    """
    a = np.abs(np.asarray(t, dtype=np.float64))
    a2, a3 = a * a, a * a * a
    near = (1.5 * a3 - 2.5 * a2 + 1.0) * (a <= 1)
    far = (-0.5 * a3 + 2.5 * a2 - 4.0 * a + 2.0) * ((a > 1) & (a <= 2))
    return near + far


@lru_cache(maxsize=256)
def _contributions(
    in_length: int, out_length: int, scale: float, antialias: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Input indices (0-based) and weights, each ``(out, taps)``, as MATLAB's ``contributions``.

    Cached (they are small: ``taps`` is 6 when enlarging, ``4 / scale + 2`` when shrinking).
    """
    if scale < 1 and antialias:
        # Stretch the kernel by 1/scale (and shrink its height) to low-pass before sampling.
        def kernel(t: np.ndarray) -> np.ndarray:
            return scale * cubic_kernel(scale * t)

        width = _KERNEL_WIDTH / scale
    else:
        kernel, width = cubic_kernel, _KERNEL_WIDTH

    # MATLAB's 1-based coordinates: output pixel x maps to input position u.
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1 - 1 / scale)
    left = np.floor(u - width / 2)
    taps = math.ceil(width) + 2  # every input pixel that can be within reach of u
    idx = left[:, None] + np.arange(taps)[None, :]  # (out, taps), 1-based, may fall outside
    w = kernel(u[:, None] - idx)
    w /= w.sum(axis=1, keepdims=True)

    # Indices outside [1, in] are mirrored with the edge repeated: aux = [1:in, in:-1:1].
    mirror = np.concatenate([np.arange(in_length), np.arange(in_length)[::-1]])
    idx0 = mirror[np.mod(idx.astype(np.int64) - 1, 2 * in_length)]
    idx0.setflags(write=False)
    w.setflags(write=False)
    return idx0, w


def resize_matrix(
    in_length: int,
    out_length: int,
    scale: float | None = None,
    antialias: bool = True,
    device: torch.device | str | None = None,
    dtype: torch.dtype = torch.float32,
) -> torch.Tensor:
    """The matrix that resizes one axis: ``y = M @ x`` along that axis.

    Args:
        in_length: input length along the axis.
        out_length: output length along the axis.
        scale: the kernel's scale factor; ``None`` uses ``out_length / in_length``. MATLAB uses
            the requested scale (not the ratio of lengths) when a scale is given.
        antialias: stretch the kernel by ``1 / scale`` when shrinking (MATLAB's default).
        device: where to put the matrix.
        dtype: its float dtype.

    Returns:
        The ``(out_length, in_length)`` weights; each row sums to 1.

    Example:
        >>> m = resize_matrix(8, 4)
        >>> tuple(m.shape), bool(torch.allclose(m.sum(1), torch.ones(4)))
        ((4, 8), True)
    """
    if in_length < 1 or out_length < 1:
        raise RestorekitError(f"lengths must be >= 1, got in {in_length}, out {out_length}")
    s = out_length / in_length if scale is None else check_positive(scale, "scale", False)
    idx, w = _contributions(int(in_length), int(out_length), float(s), bool(antialias))
    rows = torch.arange(out_length, device=device)[:, None].expand(idx.shape)
    m = torch.zeros(out_length, in_length, device=device, dtype=dtype)
    # accumulate: near the border a mirrored input pixel is hit twice
    w_t = torch.tensor(w, device=device, dtype=dtype)
    return m.index_put_((rows, torch.tensor(idx, device=device)), w_t, accumulate=True)


def imresize_output_size(size: tuple[int, int], scale: float) -> tuple[int, int]:
    """The output size MATLAB's ``imresize`` gives for a scale: ``ceil(scale * size)``.

    A product within 1e-9 of an integer counts as that integer, so that 1.1 times 50 is 55 (MATLAB
    gives 56, as ``1.1 * 50 == 55.00000000000001`` in floating point).

    Example:
        >>> imresize_output_size((255, 37), 1 / 3)
        (85, 13)
        >>> imresize_output_size((50, 50), 1.1)
        (55, 55)
    """
    s = check_positive(scale, "scale", allow_zero=False)

    def one(n: int) -> int:
        v = s * n
        r = round(v)
        return max(1, r if abs(v - r) < 1e-9 * max(1.0, v) else math.ceil(v))

    return one(size[0]), one(size[1])


def imresize(
    x: torch.Tensor,
    scale: float | None = None,
    size: tuple[int, int] | None = None,
    antialias: bool = True,
) -> torch.Tensor:
    """Resize like MATLAB's ``imresize(x, scale, 'bicubic')``, differentiably.

    Give exactly one of ``scale`` and ``size``. With ``scale``, the output is
    ``ceil(scale * (H, W))`` and the kernel uses ``scale`` on both axes (as MATLAB); with
    ``size``, each axis uses its own ratio ``out / in``.

    Args:
        x: image in [0, 1], linear or sRGB (resizing is linear in the values it gets), any channel
            count, float32 or float64 (other float dtypes are computed in float32).
        scale: the factor, > 0 (``0.25`` shrinks by 4, ``2`` doubles).
        size: the output ``(height, width)``.
        antialias: stretch the kernel when shrinking (MATLAB's default, ``True``); ``False`` is
            MATLAB's ``'Antialiasing', false``. No effect when enlarging.

    Returns:
        The resized image, not clipped: bicubic can overshoot [0, 1] slightly at sharp edges.

    Shape:
        ``(B, C, H, W) -> (B, C, H', W')``

    References:
        R. Keys, "Cubic convolution interpolation for digital image processing", IEEE Trans.
        ASSP, 1981. MATLAB Image Processing Toolbox, ``imresize``.

    Example:
        >>> x = torch.rand(1, 3, 12, 9)
        >>> imresize(x, 1 / 3).shape
        torch.Size([1, 3, 4, 3])
        >>> imresize(x, size=(5, 7)).shape
        torch.Size([1, 3, 5, 7])
        >>> bool(torch.allclose(imresize(torch.full((1, 1, 8, 8), 0.3), 0.5), torch.tensor(0.3)))
        True
    """
    check_image(x)
    H, W = x.shape[-2:]
    if (scale is None) == (size is None):
        raise RestorekitError("give exactly one of scale and size to imresize")
    if scale is not None:
        s = check_positive(scale, "scale", allow_zero=False)
        out_h, out_w = imresize_output_size((H, W), s)
        scales = (s, s)
    else:
        try:
            out_h, out_w = (int(v) for v in size)  # type: ignore[union-attr]
        except (TypeError, ValueError):
            raise RestorekitError(f"size must be (height, width), got {size!r}") from None
        if out_h < 1 or out_w < 1 or (out_h, out_w) != tuple(size):  # type: ignore[arg-type]
            raise RestorekitError(f"size must be two integers >= 1, got {size!r}")
        scales = (out_h / H, out_w / W)

    dtype = x.dtype if x.dtype in (torch.float32, torch.float64) else torch.float32
    y = x.to(dtype)
    rows = (-2, H, out_h, scales[0])
    cols = (-1, W, out_w, scales[1])
    # MATLAB resizes the axis with the smaller scale first (height on a tie).
    for dim, n_in, n_out, s_axis in (rows, cols) if scales[0] <= scales[1] else (cols, rows):
        y = _resize_axis(y, dim, n_in, n_out, s_axis, antialias)
    return y.to(x.dtype)


# Above this many matrix entries an axis is resized by a sum over kernel taps instead of a dense
# (out, in) matrix product: BLAS makes the matrix faster for ordinary sizes, but its cost and
# memory grow with out * in (a 6000 -> 24000 upscale would need a 576 MB matrix).
DENSE_LIMIT = 2**24


def _resize_axis(
    y: torch.Tensor, dim: int, n_in: int, n_out: int, scale: float, antialias: bool
) -> torch.Tensor:
    """Resize axis ``dim`` (-2 or -1) of ``y`` from ``n_in`` to ``n_out`` samples."""
    if n_in * n_out <= DENSE_LIMIT:
        m = resize_matrix(n_in, n_out, scale, antialias, device=y.device, dtype=y.dtype)
        return torch.matmul(m, y) if dim == -2 else torch.matmul(y, m.T)
    if dim == -1:  # gathering rows is much faster than gathering columns
        yt = y.transpose(-1, -2).contiguous()
        return _resize_axis(yt, -2, n_in, n_out, scale, antialias).transpose(-1, -2)
    idx, w = _contributions(int(n_in), int(n_out), float(scale), bool(antialias))
    index = torch.tensor(idx.T, device=y.device)  # (taps, out)
    weight = torch.tensor(w.T, device=y.device, dtype=y.dtype)
    out = None
    for k in range(index.shape[0]):
        term = y.index_select(-2, index[k]) * weight[k].view(-1, 1)
        out = term if out is None else out + term
    return out.contiguous()


def downscale(x: torch.Tensor, factor: float, antialias: bool = True) -> torch.Tensor:
    """Shrink by ``factor`` with MATLAB's bicubic: ``imresize(x, 1 / factor)``.

    The super-resolution convention first crops the HR image to a multiple of ``factor``; if
    ``H`` or ``W`` is not a multiple, the output size is rounded up, as MATLAB does.

    Args:
        x: image in [0, 1], any channel count.
        factor: the shrink factor, >= 1 (4 gives a quarter of the width and height).
        antialias: see :func:`imresize`.

    Returns:
        The downscaled image, not clipped.

    Shape:
        ``(B, C, H, W) -> (B, C, ceil(H / factor), ceil(W / factor))``

    Example:
        >>> downscale(torch.rand(2, 1, 16, 12), 4).shape
        torch.Size([2, 1, 4, 3])
    """
    f = check_positive(factor, "factor", allow_zero=False)
    if f < 1:
        raise RestorekitError(f"factor must be >= 1 to downscale, got {factor!r}")
    return imresize(x, scale=1 / f, antialias=antialias)


class Resize(nn.Module):
    """Module twin of :func:`imresize`."""

    def __init__(
        self,
        scale: float | None = None,
        size: tuple[int, int] | None = None,
        antialias: bool = True,
    ) -> None:
        super().__init__()
        if (scale is None) == (size is None):
            raise RestorekitError("give exactly one of scale and size to Resize")
        if scale is not None:
            check_positive(scale, "scale", allow_zero=False)
        self.scale = scale
        self.size = None if size is None else tuple(size)
        self.antialias = antialias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return imresize(x, scale=self.scale, size=self.size, antialias=self.antialias)

    def extra_repr(self) -> str:
        what = f"scale={self.scale}" if self.scale is not None else f"size={self.size}"
        return f"{what}, antialias={self.antialias}"


class Downscale(nn.Module):
    """Module twin of :func:`downscale`."""

    def __init__(self, factor: float, antialias: bool = True) -> None:
        super().__init__()
        if check_positive(factor, "factor", allow_zero=False) < 1:
            raise RestorekitError(f"factor must be >= 1 to downscale, got {factor!r}")
        self.factor = factor
        self.antialias = antialias

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return downscale(x, self.factor, antialias=self.antialias)

    def extra_repr(self) -> str:
        return f"factor={self.factor}, antialias={self.antialias}"
