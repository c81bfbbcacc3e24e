"""Training losses, built on the metrics: a structural loss calls its metric.

Every loss takes a restored image ``x`` and its target ``y``, float ``(B, C, H, W)`` with C 1 or 3
in [0, 1], and returns the mean over the batch as a scalar, or with ``reduction="none"`` one value
per sample, ``(B,)`` (what a hard-patch miner needs). Each function has a module twin.

- :func:`l1_loss`, :func:`l2_loss` (the MSE metric), :func:`charbonnier_loss`
- :func:`weighted_loss`: per-pixel weighted L1 or L2 with a weight map
- :func:`ssim_loss` (1 - SSIM), :func:`ms_ssim_loss` (1 - MS-SSIM, any patch size, NaN-free),
  optionally computed in float32 (``compute_dtype``)
- :func:`mixed_ms_ssim_l1_loss`: Zhao et al. (2017), alpha MS-SSIM + (1 - alpha) Gaussian L1
- :func:`spectrum_loss`, :func:`variance_loss`, :func:`gram_loss`: distribution losses for
  random textures (grain), comparing statistics instead of pixels
- :func:`perceptual_loss`: L1 / L2 between feature maps of a frozen network
  (:func:`vgg19_features` from a local weights file, or :func:`random_features`)
- :func:`tv_loss` (total variation) and :func:`gradient_difference` (L1 between image gradients,
  SRResCycGAN's "TV" term)
- :class:`CompositeLoss`: named weights in one object, optionally on a :class:`LossSchedule`

:data:`LOSSES` maps names to the module classes for the config and CLI edge; :func:`get_loss`
builds one with a helpful error.

Example:
    >>> loss = CompositeLoss({"l1": 0.16, "ms_ssim": 0.84}, ms_ssim={"mode": "same"})
    >>> x = torch.rand(4, 3, 48, 48, generator=torch.Generator().manual_seed(0))
    >>> total, parts = loss(x, x)
    >>> float(total), sorted(parts)
    (0.0, ['l1', 'ms_ssim'])
"""

from __future__ import annotations

import torch  # noqa: F401  (the doctest above uses it)

from restorekit.losses._common import REDUCTIONS
from restorekit.losses.composite import CompositeLoss, LossSchedule
from restorekit.losses.grain import (
    GramLoss,
    SpectrumLoss,
    VarianceLoss,
    gram_loss,
    spectrum_loss,
    variance_loss,
)
from restorekit.losses.perceptual import (
    VGG19_LAYERS,
    PerceptualLoss,
    perceptual_loss,
    random_features,
    vgg19_features,
)
from restorekit.losses.pixel import (
    CharbonnierLoss,
    L1Loss,
    L2Loss,
    WeightedLoss,
    charbonnier_loss,
    l1_loss,
    l2_loss,
    weighted_loss,
)
from restorekit.losses.registry import LOSSES, get_loss
from restorekit.losses.ssim import (
    COMPUTE_DTYPES,
    MixedMSSSIML1Loss,
    MSSSIMLoss,
    SSIMLoss,
    mixed_ms_ssim_l1_loss,
    ms_ssim_loss,
    ssim_loss,
)
from restorekit.losses.tv import GradientDifferenceLoss, TVLoss, gradient_difference, tv_loss

__all__ = [
    "COMPUTE_DTYPES",
    "LOSSES",
    "REDUCTIONS",
    "VGG19_LAYERS",
    "CharbonnierLoss",
    "CompositeLoss",
    "GradientDifferenceLoss",
    "GramLoss",
    "L1Loss",
    "L2Loss",
    "LossSchedule",
    "MSSSIMLoss",
    "MixedMSSSIML1Loss",
    "PerceptualLoss",
    "SSIMLoss",
    "SpectrumLoss",
    "TVLoss",
    "VarianceLoss",
    "WeightedLoss",
    "charbonnier_loss",
    "get_loss",
    "gradient_difference",
    "gram_loss",
    "l1_loss",
    "l2_loss",
    "mixed_ms_ssim_l1_loss",
    "ms_ssim_loss",
    "perceptual_loss",
    "random_features",
    "spectrum_loss",
    "ssim_loss",
    "tv_loss",
    "variance_loss",
    "vgg19_features",
    "weighted_loss",
]
