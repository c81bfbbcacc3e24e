"""All loss weights in one object: :class:`CompositeLoss`, optionally on a :class:`LossSchedule`."""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from restorekit._checks import check_positive
from restorekit.errors import RestorekitError
from restorekit.losses._common import check_reduction, reduce_batch
from restorekit.losses.registry import LOSSES, build_loss, loss_class

__all__ = ["CompositeLoss", "LossSchedule"]


def _check_progress(progress: float, what: str = "progress") -> float:
    try:
        p = float(progress)
    except (TypeError, ValueError):
        p = math.nan
    if not 0.0 <= p <= 1.0:  # also refuses NaN
        raise RestorekitError(f"{what} must be a number in [0, 1], got {progress!r}")
    return p


class LossSchedule:
    """Loss weights that change with training progress, piecewise-linear between knots.

    For each loss name a list of ``(progress, weight)`` knots, progress strictly increasing in
    [0, 1] and weights >= 0. Between two knots the weight is interpolated linearly; before the
    first knot it is the first weight, after the last the last weight (so one knot is a constant).
    Progress is the fraction of training done, e.g. ``step / total_steps``.

    Args:
        knots: loss name -> ``[(progress, weight), ...]`` (lists of two numbers work too, as
            YAML gives them).

    Raises:
        RestorekitError: for an empty schedule, knots that are not pairs of numbers, a progress
            outside [0, 1] or not strictly increasing, a weight < 0 or not finite.

    Example:
        >>> s = LossSchedule({"l1": [(0, 1.0), (0.5, 0.2)], "ms_ssim": [(0.25, 0), (0.75, 0.8)]})
        >>> s.weights_at(0.0)
        {'l1': 1.0, 'ms_ssim': 0.0}
        >>> s.weights_at(0.5)
        {'l1': 0.2, 'ms_ssim': 0.4}
        >>> s.weights_at(1.0)
        {'l1': 0.2, 'ms_ssim': 0.8}
    """

    def __init__(self, knots: Mapping[str, Sequence[Sequence[float]]]) -> None:
        if not isinstance(knots, Mapping) or not knots:
            raise RestorekitError(
                f"a loss schedule must map loss names to lists of (progress, weight) knots, "
                f"got {knots!r}"
            )
        self.knots: dict[str, tuple[tuple[float, float], ...]] = {
            str(name): _check_knots(str(name), k) for name, k in knots.items()
        }

    @property
    def names(self) -> list[str]:
        """The scheduled loss names."""
        return list(self.knots)

    def progress_points(self) -> list[float]:
        """0, 1 and every knot's progress, sorted: where the weights can change slope."""
        return sorted({0.0, 1.0, *(p for k in self.knots.values() for p, _ in k)})

    def weights_at(self, progress: float) -> dict[str, float]:
        """The weight of each scheduled loss at ``progress`` in [0, 1]."""
        p = _check_progress(progress)
        return {name: _interpolate(k, p) for name, k in self.knots.items()}

    def __repr__(self) -> str:
        inner = ", ".join(f"{name!r}: {list(k)}" for name, k in self.knots.items())
        return f"LossSchedule({{{inner}}})"


def _check_knots(name: str, knots: Sequence[Sequence[float]]) -> tuple[tuple[float, float], ...]:
    what = f"schedule for {name!r}"
    bad = RestorekitError(
        f"{what} must be a non-empty list of (progress, weight) pairs, got {knots!r}"
    )
    if isinstance(knots, (str, bytes)):
        raise bad
    try:
        pairs = [(p, w) for p, w in knots]
    except (TypeError, ValueError):
        raise bad from None
    if not pairs:
        raise bad
    out = tuple(
        (_check_progress(p, f"{what}: progress"), check_positive(w, f"{what}: weight"))
        for p, w in pairs
    )
    ps = [p for p, _ in out]
    if any(b <= a for a, b in itertools.pairwise(ps)):
        raise RestorekitError(f"{what}: progress must be strictly increasing, got {ps}")
    return out


def _interpolate(knots: tuple[tuple[float, float], ...], p: float) -> float:
    ps = [q for q, _ in knots]
    if p <= ps[0]:
        return knots[0][1]
    if p >= ps[-1]:
        return knots[-1][1]
    i = bisect.bisect_right(ps, p)  # ps[i - 1] <= p < ps[i]
    (p0, w0), (p1, w1) = knots[i - 1], knots[i]
    return w0 + (w1 - w0) * (p - p0) / (p1 - p0)


class CompositeLoss(nn.Module):
    """A weighted sum of named losses: the one place where loss weights live.

    .. math::

        \\mathcal{L}(x, y) = \\sum_n w_n(t)\\, \\mathcal{L}_n(x, y)

    per sample, with :math:`t` the training progress. Each term is built from its name in
    :data:`~restorekit.losses.LOSSES` and its
    options (``CompositeLoss({"l1": 0.16, "ms_ssim": 0.84}, ms_ssim={"mode": "same"})``). A term
    whose weight is 0 is skipped, not computed, and has no entry in ``parts``; a term whose weight
    is 0 at every progress is not even built.

    With a ``schedule``, the names it lists take their weight from it at the ``progress`` given to
    :meth:`forward` (their value in ``weights`` is then unused); the others keep their constant
    weight. Every name must appear in ``weights``: it is the list of terms.

    Args:
        weights: loss name -> weight, finite and >= 0.
        schedule: optional :class:`LossSchedule` (or its knots mapping) for some of the names.
        reduction: ``"mean"``: a scalar total and scalar parts; ``"none"``: ``(B,)`` per sample
            (for hard-patch mining). Every term is computed per sample and reduced here, so the
            options must not set ``reduction``.
        **options: loss name -> dict of keyword arguments for that loss (e.g.
            ``mixed={"alpha": 0.84}``).

    Raises:
        RestorekitError: an unknown loss name (the known ones listed, closest first), a weight < 0
            or not finite, weights that are all 0 at some progress, options or a schedule for a name
            not in ``weights``, a bad option.

    Example:
        >>> loss = CompositeLoss({"l1": 1.0, "ms_ssim": 0.5, "l2": 0.0})  # l2 is not computed
        >>> x, y = torch.full((2, 1, 16, 16), 0.5), torch.full((2, 1, 16, 16), 0.25)
        >>> total, parts = loss(x, y)
        >>> sorted(parts), bool(torch.isclose(total, parts["l1"] + 0.5 * parts["ms_ssim"]))
        (['l1', 'ms_ssim'], True)
        >>> ramp = CompositeLoss({"l1": 1, "ms_ssim": 0}, schedule={"ms_ssim": [(0, 0), (1, 1)]})
        >>> ramp.weights_at(0.25)
        {'l1': 1.0, 'ms_ssim': 0.25}
    """

    def __init__(
        self,
        weights: Mapping[str, float],
        schedule: LossSchedule | Mapping[str, Sequence[Sequence[float]]] | None = None,
        reduction: str = "mean",
        **options: Mapping[str, Any],
    ) -> None:
        super().__init__()
        self.reduction = check_reduction(reduction)
        if not isinstance(weights, Mapping) or not weights:
            raise RestorekitError(
                f"weights must map at least one loss name to a weight; known: {', '.join(LOSSES)}"
            )
        self.weights: dict[str, float] = {}
        for name, w in weights.items():
            key = _key(name)
            if key in self.weights:
                raise RestorekitError(f"loss {key!r} is named twice in weights")
            self.weights[key] = check_positive(w, f"weight of loss {key!r}")
        listed = ", ".join(self.weights)

        if schedule is not None and not isinstance(schedule, LossSchedule):
            schedule = LossSchedule(schedule)
        if schedule is not None:
            schedule = LossSchedule({_key(n): k for n, k in schedule.knots.items()})
            for name in schedule.names:
                if name not in self.weights:
                    raise RestorekitError(
                        f"the schedule names loss {name!r}, which is not in weights ({listed})"
                    )
        self.schedule = schedule

        opts: dict[str, dict[str, Any]] = {}
        for name, kwargs in options.items():
            key = _key(name)
            if key not in self.weights:
                raise RestorekitError(
                    f"options given for loss {key!r}, which is not in weights ({listed})"
                )
            if not isinstance(kwargs, Mapping):
                raise RestorekitError(
                    f"options for loss {key!r} must be a dict of keyword arguments, got {kwargs!r}"
                )
            if "reduction" in kwargs:
                raise RestorekitError(
                    f"options for loss {key!r} must not set reduction: "
                    f"CompositeLoss(reduction=...) sets it for every term"
                )
            opts[key] = dict(kwargs)

        # The total weight is piecewise linear in progress, so it is smallest at a knot or an end.
        points = schedule.progress_points() if schedule is not None else [0.0]
        table = [self.weights_at(p) for p in points]
        for p, ws in zip(points, table, strict=True):
            if not any(w > 0 for w in ws.values()):
                at = f" at progress {p}" if schedule is not None else ""
                raise RestorekitError(f"all loss weights are 0{at}; at least one must be > 0")
        used = [n for n in self.weights if any(ws[n] > 0 for ws in table)]
        self.terms = nn.ModuleDict(
            {n: build_loss(n, {**opts.get(n, {}), "reduction": "none"}) for n in used}
        )

    def weights_at(self, progress: float | None = None) -> dict[str, float]:
        """The weight of every named loss at ``progress`` (needed only with a schedule)."""
        if progress is None:
            if self.schedule is not None:
                raise RestorekitError(
                    "this CompositeLoss has a schedule: pass progress, a number in [0, 1]"
                )
            return dict(self.weights)
        p = _check_progress(progress)
        scheduled = self.schedule.weights_at(p) if self.schedule is not None else {}
        return {n: scheduled.get(n, w) for n, w in self.weights.items()}

    def forward(
        self, x: torch.Tensor, y: torch.Tensor, progress: float | None = None
    ) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
        """The weighted total and each computed term, unweighted and detached (for logging).

        Args:
            x: restored image ``(B, C, H, W)``.
            y: target image ``(B, C, H, W)``.
            progress: training progress in [0, 1]; required with a schedule.

        Returns:
            ``(total, parts)``: ``total`` keeps the graph; ``parts`` maps each term computed at
            this progress to its value. Scalars, or ``(B,)`` with ``reduction="none"``.
        """
        weights = self.weights_at(progress)
        total: torch.Tensor | None = None
        parts: dict[str, torch.Tensor] = {}
        for name, term in self.terms.items():
            w = weights[name]
            if w == 0:
                continue
            value = term(x, y)  # (B,)
            total = w * value if total is None else total + w * value
            parts[name] = reduce_batch(value.detach(), self.reduction)
        assert total is not None  # __init__ refused weights that are all 0 at some progress
        return reduce_batch(total, self.reduction), parts

    def extra_repr(self) -> str:
        s = f"weights={self.weights}, reduction={self.reduction!r}"
        return s if self.schedule is None else f"{s}, schedule={self.schedule!r}"


def _key(name: str) -> str:
    """The registry key of a loss name (checked against :data:`LOSSES`)."""
    loss_class(name)
    return str(name).strip().lower()
