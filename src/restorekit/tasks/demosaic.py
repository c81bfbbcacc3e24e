"""The demosaicing task: Bayer mosaic of an 8-bit ground truth -> RGB, scored by CPSNR.

Convention (REFERENCE.md, as the demosaicing literature): the mosaic is sampled from the 8-bit
ground truth, each method's output is clipped and rounded to 8 bit, and CPSNR is
``10 log10(1 / MSE)`` with the MSE over all three channels after cropping 10 pixels on every side,
computed per image and averaged over images.

Noisy raws (joint demosaicing and denoising): at a noise level sigma (0..255 scale) Gaussian noise
is added to the float mosaic, not clipped, with ``numpy.random.RandomState(0)`` drawn once per
(dataset, condition), images in sorted order, as the denoising benchmark does. Every method is told
the true sigma where it takes one: the joint network, and the classical pipelines (Menon then
CBM3D, BM3D on each CFA plane then Menon). Some demosaicers that take no noise level (the shipped
clean network, MHC, Menon) are shown at each level too, as the cost of not denoising.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from restorekit._checks import check_positive
from restorekit.degrade import mosaic, mosaic_sparse, parse_cfa
from restorekit.io import from_numpy
from restorekit.tasks.base import Condition, Pair, quantize

__all__ = ["LEARNED_METHODS", "DemosaicTask"]

#: the demosaicers shown on noisy raws beside the ones that take the noise level
_NOISY_REFERENCES = ("learned", "mhc", "menon")

#: the shipped networks by method name: (pretrained model, self-ensemble size)
LEARNED_METHODS = {
    "learned": ("demosaic", 1),
    "learned-joint": ("demosaic-joint", 1),
    "learned-joint-x8": ("demosaic-joint", 8),
}


def condition_sigma(cond: Condition) -> float:
    """The raw noise level of a demosaicing condition (0..255 scale; 0 for a clean raw).

    Example:
        >>> condition_sigma(Condition("cfa", "RGGB", "sigma=10"))
        10.0
    """
    return float(cond.variant.removeprefix("sigma=")) if cond.variant else 0.0


def _shipped(name: str, ensemble: int) -> Callable[..., torch.Tensor]:
    """A shipped demosaicer as ``fn(raw, cfa, noise=None)`` (the model loads on the first call)."""

    def run(raw: torch.Tensor, cfa: Any, noise: Any = None) -> torch.Tensor:
        from restorekit.models.demosaic import demosaic_learned
        from restorekit.models.pretrained import load_pretrained

        model = load_pretrained(name)
        return demosaic_learned(raw, cfa, model, noise=noise, ensemble=ensemble)

    return run


class DemosaicTask:
    """Demosaicing benchmark: RGGB by default, CPSNR with a 10-pixel border on 8-bit outputs,
    clean raws and raws with Gaussian noise of sigma 5, 10 and 15.

    Example:
        >>> task = DemosaicTask()
        >>> cond = task.conditions(["rggb"], noise=[0])[0]
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
        "side, per image, then averaged. Columns marked sigma=S: Gaussian noise of standard "
        "deviation S (0..255 scale) added to the float mosaic, not clipped, "
        "numpy RandomState(0) once per (dataset, sigma), images in sorted order; methods that "
        "take a noise level are told S."
    )
    border = 10
    speed_by_condition = True
    #: the raw noise levels of ``restorekit bench demosaic`` (0..255 scale; 0 = clean)
    bench_noise = (0.0, 5.0, 10.0, 15.0)

    def conditions(
        self, values: list[Any] | None = None, noise: list[float] | None = None
    ) -> list[Condition]:
        """One condition per Bayer layout and raw noise level (default: clean raws only)."""
        sigmas = [check_positive(s, "noise sigma", allow_zero=True) for s in (noise or [0])]
        return [
            Condition("cfa", parse_cfa(v).value, f"sigma={s:g}" if s else "")
            for v in (values or ["RGGB"])
            for s in sigmas
        ]

    def methods(self) -> dict[str, Callable[..., torch.Tensor]]:
        from restorekit.classical.demosaic import DEMOSAICERS, NOISY_PIPELINES

        learned = {name: _shipped(*spec) for name, spec in LEARNED_METHODS.items()}
        return {**learned, **DEMOSAICERS, **NOISY_PIPELINES}

    def takes_noise(self, method: str) -> bool:
        """Whether ``method`` is told the raw's noise level (the shipped clean ``learned`` model
        is not: it is the fast demosaicer for clean raws)."""
        from restorekit.classical.demosaic import NOISY_PIPELINES

        joint = method in LEARNED_METHODS and LEARNED_METHODS[method][0] == "demosaic-joint"
        return joint or method in NOISY_PIPELINES

    def applies(self, method: str, cond: Condition) -> bool:
        """Clean raws: every demosaicer; noisy raws: the methods told the noise level and the
        reference demosaicers (MHC, Menon)."""
        from restorekit.classical.demosaic import NOISY_PIPELINES

        if not condition_sigma(cond):
            return method not in NOISY_PIPELINES
        return self.takes_noise(method) or method in _NOISY_REFERENCES

    def pairs(self, images: list[tuple[str, np.ndarray]], cond: Condition) -> Iterator[Pair]:
        sigma = condition_sigma(cond)
        rng = np.random.RandomState(0)
        for name, arr in images:
            gt = from_numpy(arr, dtype=torch.float64)
            if gt.shape[1] != 3:
                gt = gt.expand(-1, 3, -1, -1).contiguous()
            raw = mosaic(gt, cond.value)
            if sigma:
                raw = raw + torch.from_numpy(sigma / 255 * rng.randn(*raw.shape))
            # the sparse 3-channel form shows the mosaic in its colours in comparison crops
            preview = mosaic_sparse(gt, cond.value) if not sigma else _sparse(raw, cond.value)
            yield Pair(name, raw, gt, extra={"preview": preview, "sigma": sigma})

    def run(self, method: str, pair: Pair, cond: Condition) -> torch.Tensor:
        fn = self.methods()[method]
        sigma = condition_sigma(cond)
        if sigma and self.takes_noise(method):
            return fn(pair.input, cond.value, sigma / 255)
        return fn(pair.input, cond.value)

    def score(self, output: torch.Tensor, pair: Pair, cond: Condition) -> dict[str, float]:
        from restorekit.metrics import cpsnr

        out = quantize(output.to(pair.target.dtype))
        return {"cpsnr": float(cpsnr(out, pair.target, crop=self.border)[0])}


def _sparse(raw: torch.Tensor, cfa: str) -> torch.Tensor:
    from restorekit.degrade.cfa import sparse_from_mosaic

    return sparse_from_mosaic(raw.clamp(0, 1), parse_cfa(cfa))
