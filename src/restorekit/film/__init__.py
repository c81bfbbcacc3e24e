"""Film emulation (the d2f, digital-to-film, system): film grain, and film looks.

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

Looks: :class:`LUT3D` with :func:`read_lut` / :func:`read_cube` / :func:`read_hald`,
:func:`write_cube`, :func:`write_hald` and :func:`apply_lut` (trilinear or tetrahedral, as
colour-science; ffmpeg's ``lut3d`` applies our ``.cube`` files the same); :func:`apply_tone`
(characteristic curve, halation, cross-talk; :data:`TONE_PRESETS`); :func:`fit_lut` (a LUT from
example pairs); the classical unpaired transfers :func:`histogram_matching_lut` and
:func:`sliced_transfer_lut`; and :func:`film_pipeline` (look, tone, grain).

Submodules import lazily here: ``from restorekit.film import render_boolean`` loads only what
it needs.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = [
    "LUT3D",
    "TONE_PRESETS",
    "AV1GrainParams",
    "BooleanGrain",
    "FilmTone",
    "GaussianGrain",
    "GrainTableEntry",
    "analyze_grain",
    "apply_av1_grain",
    "apply_lut",
    "apply_tone",
    "av1_grain",
    "boolean_autocovariance",
    "colour_samples",
    "estimate_grain",
    "film_pipeline",
    "fit_lut",
    "histogram_matching_lut",
    "read_cube",
    "read_grain_table",
    "read_hald",
    "read_lut",
    "render_boolean",
    "render_boolean_reference",
    "render_gaussian",
    "render_learned",
    "sliced_transfer_lut",
    "write_cube",
    "write_grain_report",
    "write_grain_table",
    "write_hald",
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
    "LUT3D": "lut",
    "apply_lut": "lut",
    "read_cube": "lut",
    "read_hald": "lut",
    "read_lut": "lut",
    "write_cube": "lut",
    "write_hald": "lut",
    "TONE_PRESETS": "tone",
    "FilmTone": "tone",
    "apply_tone": "tone",
    "colour_samples": "look_fit",
    "fit_lut": "look_fit",
    "histogram_matching_lut": "transfer",
    "sliced_transfer_lut": "transfer",
    "film_pipeline": "pipeline",
}


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"restorekit.film.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'restorekit.film' has no attribute {name!r}")
