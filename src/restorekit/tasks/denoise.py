"""The Gaussian denoising task, scored by PSNR and SSIM.

Convention (REFERENCE.md, as DnCNN/FFDNet papers): for each (dataset, sigma) ``np.random.seed(0)``
once, then images in sorted filename order, ``noisy = clean + sigma * randn`` in float64 on the
0..255 scale, not clipped. Outputs are clipped to [0, 1] (not rounded); PSNR with data range 1
(= 255 on 0..255); SSIM as Wang et al. 2004 with an 11x11 Gaussian window, sigma 1.5, population
covariance (scikit-image ``gaussian_weights=True, use_sample_covariance=False``).

The 8-bit convention (the files users have; conditions with the variant ``"8-bit"``): the same
draws, then ``noisy = clip(round(clean + sigma * randn), 0, 255)`` stored as 8-bit values; every
method is told the sigma of the noise before clipping; outputs are rounded to 8 bits (the file
``restorekit denoise`` writes) before scoring.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from restorekit._checks import check_positive
from restorekit.tasks.base import Condition, Pair

__all__ = ["DenoiseTask", "auto_sigma", "denoise_image"]


class DenoiseTask:
    """Additive white Gaussian noise at sigma 15 / 25 / 50 (0..255 scale) by default.

    Example:
        >>> task = DenoiseTask()
        >>> [c.label for c in task.conditions()]
        ['sigma=15', 'sigma=25', 'sigma=50']
    """

    name = "denoise"
    default_datasets = ("test/gray/Set12",)
    metric_names = ("psnr", "ssim")
    convention = (
        "np.random.seed(0) once per (dataset, sigma), images in sorted order, noisy = clean + "
        "sigma * randn in float64 on 0..255, not clipped; outputs clipped to [0, 255]; PSNR with "
        "data range 255; SSIM Gaussian 11x11, sigma 1.5, K1 0.01, K2 0.03 (scikit-image "
        "gaussian_weights=True, use_sample_covariance=False), averaged over channels. Columns "
        "marked 8-bit (--quantize 8): the same draws, noisy = clip(round(.), 0, 255) as an 8-bit "
        "file, methods told the sigma before clipping, outputs rounded to 8 bits."
    )

    def conditions(
        self, values: list[Any] | None = None, quantize: int | None = None
    ) -> list[Condition]:
        """The float-convention conditions, then (``quantize=8``) the 8-bit ones."""
        sigmas = [check_positive(v, "sigma") for v in (values or [15, 25, 50])]
        conds = [Condition("sigma", s) for s in sigmas]
        if quantize is not None:
            if quantize != 8:
                from restorekit.errors import RestorekitError

                raise RestorekitError(f"the denoise benchmark quantizes to 8 bits, got {quantize}")
            conds += [Condition("sigma", s, "8-bit") for s in sigmas]
        return conds

    def methods(self) -> dict[str, Callable[..., torch.Tensor]]:
        from restorekit.classical.denoise import DENOISERS

        return {"learned": _learned, **DENOISERS}

    def pairs(self, images: list[tuple[str, np.ndarray]], cond: Condition) -> Iterator[Pair]:
        # The field's convention is np.random.seed(0) once per (dataset, sigma); a private
        # RandomState(0) draws the same numbers without touching the global generator.
        rng = np.random.RandomState(0)
        for name, arr in images:
            clean = arr.astype(np.float64)
            noisy = clean + cond.value * rng.randn(*clean.shape)
            if cond.variant == "8-bit":
                noisy = np.clip(np.round(noisy), 0, 255)
            to_t = _hwc_to_tensor
            yield Pair(name, to_t(noisy / 255), to_t(clean / 255))

    def run(self, method: str, pair: Pair, cond: Condition) -> torch.Tensor:
        return self.methods()[method](pair.input, cond.value / 255)

    def score(self, output: torch.Tensor, pair: Pair, cond: Condition) -> dict[str, float]:
        from restorekit.metrics import psnr, ssim

        out = output.to(pair.target.dtype).clamp(0, 1)
        if cond.variant == "8-bit":
            out = (out * 255).round() / 255
        return {
            "psnr": float(psnr(out, pair.target)[0]),
            "ssim": float(ssim(out, pair.target)[0]),
        }


def auto_sigma(x: torch.Tensor) -> float:
    """``--sigma auto``: the noise sigma (0..255 scale) estimated from the image (patch PCA, Chen
    et al. 2015), kept within [0.5, 255]."""
    from restorekit.classical.noise_level import estimate_noise_sigma

    return min(max(float(estimate_noise_sigma(x.double())[0]) * 255, 0.5), 255.0)


def denoise_image(
    x: torch.Tensor,
    sigma: float | None,
    method: str = "learned",
    model: Any = None,
    calibration: Any = None,
    level: float | None = None,
    ensemble: int = 1,
) -> torch.Tensor:
    """What ``restorekit denoise`` does to one image (the CLI and the web page call it).

    Args:
        x: ``(1, C, H, W)`` in [0, 1].
        sigma: the noise level on the 0..255 scale (unused when ``level`` is given).
        method: ``learned`` or a classical denoiser's name.
        model, calibration: the learned network (default: the shipped one for ``C`` channels).
        level: steer the learned network by its level instead of sigma.
        ensemble: the learned network's self-ensemble size.

    Returns:
        The estimate, clipped to [0, 1].
    """
    if method != "learned":
        from restorekit.classical.denoise import DENOISERS

        return DENOISERS[method](x.double(), sigma / 255).clamp(0, 1)
    from restorekit.models.control import denoise_learned
    from restorekit.models.pretrained import load_pretrained_denoiser

    if model is None:
        model, calibration = load_pretrained_denoiser(x.shape[1])
    steer = {"level": level} if level is not None else {"sigma": sigma}
    out = denoise_learned(x, **steer, model=model, calibration=calibration, ensemble=ensemble)
    return out.clamp(0, 1)


def _learned(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """The shipped gray / colour continuous-level denoiser at ``sigma`` (0..1 scale), through
    its calibration."""
    from restorekit.models.control import denoise_learned

    return denoise_learned(x, sigma=sigma * 255)


def _hwc_to_tensor(a: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(np.ascontiguousarray(a))
    return t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None].contiguous()
