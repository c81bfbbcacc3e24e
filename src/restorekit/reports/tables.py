"""Markdown tables."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["markdown_table"]


def markdown_table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A GitHub-flavoured Markdown table; floats get two decimals (four below 1.5).

    Example:
        >>> print(markdown_table(["method", "PSNR"], [["bm3d", 29.971], ["tv", 0.91234]]))
        | method | PSNR |
        |---|---|
        | bm3d | 29.97 |
        | tv | 0.9123 |
    """

    def fmt(v: object) -> str:
        if isinstance(v, float):
            return f"{v:.4f}" if abs(v) < 1.5 else f"{v:.2f}"
        return str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(fmt(v) for v in row) + " |" for row in rows]
    return "\n".join(lines)
