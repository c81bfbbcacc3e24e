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
        "model",
        help="a demosaicing or super-resolution model file (.safetensors), or a shipped one: "
        "demosaic, sr-x2, sr-x3, sr-x4",
    )
    p.add_argument("output", help="the .onnx file to write")
    p.add_argument("--cfa", default="RGGB", help="demosaic: the Bayer layout baked into the graph")
    p.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace) -> None:
    """``restorekit export MODEL OUT.onnx``: ONNX with dynamic size, checked with onnxruntime."""
    import torch

    from restorekit.degrade import parse_cfa
    from restorekit.errors import RestorekitError
    from restorekit.models import load_model
    from restorekit.models.export import (
        demosaicer_channels,
        export_onnx,
        is_demosaicer,
        onnx_max_difference,
    )
    from restorekit.models.pretrained import load_pretrained

    cfa = parse_cfa(args.cfa)
    if args.model in ("demosaic", "sr-x2", "sr-x3", "sr-x4"):
        model = load_pretrained(args.model)
    else:
        model, _ = load_model(args.model)
        if model.registry_name not in ("demosaicnet", "srnet"):
            raise RestorekitError(
                f"{args.model} holds a '{model.registry_name}' model; export takes demosaicing "
                "(demosaicnet) and super-resolution (srnet) models"
            )
    path = export_onnx(model, args.output, cfa)
    g = torch.Generator().manual_seed(0)
    if is_demosaicer(model):
        c = demosaicer_channels(model)
        x = torch.rand(1, c, 61, 90, generator=g)
        if c == 2:  # a joint demosaicer: raw and noise map (levels up to 20 on 0..255)
            x[:, 1] *= 20 / 255
        inputs = "raw and noise map" if c == 2 else "raw"
        shapes, what = f"(N, {c}, H, W) ({inputs}) -> (N, 3, H, W), CFA {cfa}", "a 61x90 raw"
    else:
        x = torch.rand(1, model.in_channels, 61, 90, generator=g)
        c, s = model.in_channels, model.scale
        shapes, what = f"(N, {c}, H, W) -> (N, {c}, {s}H, {s}W)", "a 61x90 image"
    diff = onnx_max_difference(path, model, x, cfa)
    print(
        f"{path}: dynamic {shapes}; onnxruntime vs torch on {what}: max abs difference {diff:.2e}"
    )
