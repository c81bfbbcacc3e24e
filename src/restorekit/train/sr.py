"""The supervised super-resolution recipe: HR patches -> LR -> network -> HR.

Training follows the benchmark's convention (:class:`restorekit.tasks.sr.SRTask`): the LR patch is
the MATLAB-compatible bicubic downscale of the HR patch by the network's ``scale``, rounded to
8 bits as a file would be. With ``data.degradation`` the LR patch is made by that
:class:`~restorekit.degrade.RealDegradation` instead (blur, bicubic, noise, JPEG, a new draw per
patch): the "oracle" of the cycle study, trained on the true degradation. ``data.patch`` is the
HR patch side (a multiple of the scale). Validation scores whole held-out training images the
same way (the degradation drawn with a fixed seed per image): the output rounded to 8 bits, PSNR
on the BT.601 Y channel with ``scale`` pixels cropped on every side.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from restorekit.degrade import RealDegradation
from restorekit.errors import RestorekitError
from restorekit.tasks.base import quantize
from restorekit.tasks.sr import bicubic_lr
from restorekit.train.config import TrainConfig

__all__ = ["SRRecipe", "bicubic_lr", "real_degradation", "validation_lr"]


def real_degradation(options: dict[str, Any], scale: int) -> RealDegradation:
    """``data.degradation`` of a config as a :class:`RealDegradation` at ``scale`` (one line
    naming a bad key or value)."""
    import dataclasses

    known = [f.name for f in dataclasses.fields(RealDegradation) if f.name not in ("scale",)]
    for key in options:
        if key not in known:
            raise RestorekitError(
                f"config: unknown key 'data.degradation.{key}'; known: {', '.join(known)}"
            )
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in options.items()}
    return RealDegradation(scale=scale, **args)


def validation_lr(
    hr: torch.Tensor, scale: int, degradation: RealDegradation | None, index: int
) -> torch.Tensor:
    """The LR image of validation image ``index``: bicubic, or ``degradation`` drawn with the seed
    ``index`` (the same LR images at every validation)."""
    if degradation is None:
        return bicubic_lr(hr, scale)
    params = degradation.sample(1, torch.Generator().manual_seed(index))
    return degradation.apply(hr.float(), params).to(hr.dtype)


def _scale_of(cfg: TrainConfig) -> int:
    scale = cfg.model.args.get("scale")
    if not isinstance(scale, int) or scale < 2:
        raise RestorekitError(f"config: model.args.scale must be an integer >= 2, got {scale!r}")
    if cfg.data.patch % scale:
        raise RestorekitError(
            f"config: data.patch ({cfg.data.patch}) must be a multiple of the scale ({scale})"
        )
    return scale


@dataclass
class SRRecipe:
    """Supervised SR at one scale (see the module docstring)."""

    scale: int
    degradation: RealDegradation | None = None

    @classmethod
    def from_config(cls, cfg: TrainConfig) -> SRRecipe:
        scale = _scale_of(cfg)
        d = cfg.data.degradation
        return cls(scale, real_degradation(d, scale) if d else None)

    def degrade(
        self, target: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        if self.degradation is None:
            return bicubic_lr(target, self.scale), target
        return self.degradation(target, generator), target

    def forward(self, model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        return model(inputs)

    def validate(self, model: nn.Module, images: list[torch.Tensor]) -> dict[str, float]:
        from restorekit.metrics import psnr

        device = next(model.parameters()).device
        scores = []
        for i, x in enumerate(images):
            H, W = x.shape[-2:]
            hr = quantize(x[..., : H - H % self.scale, : W - W % self.scale]).double()
            lr = validation_lr(hr, self.scale, self.degradation, i)
            out = quantize(model(lr.float().to(device)).cpu().double())
            scores.append(float(psnr(out, hr, crop=self.scale, y_only=True)[0]))
        return {"psnr_y": sum(scores) / len(scores)}

    def finalize(self, model: nn.Module, images: list[torch.Tensor]) -> dict:
        return {}

    def preview(self, model: nn.Module, image: torch.Tensor) -> torch.Tensor:
        """Bicubic | network | ground truth, on a 128-pixel crop of the first image."""
        from restorekit.classical.upscale import upscale_bicubic

        s = self.scale
        n = 128 - 128 % s
        hr = image[..., :n, :n]
        lr = validation_lr(hr, s, self.degradation, 0)
        device = next(model.parameters()).device
        out = model(lr.to(device)).cpu().clamp(0, 1)
        bic = upscale_bicubic(lr.double(), s).float().clamp(0, 1)
        return torch.cat([bic[0], out[0], hr[0]], dim=-1)
