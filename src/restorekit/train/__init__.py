"""Training: typed configs, checkpoints, and explicit loops on Lightning Fabric.

Importing this package does not import Lightning (it takes seconds); :func:`fit` does.
:func:`run_config` is what ``restorekit train cfg.yaml`` calls: it picks the recipe of the config's
task and trains.
"""

from __future__ import annotations

import os
from typing import Any

from restorekit.train.checkpoint import Checkpoint, load_checkpoint, save_checkpoint
from restorekit.train.config import TrainConfig, config_to_dict, load_config
from restorekit.train.run import Run, TrainResult
from restorekit.train.supervised import Recipe, fit

__all__ = [
    "LOOPS",
    "RECIPES",
    "Checkpoint",
    "Recipe",
    "Run",
    "TrainConfig",
    "TrainResult",
    "config_to_dict",
    "fit",
    "load_checkpoint",
    "load_config",
    "run_config",
    "save_checkpoint",
]


def _demosaic_recipe(cfg: TrainConfig) -> Recipe:
    from restorekit.train.demosaic import DemosaicRecipe

    return DemosaicRecipe.from_config(cfg)


def _denoise_recipe(cfg: TrainConfig) -> Recipe:
    from restorekit.train.denoise import DenoiseRecipe

    return DenoiseRecipe.from_config(cfg)


def _grain_recipe(cfg: TrainConfig) -> Recipe:
    from restorekit.train.grain import GrainRecipe

    return GrainRecipe.from_config(cfg)


def _sr_recipe(cfg: TrainConfig) -> Recipe:
    from restorekit.train.sr import SRRecipe

    return SRRecipe.from_config(cfg)


#: supervised task name -> a function making the task's recipe from the config
RECIPES = {
    "demosaic": _demosaic_recipe,
    "denoise": _denoise_recipe,
    "grain": _grain_recipe,
    "sr": _sr_recipe,
}


def _loop(module: str, name: str) -> Any:
    def start(cfg: TrainConfig, **kw: Any) -> TrainResult:
        import importlib

        return getattr(importlib.import_module(f"restorekit.train.{module}"), name)(cfg, **kw)

    return start


#: task name -> its training loop ``(cfg, resume, progress, max_steps) -> TrainResult``; the
#: supervised tasks run :func:`fit` with their recipe
LOOPS = {
    "noise2noise": _loop("selfsup", "fit_noise2noise"),
    "neighbor2neighbor": _loop("selfsup", "fit_neighbor2neighbor"),
    "tcfl": _loop("selfsup", "fit_tcfl"),
    "cycle-sr": _loop("cycle", "fit_cycle_sr"),
}


def run_config(
    path: str | os.PathLike,
    resume: bool = False,
    overrides: dict[str, Any] | None = None,
    progress: bool = True,
    max_steps: int | None = None,
) -> TrainResult:
    """Load, validate and train the config at ``path`` (``restorekit train``)."""
    cfg = load_config(path, overrides)
    if cfg.task in LOOPS:
        return LOOPS[cfg.task](cfg, resume=resume, progress=progress, max_steps=max_steps)
    return fit(cfg, RECIPES[cfg.task](cfg), resume=resume, progress=progress, max_steps=max_steps)
