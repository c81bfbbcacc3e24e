"""Training checkpoints: one safetensors file with everything a resumed run needs.

A run trains one or several named networks (``model``; or ``generator`` and ``discriminator``),
each with its optimizer and learning-rate schedule. A checkpoint holds every network's weights
(``net.<name>.*``), every optimizer's state tensors (``optim.<name>.*``), any extra tensors of the
run (``extra.*``: random generator states, the hard-patch pool) and, in the metadata, the step, the
optimizers' param groups, the schedulers' states, each network's registry name and arguments and
the resolved config. It is written to a temporary file and renamed, so a run killed at any moment
leaves either the previous checkpoint or the new one, never half of one; nothing in it is
unpickled when loaded.

The functions take one network (and one optimizer, one scheduler), stored under the name
``model``, or mappings from names to them.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from restorekit.errors import RestorekitError
from restorekit.io.files import atomic_write
from restorekit.models.weights import check_state, model_args, read_safetensors

__all__ = ["CHECKPOINT_FORMAT", "Checkpoint", "load_checkpoint", "save_checkpoint"]

CHECKPOINT_FORMAT = "restorekit-checkpoint-2"

#: the name of a run's network when the functions are given a single one
SINGLE = "model"


@dataclass
class Checkpoint:
    """What :func:`load_checkpoint` returns (networks and optimizers are restored in place)."""

    step: int
    #: the scheduler state of each network's optimizer, by name
    schedulers: dict[str, Any]
    extra: dict[str, torch.Tensor]
    meta: dict[str, Any]

    @property
    def scheduler(self) -> Any:
        """The single network's scheduler state (a run of one network)."""
        return self.schedulers.get(SINGLE, {})


def _named(obj: Any) -> dict[str, Any]:
    """``obj`` as ``{name: obj}``: a mapping as it is, one object under :data:`SINGLE`."""
    if obj is None:
        return {}
    if isinstance(obj, Mapping):
        return dict(obj)
    return {SINGLE: obj}


def _describe(networks: dict[str, dict[str, Any]]) -> str:
    """``demosaicnet {...}`` for one network, ``generator: dncnn {...}, ...`` for several."""
    parts = [f"{d['model']} {d['args']}" for d in networks.values()]
    if list(networks) == [SINGLE]:
        return parts[0]
    return ", ".join(f"{n}: {p}" for n, p in zip(networks, parts, strict=True))


def _identity(net: nn.Module) -> dict[str, Any]:
    return {"model": getattr(net, "registry_name", type(net).__name__), "args": model_args(net)}


def save_checkpoint(
    path: str | os.PathLike,
    model: nn.Module | Mapping[str, nn.Module],
    optimizer: torch.optim.Optimizer | Mapping[str, torch.optim.Optimizer],
    step: int,
    scheduler: Any = None,
    extra: dict[str, torch.Tensor] | None = None,
    config: dict[str, Any] | None = None,
) -> None:
    """Write a checkpoint atomically (see the module docstring).

    Args:
        path: the file.
        model: a network built by :func:`restorekit.models.build` (unwrapped, not the DDP
            wrapper), or a mapping of names to them.
        optimizer: its optimizer, or a mapping of the same names to optimizers (a network without
            one, a frozen teacher say, may be left out).
        step: optimizer steps taken so far.
        scheduler: a learning-rate scheduler with ``state_dict()``, a mapping of names to them, or
            None.
        extra: more tensors to restore (generator states, a hard-patch pool).
        config: the resolved run config, stored as JSON.
    """
    from safetensors.torch import save

    nets, optims, scheds = _named(model), _named(optimizer), _named(scheduler)
    tensors: dict[str, torch.Tensor] = {}
    groups: dict[str, Any] = {}
    for name, net in nets.items():
        for k, v in net.state_dict().items():
            tensors[f"net.{name}.{k}"] = v.detach().cpu().contiguous()
    for name, opt in optims.items():
        sd = opt.state_dict()
        for idx, state in sd["state"].items():
            for key, value in state.items():
                t = value if isinstance(value, torch.Tensor) else torch.tensor(value)
                tensors[f"optim.{name}.{idx}.{key}"] = t.detach().cpu().contiguous()
        groups[name] = sd["param_groups"]
    for k, v in (extra or {}).items():
        tensors[f"extra.{k}"] = v.detach().cpu().contiguous()
    meta = {
        "format": CHECKPOINT_FORMAT,
        "networks": json.dumps({n: _identity(net) for n, net in nets.items()}),
        "step": str(step),
        "param_groups": json.dumps(groups),
        "schedulers": json.dumps({n: s.state_dict() for n, s in scheds.items()}),
        "config": json.dumps(config or {}),
    }
    atomic_write(path, save(tensors, metadata=meta))


def checkpoint_step(path: str | os.PathLike) -> int:
    """The step a checkpoint was written at, without building its networks."""
    _, meta = read_safetensors(path)
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise RestorekitError(f"{path}: not a restorekit training checkpoint")
    return int(meta["step"])


def load_checkpoint(
    path: str | os.PathLike,
    model: nn.Module | Mapping[str, nn.Module],
    optimizer: torch.optim.Optimizer | Mapping[str, torch.optim.Optimizer] | None = None,
    scheduler: Any = None,
) -> Checkpoint:
    """Restore the networks (and optimizers, schedulers) from a checkpoint, in place.

    Args:
        path: a file written by :func:`save_checkpoint`.
        model: the network, or the mapping of names to networks, the checkpoint was written
            from (same names, registry names and arguments).
        optimizer: its optimizer(s), or None to restore the weights only.
        scheduler: its scheduler(s), or None.

    Raises:
        ImageFileError: a missing, corrupt or truncated file.
        RestorekitError: a checkpoint of other networks, or of the same networks with other
            arguments.
    """
    tensors, meta = read_safetensors(path)
    if meta.get("format") != CHECKPOINT_FORMAT:
        raise RestorekitError(f"{path}: not a restorekit training checkpoint")
    nets, optims, scheds = _named(model), _named(optimizer), _named(scheduler)
    stored = json.loads(meta["networks"])
    ours = {n: _identity(net) for n, net in nets.items()}
    if stored != ours:
        raise RestorekitError(
            f"{path} is a checkpoint of {_describe(stored)}, this run builds {_describe(ours)}"
        )
    for name, net in nets.items():
        prefix = f"net.{name}."
        state = {k[len(prefix) :]: v for k, v in tensors.items() if k.startswith(prefix)}
        check_state(net, state, str(path))
        net.load_state_dict(state)
    groups = json.loads(meta["param_groups"])
    for name, opt in optims.items():
        if name not in groups:
            raise RestorekitError(f"{path} holds no optimizer for {name!r}")
        prefix = f"optim.{name}."
        state: dict[int, dict[str, torch.Tensor]] = {}
        for k, v in tensors.items():
            if k.startswith(prefix):
                idx, key = k[len(prefix) :].split(".", 1)
                state.setdefault(int(idx), {})[key] = v
        opt.load_state_dict({"state": state, "param_groups": groups[name]})
    stored_scheds = json.loads(meta["schedulers"])
    for name, sched in scheds.items():
        if stored_scheds.get(name):
            sched.load_state_dict(stored_scheds[name])
    extra = {k[6:]: v for k, v in tensors.items() if k.startswith("extra.")}
    return Checkpoint(
        int(meta["step"]), stored_scheds, extra, {"config": json.loads(meta["config"])}
    )
