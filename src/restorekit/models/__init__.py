"""Learned networks, a flat registry of them, and their self-describing weight files.

:data:`MODELS` maps the names used by configs and model files to the classes; :func:`build`
constructs one and records its name and arguments (so :func:`save_model` can write them next to the
weights); :func:`describe` reports parameters and multiply-accumulates per output pixel.
"""

from __future__ import annotations

import inspect
from typing import Any

import torch
from torch import nn

from restorekit._checks import closest_names
from restorekit.errors import RestorekitError
from restorekit.models.demosaic import DemosaicNet
from restorekit.models.denoise import DnCNN, FFDNet, ResNetDenoiser, UNetDenoiser
from restorekit.models.discriminator import PatchGAN
from restorekit.models.grain import GrainNet
from restorekit.models.modulation import DNIDenoiser, ModulatedDenoiser
from restorekit.models.sr import DegradeNet, SRNet
from restorekit.models.weights import check_state, load_model, read_safetensors, save_model

__all__ = [
    "MODELS",
    "DNIDenoiser",
    "DegradeNet",
    "DemosaicNet",
    "DnCNN",
    "FFDNet",
    "GrainNet",
    "ModulatedDenoiser",
    "PatchGAN",
    "ResNetDenoiser",
    "SRNet",
    "UNetDenoiser",
    "build",
    "check_state",
    "describe",
    "load_model",
    "macs_per_pixel",
    "read_safetensors",
    "save_model",
]

MODELS: dict[str, type[nn.Module]] = {
    "demosaicnet": DemosaicNet,
    "dncnn": DnCNN,
    "resnet-denoiser": ResNetDenoiser,
    "ffdnet": FFDNet,
    "unet-denoiser": UNetDenoiser,
    "modulated": ModulatedDenoiser,
    "dni": DNIDenoiser,
    "grain-net": GrainNet,
    "srnet": SRNet,
    # the learned degradation (HR -> LR) of cycle super-resolution
    "degradenet": DegradeNet,
    # the discriminator for adversarial training (logits, not an image)
    "patchgan": PatchGAN,
}


def build(name: str, **args: Any) -> nn.Module:
    """Construct the registered model ``name`` with ``args``, checking the argument names.

    Example:
        >>> build("demosaicnet", channels=8, depth=1).config
        {'channels': 8, 'depth': 1}
        >>> build("demosaicnet", chanels=8)  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: demosaicnet has no argument 'chanels'; known: ...
    """
    key = str(name).strip().lower()
    if key not in MODELS:
        known = ", ".join(closest_names(key, list(MODELS)))
        raise RestorekitError(f"unknown model {name!r}; known: {known}")
    cls = MODELS[key]
    params = [p for p in inspect.signature(cls).parameters if p != "self"]
    for a in args:
        if a not in params:
            known = closest_names(a, params)
            shown = ", ".join(known[:1]) + (", ..." if len(known) > 1 else "")
            raise RestorekitError(f"{key} has no argument {a!r}; known: {shown}")
    model = cls(**args)
    model.registry_name = key
    model.config = dict(args)
    return model


def macs_per_pixel(model: nn.Module, example: torch.Tensor) -> float:
    """Multiply-accumulates per output pixel of ``model(example)``, counted by torch's FLOP counter
    (convolutions and matrix products, including fixed filters such as a classical estimate).
    """
    from torch.utils.flop_counter import FlopCounterMode

    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        out = model(example)
    H, W = out.shape[-2:]  # the output's pixels (an upscaler's are scale^2 more)
    return counter.get_total_flops() / 2 / (H * W)


def describe(model: nn.Module, example: torch.Tensor | None = None) -> dict[str, float]:
    """Parameters and MACs per output pixel (on a 128x128 raw unless ``example`` is given).

    Example:
        >>> describe(build("demosaicnet", channels=16, depth=2))["params"]
        20832
    """
    if example is None:
        example = torch.rand(1, 1, 128, 128)
    params = sum(p.numel() for p in model.parameters())
    was_training = model.training
    model.eval()
    macs = macs_per_pixel(model, example)
    model.train(was_training)
    return {"params": params, "macs_per_pixel": round(macs, 1)}
