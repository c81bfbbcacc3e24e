"""ONNX export of a demosaicer or an upscaler with dynamic height and width, checked against torch.

A demosaicer's graph takes a Bayer raw ``raw: (N, 1, H, W)`` float32 in [0, 1] of the layout fixed
at export and returns ``rgb: (N, 3, H, W)`` (not clipped, as the torch model); the mirror padding
to the network's packing and the crop back are in the graph. An upscaler's takes
``image: (N, C, H, W)`` and returns ``upscaled: (N, C, s H, s W)``. Height and width are symbolic
(any size of at least 4x4 works, odd sizes included). It uses torch's ``torch.export``-based
exporter (needs ``onnx`` and ``onnxscript``); onnxruntime checks the result.
"""

from __future__ import annotations

import copy
import os
from pathlib import Path

import numpy as np
import torch
from torch import nn

from restorekit.degrade.cfa import CFA, parse_cfa
from restorekit.errors import RestorekitError

__all__ = [
    "demosaicer_channels",
    "export_onnx",
    "is_demosaicer",
    "onnx_max_difference",
    "run_onnx",
]


def is_demosaicer(model: nn.Module) -> bool:
    """Whether ``model`` is called as ``model(raw, cfa)`` (a demosaicer) or ``model(image)``."""
    return getattr(model, "registry_name", "") == "demosaicnet"


class _FixedLayout(nn.Module):
    """The demosaicer with its Bayer layout baked in (ONNX inputs are tensors only). A joint
    demosaicer (with a noise map) takes ``(N, 2, H, W)``: the raw, then its noise map."""

    def __init__(self, model: nn.Module, cfa: CFA) -> None:
        super().__init__()
        self.model = model
        self.cfa = cfa

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return _call_demosaicer(self.model, raw, self.cfa)


def _call_demosaicer(model: nn.Module, x: torch.Tensor, cfa: CFA | str) -> torch.Tensor:
    if getattr(model, "noise_map", False):
        return model(x[:, :1], cfa, x[:, 1:])
    return model(x, cfa)


def demosaicer_channels(model: nn.Module) -> int:
    """The input channels of an exported demosaicer: 1 (the raw), or 2 (raw and noise map)."""
    return 2 if getattr(model, "noise_map", False) else 1


def export_onnx(
    model: nn.Module, path: str | os.PathLike, cfa: CFA | str = CFA.RGGB, opset: int = 18
) -> Path:
    """Write ``model`` (a demosaicer or an upscaler) as ONNX with dynamic batch, height and width.

    Args:
        model: a demosaicer called as ``model(raw, cfa)``, or an image network ``model(image)``
            (an upscaler: :class:`~restorekit.models.SRNet`).
        path: the ``.onnx`` file to write (written to a temporary name, then renamed).
        cfa: a demosaicer's Bayer layout the exported graph assumes (ignored otherwise).
        opset: the ONNX opset.

    Returns:
        The path written.
    """
    try:
        import onnx  # noqa: F401
        import onnxscript  # noqa: F401
    except ImportError:
        raise RestorekitError(
            "ONNX export needs onnx and onnxscript: pip install restorekit[export]"
        ) from None
    path = Path(path)
    if path.suffix.lower() != ".onnx":
        raise RestorekitError(f"'{path}': the output must be a .onnx file")
    if not path.parent.is_dir():
        raise RestorekitError(f"cannot write '{path}': folder '{path.parent}' does not exist")
    # export a copy: the exporter can leave traced state behind on the module it traces
    net = copy.deepcopy(model).eval()
    if is_demosaicer(model):
        wrapped: nn.Module = _FixedLayout(net, parse_cfa(cfa))
        names = ("raw", "rgb")
        channels = demosaicer_channels(model)
    else:
        wrapped = net
        names = ("image", "upscaled" if hasattr(model, "scale") else "output")
        channels = int(getattr(model, "in_channels", 3))
    # batch 2: torch.export specialises a size-1 dimension
    example = torch.rand(2, channels, 64, 96)
    H = torch.export.Dim("height", min=4, max=65536)
    W = torch.export.Dim("width", min=4, max=65536)
    N = torch.export.Dim("batch", min=1, max=1024)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        program = torch.onnx.export(
            wrapped,
            (example,),
            input_names=[names[0]],
            output_names=[names[1]],
            dynamic_shapes={_forward_arg(wrapped): {0: N, 2: H, 3: W}},
            opset_version=opset,
            dynamo=True,
            verbose=False,
        )
        program.save(str(tmp))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path


def _forward_arg(module: nn.Module) -> str:
    """The name of ``module.forward``'s first argument (``dynamic_shapes`` is keyed by it)."""
    import inspect

    return next(iter(inspect.signature(module.forward).parameters))


def run_onnx(path: str | os.PathLike, x: torch.Tensor) -> torch.Tensor:
    """Run an exported network with onnxruntime on CPU."""
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    out = session.run(None, {session.get_inputs()[0].name: x.float().numpy()})[0]
    return torch.from_numpy(np.asarray(out))


def onnx_max_difference(
    path: str | os.PathLike, model: nn.Module, x: torch.Tensor, cfa: CFA | str = CFA.RGGB
) -> float:
    """Largest absolute difference between onnxruntime's and torch's outputs on ``x`` (a raw of
    layout ``cfa`` for a demosaicer)."""
    with torch.inference_mode():
        model = model.eval()
        ref = _call_demosaicer(model, x.float(), cfa) if is_demosaicer(model) else model(x.float())
    return float((run_onnx(path, x) - ref).abs().max())
