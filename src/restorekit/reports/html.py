"""Self-contained HTML pages in one style: benchmark results (tables and comparison crops), and
the building blocks other reports share (:func:`html_page`, :func:`html_table`)."""

from __future__ import annotations

import html
import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from restorekit.io.files import atomic_write

if TYPE_CHECKING:
    from restorekit.eval.benchmark import BenchmarkResult

__all__ = ["html_page", "html_report", "html_table"]

_STYLE = """
body { font-family: system-ui, sans-serif; margin: 2em auto; max-width: 1100px; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0 1.5em; }
th, td { border: 1px solid #ccc; padding: 4px 10px; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.best { font-weight: bold; background: #e8f4e8; }
img { max-width: 100%; border: 1px solid #ddd; }
.note { color: #555; font-size: 0.9em; }
"""


def html_page(title: str, body: Sequence[str]) -> str:
    """A whole HTML page in the reports' style: ``title`` as its title and heading, then ``body``.

    Args:
        title: plain text (escaped here).
        body: HTML fragments, written in order, one per line.

    Example:
        >>> page = html_page("a & b", ["<p>hi</p>"])
        >>> "<h1>a &amp; b</h1>" in page, page.splitlines()[-2:]
        (True, ['<p>hi</p>', '</body></html>'])
    """
    t = html.escape(title)
    return "\n".join(
        [
            f"<!doctype html><html><head><meta charset='utf-8'><title>{t}</title>",
            f"<style>{_STYLE}</style></head><body><h1>{t}</h1>",
            *body,
            "</body></html>",
        ]
    )


def html_table(header: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """A table in the reports' style: first column left-aligned, the others right-aligned.

    Cells are written with ``str`` and escaped; format numbers before passing them.

    Example:
        >>> html_table(["channel", "std"], [["R", "2.50"]])
        '<table><tr><th>channel</th><th>std</th></tr><tr><td>R</td><td>2.50</td></tr></table>'
    """
    head = "".join(f"<th>{html.escape(str(h))}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _table(result: BenchmarkResult, metric: str) -> str:
    cols = [(d, c) for d in result.datasets for c in result.conditions]
    head = "".join(f"<th>{html.escape(f'{d} {c}')}</th>" for d, c in cols)
    best = {}
    for d, c in cols:
        vals = [r.metrics[metric] for r in result.runs if (r.dataset, r.condition) == (d, c)]
        best[(d, c)] = max(vals) if vals else None
    rows = []
    for m in result.methods:
        cells = []
        for d, c in cols:
            r = result.run_for(d, c, m)
            v = r.metrics[metric] if r else float("nan")
            cls = ' class="best"' if v == best[(d, c)] else ""
            cells.append(f"<td{cls}>{v:.4f}</td>" if v < 1.5 else f"<td{cls}>{v:.2f}</td>")
        s = result.speed(m)
        cells.append(f"<td>{s['median']:.3g}</td>")
        rows.append(f"<tr><td>{html.escape(m)}</td>{''.join(cells)}</tr>")
    return f"<table><tr><th>method</th>{head}<th>MP/s</th></tr>{''.join(rows)}</table>"


def html_report(
    results: Sequence[BenchmarkResult],
    path: str | os.PathLike,
    title: str,
    intro: str = "",
    sections: Sequence[str] = (),
) -> Path:
    """Write one HTML page for several benchmark results; images are linked relative to ``path``.

    ``sections`` are more HTML fragments (a task's own section, e.g. film grain), placed after
    the benchmark results.

    Returns:
        The path written.
    """
    p = Path(path)
    parts: list[str] = []
    if intro:
        parts.append(f"<p>{intro}</p>")
    for r in results:
        parts.append(f"<h2>{html.escape(r.task)}</h2>")
        parts.append(f"<p class='note'>{html.escape(r.convention)}</p>")
        for metric in r.metric_names:
            parts.append(f"<h3>{html.escape(metric)}</h3>{_table(r, metric)}")
        for fig in r.figures:
            rel = os.path.relpath(fig, p.parent)
            parts.append(
                f"<p><img src='{html.escape(rel)}' alt='{html.escape(Path(fig).stem)}'></p>"
            )
    parts.extend(sections)
    if results:
        m = results[0].machine
        parts.append(
            f"<p class='note'>Measured on {html.escape(str(m['cpu']))}, {m['cpu_count']} cores, "
            f"{results[0].date}. Best value per column in bold.</p>"
        )
    atomic_write(p, html_page(title, parts))
    return p
