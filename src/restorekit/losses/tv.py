"""Image-gradient losses: total variation, and SRResCycGAN's gradient difference.

Both use forward finite differences, horizontal :math:`\\nabla_h x = x_{i, j+1} - x_{i, j}` and
vertical :math:`\\nabla_v x = x_{i+1, j} - x_{i, j}`, inside the image (no padding), and average
each over its own positions.
"""

from __future__ import annotations

import torch
from torch import nn

from restorekit._checks import check_image
from restorekit.errors import RestorekitError
from restorekit.losses._common import check_reduction, reduce_batch
from restorekit.metrics._common import check_pair

__all__ = ["GradientDifferenceLoss", "TVLoss", "gradient_difference", "tv_loss"]


def _check_size(x: torch.Tensor) -> None:
    H, W = x.shape[-2:]
    if H < 2 or W < 2:
        raise RestorekitError(f"image gradients need at least 2x2 pixels, got {H}x{W}")


def tv_loss(x: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Anisotropic total variation of each sample: mean absolute horizontal plus vertical step.

    .. math::
        \\mathrm{TV}(x) = \\frac{1}{C H (W - 1)} \\sum |x_{c,i,j+1} - x_{c,i,j}|
        + \\frac{1}{C (H - 1) W} \\sum |x_{c,i+1,j} - x_{c,i,j}|

    A regulariser of ``x`` alone (it is not zero on a perfect restoration); 0 for a constant
    image. Gradients are :math:`\\mathrm{sign}` of the steps (0 where a step is exactly 0).

    Args:
        x: image ``(B, C, H, W)``, any channel count, at least 2x2.
        reduction: ``"mean"`` over the batch (a scalar) or ``"none"`` (one value per sample).

    Returns:
        A scalar, or ``(B,)`` with ``reduction="none"``, in ``x``'s dtype.

    Shape:
        ``(B, C, H, W) -> ()`` or ``(B,)``

    References:
        L. I. Rudin, S. Osher, E. Fatemi, "Nonlinear total variation based noise removal
        algorithms", Physica D, 1992.

    Example:
        >>> x = torch.tensor([[0.0, 1.0], [2.0, 4.0]]).view(1, 1, 2, 2)
        >>> tv_loss(x)  # horizontal (1 + 2) / 2, vertical (2 + 3) / 2
        tensor(4.)
    """
    check_reduction(reduction)
    check_image(x)
    _check_size(x)
    dh = (x[..., :, 1:] - x[..., :, :-1]).abs().flatten(1).mean(dim=1)
    dv = (x[..., 1:, :] - x[..., :-1, :]).abs().flatten(1).mean(dim=1)
    return reduce_batch(dh + dv, reduction)


def gradient_difference(x: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """L1 distance between the image gradients of ``x`` and ``y`` (SRResCycGAN's "TV" term).

    .. math::
        \\frac{1}{C H (W - 1)} \\sum |\\nabla_h x - \\nabla_h y|
        + \\frac{1}{C (H - 1) W} \\sum |\\nabla_v x - \\nabla_v y|
        = \\mathrm{TV}(x - y)

    Zero when ``x - y`` is constant (a global offset costs nothing); it penalises edges that are
    missing, extra or displaced. Computed as :func:`tv_loss` of ``x - y`` (differences are linear).

    Args:
        x: restored image ``(B, C, H, W)``, at least 2x2.
        y: target image, same shape.
        reduction: ``"mean"`` over the batch (a scalar) or ``"none"`` (one value per sample).

    Returns:
        A scalar, or ``(B,)`` with ``reduction="none"``, in ``x``'s dtype.

    Shape:
        ``(B, C, H, W), (B, C, H, W) -> ()`` or ``(B,)``

    References:
        R. M. Umer, C. Micheloni, "Deep cyclic generative adversarial residual convolutional
        networks for real image super-resolution", ECCV Workshops, 2020.

    Example:
        >>> y = torch.rand(2, 3, 8, 8)
        >>> gradient_difference(y + 0.25, y, reduction="none").abs().max() < 1e-6
        tensor(True)
    """
    check_reduction(reduction)
    check_pair(x, y, channels=None)
    return tv_loss(x - y, reduction)


class TVLoss(nn.Module):
    """Module twin of :func:`tv_loss`; ``forward(x, y=None)`` ignores ``y`` (for the registry)."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)

    def forward(self, x: torch.Tensor, y: torch.Tensor | None = None) -> torch.Tensor:
        return tv_loss(x, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class GradientDifferenceLoss(nn.Module):
    """Module twin of :func:`gradient_difference`."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return gradient_difference(x, y, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"
