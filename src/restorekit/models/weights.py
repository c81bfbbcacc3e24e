"""Model files: weights as safetensors with the model's name and arguments in the metadata.

A model file is enough to rebuild its network: :func:`load_model` reads the name and constructor
arguments from the metadata, builds the network from :data:`restorekit.models.MODELS` and loads the
weights strictly. Nothing is unpickled, so loading a file never runs code. Files are written to a
temporary name and renamed, so a crash never leaves half a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from restorekit.errors import ImageFileError, RestorekitError
from restorekit.io.files import atomic_write

__all__ = ["FORMAT", "load_model", "read_safetensors", "save_model"]

#: the ``format`` metadata entry of a restorekit model file
FORMAT = "restorekit-model"


def read_safetensors(path: str | os.PathLike) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Tensors and metadata of a safetensors file; a missing or corrupt file is one clear error."""
    from safetensors import SafetensorError
    from safetensors.torch import load

    p = Path(path)
    if not p.is_file():
        raise ImageFileError(f"no such file: {p}")
    data = p.read_bytes()
    try:
        tensors = load(data)
        header_len = int.from_bytes(data[:8], "little")
        header = json.loads(data[8 : 8 + header_len])
    except (SafetensorError, ValueError, UnicodeDecodeError, OverflowError):
        raise ImageFileError(f"{p}: not a safetensors file (corrupt or truncated)") from None
    return tensors, header.get("__metadata__") or {}


def model_args(model: nn.Module) -> dict[str, Any]:
    """The constructor arguments a registered model was built with (``model.config``)."""
    config = getattr(model, "config", None)
    if config is None:
        raise RestorekitError(f"{type(model).__name__} was not built by restorekit.models.build")
    return dict(config)


def save_model(
    path: str | os.PathLike,
    model: nn.Module,
    extra: dict[str, Any] | None = None,
    dtype: torch.dtype = torch.float32,
) -> None:
    """Save a model built by :func:`restorekit.models.build` as a self-describing safetensors file.

    Args:
        path: the file to write (atomically).
        model: the network; its registry name and arguments go into the metadata.
        extra: more JSON-able metadata (task, training config, scores...).
        dtype: how floating-point weights are stored. ``torch.float16`` halves the file;
            :func:`load_model` casts them back to the model's own dtype.
    """
    from safetensors.torch import save

    name = getattr(model, "registry_name", None)
    if name is None:
        raise RestorekitError(f"{type(model).__name__} was not built by restorekit.models.build")
    meta = {"format": FORMAT, "model": name, "args": json.dumps(model_args(model))}
    for k, v in (extra or {}).items():
        meta[k] = json.dumps(v)
    state = {
        k: (v.to(dtype) if v.is_floating_point() else v).detach().cpu().contiguous()
        for k, v in model.state_dict().items()
    }
    atomic_write(path, save(state, metadata=meta))


def load_model(
    path: str | os.PathLike, expect: str | None = None
) -> tuple[nn.Module, dict[str, Any]]:
    """Rebuild the network stored in a model file and load its weights.

    Args:
        path: a file written by :func:`save_model`.
        expect: the registry name the caller needs (e.g. ``"demosaicnet"``); another model's file
            is refused with a clear error.

    Returns:
        The model in eval mode, and the file's metadata (JSON values decoded).

    Raises:
        ImageFileError: a missing, corrupt or foreign file.
        RestorekitError: a file of a different model than ``expect``.
    """
    from restorekit.models import build

    tensors, meta = read_safetensors(path)
    if meta.get("format") != FORMAT:
        raise ImageFileError(f"{path}: not a restorekit model file (no '{FORMAT}' metadata)")
    decoded: dict[str, Any] = {}
    for k, v in meta.items():
        try:
            decoded[k] = json.loads(v)
        except json.JSONDecodeError:
            decoded[k] = v
    name = decoded["model"]
    if expect is not None and name != expect:
        raise RestorekitError(f"{path} holds a '{name}' model, expected '{expect}'")
    model = build(name, **decoded["args"])
    check_state(model, tensors, str(path))
    model.load_state_dict(tensors)
    return model.eval(), decoded


def check_state(model: nn.Module, state: dict[str, torch.Tensor], source: str) -> None:
    """Refuse weights whose names or shapes differ from ``model``'s, naming the first mismatch."""
    own = model.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        what = f"missing {missing[0]!r}" if missing else f"unexpected {unexpected[0]!r}"
        raise RestorekitError(
            f"{source} does not fit {type(model).__name__}: {what} "
            f"({len(missing)} missing, {len(unexpected)} unexpected tensors)"
        )
    for k, v in own.items():
        if tuple(state[k].shape) != tuple(v.shape):
            raise RestorekitError(
                f"{source} does not fit {type(model).__name__}: {k!r} has shape "
                f"{tuple(state[k].shape)}, the model needs {tuple(v.shape)}"
            )
