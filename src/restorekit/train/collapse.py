"""Watching a self-supervised generator for collapse to a constant.

TCFL's consistency terms (and any loss that compares a denoiser's outputs with each other) are all
minimised by a network whose noise estimate is the same whatever its input: ``G(x) = k`` gives
``C_A1 = C_A2`` and ``C_C = C`` exactly. Without an adversary a run drifts there (the research
notes saw it, also at batch 1 on small crops: "a scaled constant"). :class:`CollapseWatch` measures
how much the noise estimate varies across the inputs of a step, relative to how much the inputs
vary, and stops the run with one line when it stays near zero.
"""

from __future__ import annotations

import torch

from restorekit.errors import RestorekitError

__all__ = ["CollapseWatch", "GeneratorCollapseError", "spread_ratio"]


class GeneratorCollapseError(RestorekitError):
    """The generator's output no longer depends on its input."""


def spread_ratio(outputs: torch.Tensor, inputs: torch.Tensor) -> float:
    """The per-pixel standard deviation across the batch of ``outputs`` over that of ``inputs``,
    each averaged over pixels and channels: 0 when every input gets the same output.

    Example:
        >>> x = torch.rand(4, 1, 8, 8)
        >>> spread_ratio(torch.zeros(4, 1, 8, 8) + 0.3, x)
        0.0
        >>> round(spread_ratio(0.5 * x, x), 3)
        0.5
    """
    if outputs.shape[0] < 2:
        raise RestorekitError("the collapse watch needs at least two inputs per step")
    out = outputs.detach().double().std(dim=0).mean()
    inp = inputs.detach().double().std(dim=0).mean()
    return float(out / inp.clamp_min(1e-12))


class CollapseWatch:
    """Stop a run whose generator's output stopped depending on its input.

    Args:
        patience: steps in a row below the threshold before the run stops (0: never).
        threshold: the :func:`spread_ratio` below which a step counts as collapsed.
        hint: what the one-line message suggests.
    """

    def __init__(
        self,
        patience: int = 300,
        threshold: float = 0.05,
        hint: str = "the consistency losses alone reward any constant",
    ) -> None:
        self.patience = patience
        self.threshold = threshold
        self.hint = hint
        self.count = 0
        self.last = float("nan")

    def update(self, step: int, outputs: torch.Tensor, inputs: torch.Tensor) -> float:
        """Record one step (``step`` counts from 1); raise :class:`GeneratorCollapseError` when the
        generator has stayed collapsed for ``patience`` steps. Returns the step's ratio."""
        self.last = spread_ratio(outputs, inputs)
        self.count = self.count + 1 if self.last < self.threshold else 0
        if self.patience and self.count >= self.patience:
            raise GeneratorCollapseError(
                f"the generator collapsed to a constant at step {step}: its noise estimate has "
                f"varied under {self.threshold:g}x as much as its inputs for {self.count} steps "
                f"(now {self.last:.2g}x); {self.hint}"
            )
        return self.last

    def state_dict(self) -> dict[str, torch.Tensor]:
        return {"count": torch.tensor(self.count)}

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        self.count = int(state["count"])
