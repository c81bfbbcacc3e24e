"""The demosaicing recipe: RGB patches -> RGGB mosaic -> network -> RGB, scored by CPSNR.

Training mosaics every ground-truth patch with the RGGB layout (patches are cut at even offsets
and augmented before mosaicking, so the layout is exact); the networks handle the other layouts by
mirror padding (see :class:`restorekit.models.DemosaicNet`). Validation follows the benchmark's
convention: whole images, outputs clipped and rounded to 8 bit, CPSNR with a 10-pixel border.
"""

from __future__ import annotations

import torch
from torch import nn

from restorekit.degrade import CFA, mosaic
from restorekit.metrics import cpsnr

__all__ = ["DemosaicRecipe"]


def _quantize(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round() / 255


class DemosaicRecipe:
    """Supervised demosaicing (see the module docstring)."""

    border = 10

    def degrade(
        self, target: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        return mosaic(target, CFA.RGGB), target

    def forward(self, model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        return model(inputs, CFA.RGGB)

    def validate(self, model: nn.Module, images: list[torch.Tensor]) -> dict[str, float]:
        scores = []
        for x in images:
            gt = _quantize(x)
            out = _quantize(model(mosaic(gt, CFA.RGGB), CFA.RGGB))
            scores.append(float(cpsnr(out.double(), gt.double(), crop=self.border)[0]))
        return {"cpsnr": sum(scores) / len(scores)}

    def finalize(self, model: nn.Module, images: list[torch.Tensor]) -> dict:
        return {}

    def preview(self, model: nn.Module, image: torch.Tensor) -> torch.Tensor:
        """Ground truth | network output, side by side."""
        out = model(mosaic(image, CFA.RGGB), CFA.RGGB).clamp(0, 1)
        return torch.cat([image[0], out[0]], dim=-1)
