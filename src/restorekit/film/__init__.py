"""Film emulation, part 1: film grain (the d2f, digital-to-film, system).

Grain engines, one API (image ``(B, C, H, W)`` in [0, 1], parameters per channel, a
``torch.Generator``, the output the same size or zoomed):

- :func:`render_boolean` / :func:`render_boolean_reference`: the physical Boolean model of
  Newson, Delon and Galerne (2017), fast (grain-wise, sub-grid, in bands) and the paper's
  pixel-wise Monte Carlo algorithm; :func:`boolean_autocovariance` is its closed form;
- :func:`render_gaussian`: filtered Gaussian noise with a given spectrum and variance per
  intensity (for instance the Boolean model's, :meth:`GaussianGrain.from_boolean`);
- :func:`av1_grain` / :func:`apply_av1_grain`: the AV1 specification's film grain synthesis, bit
  for bit as dav1d applies it, with aomenc's grain tables (:func:`read_grain_table`,
  :func:`write_grain_table`);
- :func:`render_learned`: a small CNN trained against the Boolean engine with distribution losses.

Analysis and estimation: :func:`analyze_grain` (flat blocks as libaom finds them, variance per
intensity, spectra, autocovariance, extrema masks; :func:`write_grain_report`) and
:func:`estimate_grain` (Boolean parameters, Gaussian curves and an AV1 table from a grainy image).

Submodules import lazily here: ``from restorekit.film import render_boolean`` loads only what
it needs.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "AV1GrainParams",
    "BooleanGrain",
    "GaussianGrain",
    "GrainTableEntry",
    "analyze_grain",
    "apply_av1_grain",
    "av1_grain",
    "boolean_autocovariance",
    "estimate_grain",
    "read_grain_table",
    "render_boolean",
    "render_boolean_reference",
    "render_gaussian",
    "render_learned",
    "write_grain_report",
    "write_grain_table",
]

_WHERE = {
    "AV1GrainParams": "av1",
    "GrainTableEntry": "av1",
    "apply_av1_grain": "av1",
    "av1_grain": "av1",
    "read_grain_table": "av1",
    "write_grain_table": "av1",
    "BooleanGrain": "boolean",
    "boolean_autocovariance": "boolean",
    "render_boolean": "boolean",
    "render_boolean_reference": "boolean",
    "GaussianGrain": "gaussian",
    "render_gaussian": "gaussian",
    "render_learned": "learned",
    "analyze_grain": "analysis",
    "write_grain_report": "analysis",
    "estimate_grain": "estimate",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"restorekit.film.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'restorekit.film' has no attribute {name!r}")
