"""One small object per task: its degradation, methods, conditions and metrics.

``TASKS`` is the flat registry the CLI and the benchmarks use.
"""

from __future__ import annotations

from restorekit._checks import closest_names
from restorekit.errors import RestorekitError
from restorekit.tasks.base import Condition, Pair, Task, quantize
from restorekit.tasks.demosaic import DemosaicTask
from restorekit.tasks.denoise import DenoiseTask
from restorekit.tasks.sr import SRTask

__all__ = [
    "TASKS",
    "Condition",
    "DemosaicTask",
    "DenoiseTask",
    "Pair",
    "SRTask",
    "Task",
    "get_task",
    "quantize",
]

TASKS: dict[str, type] = {"demosaic": DemosaicTask, "denoise": DenoiseTask, "sr": SRTask}


def get_task(name: str) -> Task:
    """The task object for a name, or an error listing the known names closest first.

    Example:
        >>> get_task("sr").name
        'sr'
    """
    if name not in TASKS:
        known = ", ".join(closest_names(name, list(TASKS)))
        raise RestorekitError(f"unknown task {name!r}; known: {known}")
    return TASKS[name]()
