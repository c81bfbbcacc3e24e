"""Fitting a 3D LUT to example pairs."""

from __future__ import annotations

import re

import pytest
import torch

from helpers import DATA, assert_close, read_uint8, shared_images, to_tensor
from restorekit.errors import RestorekitError
from restorekit.film.look_fit import colour_samples, fit_lut
from restorekit.film.lut import LUT3D, apply_lut, identity_lut, read_hald
from restorekit.metrics import ciede2000


def _smooth_look(n: int) -> LUT3D:
    t = identity_lut(n, torch.float64).table
    mixed = t**1.3 @ torch.tensor([[0.8, 0.1, 0.1], [0.15, 0.8, 0.05], [0.0, 0.2, 0.8]]).double()
    return LUT3D(mixed)


@pytest.mark.parametrize("method", ["tetrahedral", "trilinear"])
def test_fit_recovers_a_lut_of_its_own_size(method):
    """Colours that reach every cell, outputs through a 5^3 LUT: the fit returns that LUT."""
    true = _smooth_look(5)
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 100, 200, generator=g, dtype=torch.float64)
    y = apply_lut(x, true, method)
    fit = fit_lut(colour_samples([(x, y)]), size=5, method=method, smoothness=1e-10)
    assert_close(fit.lut.table, true.table, atol=1e-4)
    assert fit.rmse < 1e-5 and fit.decreasing == 0


def test_monotonicity_penalty_removes_decreasing_steps():
    """A target that folds back along red: without the penalty the table decreases."""
    g = torch.Generator().manual_seed(1)
    x = torch.rand(1, 3, 60, 60, generator=g, dtype=torch.float64)
    y = x.clone()
    y[:, 0] = 0.5 + 0.4 * torch.sin(6 * x[:, 0])  # not monotone in red
    samples = colour_samples([(x, y)])
    free = fit_lut(samples, size=9, monotonicity=0)
    held = fit_lut(samples, size=9, monotonicity=1.0)
    assert free.decreasing > 50
    assert held.decreasing == 0 and held.rounds >= 1
    steps = torch.diff(held.lut.table[..., 0].double(), dim=0)
    assert steps.min() > -1 / 65535 - 1e-6


def test_colour_samples_merge_equal_inputs():
    x = torch.zeros(1, 3, 2, 2)
    x[..., 1, :] = 0.5
    y = torch.rand(1, 3, 2, 2)
    s = colour_samples([(x, y), (x, y)])
    assert s.pixels == 8 and len(s.counts) == 2
    assert_close(s.outputs[0], y[0, :, 0].mean(dim=1), atol=1e-7)


def test_fit_reproduces_a_real_look_on_kodak():
    """A small version of the benchmark: 8 CBSD432 images, a 17^3 LUT, Kodak crops."""
    looks = sorted((DATA / "looks").glob("*.png"))
    if not looks:
        pytest.skip("no Hald looks")
    true = read_hald(looks[0])
    q = lambda t: (t * 255).round() / 255  # noqa: E731
    train = [to_tensor(read_uint8(p)) for p in shared_images("train/color/CBSD432", limit=8)]
    fit = fit_lut(colour_samples((x, q(apply_lut(x, true))) for x in train), size=17)
    kodak = [
        to_tensor(read_uint8(p))[..., :256, :256] for p in shared_images("test/color/Kodak24", 3)
    ]
    errors = [ciede2000(q(apply_lut(k, fit.lut)), q(apply_lut(k, true))).item() for k in kodak]
    nothing = [ciede2000(k, q(apply_lut(k, true))).item() for k in kodak]
    assert sum(errors) / 3 < 1.2, errors
    assert all(e < 0.35 * z for e, z in zip(errors, nothing, strict=True)), (errors, nothing)


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda s: fit_lut(s, size=1), "a LUT size must be an integer in [2, 129], got 1"),
        (lambda s: fit_lut(s, method="cubic"), "unknown LUT interpolation 'cubic'"),
        (lambda s: fit_lut(s, smoothness=-1), "smoothness must be >= 0"),
    ],
)
def test_bad_fit_arguments(call, message):
    x = torch.rand(1, 3, 4, 4)
    with pytest.raises(RestorekitError, match=re.escape(message)):
        call(colour_samples([(x, x)]))


def test_bad_pairs():
    with pytest.raises(RestorekitError, match="same size"):
        colour_samples([(torch.rand(1, 3, 4, 4), torch.rand(1, 3, 4, 5))])
    with pytest.raises(RestorekitError, match="no example pairs"):
        colour_samples([])
