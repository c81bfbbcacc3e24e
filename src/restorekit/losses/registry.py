"""The losses by name, for the config and CLI edge: :data:`LOSSES` and :func:`get_loss`."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from typing import Any

from torch import nn

from restorekit._checks import closest_names
from restorekit.errors import RestorekitError
from restorekit.losses.grain import GramLoss, SpectrumLoss, VarianceLoss
from restorekit.losses.perceptual import PerceptualLoss
from restorekit.losses.pixel import CharbonnierLoss, L1Loss, L2Loss
from restorekit.losses.ssim import MixedMSSSIML1Loss, MSSSIMLoss, SSIMLoss
from restorekit.losses.tv import GradientDifferenceLoss, TVLoss

__all__ = ["LOSSES", "build_loss", "get_loss", "loss_class"]

#: Losses ``module(x, y) -> scalar or (B,)`` by name; each class takes its function's options.
#: (:class:`~restorekit.losses.WeightedLoss` is not here: it needs a weight map.) ``tv`` is a
#: regulariser of ``x`` alone (it ignores ``y``); ``perceptual`` needs ``weights_file`` (VGG19
#: weights) or ``random: true``.
LOSSES: dict[str, type[nn.Module]] = {
    "l1": L1Loss,
    "l2": L2Loss,
    "charbonnier": CharbonnierLoss,
    "ssim": SSIMLoss,
    "ms_ssim": MSSSIMLoss,
    "mixed": MixedMSSSIML1Loss,
    # distribution losses for grain pairs (restorekit.losses.grain)
    "grain_spectrum": SpectrumLoss,
    "grain_variance": VarianceLoss,
    "grain_gram": GramLoss,
    # super-resolution (SRResCycGAN): feature and image-gradient losses
    "perceptual": PerceptualLoss,
    "tv": TVLoss,
    "gradient_difference": GradientDifferenceLoss,
}


def loss_class(name: str) -> type[nn.Module]:
    """The class registered in :data:`LOSSES` under ``name`` (case and spaces ignored).

    Raises:
        RestorekitError: for an unknown name, listing the known ones closest first.

    Example:
        >>> loss_class(" L1 ") is L1Loss
        True
        >>> loss_class("msssim")
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: unknown loss 'msssim'; known: ms_ssim, ssim, mixed, grain_gram, charbonnier, grain_spectrum, grain_variance, gradient_difference, l1, l2, perceptual, tv
    """  # noqa: E501
    key = str(name).strip().lower()
    if key in LOSSES:
        return LOSSES[key]
    known = ", ".join(closest_names(key, list(LOSSES)))
    raise RestorekitError(f"unknown loss {name!r}; known: {known}")


def build_loss(name: str, options: Mapping[str, Any]) -> nn.Module:
    """Build the loss ``name`` with keyword ``options``; a wrong option is a one-line error."""
    cls = loss_class(name)
    try:
        inspect.signature(cls).bind(**options)
    except TypeError as e:
        raise RestorekitError(f"bad options for loss {name!r}: {e}") from None
    return cls(**options)


def get_loss(name: str, **kwargs: Any) -> nn.Module:
    """Build a loss from :data:`LOSSES` by name, with its options as keyword arguments.

    Raises:
        RestorekitError: for an unknown name (listing the known ones closest first), an unknown or
            missing option, or a bad option value.

    Example:
        >>> get_loss("mixed", alpha=0.84, mode="same")
        MixedMSSSIML1Loss(alpha=0.84, data_range=1.0, weights=(0.0448, 0.2856, 0.3001, 0.2363, 0.1333), win_size=11, sigma=1.5, k1=0.01, k2=0.03, mode='same', compute_dtype=torch.float64, reduction='mean')
        >>> get_loss("mixed")
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: bad options for loss 'mixed': missing a required argument: 'alpha'
    """  # noqa: E501
    return build_loss(name, kwargs)
