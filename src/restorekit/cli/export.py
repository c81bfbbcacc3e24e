"""``restorekit export``: a model file to ONNX, checked against torch with onnxruntime."""

from __future__ import annotations

import argparse

from restorekit.cli._common import Subparsers

__all__ = ["register"]


def register(sub: Subparsers) -> None:
    """Add ``export`` to the subcommands ``sub``."""
    p = sub.add_parser(
        "export",
        help="export a model file to ONNX (dynamic height and width), checked with onnxruntime",
    )
    p.add_argument(
        "model", help="a restorekit model file (.safetensors), or 'demosaic' for the shipped one"
    )
    p.add_argument("output", help="the .onnx file to write")
    p.add_argument("--cfa", default="RGGB", help="demosaic: the Bayer layout baked into the graph")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> None:
    """``restorekit export MODEL OUT.onnx``: ONNX with dynamic size, checked with onnxruntime."""
    import torch

    from restorekit.degrade import parse_cfa
    from restorekit.models import load_model
    from restorekit.models.export import export_onnx, onnx_max_difference
    from restorekit.models.pretrained import load_pretrained

    cfa = parse_cfa(args.cfa)
    if args.model == "demosaic":
        model = load_pretrained("demosaic")
    else:
        model, _ = load_model(args.model, expect="demosaicnet")
    path = export_onnx(model, args.output, cfa)
    raw = torch.rand(1, 1, 61, 90, generator=torch.Generator().manual_seed(0))
    diff = onnx_max_difference(path, model, raw, cfa)
    print(
        f"{path}: dynamic (N, 1, H, W) -> (N, 3, H, W), CFA {cfa}; onnxruntime vs torch on "
        f"a 61x90 raw: max abs difference {diff:.2e}"
    )
