"""The denoising recipe: clean patches + white Gaussian noise -> network -> clean, scored by PSNR.

``data.sigma`` is one noise level (a specialist, a base network, a modulation fine-tune) or a
``[lo, hi]`` range drawn uniformly per patch (a conditional model). The level the network is
called with is ``data.level`` when set (0 for a base network, 1 when training a modulation at its
second noise level); otherwise a conditional model is told each patch's sigma and any other
network gets level 0. Validation adds seeded noise to whole held-out images at the training
sigma (at lo, middle and hi for a range) and reports PSNR with the benchmark's convention
(output clipped, data range 1). The final model file records the training sigmas and, for a
continuous-level model, the sigma -> level calibration measured on the validation images.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from restorekit.models.control import (
    _noisy_set,
    calibrate_levels,
    center_crop,
    level_psnr,
    sigma_grid,
)
from restorekit.train.config import TrainConfig

__all__ = ["DenoiseRecipe"]

#: validation images are center-cropped to this size for the calibration search (speed)
_CALIBRATION_CROP = 128


@dataclass
class DenoiseRecipe:
    """Supervised Gaussian denoising (see the module docstring)."""

    sigma: tuple[float, ...]
    level: float | None = None
    conditional: bool = False
    sigma_range: tuple[float, float] = (0.0, 75.0)
    #: the noise levels that level 0 and level 1 stand for in a modulated model (from its base)
    modulation_sigmas: tuple[float, float] | None = None
    #: "uniform" or "log" sampling of a sigma range
    sampling: str = "uniform"

    @classmethod
    def from_config(cls, cfg: TrainConfig) -> DenoiseRecipe:
        from restorekit.models import build

        probe = build(cfg.model.name, **cfg.model.args)
        base_sigma = _base_sigma(cfg.model.init) if cfg.model.init else None
        modulation = None
        if base_sigma is not None and cfg.data.level == 1.0 and len(cfg.data.sigma) == 1:
            modulation = (base_sigma, cfg.data.sigma[0])
        elif base_sigma is not None and cfg.data.level == 1.0:
            modulation = (base_sigma, sum(cfg.data.sigma) / 2)
        return cls(
            sigma=tuple(cfg.data.sigma),
            level=cfg.data.level,
            conditional=bool(getattr(probe, "conditional", False)),
            sigma_range=tuple(getattr(probe, "sigma_range", (0.0, 75.0))),
            modulation_sigmas=modulation,
            sampling=cfg.data.sigma_sampling,
        )

    def level_of(self, sigma: torch.Tensor) -> torch.Tensor:
        """The control level for each patch's sigma (0..255)."""
        if self.level is not None:
            return torch.full_like(sigma, self.level)
        if self.conditional:
            lo, hi = self.sigma_range
            return ((sigma - lo) / (hi - lo)).clamp(0, 1)
        return torch.zeros_like(sigma)

    def draw_sigma(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        if len(self.sigma) == 1:
            return torch.full((batch,), self.sigma[0])
        lo, hi = self.sigma
        u = torch.rand(batch, generator=generator)
        if self.sampling == "log":
            return lo * (hi / lo) ** u
        return lo + (hi - lo) * u

    def degrade(
        self, target: torch.Tensor, generator: torch.Generator
    ) -> tuple[tuple[torch.Tensor, torch.Tensor], torch.Tensor]:
        B = target.shape[0]
        sigma = self.draw_sigma(B, generator)
        noise = torch.randn(target.shape, generator=generator, dtype=target.dtype)
        noisy = target + (sigma / 255).view(B, 1, 1, 1) * noise
        return (noisy, self.level_of(sigma)), target

    def forward(self, model: nn.Module, inputs: tuple[torch.Tensor, torch.Tensor]) -> torch.Tensor:
        noisy, level = inputs
        return model(noisy, level)

    def validation_sigmas(self) -> list[float]:
        if len(self.sigma) == 1:
            return [self.sigma[0]]
        lo, hi = self.sigma
        return [lo, round((lo + hi) / 2, 1), hi]

    def validate(self, model: nn.Module, images: list[torch.Tensor]) -> dict[str, float]:
        scores = {}
        for s in self.validation_sigmas():
            level = float(self.level_of(torch.tensor([s]))[0])
            scores[f"psnr_sigma{s:g}"] = level_psnr(model, _noisy_set(images, s, seed=0), level)
        return {"psnr": sum(scores.values()) / len(scores), **scores}

    def preview(self, model: nn.Module, image: torch.Tensor) -> torch.Tensor:
        """Noisy | network output | ground truth, at the middle validation sigma."""
        sigmas = self.validation_sigmas()
        s = sigmas[len(sigmas) // 2]
        ((clean, noisy),) = _noisy_set([image], s, seed=0)
        level = float(self.level_of(torch.tensor([s]))[0])
        out = model(noisy, level).clamp(0, 1)
        row = torch.cat([noisy.clamp(0, 1)[0], out[0], clean[0]], dim=-1)
        return row.expand(3, -1, -1) if row.shape[0] == 1 else row

    def finalize(self, model: nn.Module, images: list[torch.Tensor]) -> dict[str, Any]:
        """The training sigmas, and for a continuous-level model its calibration."""
        extra: dict[str, Any] = {"train_sigma": list(self.sigma)}
        if self.conditional and self.level is None and len(self.sigma) == 2:
            lo, hi = self.sigma
        elif self.modulation_sigmas is not None:
            lo, hi = sorted(self.modulation_sigmas)
            extra["modulation_sigmas"] = list(self.modulation_sigmas)
        else:
            return extra
        if images:
            crops = [center_crop(x, _CALIBRATION_CROP) for x in images]
            grid = sigma_grid(lo, hi)
            cal = calibrate_levels(model, crops, grid, source=f"{len(crops)} validation crops")
            extra["calibration"] = cal.to_dict()
        return extra


def _base_sigma(path: str) -> float | None:
    """The training sigma of the model file a run starts from (a single level), if recorded."""
    import json

    from restorekit.models.weights import read_safetensors

    _, meta = read_safetensors(path)
    try:
        sigma = json.loads(meta.get("train_sigma", "null"))
    except json.JSONDecodeError:
        return None
    return float(sigma[0]) if isinstance(sigma, list) and len(sigma) == 1 else None
