"""The demosaicing task: Bayer mosaic of an 8-bit ground truth -> RGB, scored by CPSNR.

Convention (REFERENCE.md, as the demosaicing literature): the mosaic is sampled from the 8-bit
ground truth, each method's output is clipped and rounded to 8 bit, and CPSNR is
``10 log10(1 / MSE)`` with the MSE over all three channels after cropping 10 pixels on every side,
computed per image and averaged over images.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from restorekit.degrade import mosaic, mosaic_sparse, parse_cfa
from restorekit.io import from_numpy
from restorekit.tasks.base import Condition, Pair, quantize

__all__ = ["DemosaicTask"]


class DemosaicTask:
    """Demosaicing benchmark: RGGB by default, CPSNR with a 10-pixel border on 8-bit outputs.

    Example:
        >>> task = DemosaicTask()
        >>> cond = task.conditions(["rggb"])[0]
        >>> pair = next(task.pairs([("flat", np.full((32, 32, 3), 128, np.uint8))], cond))
        >>> task.score(task.run("mhc", pair, cond), pair, cond)
        {'cpsnr': inf}
    """

    name = "demosaic"
    default_datasets = ("test/color/Kodak24", "test/color/McMaster")
    metric_names = ("cpsnr",)
    convention = (
        "Mosaic sampled from the 8-bit ground truth; outputs clipped and rounded to 8 bit; "
        "CPSNR = 10 log10(255^2 / MSE) with the MSE over R, G and B and 10 pixels cropped on every "
        "side, per image, then averaged."
    )
    border = 10

    def conditions(self, values: list[Any] | None = None) -> list[Condition]:
        return [Condition("cfa", parse_cfa(v).value) for v in (values or ["RGGB"])]

    def methods(self) -> dict[str, Callable[..., torch.Tensor]]:
        from restorekit.classical.demosaic import DEMOSAICERS
        from restorekit.models.demosaic import demosaic_learned

        return {"learned": demosaic_learned, **DEMOSAICERS}

    def pairs(self, images: list[tuple[str, np.ndarray]], cond: Condition) -> Iterator[Pair]:
        for name, arr in images:
            gt = from_numpy(arr, dtype=torch.float64)
            if gt.shape[1] != 3:
                gt = gt.expand(-1, 3, -1, -1).contiguous()
            # the sparse 3-channel form shows the mosaic in its colours in comparison crops
            preview = mosaic_sparse(gt, cond.value)
            yield Pair(name, mosaic(gt, cond.value), gt, extra={"preview": preview})

    def run(self, method: str, pair: Pair, cond: Condition) -> torch.Tensor:
        return self.methods()[method](pair.input, cond.value)

    def score(self, output: torch.Tensor, pair: Pair, cond: Condition) -> dict[str, float]:
        from restorekit.metrics import cpsnr

        out = quantize(output.to(pair.target.dtype))
        return {"cpsnr": float(cpsnr(out, pair.target, crop=self.border)[0])}
