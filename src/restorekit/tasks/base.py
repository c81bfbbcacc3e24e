"""What every task object provides to the benchmark harness, the CLI and the configs.

A task names its degradation (how a benchmark input is made from a ground truth), the methods that
restore it, the conditions it is measured at (a noise level, a scale, a CFA layout) and the metrics
of its field's convention. It holds no state: one small object per task.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np
import torch

__all__ = ["Condition", "Pair", "Task", "quantize"]


@dataclass(frozen=True)
class Condition:
    """One condition a benchmark is run at, e.g. ``sigma=25`` or ``scale=4`` or ``cfa=RGGB``."""

    name: str
    value: Any
    variant: str = ""  # another convention at the same value, e.g. "8-bit"

    @property
    def label(self) -> str:
        """``name=value``, with whole floats written as integers, and the variant if any.

        Example:
            >>> Condition("sigma", 25.0).label, Condition("sigma", 25.0, "8-bit").label
            ('sigma=25', 'sigma=25 8-bit')
        """
        v = self.value
        if isinstance(v, float) and v.is_integer():
            v = int(v)
        return f"{self.name}={v}" + (f" {self.variant}" if self.variant else "")


@dataclass
class Pair:
    """A benchmark sample: the degraded input, the target and what a method needs to know."""

    name: str
    input: torch.Tensor
    target: torch.Tensor
    extra: dict[str, Any] = field(default_factory=dict)


class Task(Protocol):
    """The interface the harness uses (see :mod:`restorekit.tasks.demosaic` for an example)."""

    name: str
    #: dataset folders relative to the data root, e.g. ``test/color/Kodak24``
    default_datasets: tuple[str, ...]
    #: the metrics it reports, the first is the headline one
    metric_names: tuple[str, ...]
    #: how the metrics are computed, as a sentence for reports
    convention: str

    def conditions(self, values: list[Any] | None = None) -> list[Condition]: ...

    def methods(self) -> dict[str, Callable[..., torch.Tensor]]: ...

    def pairs(self, images: list[tuple[str, np.ndarray]], cond: Condition) -> Iterator[Pair]: ...

    def run(self, method: str, pair: Pair, cond: Condition) -> torch.Tensor: ...

    def score(self, output: torch.Tensor, pair: Pair, cond: Condition) -> dict[str, float]: ...


def quantize(x: torch.Tensor, bits: int = 8) -> torch.Tensor:
    """Clip to [0, 1] and round to ``bits`` bits, staying float (what saving to a file does).

    Example:
        >>> quantize(torch.tensor([-0.1, 0.5, 1.2])).mul(255).tolist()
        [0.0, 128.0, 255.0]
    """
    peak = 2**bits - 1
    return (x.clamp(0, 1) * peak).round() / peak
