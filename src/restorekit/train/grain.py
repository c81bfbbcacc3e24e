"""The learned-grain recipe: Boolean grain rendered on the fly, matched in distribution.

Each step takes gray patches from the training images and replaces half of them with flat fields
of random grey levels (so every intensity is seen with enough pixels to measure a variance), draws
Boolean parameters within the network's ranges (radius, spread ``radius_sigma / radius``, blur; a
constant radius for half) for each group of consecutive patches (the losses' ``group``: they pool
a group's statistics, which needs one set of parameters and one kind of patch per group),
renders the target with the fast Boolean engine (:func:`restorekit.film.boolean.render_boolean`)
(its grain: the render minus the patch, or with ``data.grain_mean: mean-render`` minus the engine's
mean render, so that the filter's blur of a picture is not taught as grain) and white noise for the
network. With ``data.saturate`` a share of the pictures is stretched in contrast until it clips:
photographs have black and white areas beside grey ones, where grain behaves least like a sum.
Network and target are independent realisations, so the loss
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

from restorekit.film.boolean import BooleanGrain, boolean_mean_render, render_boolean
from restorekit.metrics.grain import radial_power_spectrum
from restorekit.train.config import TrainConfig

__all__ = ["VALIDATION_LEVELS", "VALIDATION_SETTINGS", "GrainRecipe", "clipped_variance"]

#: flat-field grey levels of validation
VALIDATION_LEVELS = (0.1, 0.3, 0.5, 0.7, 0.9)
#: (radius, radius_sigma, blur) of validation, output pixels
VALIDATION_SETTINGS = ((0.4, 0.0, 0.7), (0.6, 0.15, 0.9), (0.8, 0.0, 1.2))
_VAL_SIZE = 192
_FLAT_SHARE = 0.5
#: the closed-form term's table (grey levels; radii and blurs each) and batch, its spectrum grid
_CF_LEVELS = 40
_CF_PARAMS = 8
_CF_BATCH = 256
_CF_SIZE = 64
_CF_RINGS = 16


def clipped_variance(u: torch.Tensor, var: torch.Tensor, points: int = 4001) -> torch.Tensor:
    """Variance of ``clip(u + sqrt(var) Z, 0, 1)``, ``Z`` standard normal (what the engine's clamp
    leaves of a zero-mean Gaussian grain of variance ``var`` at grey level ``u``), by quadrature
    on ``points`` nodes over [-8, 8]; differentiable in both.

    Example:
        >>> v = clipped_variance(torch.tensor([0.5, 0.05]), torch.tensor([0.01, 0.01]))
        >>> [round(float(x), 5) for x in v]  # mid-grey: untouched; near black: cut
        [0.01, 0.00553]
    """
    z = torch.linspace(-8, 8, points, dtype=var.dtype, device=var.device)
    pdf = torch.exp(-z * z / 2)
    pdf = pdf / pdf.sum()
    x = (u[:, None] + var.clamp(min=0).sqrt()[:, None] * z).clamp(0, 1)
    mean = (x * pdf).sum(1)
    return (x * x * pdf).sum(1) - mean * mean


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
    #: the Boolean target's grain on pictures: render minus the patch ("image") or minus the
    #: engine's mean render ("mean-render", ``data.grain_mean``)
    grain_mean: str = "image"
    #: the share of picture patches stretched in contrast and clipped (``data.saturate``)
    saturate: float = 0.0
    _val: list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]] = field(default_factory=list)
    _cf: list[torch.Tensor] = field(default_factory=list)

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
        unknown = sorted(set(cfg.loss.model) - set(cls.MODEL_TERMS))
        if unknown:
            raise RestorekitError(
                f"config: loss.model.{unknown[0]}: the grain task's model terms are "
                + ", ".join(cls.MODEL_TERMS)
            )
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
            grain_mean=cfg.data.grain_mean,
            saturate=cfg.data.saturate,
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

    #: ``model_loss`` terms this recipe computes
    MODEL_TERMS = ("closed_form",)

    def model_loss(self, model: nn.Module, generator: torch.Generator) -> dict[str, torch.Tensor]:
        """``closed_form``: the network's exact flat-field statistics
        (:meth:`~restorekit.models.GrainNet.flat_statistics`) against the Boolean model's closed
        form (:func:`~restorekit.film.boolean.boolean_flat_spectrum`), at :data:`_CF_BATCH`
        points of a table of grey levels (arcsine-spaced: denser near 0 and 1), radii and blurs
        across the network's ranges, constant radius: the shape of the spectrum (each ring's
        power over the variance) as the benchmark weighs it, ``sum_k w_k |s_k / s_ref,k - 1|``,
        plus ``|v / v_ref - 1|`` for the variance the engine leaves after its clamp to [0, 1]
        (:func:`clipped_variance`). No Monte Carlo: the targets are exact, so the term pins the
        flat-field statistics that the rendered targets only estimate."""
        u, params, var_ref, spec_ref = self._closed_form_table()
        i = torch.randint(len(u), (_CF_BATCH,), generator=generator)
        var, spec = model.flat_statistics(u[i], params[i], size=_CF_SIZE, rings=_CF_RINGS)
        shape = spec / var[:, None]
        shape_ref = spec_ref[i] / var_ref[i, None]
        weight = shape_ref / shape_ref.sum(1, keepdim=True)
        spectrum = (weight * (shape / shape_ref - 1).abs()).sum(1)
        variance = (clipped_variance(u[i], var) / var_ref[i] - 1).abs()
        return {"closed_form": (spectrum + variance).mean()}

    def _closed_form_table(self) -> tuple[torch.Tensor, ...]:
        """Grey levels ``(K,)``, parameters ``(K, 3)``, closed-form variance ``(K,)`` and ring
        spectrum ``(K, rings)`` over the grid (computed once, about 40 s)."""
        if not self._cf:
            from restorekit.film.boolean import boolean_flat_spectrum

            t = torch.linspace(0, 1, _CF_LEVELS, dtype=torch.float64)
            levels = 0.02 + 0.96 * (0.5 - 0.5 * torch.cos(math.pi * t))
            (r0, r1), _, (b0, b1) = self.ranges
            rows = []
            for r in torch.linspace(r0, r1, _CF_PARAMS).tolist():
                for b in torch.linspace(b0, b1, _CF_PARAMS).tolist():
                    var, spec = boolean_flat_spectrum(levels, r, b, _CF_SIZE, _CF_RINGS)
                    p = torch.tensor([r, 0.0, b], dtype=torch.float64).expand(len(levels), 3)
                    rows.append((levels, p, var, spec))
            self._cf = [torch.cat([row[k] for row in rows]).float() for k in range(4)]
        return tuple(self._cf)

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
        if self.saturate > 0:  # stretch some pictures about a grey level until they clip
            pivot, gain, pick = torch.rand(3, B, generator=generator, dtype=clean.dtype)
            gain = torch.where(pick < self.saturate, 1 + 3 * gain, torch.ones_like(gain))
            c = pivot.view(-1, 1, 1, 1)
            clean = ((clean - c) * gain.view(-1, 1, 1, 1) + c).clamp(0, 1)
        clean[flat] = levels[flat].view(-1, 1, 1, 1).to(clean.dtype).expand(-1, 1, H, W)
        params = self.draw_params(B, generator)
        grain = torch.empty_like(clean)
        for i in range(B):
            g = _as_boolean(params[i])
            x = clean[i : i + 1]
            mean = x if self.grain_mean == "image" or flat[i] else boolean_mean_render(x, g)
            grain[i] = (render_boolean(x, g, generator) - mean)[0]
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
