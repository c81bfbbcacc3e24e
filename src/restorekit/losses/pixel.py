"""Per-pixel losses: L1, L2 (MSE), Charbonnier, and a per-pixel weighted L1 / L2.

Every loss takes a restored image ``x`` and its target ``y``, float ``(B, C, H, W)`` with C 1 or 3
(linear or sRGB alike: the losses do not care), and averages the per-pixel error over the
channels and pixels of each sample. ``reduction="mean"`` (default) returns the mean over the batch
as a scalar; ``reduction="none"`` returns the ``(B,)`` per-sample values (for hard-patch mining).
Since every sample has as many pixels, the mean equals ``torch.nn.functional.l1_loss(x, y)`` (and
``mse_loss``).

:func:`l2_loss` is the MSE metric (:func:`restorekit.metrics.mse`, float64 inside); the others
compute in ``x``'s dtype.
"""

from __future__ import annotations

import torch
from torch import nn

from restorekit._checks import check_positive, closest_names
from restorekit.errors import RestorekitError
from restorekit.losses._common import check_reduction, reduce_batch
from restorekit.metrics import mse
from restorekit.metrics._common import check_pair

__all__ = [
    "WEIGHTED_KINDS",
    "CharbonnierLoss",
    "L1Loss",
    "L2Loss",
    "WeightedLoss",
    "charbonnier_loss",
    "l1_loss",
    "l2_loss",
    "weighted_loss",
]

#: The per-pixel errors :func:`weighted_loss` can weight: ``|x - y|`` and ``(x - y)^2``.
WEIGHTED_KINDS: tuple[str, ...] = ("l1", "l2")


def l1_loss(x: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean absolute error of each sample, :math:`\\frac{1}{CHW} \\sum |x - y|`.

    Args:
        x: restored image.
        y: target image.
        reduction: ``"mean"`` over the batch (a scalar) or ``"none"`` (one value per sample).

    Returns:
        A scalar, or ``(B,)`` with ``reduction="none"``, in ``x``'s dtype.

    Shape:
        ``(B, C, H, W), (B, C, H, W) -> ()`` or ``(B,)``, with C 1 or 3.

    Example:
        >>> x, y = torch.full((2, 1, 4, 4), 0.5), torch.zeros(2, 1, 4, 4)
        >>> l1_loss(x, y), l1_loss(x, y, reduction="none")
        (tensor(0.5000), tensor([0.5000, 0.5000]))
    """
    check_reduction(reduction)
    check_pair(x, y)
    return reduce_batch((x - y).abs().flatten(1).mean(dim=1), reduction)


def l2_loss(x: torch.Tensor, y: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Mean squared error of each sample, :math:`\\frac{1}{CHW} \\sum (x - y)^2`.

    This is the metric :func:`restorekit.metrics.mse` (computed in float64, returned in ``x``'s
    dtype), reduced over the batch.

    Args:
        x: restored image.
        y: target image.
        reduction: ``"mean"`` over the batch (a scalar) or ``"none"`` (one value per sample).

    Returns:
        A scalar, or ``(B,)`` with ``reduction="none"``, in ``x``'s dtype.

    Shape:
        ``(B, C, H, W), (B, C, H, W) -> ()`` or ``(B,)``, with C 1 or 3.

    Example:
        >>> x, y = torch.full((2, 1, 4, 4), 0.5), torch.zeros(2, 1, 4, 4)
        >>> l2_loss(x, y)
        tensor(0.2500)
    """
    check_reduction(reduction)
    return reduce_batch(mse(x, y), reduction)


def charbonnier_loss(
    x: torch.Tensor, y: torch.Tensor, eps: float = 1e-3, reduction: str = "mean"
) -> torch.Tensor:
    """Charbonnier loss of each sample, a smooth L1.

    .. math::

        \\frac{1}{CHW} \\sum \\sqrt{(x - y)^2 + \\varepsilon^2}

    Nothing is subtracted: identical images give :math:`\\varepsilon`, not 0. The gradient is
    :math:`e / \\sqrt{e^2 + \\varepsilon^2}` for an error :math:`e`, defined everywhere; for
    :math:`|e| \\gg \\varepsilon` the loss is the L1 loss.

    Args:
        x: restored image.
        y: target image.
        eps: :math:`\\varepsilon` (> 0), on the image scale; 1e-3 as in LapSRN.
        reduction: ``"mean"`` over the batch (a scalar) or ``"none"`` (one value per sample).

    Returns:
        A scalar, or ``(B,)`` with ``reduction="none"``, in ``x``'s dtype.

    Shape:
        ``(B, C, H, W), (B, C, H, W) -> ()`` or ``(B,)``, with C 1 or 3.

    References:
        P. Charbonnier, L. Blanc-Feraud, G. Aubert, M. Barlaud, "Two deterministic half-quadratic
        regularization algorithms for computed imaging", ICIP, 1994. W.-S. Lai, J.-B. Huang,
        N. Ahuja, M.-H. Yang, "Deep Laplacian pyramid networks for fast and accurate
        super-resolution", CVPR, 2017.

    Example:
        >>> x = torch.zeros(1, 1, 4, 4)
        >>> charbonnier_loss(x, x)
        tensor(0.0010)
        >>> charbonnier_loss(x + 0.3, x, eps=0.4)  # sqrt(0.3 ** 2 + 0.4 ** 2)
        tensor(0.5000)
    """
    e2 = check_positive(eps, "eps", allow_zero=False) ** 2
    check_reduction(reduction)
    check_pair(x, y)
    return reduce_batch(((x - y).square() + e2).sqrt().flatten(1).mean(dim=1), reduction)


def weighted_loss(
    x: torch.Tensor,
    y: torch.Tensor,
    weight: torch.Tensor,
    kind: str = "l1",
    reduction: str = "mean",
) -> torch.Tensor:
    """Per-pixel weighted L1 or L2 loss: a weighted mean of the error of each sample.

    .. math::

        \\ell_b = \\frac{\\sum_{c,i,j} w_{bcij}\\, e_{bcij}}{\\sum_{c,i,j} w_{bcij}},
        \\quad e = |x - y| \\ (\\text{l1}) \\text{ or } (x - y)^2 \\ (\\text{l2})

    with ``weight`` broadcast to ``x``'s shape first, so a ``(B, 1, H, W)`` map weights every
    channel of a pixel alike. A sample whose weights are all 0 has no pixel that counts: its loss is
    defined as 0, with a zero gradient (not NaN). ``reduction="mean"`` is the plain mean of the
    ``B`` per-sample values, such samples included. Gradients also flow into ``weight``.

    Args:
        x: restored image.
        y: target image.
        weight: per-pixel weights >= 0, any real dtype (a bool mask works), broadcastable to
            ``x``: ``(B, 1, H, W)``, ``(B, C, H, W)``, ``(1, 1, H, W)``, ``(H, W)`` ...
        kind: ``"l1"`` or ``"l2"``.
        reduction: ``"mean"`` over the batch (a scalar) or ``"none"`` (one value per sample).

    Returns:
        A scalar, or ``(B,)`` with ``reduction="none"``, in ``x``'s dtype.

    Shape:
        ``(B, C, H, W), (B, C, H, W), broadcastable -> ()`` or ``(B,)``, with C 1 or 3.

    Example:
        >>> x, y = torch.zeros(2, 1, 2, 2), torch.tensor([0.0, 0.0, 0.0, 1.0]).view(1, 1, 2, 2)
        >>> w = torch.tensor([[1.0, 1.0], [1.0, 3.0]])  # the last pixel counts three times
        >>> weighted_loss(x, y.expand(2, 1, 2, 2), w, reduction="none")
        tensor([0.5000, 0.5000])
        >>> weighted_loss(x, y.expand(2, 1, 2, 2), torch.zeros(2, 1, 1, 1), reduction="none")
        tensor([0., 0.])
    """
    _check_kind(kind)
    check_reduction(reduction)
    check_pair(x, y)
    w = _check_weight(weight, x)
    e = (x - y).abs() if kind == "l1" else (x - y).square()
    num = (w * e).flatten(1).sum(dim=1)
    den = w.expand_as(x).flatten(1).sum(dim=1)
    # Where a sample has no weight, divide 0 by 1 instead of 0 by 0: the value and gradient are 0.
    nonzero = den > 0
    values = torch.where(nonzero, num / torch.where(nonzero, den, torch.ones_like(den)), 0.0)
    return reduce_batch(values, reduction)


def _check_kind(kind: str) -> str:
    if kind not in WEIGHTED_KINDS:
        known = ", ".join(closest_names(str(kind), WEIGHTED_KINDS))
        raise RestorekitError(f"unknown weighted_loss kind {kind!r}; known: {known}")
    return kind


def _check_weight(weight: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """``weight`` in ``x``'s dtype and device, checked to be >= 0 and broadcastable to ``x``."""
    if not isinstance(weight, torch.Tensor):
        raise RestorekitError(f"weight must be a torch.Tensor, got {type(weight).__name__}")
    try:
        fits = torch.broadcast_shapes(weight.shape, x.shape) == x.shape
    except RuntimeError:
        fits = False
    if not fits:
        raise RestorekitError(
            f"weight of shape {tuple(weight.shape)} does not broadcast to x's shape "
            f"{tuple(x.shape)}"
        )
    if weight.is_complex():
        raise RestorekitError(f"weight must be real, got dtype {weight.dtype}")
    w = weight.to(device=x.device, dtype=x.dtype)
    if not bool(torch.isfinite(w).all()) or bool((w < 0).any()):
        raise RestorekitError("weight must be finite and >= 0 everywhere")
    return w


class L1Loss(nn.Module):
    """Module twin of :func:`l1_loss`."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return l1_loss(x, y, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class L2Loss(nn.Module):
    """Module twin of :func:`l2_loss`."""

    def __init__(self, reduction: str = "mean") -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return l2_loss(x, y, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"reduction={self.reduction!r}"


class CharbonnierLoss(nn.Module):
    """Module twin of :func:`charbonnier_loss`."""

    def __init__(self, eps: float = 1e-3, reduction: str = "mean") -> None:
        super().__init__()
        self.eps = check_positive(eps, "eps", allow_zero=False)
        self.reduction = check_reduction(reduction)

    def forward(self, x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return charbonnier_loss(x, y, eps=self.eps, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"eps={self.eps}, reduction={self.reduction!r}"


class WeightedLoss(nn.Module):
    """Module twin of :func:`weighted_loss`; ``forward(x, y, weight)``."""

    def __init__(self, kind: str = "l1", reduction: str = "mean") -> None:
        super().__init__()
        self.kind = _check_kind(kind)
        self.reduction = check_reduction(reduction)

    def forward(self, x: torch.Tensor, y: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
        return weighted_loss(x, y, weight, kind=self.kind, reduction=self.reduction)

    def extra_repr(self) -> str:
        return f"kind={self.kind!r}, reduction={self.reduction!r}"
