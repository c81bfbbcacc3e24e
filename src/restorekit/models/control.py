"""Inference-time control of a continuous-level denoiser: sigma -> level calibration, and the
learned denoising entry point.

Every continuous-level model (a noise-map conditional network, an AdaFM / FTN modulated network,
a DNI pair) is called as ``model(noisy, level)`` with ``level`` (alpha) in [0, 1]. Which level
suits a noise level sigma is measured, not assumed: :func:`calibrate_levels` searches, for each
sigma of a grid, the level that maximises the mean PSNR on a validation folder, and the resulting
table (stored in the model file) maps any sigma inside the grid to a level by linear
interpolation. A sigma outside the calibrated range is refused.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import nn

from restorekit.data.patches import dihedral, dihedral_inverse
from restorekit.errors import RestorekitError

__all__ = [
    "DENOISER_MODELS",
    "LevelCalibration",
    "calibrate_levels",
    "denoise_learned",
    "level_psnr",
    "load_denoiser",
]

#: context (pixels) around each tile of a large image (see :func:`denoise_learned`)
TILE_OVERLAP = 128

#: the symmetries (``data.patches.dihedral`` codes) a self-ensemble of 1, 2, 4 or 8 averages:
#: identity, transpose, 180-degree rotation, transposed 180-degree rotation, then the flips
ENSEMBLE_ORDER = (0, 4, 3, 7, 1, 2, 5, 6)

#: the registry names of networks called as ``model(noisy, level)``
DENOISER_MODELS = ("dncnn", "resnet-denoiser", "ffdnet", "unet-denoiser", "modulated", "dni")


@dataclass(frozen=True)
class LevelCalibration:
    """Measured best level per noise level: ``levels[i]`` is best at ``sigmas[i]`` (0..255).

    Example:
        >>> cal = LevelCalibration(sigmas=(15.0, 75.0), levels=(0.0, 1.0), psnr=(30.0, 24.0))
        >>> cal.level_for(45.0)
        0.5
        >>> cal.level_for(80.0)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: sigma 80 is outside the calibrated range 15-75 ...
    """

    sigmas: tuple[float, ...]
    levels: tuple[float, ...]
    #: the validation PSNR at the best level, per sigma
    psnr: tuple[float, ...]
    #: what it was fitted on
    source: str = ""

    @property
    def range(self) -> tuple[float, float]:
        return self.sigmas[0], self.sigmas[-1]

    def level_for(self, sigma: float) -> float:
        """The calibrated level for ``sigma`` (0..255 scale), interpolated linearly."""
        lo, hi = self.range
        if not lo - 1e-9 <= sigma <= hi + 1e-9:
            raise RestorekitError(
                f"sigma {sigma:g} is outside the calibrated range {lo:g}-{hi:g} of this model"
            )
        return float(np.interp(sigma, self.sigmas, self.levels))

    def to_dict(self) -> dict[str, Any]:
        return {
            "sigmas": list(self.sigmas),
            "levels": [round(v, 5) for v in self.levels],
            "psnr": [round(v, 4) for v in self.psnr],
            "source": self.source,
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> LevelCalibration:
        try:
            sigmas = tuple(float(v) for v in d["sigmas"])
            levels = tuple(float(v) for v in d["levels"])
            psnr = tuple(float(v) for v in d.get("psnr", [math.nan] * len(sigmas)))
        except (KeyError, TypeError, ValueError):
            raise RestorekitError("the model file's calibration is malformed") from None
        if len(sigmas) < 2 or len(levels) != len(sigmas) or list(sigmas) != sorted(sigmas):
            raise RestorekitError("the model file's calibration is malformed")
        return cls(sigmas, levels, psnr, str(d.get("source", "")))


def load_denoiser(path: str | Any) -> tuple[nn.Module, LevelCalibration | None]:
    """A denoiser model file: the network (eval mode, frozen) and its calibration, if any.

    Raises:
        ImageFileError: a missing or corrupt file.
        RestorekitError: a model file of another kind of network.
    """
    from restorekit.models.weights import load_model

    model, meta = load_model(path)
    if model.registry_name not in DENOISER_MODELS:
        raise RestorekitError(
            f"{path} holds a '{model.registry_name}' model, not a denoiser "
            f"({', '.join(DENOISER_MODELS)})"
        )
    for p in model.parameters():
        p.requires_grad_(False)
    cal = meta.get("calibration")
    return model, (LevelCalibration.from_dict(cal) if isinstance(cal, dict) else None)


def sigma_grid(lo: float, hi: float, step: float = 5.0) -> list[float]:
    """The calibration grid: ``lo``, the multiples of ``step`` strictly between, ``hi``.

    Example:
        >>> sigma_grid(12, 31)
        [12, 15.0, 20.0, 25.0, 30.0, 31]
    """
    inner = [k * step for k in range(int(lo // step) + 1, int(-(-hi // step)))]
    return [lo, *[s for s in inner if lo < s < hi], hi]


def center_crop(x: torch.Tensor, size: int) -> torch.Tensor:
    """The central ``size x size`` of an image (all of a side shorter than ``size``)."""
    H, W = x.shape[-2:]
    i, j = max(0, (H - size) // 2), max(0, (W - size) // 2)
    return x[..., i : i + size, j : j + size]


def _noisy_set(
    images: Sequence[torch.Tensor], sigma: float, seed: int
) -> list[tuple[torch.Tensor, torch.Tensor]]:
    g = torch.Generator().manual_seed(seed)
    return [(x, x + sigma / 255 * torch.randn(x.shape, generator=g, dtype=x.dtype)) for x in images]


def level_psnr(
    model: nn.Module, pairs: Sequence[tuple[torch.Tensor, torch.Tensor]], level: float
) -> float:
    """Mean PSNR (dB, data range 1, output clipped) of ``model(noisy, level)`` over
    ``(clean, noisy)`` pairs."""
    scores = []
    with torch.inference_mode():
        for clean, noisy in pairs:
            out = model(noisy, level).clamp(0, 1).double()
            mse = float((out - clean.double()).pow(2).mean())
            scores.append(10 * math.log10(1 / max(mse, 1e-20)))
    return float(np.mean(scores))


def _golden_max(f: Callable[[float], float], a: float, b: float, evals: int) -> tuple[float, float]:
    """Maximise a unimodal ``f`` on [a, b] with ``evals`` golden-section evaluations."""
    r = (math.sqrt(5) - 1) / 2
    c, d = b - r * (b - a), a + r * (b - a)
    fc, fd = f(c), f(d)
    for _ in range(max(0, evals - 2)):
        if fc >= fd:
            b, d, fd = d, c, fc
            c = b - r * (b - a)
            fc = f(c)
        else:
            a, c, fc = c, d, fd
            d = a + r * (b - a)
            fd = f(d)
    return (c, fc) if fc >= fd else (d, fd)


def calibrate_levels(
    model: nn.Module,
    images: Sequence[torch.Tensor],
    sigmas: Sequence[float],
    seed: int = 0,
    grid: int = 11,
    refine: int = 8,
    source: str = "",
    progress: Callable[[str], None] | None = None,
) -> LevelCalibration:
    """For each sigma, the level in [0, 1] with the best mean PSNR on ``images``.

    The search evaluates ``grid`` evenly spaced levels, then refines around the best one with
    ``refine`` golden-section steps (about 0.01 in level). The noise of each sigma is drawn once
    from ``seed``.

    Args:
        model: a continuous-level denoiser, ``model(noisy, level)``.
        images: clean ``(1, C, H, W)`` images in [0, 1] (a validation folder, not a test set).
        sigmas: noise levels on the 0..255 scale, increasing.
        source: a note of what the images are, kept with the calibration.
    """
    sigmas = sorted(float(s) for s in sigmas)
    if len(sigmas) < 2:
        raise RestorekitError("calibration needs at least two sigmas")
    levels, best = [], []
    step = 1 / (grid - 1)
    for s in sigmas:
        pairs = _noisy_set(images, s, seed)

        def f(a: float, pairs: Any = pairs) -> float:
            return level_psnr(model, pairs, min(1.0, max(0.0, a)))

        coarse = [(f(i * step), i * step) for i in range(grid)]
        p0, a0 = max(coarse)
        a, p = _golden_max(f, max(0.0, a0 - step), min(1.0, a0 + step), refine)
        if p0 >= p:
            a, p = a0, p0
        levels.append(a)
        best.append(p)
        if progress is not None:
            progress(f"sigma {s:g}: level {a:.3f}, PSNR {p:.2f} dB")
    return LevelCalibration(tuple(sigmas), tuple(levels), tuple(best), source)


def denoise_learned(
    x: torch.Tensor,
    sigma: float | None = None,
    level: float | None = None,
    model: nn.Module | None = None,
    calibration: LevelCalibration | None = None,
    tile: int = 1024,
    ensemble: int = 1,
) -> torch.Tensor:
    """Denoise with a continuous-level network, steered by ``sigma`` (0..255) or ``level``.

    Images larger than ``tile x tile`` are processed in tiles with :data:`TILE_OVERLAP` pixels
    of context on each side, which bounds the memory (see ``benchmarks/denoise_tiling.py`` for
    the measured difference to whole-image inference).

    Args:
        x: noisy image ``(B, C, H, W)``, C matching the model (1 gray, 3 RGB).
        sigma: the noise level on the 0..255 scale; mapped to a level by ``calibration``.
        level: the control level (alpha) in [0, 1], used as is (exclusive with ``sigma``).
        model: the network (the shipped gray or colour model for C = 1 / 3 by default).
        calibration: the sigma -> level table (the model file's, for the shipped models).
        tile: the tile side above which the image is cut into tiles (0: never).
        ensemble: average over this many symmetries of the square (1, 2, 4 or 8; the geometric
            self-ensemble of Lim et al. 2017, in :data:`ENSEMBLE_ORDER`): that many times slower,
            a little better (``benchmarks/denoise_levels.py`` measures how much).

    Returns:
        The denoised image, same shape, not clipped.
    """
    from restorekit.models.pretrained import load_pretrained_denoiser

    if (sigma is None) == (level is None):
        raise RestorekitError("give the noise level (sigma) or the control level, not both")
    if ensemble not in (1, 2, 4, 8):
        raise RestorekitError(f"ensemble must be 1, 2, 4 or 8 symmetries, got {ensemble}")
    if model is None:
        model, calibration = load_pretrained_denoiser(x.shape[1])
    if sigma is not None:
        if calibration is None:
            raise RestorekitError("this model has no sigma calibration; give a level instead")
        level = calibration.level_for(sigma)
    from restorekit.models.tiling import tiled

    level = float(level)

    def run(t: torch.Tensor) -> torch.Tensor:
        return model(t.float().contiguous(memory_format=torch.channels_last), level).contiguous()

    def whole(t: torch.Tensor) -> torch.Tensor:
        if tile and tile * tile < t.shape[-2] * t.shape[-1]:
            multiple = getattr(_backbone(model), "multiple", 1)
            return tiled(run, t, tile=tile, overlap=TILE_OVERLAP, multiple=multiple)
        return run(t)

    with torch.no_grad():
        out = whole(x)  # ENSEMBLE_ORDER starts with the identity
        for k in ENSEMBLE_ORDER[1:ensemble]:
            out += dihedral_inverse(whole(dihedral(x, k)), k)
    return (out / ensemble if ensemble > 1 else out).to(x.dtype)


def _backbone(model: nn.Module) -> nn.Module:
    """The network that sets the size multiple (the base of a modulated or DNI model)."""
    return getattr(model, "base", None) or getattr(model, "net0", None) or model
