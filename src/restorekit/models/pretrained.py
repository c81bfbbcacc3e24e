"""The weights shipped inside the package, each reproducible by ``restorekit train`` on its configs,
in order (each stage starts from the model of the one before):

- ``demosaic`` (``restorekit/weights/demosaic.safetensors``): ``configs/demosaic/default.yaml``,
  then ``color-finetune.yaml``: the fast clean demosaicer.
- ``demosaic-joint`` (``demosaic_joint.safetensors``): ``configs/demosaic/joint.yaml``, started
  from ``demosaic``, then ``joint-wide.yaml``: joint demosaicing and denoising of noisy raws (it
  takes a noise map).
- ``denoise-gray`` (``denoise_gray.safetensors``): ``configs/denoise/gray.yaml``,
  ``gray-stage2.yaml``, ``gray-stage3.yaml``.
- ``denoise-color`` (``denoise_color.safetensors``): ``configs/denoise/color.yaml``,
  ``color-stage2.yaml``, ``color-wide.yaml``.
- ``grain`` (``grain.safetensors``): ``configs/grain/learned-v2.yaml``, ``learned-v3.yaml``.
- ``oct`` (``denoise_oct.safetensors``): ``configs/selfsup/oct-noise2noise.yaml`` (Noise2Noise on
  the frames of Duke18 ``train/`` only, no clean image); a blind gray denoiser for OCT B-scans.
- ``sr-x2``, ``sr-x3``, ``sr-x4`` (``sr_x2.safetensors`` ...): ``configs/sr/x2.yaml``, ``x3.yaml``,
  ``x4.yaml`` (supervised, MATLAB-bicubic LR).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from torch import nn

from restorekit._checks import closest_names
from restorekit.errors import RestorekitError

if TYPE_CHECKING:
    from restorekit.models.control import LevelCalibration

__all__ = [
    "PRETRAINED",
    "load_pretrained",
    "load_pretrained_denoiser",
    "load_shipped_denoiser",
    "pretrained_path",
]

#: shipped model name -> (file in restorekit/weights, registry name of its network)
PRETRAINED: dict[str, tuple[str, str]] = {
    "demosaic": ("demosaic.safetensors", "demosaicnet"),
    "demosaic-joint": ("demosaic_joint.safetensors", "demosaicnet"),
    "denoise-gray": ("denoise_gray.safetensors", "unet-denoiser"),
    "denoise-color": ("denoise_color.safetensors", "unet-denoiser"),
    "grain": ("grain.safetensors", "grain-net"),
    "oct": ("denoise_oct.safetensors", "unet-denoiser"),
    "sr-x2": ("sr_x2.safetensors", "srnet"),
    "sr-x3": ("sr_x3.safetensors", "srnet"),
    "sr-x4": ("sr_x4.safetensors", "srnet"),
}


def pretrained_path(name: str) -> Path:
    """Where the shipped weights ``name`` are installed."""
    if name not in PRETRAINED:
        known = ", ".join(closest_names(name, list(PRETRAINED)))
        raise RestorekitError(f"no shipped model {name!r}; known: {known}")
    path = Path(str(resources.files("restorekit") / "weights" / PRETRAINED[name][0]))
    if not path.is_file():
        raise RestorekitError(f"the shipped weights {path} are missing; reinstall restorekit")
    return path


@cache
def load_pretrained(name: str) -> nn.Module:
    """The shipped model ``name`` in eval mode (loaded once per process).

    Example:
        >>> load_pretrained("demosaic").registry_name
        'demosaicnet'
    """
    from restorekit.models.weights import load_model

    model, _ = load_model(pretrained_path(name), expect=PRETRAINED[name][1])
    for p in model.parameters():
        p.requires_grad_(False)
    return model


@cache
def load_shipped_denoiser(name: str) -> tuple[nn.Module, LevelCalibration | None]:
    """The shipped denoiser ``name`` (``denoise-gray``, ``denoise-color``, ``oct``) and its
    calibration, loaded once per process."""
    from restorekit.models.control import load_denoiser

    return load_denoiser(pretrained_path(name))


def load_pretrained_denoiser(channels: int) -> tuple[nn.Module, LevelCalibration | None]:
    """The shipped gray (``channels=1``) or colour (3) denoiser and its sigma calibration."""
    if channels not in (1, 3):
        raise RestorekitError(f"the shipped denoisers take 1 or 3 channels, got {channels}")
    return load_shipped_denoiser("denoise-gray" if channels == 1 else "denoise-color")
