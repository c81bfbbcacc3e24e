"""Tables and pictures a person wants to look at."""

from __future__ import annotations

from restorekit.reports.figures import best_crop_box, comparison_strip, crop_to_uint8
from restorekit.reports.html import html_page, html_report, html_table
from restorekit.reports.tables import markdown_table

__all__ = [
    "best_crop_box",
    "comparison_strip",
    "crop_to_uint8",
    "html_page",
    "html_report",
    "html_table",
    "markdown_table",
]
