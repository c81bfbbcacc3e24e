"""What every command module shares: the one-line-error parser, input/output handling, checks.

Nothing heavy is imported at module level (the CLI must start fast); ``torch`` and the image I/O
are imported inside the helpers that use them.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable

from restorekit.errors import RestorekitError

# typing.TYPE_CHECKING without importing typing: the CLI must start fast.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from pathlib import Path

    import torch

# What ``register(sub)`` receives: the object ``ArgumentParser.add_subparsers`` returns.
Subparsers = argparse._SubParsersAction


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line on stderr."""

    def error(self, message: str) -> None:  # type: ignore[override]
        sys.stderr.write(f"{self.prog}: error: {message}\n")
        raise SystemExit(2)


def _add_io(p: argparse.ArgumentParser) -> None:
    """The ``input output [--bits]`` arguments of the image-in, image-out commands."""
    p.add_argument("input", help="an image file, or a folder of images")
    p.add_argument("output", help="the output file, or a folder (created) when input is a folder")
    p.add_argument(
        "--bits",
        type=int,
        choices=(8, 16),
        default=None,
        help="output bit depth (default: the input's)",
    )


def _check_method(name: str, known: dict | tuple, what: str) -> None:
    """Raise a one-line error listing the known methods (closest first) if ``name`` is unknown."""
    from restorekit._checks import closest_names

    if name not in known:
        raise RestorekitError(
            f"unknown {what} method {name!r}; known: {', '.join(closest_names(name, list(known)))}"
        )


def _jobs(args: argparse.Namespace) -> list[tuple[Path, Path]]:
    """(input, output) file pairs: one file, or every image of a folder into an output folder."""
    from pathlib import Path

    from restorekit.io import list_images

    src, dst = Path(args.input), Path(args.output)
    if src.is_dir():
        files = list_images(src)
        if dst.exists() and not dst.is_dir():
            raise RestorekitError(f"'{dst}': input is a folder, so the output must be a folder")
        dst.mkdir(parents=True, exist_ok=True)
        return [(f, dst / f.name) for f in files]
    _check_output_file(dst)
    return [(src, dst)]


def _check_output_file(dst: Path) -> None:
    """Fail before any work if ``dst`` is not a writable image path."""
    from pathlib import Path

    from restorekit.io import IMAGE_SUFFIXES

    if dst.suffix.lower() not in IMAGE_SUFFIXES:
        raise RestorekitError(
            f"'{dst}': unsupported output type {dst.suffix or '(none)'}; use one of "
            f"{', '.join(IMAGE_SUFFIXES)}"
        )
    folder = dst.parent if str(dst.parent) else Path(".")
    if not folder.is_dir():
        raise RestorekitError(f"cannot write '{dst}': folder '{folder}' does not exist")


def _process(args: argparse.Namespace, fn: Callable[[torch.Tensor, Path], torch.Tensor]) -> None:
    """Read each input, apply ``fn``, write atomically at the input's bit depth (or --bits).

    An image with real transparency is processed in RGB and its alpha plane carried through:
    unchanged when ``fn`` keeps the size, enlarged alike (bicubic) when it changes it; a
    one-channel output (a Bayer mosaic) has no alpha.
    """
    from tqdm import tqdm

    from restorekit.io import attach_alpha, read_image_with_depth, write_image

    jobs = _jobs(args)
    show = len(jobs) > 1 and sys.stderr.isatty()
    for src, dst in tqdm(jobs, desc=args.command, unit="image", disable=not show):
        x, bits = read_image_with_depth(src, mode="alpha")
        alpha = None
        if x.shape[1] == 4:
            x, alpha = x[:, :3], x[:, 3:]
        y = fn(x, src)
        y = attach_alpha(y, alpha)
        out_bits = args.bits or bits
        if dst.suffix.lower() in (".jpg", ".jpeg"):
            out_bits = 8
        write_image(dst, y, bits=out_bits)


#: the largest output an enlarging command writes unless told otherwise (``--max-megapixels``)
MAX_OUTPUT_MEGAPIXELS = 200.0


def _add_max_megapixels(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--max-megapixels",
        type=float,
        default=MAX_OUTPUT_MEGAPIXELS,
        help=f"refuse outputs larger than this (default {MAX_OUTPUT_MEGAPIXELS:g})",
    )


def _check_output_megapixels(
    args: argparse.Namespace, src: object, height: int, width: int, what: str
) -> None:
    """One line, before any work, when an output of ``height x width`` exceeds --max-megapixels."""
    from restorekit._checks import check_positive

    limit = check_positive(args.max_megapixels, "--max-megapixels", allow_zero=False)
    megapixels = height * width / 1e6
    if megapixels > limit:
        raise RestorekitError(
            f"'{src}': {what} would be {megapixels:.0f} megapixels, over the limit of {limit:g} "
            "(--max-megapixels)"
        )


def _parse_level_or_auto(value: str | None, flag: str) -> float | str | None:
    """A noise-level option: None (not given), ``"auto"``, or a number on the 0..255 scale (the
    caller checks its range)."""
    if value is None or value == "auto":
        return value
    try:
        return float(value)
    except ValueError:
        raise RestorekitError(
            f"{flag} must be a number (0..255 scale) or 'auto', got {value!r}"
        ) from None


def _sigma01(sigma: float) -> float:
    """A ``--sigma`` on the 0..255 scale, checked, as the library's [0, 1] scale."""
    from restorekit._checks import check_positive

    s = check_positive(sigma, "--sigma", allow_zero=False)
    if s > 255:
        raise RestorekitError(f"--sigma is on the 0..255 scale and must be <= 255, got {sigma}")
    return s / 255
