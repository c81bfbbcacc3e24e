"""``restorekit train``: train a model from a YAML config (Fabric is imported only here)."""

from __future__ import annotations

import argparse

from restorekit.cli._common import Subparsers
from restorekit.errors import RestorekitError

__all__ = ["register"]


def register(sub: Subparsers) -> None:
    """Add ``train`` to the subcommands ``sub``."""
    p = sub.add_parser("train", help="train a model from a YAML config (see configs/)")
    p.add_argument("config", help="a YAML training config, e.g. configs/demosaic/default.yaml")
    p.add_argument(
        "--resume", action="store_true", help="continue the run from its last checkpoint"
    )
    p.add_argument(
        "--set",
        nargs="+",
        action="extend",
        default=[],
        metavar="KEY=VALUE",
        help="override config values, e.g. optim.steps=1000 run.out=runs/x (values are YAML)",
    )
    p.add_argument(
        "--max-steps",
        type=int,
        default=None,
        help="stop after this step (the schedule still spans optim.steps; --resume continues)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_train)


def _overrides(pairs: list[str]) -> dict[str, object]:
    """``--set KEY=VALUE ...`` as a dict; each value is parsed as YAML."""
    import yaml

    out: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise RestorekitError(f"--set expects KEY=VALUE, got {pair!r}")
        try:
            out[key.strip()] = yaml.safe_load(value)
        except yaml.YAMLError:
            raise RestorekitError(f"--set {key}: {value!r} is not a YAML value") from None
    return out


def cmd_train(args: argparse.Namespace) -> None:
    """``restorekit train CONFIG [--resume]``: train, checkpoint, validate, save the model."""
    from restorekit.train import run_config

    if args.max_steps is not None and args.max_steps < 1:
        raise RestorekitError(f"--max-steps must be >= 1, got {args.max_steps}")
    result = run_config(
        args.config,
        resume=args.resume,
        overrides=_overrides(args.set),
        progress=not args.quiet,
        max_steps=args.max_steps,
    )
    scores = ", ".join(f"{k} {v:.3f}" for k, v in result.val.items())
    print(
        f"{result.out}: {result.steps} steps in {result.seconds / 60:.1f} min"
        + (f", validation {scores}" if scores else "")
    )
