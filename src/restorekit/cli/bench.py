"""``restorekit bench``: every method of a task on datasets -> Markdown, JSON and PNGs."""

from __future__ import annotations

import argparse
import sys

from restorekit.cli._common import Subparsers
from restorekit.errors import RestorekitError

__all__ = ["BENCH_TASKS", "register"]

BENCH_TASKS = ("demosaic", "denoise", "sr")


def register(sub: Subparsers) -> None:
    """Add ``bench`` to the subcommands ``sub``."""
    p = sub.add_parser(
        "bench", help="compare every method of a task on datasets; writes Markdown, JSON and PNGs"
    )
    p.add_argument("task", help=f"one of {', '.join(BENCH_TASKS)}")
    p.add_argument(
        "--data",
        nargs="+",
        default=None,
        metavar="FOLDER",
        help="dataset folders (default: the task's test sets under --data-root)",
    )
    p.add_argument("--data-root", default="../shared/data", help="root of the shared test data")
    p.add_argument("--methods", nargs="+", default=None, help="methods to run (default: all)")
    p.add_argument(
        "--sigma",
        nargs="+",
        type=float,
        default=None,
        help="denoise: noise levels, 0..255; demosaic: raw noise levels, 0..255 (0 = clean; "
        "default 0 5 10 15)",
    )
    p.add_argument(
        "--quantize",
        type=int,
        choices=(8,),
        default=None,
        help="denoise: also the 8-bit convention (noisy files clipped and rounded to 8 bits, "
        "outputs rounded), beside the float one",
    )
    p.add_argument("--scale", nargs="+", type=int, default=None, help="sr: scales")
    p.add_argument("--cfa", nargs="+", default=None, help="demosaic: Bayer layouts")
    p.add_argument("--limit", type=int, default=None, help="use the first N images of each dataset")
    p.add_argument("--out", default="benchmarks/results", help="where to write the reports")
    p.add_argument(
        "--reuse",
        default=None,
        metavar="JSON",
        help="an earlier benchmark JSON of this task: the methods it ran on the same images are "
        "not run again (scores and timings copied; each re-run on the comparison-crop image, "
        "where it must score the same)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(func=cmd_bench)


def cmd_bench(args: argparse.Namespace) -> None:
    """``restorekit bench TASK``: every method on the task's datasets -> Markdown, JSON, PNG."""
    import shlex
    from pathlib import Path

    from restorekit.eval import run_benchmark
    from restorekit.tasks import get_task

    task = get_task(args.task)
    values = {"denoise": args.sigma, "sr": args.scale, "demosaic": args.cfa}[task.name]
    if args.quantize is not None and task.name != "denoise":
        raise RestorekitError("--quantize is for bench denoise")
    if args.sigma is not None and task.name == "sr":
        raise RestorekitError("--sigma is for bench denoise and bench demosaic")
    if args.quantize is not None:
        conditions = task.conditions(values, quantize=args.quantize)
    elif task.name == "demosaic":
        conditions = task.conditions(values, noise=args.sigma or list(task.bench_noise))
    else:
        conditions = task.conditions(values)
    if args.data:
        folders = [Path(d) for d in args.data]
    else:
        root = Path(args.data_root)
        folders = [root / d for d in task.default_datasets]
    for f in folders:
        if not f.is_dir():
            raise RestorekitError(f"dataset folder '{f}' not found (set --data or --data-root)")
    if args.limit is not None and args.limit < 1:
        raise RestorekitError(f"--limit must be >= 1, got {args.limit}")
    command = "restorekit " + " ".join(shlex.quote(a) for a in sys.argv[1:])
    result = run_benchmark(
        task,
        folders,
        conditions,
        methods=args.methods,
        limit=args.limit,
        figures_dir=args.out,
        progress=not args.quiet,
        command=command,
        reuse=args.reuse,
    )
    json_path, md_path = result.write(args.out)
    print(result.to_markdown())
    print(f"\nwrote {md_path} and {json_path}", file=sys.stderr)
