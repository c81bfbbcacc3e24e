"""The learned-grain recipe: Boolean grain rendered on the fly, matched in distribution.

Each step takes gray patches from the training images and replaces half of them with flat fields
of random grey levels (so every intensity is seen with enough pixels to measure a variance), draws
Boolean parameters within the network's ranges (radius, spread ``radius_sigma / radius``, blur; a
constant radius for half) for each group of consecutive patches (the losses' ``group``: they pool
a group's statistics, which needs one set of parameters and one kind of patch per group),
renders the target with the fast Boolean engine (:func:`restorekit.film.boolean.render_boolean`)
and white noise for the network. Network and target are independent realisations, so the loss
compares their statistics (grain pairs, :mod:`restorekit.losses.grain`): spectrum, variance per
intensity, random-feature Gram matrices.

Validation renders flat fields at five grey levels for three parameter settings (fixed seeds) and
reports the mean relative error of the network's radially averaged spectrum and variance against
the Boolean engine's, the quantities the benchmark and the tests hold it to.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import nn

from restorekit.film.boolean import BooleanGrain, render_boolean
from restorekit.metrics.grain import radial_power_spectrum
from restorekit.train.config import TrainConfig

__all__ = ["VALIDATION_LEVELS", "VALIDATION_SETTINGS", "GrainRecipe"]

#: flat-field grey levels of validation
VALIDATION_LEVELS = (0.1, 0.3, 0.5, 0.7, 0.9)
#: (radius, radius_sigma, blur) of validation, output pixels
VALIDATION_SETTINGS = ((0.4, 0.0, 0.7), (0.6, 0.15, 0.9), (0.8, 0.0, 1.2))
_VAL_SIZE = 192
_FLAT_SHARE = 0.5


@dataclass
class GrainRecipe:
    """Trains :class:`~restorekit.models.GrainNet` against the Boolean engine (module docstring)."""

    ranges: tuple[tuple[float, float], ...]
    noise_channels: int = 2
    #: the network's noise margin (pixels on every side)
    margin: int = 3
    #: consecutive samples that share their parameters and patch kind (the losses' ``group``)
    group: int = 1
    #: the flat fields' grey levels (``data.flat_levels``)
    flat_levels: str = "sample"
    _val: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = field(default_factory=list)

    @classmethod
    def from_config(cls, cfg: TrainConfig) -> GrainRecipe:
        from restorekit.errors import RestorekitError
        from restorekit.models import build

        probe = build(cfg.model.name, **cfg.model.args)
        groups = {int(o.get("group", 1)) for o in cfg.loss.options.values()}
        groups |= {1 for n in cfg.loss.weights if n not in cfg.loss.options}
        if len(groups) != 1:
            raise RestorekitError(f"config: every grain loss needs one group size, got {groups}")
        (group,) = groups
        if cfg.data.batch % group:
            raise RestorekitError(
                f"config: data.batch ({cfg.data.batch}) must be a multiple of the losses' "
                f"group ({group})"
            )
        return cls(
            ranges=probe.ranges,
            noise_channels=probe.noise_channels,
            margin=probe.margin,
            group=group,
            flat_levels=cfg.data.flat_levels,
        )

    def draw_params(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """``(batch, 3)``: radius, spread, blur, uniform in the ranges; spread 0 for half of the
        groups; one draw per group of :attr:`group` consecutive samples."""
        n = batch // self.group
        lo = torch.tensor([r[0] for r in self.ranges], dtype=torch.float64)
        hi = torch.tensor([r[1] for r in self.ranges], dtype=torch.float64)
        p = lo + (hi - lo) * torch.rand(n, 3, generator=generator, dtype=torch.float64)
        constant = torch.rand(n, generator=generator) < 0.5
        p[constant, 1] = 0.0
        return p.repeat_interleave(self.group, dim=0)

    def draw_levels(self, batch: int, generator: torch.Generator) -> torch.Tensor:
        """``(batch,)`` flat-field grey levels in [0.02, 0.98] (:attr:`flat_levels`)."""
        if self.flat_levels == "sample":
            return 0.02 + 0.96 * torch.rand(batch, generator=generator)
        r = torch.rand(batch // self.group, generator=generator)
        if self.flat_levels == "group-ends":  # arcsine law: density 1 / (pi sqrt(t (1 - t)))
            r = 0.5 - 0.5 * torch.cos(math.pi * r)
        return (0.02 + 0.96 * r).repeat_interleave(self.group)

    def degrade(
        self, target: torch.Tensor, generator: torch.Generator
    ) -> tuple[tuple[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]:
        B, C, H, W = target.shape
        clean = target[:, :1].clone()
        flat = (torch.rand(B // self.group, generator=generator) < _FLAT_SHARE).repeat_interleave(
            self.group
        )
        levels = self.draw_levels(B, generator)
        clean[flat] = levels[flat].view(-1, 1, 1, 1).to(clean.dtype).expand(-1, 1, H, W)
        params = self.draw_params(B, generator)
        grain = torch.empty_like(clean)
        for i in range(B):
            g = _as_boolean(params[i])
            grain[i] = render_boolean(clean[i : i + 1], g, generator)[0] - clean[i]
        m = self.margin
        noise = torch.randn(
            B, self.noise_channels, H + 2 * m, W + 2 * m, generator=generator, dtype=clean.dtype
        )
        return (clean, params.to(clean.dtype), noise), torch.cat([grain, clean], dim=1)

    def forward(
        self, model: nn.Module, inputs: tuple[torch.Tensor, torch.Tensor, torch.Tensor]
    ) -> torch.Tensor:
        clean, params, noise = inputs
        render = (clean + model(clean, params, noise)).clamp(0, 1)
        return torch.cat([render - clean, clean], dim=1)

    def _validation_set(self) -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
        """(flat fields, params, Boolean grain) per setting, rendered once with fixed seeds."""
        if not self._val:
            for k, (r, rs, b) in enumerate(VALIDATION_SETTINGS):
                g = torch.Generator().manual_seed(1000 + k)
                flats = torch.tensor(VALIDATION_LEVELS).view(-1, 1, 1, 1)
                flats = flats.expand(-1, 1, _VAL_SIZE, _VAL_SIZE).contiguous()
                grain = BooleanGrain(r, rs, b)
                ref = render_boolean(flats, grain, g) - flats
                params = torch.tensor([[r, rs / r, b]]).expand(len(VALIDATION_LEVELS), 3)
                self._val.append((flats, params, ref))
        return self._val

    def validate(self, model: nn.Module, images: list[torch.Tensor]) -> dict[str, float]:
        """Mean relative errors against the Boolean engine on flat fields: of the radially
        averaged spectrum (each ring weighted by its share of the Boolean grain's power) and of
        the variance."""
        spec_err, var_err = [], []
        for k, (flats, params, ref) in enumerate(self._validation_set()):
            g = torch.Generator().manual_seed(2000 + k)
            ours = self.render(model, flats, params, g) - flats
            ps, pr = radial_power_spectrum(ours, 16), radial_power_spectrum(ref, 16)
            weight = pr / pr.sum(-1, keepdim=True)
            spec_err.append(((ps / pr - 1).abs() * weight).sum(-1).mean().item())
            vs, vr = ours.var(dim=(-2, -1)), ref.var(dim=(-2, -1))
            var_err.append(((vs - vr).abs() / vr).mean().item())
        return {
            "spectrum_rel_err": sum(spec_err) / len(spec_err),
            "variance_rel_err": sum(var_err) / len(var_err),
        }

    def render(
        self, model: nn.Module, x: torch.Tensor, params: torch.Tensor, g: torch.Generator
    ) -> torch.Tensor:
        """The network's render of gray images ``x`` (noise drawn with its margin)."""
        m = self.margin
        N, _, H, W = x.shape
        noise = torch.randn(N, self.noise_channels, H + 2 * m, W + 2 * m, generator=g)
        return (x + model(x, params, noise)).clamp(0, 1)

    def preview(self, model: nn.Module, image: torch.Tensor) -> torch.Tensor:
        """A grey ramp: Boolean grain | learned grain, middle validation setting."""
        ramp = torch.linspace(0.05, 0.95, 256).view(1, 1, 1, -1).expand(1, 1, 96, 256).contiguous()
        r, rs, b = VALIDATION_SETTINGS[1]
        g = torch.Generator().manual_seed(0)
        ref = render_boolean(ramp, BooleanGrain(r, rs, b), g)
        ours = self.render(model, ramp, torch.tensor([[r, rs / r, b]]), g)
        return torch.cat([ref[0], ours[0]], dim=-2).expand(3, -1, -1)

    def finalize(self, model: nn.Module, images: list[torch.Tensor]) -> dict[str, Any]:
        return {"grain_validation": self.validate(model, images)}


def _as_boolean(p: torch.Tensor) -> BooleanGrain:
    radius, spread, blur = (float(v) for v in p)
    return BooleanGrain(radius=radius, radius_sigma=spread * radius, blur=blur)
