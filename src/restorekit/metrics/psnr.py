"""MSE, PSNR and the demosaicing CPSNR, per image.

Conventions (say them when you report a number):

- The MSE is taken over all channels and pixels of one image, in float64; the metric returns one
  value per image and leaves averaging over a data set to the caller.
- The field computes PSNR on 8-bit images: the caller rounds the restored image to 8 bit first
  (``restorekit.io`` does when it writes a file). The metric itself does not round.
- ``y_only=True`` converts RGB to the BT.601 studio-range Y of MATLAB ``rgb2ycbcr``
  (:func:`~restorekit.metrics.color.rgb_to_y`) with the peak still ``data_range`` (the SR
  convention); gray images are used as they are.
- ``crop`` removes pixels on every side first (the SR convention is ``crop = scale``).
"""

from __future__ import annotations

import torch
from torch import nn

from restorekit.metrics._common import check_data_range, prepare_pair

__all__ = ["CPSNR", "MSE", "PSNR", "cpsnr", "mse", "psnr"]


def mse(x: torch.Tensor, y: torch.Tensor, crop: int = 0, y_only: bool = False) -> torch.Tensor:
    """Mean squared error of each image, over all its channels and pixels.

    Args:
        x: restored image in [0, 1].
        y: reference image in [0, 1].
        crop: pixels removed on every side before computing.
        y_only: compare the BT.601 Y channel of RGB images (gray images as they are).

    Returns:
        ``(B,)`` MSE, computed in float64 and returned in ``x``'s dtype.

    Shape:
        ``(B, C, H, W), (B, C, H, W) -> (B,)`` with C 1 or 3.

    Example:
        >>> mse(torch.zeros(2, 1, 4, 4), torch.full((2, 1, 4, 4), 0.5))
        tensor([0.2500, 0.2500])
    """
    a, b = prepare_pair(x, y, crop=crop, y_only=y_only)
    return (a - b).pow(2).flatten(1).mean(dim=1).to(x.dtype)


def psnr(
    x: torch.Tensor,
    y: torch.Tensor,
    data_range: float = 1.0,
    crop: int = 0,
    y_only: bool = False,
) -> torch.Tensor:
    """Peak signal-to-noise ratio of each image, in dB.

    .. math::

        \\mathrm{PSNR} = 10 \\log_{10} \\frac{R^2}{\\mathrm{MSE}(x, y)}

    with :math:`R` = ``data_range`` and the MSE over all channels (see :func:`mse`). Equals
    ``skimage.metrics.peak_signal_noise_ratio(y, x, data_range=R)`` per image. Identical images have
    MSE 0 and give ``+inf``; as a training loss use :func:`mse` or clamp.

    Args:
        x: restored image in [0, 1]. The metric does not round it to 8 bit: for numbers comparable
            with the literature, quantise first.
        y: reference image in [0, 1].
        data_range: peak-to-peak range of the images (1.0 for [0, 1] images).
        crop: pixels removed on every side before computing.
        y_only: PSNR of the BT.601 studio-range Y channel of RGB images, as MATLAB ``rgb2ycbcr``
            (gray images as they are).

    Returns:
        ``(B,)`` PSNR in dB, computed in float64 and returned in ``x``'s dtype.

    Shape:
        ``(B, C, H, W), (B, C, H, W) -> (B,)`` with C 1 or 3.

    Example:
        >>> x = torch.full((1, 3, 8, 8), 0.5)
        >>> psnr(x, x + 0.1)
        tensor([20.0000])
        >>> psnr(x, x)
        tensor([inf])
    """
    R = check_data_range(data_range)
    a, b = prepare_pair(x, y, crop=crop, y_only=y_only)
    err = (a - b).pow(2).flatten(1).mean(dim=1)
    return (10.0 * torch.log10(R**2 / err)).to(x.dtype)


def cpsnr(
    x: torch.Tensor, y: torch.Tensor, data_range: float = 1.0, crop: int = 10
) -> torch.Tensor:
    """Colour PSNR as in the demosaicing literature.

    The MSE is taken jointly over the three RGB channels after a border of ``crop`` pixels
    (10 by default) is removed on every side, then :math:`10 \\log_{10}(R^2 / \\mathrm{MSE})`.
    This is :func:`psnr` on RGB with ``crop=10``; the border hides the demosaicer's edge handling.
    Papers differ in the border they drop (0, 5, 10 pixels or more): report it with the number.

    Args:
        x: demosaiced RGB image in [0, 1] (the field rounds it to 8 bit first).
        y: reference RGB image in [0, 1].
        data_range: peak-to-peak range of the images.
        crop: border removed on every side.

    Returns:
        ``(B,)`` CPSNR in dB; ``+inf`` for identical images.

    Shape:
        ``(B, 3, H, W), (B, 3, H, W) -> (B,)``

    Example:
        >>> x = torch.full((1, 3, 32, 32), 0.5)
        >>> z = x.clone()
        >>> z[..., :10, :] = 0.0  # an error inside the 10-pixel border is not counted
        >>> cpsnr(z, x)
        tensor([inf])
    """
    R = check_data_range(data_range)
    a, b = prepare_pair(x, y, crop=crop, channels=3)
    err = (a - b).pow(2).flatten(1).mean(dim=1)
    return (10.0 * torch.log10(R**2 / err)).to(x.dtype)


class MSE(nn.Module):
    """Module twin of :func:`mse`."""

    def __init__(self, crop: int = 0, y_only: bool = False) -> None:
        super().__init__()
        self.crop = crop
        self.y_only = y_only

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return mse(x, y, crop=self.crop, y_only=self.y_only)

    def extra_repr(self) -> str:
        return f"crop={self.crop}, y_only={self.y_only}"


class PSNR(nn.Module):
    """Module twin of :func:`psnr`."""

    def __init__(self, data_range: float = 1.0, crop: int = 0, y_only: bool = False) -> None:
        super().__init__()
        self.data_range = data_range
        self.crop = crop
        self.y_only = y_only

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return psnr(x, y, data_range=self.data_range, crop=self.crop, y_only=self.y_only)

    def extra_repr(self) -> str:
        return f"data_range={self.data_range}, crop={self.crop}, y_only={self.y_only}"


class CPSNR(nn.Module):
    """Module twin of :func:`cpsnr`."""

    def __init__(self, data_range: float = 1.0, crop: int = 10) -> None:
        super().__init__()
        self.data_range = data_range
        self.crop = crop

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return cpsnr(x, y, data_range=self.data_range, crop=self.crop)

    def extra_repr(self) -> str:
        return f"data_range={self.data_range}, crop={self.crop}"
