"""Training checkpoints: one safetensors file with everything a resumed run needs.

A checkpoint holds the model weights (``model.*``), the optimizer's state tensors (``optim.*``),
any extra tensors of the run (``extra.*``: random generator states, the hard-patch pool) and, in
the metadata, the step, the optimizer's param groups, the scheduler state, the model's name and
arguments and the resolved config. It is written to a temporary file and renamed, so a run killed
at any moment leaves either the previous checkpoint or the new one, never half of one; nothing in
it is unpickled when loaded.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from restorekit.errors import RestorekitError
from restorekit.io.files import atomic_write
from restorekit.models.weights import check_state, model_args, read_safetensors

__all__ = ["CHECKPOINT_FORMAT", "Checkpoint", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_FORMAT = "restorekit-checkpoint"


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns (the model and optimizer are restored in place)."""

    step: int
    scheduler: dict[str, Any]
    extra: dict[str, torch.Tensor]
    meta: dict[str, Any]


def _flatten_optimizer(opt: torch.optim.Optimizer) -> tuple[dict[str, torch.Tensor], list]:
    sd = opt.state_dict()
    tensors = {}
    for idx, state in sd["state"].items():
        for key, value in state.items():
            t = value if isinstance(value, torch.Tensor) else torch.tensor(value)
            tensors[f"optim.{idx}.{key}"] = t.detach().cpu().contiguous()
    return tensors, sd["param_groups"]


def _unflatten_optimizer(tensors: dict[str, torch.Tensor], groups: list) -> dict[str, Any]:
    state: dict[int, dict[str, torch.Tensor]] = {}
    for name, t in tensors.items():
        _, idx, key = name.split(".", 2)
        state.setdefault(int(idx), {})[key] = t
    return {"state": state, "param_groups": groups}


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer,
    step: int,
    scheduler: Any = None,
    extra: dict[str, torch.Tensor] | None = None,
    config: dict[str, Any] | None = None,
) -> None:
    """Write a checkpoint atomically (see the module docstring).

    Args:
        path: the file.
        model: a model built by :func:`restorekit.models.build` (unwrapped, not the DDP wrapper).
        optimizer: its optimizer.
        step: optimizer steps taken so far.
        scheduler: a learning-rate scheduler with ``state_dict()``, or None.
        extra: more tensors to restore (generator states, a hard-patch pool).
        config: the resolved run config, stored as JSON.
    """
    from safetensors.torch import save

    tensors = {f"model.{k}": v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    optim_tensors, groups = _flatten_optimizer(optimizer)
    tensors.update(optim_tensors)
    for k, v in (extra or {}).items():
        tensors[f"extra.{k}"] = v.detach().cpu().contiguous()
    meta = {
        "format": CHECKPOINT_FORMAT,
        "model": getattr(model, "registry_name", type(model).__name__),
        "args": json.dumps(model_args(model)),
        "step": str(step),
        "param_groups": json.dumps(groups),
        "scheduler": json.dumps(scheduler.state_dict() if scheduler is not None else {}),
        "config": json.dumps(config or {}),
    }
    atomic_write(path, save(tensors, metadata=meta))


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module,
    optimizer: torch.optim.Optimizer | None = None,
    scheduler: Any = None,
) -> Checkpoint:
    """Restore ``model`` (and ``optimizer``, ``scheduler``) from a checkpoint, in place.

    Raises:
        ImageFileError: a missing, corrupt or truncated file.
        RestorekitError: a checkpoint of another model, or of the same model with other arguments.
    """
    tensors, meta = read_safetensors(path)
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise RestorekitError(f"{path}: not a restorekit training checkpoint")
    name = getattr(model, "registry_name", type(model).__name__)
    args = json.loads(meta["args"])
    if meta["model"] != name or args != model_args(model):
        raise RestorekitError(
            f"{path} is a checkpoint of {meta['model']} {args}, "
            f"this run builds {name} {model_args(model)}"
        )
    state = {k[6:]: v for k, v in tensors.items() if k.startswith("model.")}
    check_state(model, state, str(path))
    model.load_state_dict(state)
    if optimizer is not None:
        optim = {k: v for k, v in tensors.items() if k.startswith("optim.")}
        optimizer.load_state_dict(_unflatten_optimizer(optim, json.loads(meta["param_groups"])))
    sched = json.loads(meta["scheduler"])
    if scheduler is not None and sched:
        scheduler.load_state_dict(sched)
    extra = {k[6:]: v for k, v in tensors.items() if k.startswith("extra.")}
    return Checkpoint(int(meta["step"]), sched, extra, {"config": json.loads(meta["config"])})
