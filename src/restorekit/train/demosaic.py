"""The demosaicing recipe: RGB patches -> RGGB mosaic (+ raw-domain noise) -> network -> RGB.

Training mosaics every ground-truth patch with the RGGB layout (patches are cut at even offsets
and augmented before mosaicking, so the layout is exact); the networks handle the other layouts by
mirror padding (see :class:`restorekit.models.DemosaicNet`).

Joint demosaicing and denoising (``data.sigma: [lo, hi]``, a network with ``noise_map``): noise is
added to the float mosaic, never clipped (a raw after black-level subtraction keeps its negative
read noise), with a standard deviation drawn per patch uniformly from ``[lo, hi]`` (0..255 scale);
a share ``data.clean_share`` of the patches stays clean, and with ``data.noise.gain > 0`` the noise
is Poisson-Gaussian, the heteroscedastic model of a real sensor: variance ``gain * x + sigma^2``
for a raw value ``x`` in [0, 1], with the gain drawn per patch from ``[0, data.noise.gain]``. The
network is told the true standard deviation of every sample (its noise map).

Validation follows the benchmark's convention: whole images, outputs clipped and rounded to 8 bit,
CPSNR with a 10-pixel border; a joint model is also scored at sigma 10 (seeded Gaussian noise).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from restorekit.degrade import CFA, mosaic
from restorekit.metrics import cpsnr
from restorekit.train.config import TrainConfig

__all__ = ["DemosaicRecipe", "noisy_mosaic"]

#: the validation noise level of a joint model (0..255 scale)
_VAL_SIGMA = 10.0


def _quantize(x: torch.Tensor) -> torch.Tensor:
    return (x.clamp(0, 1) * 255).round() / 255


def noisy_mosaic(
    raw: torch.Tensor,
    sigma: torch.Tensor,
    gain: torch.Tensor | None = None,
    generator: torch.Generator | None = None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Raw-domain noise on a clean mosaic ``(B, 1, H, W)``: Gaussian of standard deviation
    ``sigma`` ``(B,)`` ([0, 1] scale), or Poisson-Gaussian with variance ``gain * x + sigma^2``.

    Returns:
        The noisy mosaic (not clipped) and its noise map, the standard deviation of every sample.

    Example:
        >>> raw = torch.full((1, 1, 64, 64), 0.5)
        >>> g = torch.Generator().manual_seed(0)
        >>> noisy, std = noisy_mosaic(raw, torch.tensor([0.1]), generator=g)
        >>> round(float((noisy - raw).std()), 2), float(std.max())
        (0.1, 0.10000000149011612)
    """
    B = raw.shape[0]
    var = (sigma.to(raw.dtype) ** 2).view(B, 1, 1, 1).expand_as(raw)
    if gain is not None:
        var = var + gain.to(raw.dtype).view(B, 1, 1, 1) * raw.clamp(min=0)
    std = var.sqrt()
    noise = torch.randn(raw.shape, generator=generator, dtype=raw.dtype, device=raw.device)
    return raw + std * noise, std


@dataclass
class DemosaicRecipe:
    """Supervised demosaicing, clean or joint with denoising (see the module docstring)."""

    #: the training noise range (0..255 scale); empty: clean raws only
    sigma: tuple[float, ...] = ()
    #: the share of patches left clean in a joint model's batches
    clean_share: float = 0.0
    #: the largest Poisson gain (variance per unit of signal); 0: Gaussian noise
    gain: float = 0.0
    border = 10

    @classmethod
    def from_config(cls, cfg: TrainConfig) -> DemosaicRecipe:
        return cls(tuple(cfg.data.sigma), cfg.data.clean_share, cfg.data.noise.gain)

    @property
    def joint(self) -> bool:
        return bool(self.sigma)

    def degrade(
        self, target: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor | tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        raw = mosaic(target, CFA.RGGB)
        if not self.joint:
            return raw, target
        B = raw.shape[0]
        lo, hi = self.sigma if len(self.sigma) == 2 else self.sigma * 2
        sigma = (lo + (hi - lo) * torch.rand(B, generator=generator)) / 255
        gain = self.gain * torch.rand(B, generator=generator) if self.gain else None
        clean = torch.rand(B, generator=generator) < self.clean_share
        sigma = torch.where(clean, 0.0, sigma)
        if gain is not None:
            gain = torch.where(clean, 0.0, gain)
        noisy, std = noisy_mosaic(raw, sigma, gain, generator)
        return (noisy, std), target

    def forward(self, model: nn.Module, inputs: torch.Tensor | tuple) -> torch.Tensor:
        if isinstance(inputs, tuple):
            raw, std = inputs
            return model(raw, CFA.RGGB, std)
        return model(inputs, CFA.RGGB)

    def _score(self, model: nn.Module, images: list[torch.Tensor], sigma: float) -> float:
        g = torch.Generator().manual_seed(0)
        scores = []
        for x in images:
            gt = _quantize(x)
            raw = mosaic(gt, CFA.RGGB)
            if sigma:
                raw, std = noisy_mosaic(raw, torch.tensor([sigma / 255]), generator=g)
                out = model(raw, CFA.RGGB, std)
            else:
                out = model(raw, CFA.RGGB)
            scores.append(float(cpsnr(_quantize(out).double(), gt.double(), crop=self.border)[0]))
        return sum(scores) / len(scores)

    def validate(self, model: nn.Module, images: list[torch.Tensor]) -> dict[str, float]:
        scores = {"cpsnr": self._score(model, images, 0.0)}
        if self.joint:
            scores[f"cpsnr_sigma{_VAL_SIGMA:g}"] = self._score(model, images, _VAL_SIGMA)
        return scores

    def finalize(self, model: nn.Module, images: list[torch.Tensor]) -> dict:
        return {"train_sigma": list(self.sigma)} if self.joint else {}

    def preview(self, model: nn.Module, image: torch.Tensor) -> torch.Tensor:
        """Ground truth | network output (at the validation noise level for a joint model)."""
        raw = mosaic(image, CFA.RGGB)
        if self.joint:
            g = torch.Generator().manual_seed(0)
            raw, std = noisy_mosaic(raw, torch.tensor([_VAL_SIGMA / 255]), generator=g)
            out = model(raw, CFA.RGGB, std)
        else:
            out = model(raw, CFA.RGGB)
        return torch.cat([image[0], out.clamp(0, 1)[0]], dim=-1)
