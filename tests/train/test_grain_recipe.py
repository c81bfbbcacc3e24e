"""The learned-grain recipe: the closed-form term (the network's exact flat-field statistics
against the Boolean model's closed form), its pieces checked against Monte-Carlo renders, and a
tiny run with it."""

from __future__ import annotations

import copy
import re

import pytest
import torch

import restorekit.train.grain as grain_recipe
from helpers import write_config
from restorekit.errors import RestorekitError
from restorekit.film.boolean import BooleanGrain, boolean_flat_spectrum, render_boolean
from restorekit.metrics.grain import radial_power_spectrum
from restorekit.models import build, load_model
from restorekit.train import run_config
from restorekit.train.grain import clipped_variance

pytest.importorskip("lightning_fabric")


def _weighted_error(p: torch.Tensor, ref: torch.Tensor) -> float:
    w = ref / ref.sum()
    return float((w * (p / ref - 1).abs()).sum())


def test_the_closed_form_spectrum_is_what_the_engine_renders():
    levels = [0.15, 0.5, 0.85]
    var, spec = boolean_flat_spectrum(levels, 0.6, 0.9)
    x = torch.tensor(levels).view(-1, 1, 1, 1).expand(-1, 1, 384, 384).contiguous()
    g = render_boolean(x, BooleanGrain(0.6, 0.0, 0.9), torch.Generator().manual_seed(0)) - x
    measured = radial_power_spectrum(g.double(), bins=16)[:, 0]
    for k in range(len(levels)):
        assert abs(float(g[k].double().var()) / float(var[k]) - 1) < 0.04
        assert _weighted_error(measured[k], spec[k]) < 0.06


@pytest.mark.parametrize(
    "options", [{}, {"modulate": True, "envelope": True}, {"modulate": True, "gate": True}]
)
def test_the_network_s_flat_statistics_are_what_it_renders(options):
    torch.manual_seed(0)
    net = build("grain-net", **options).eval()
    p = torch.tensor([[0.6, 0.1, 0.9]])
    with torch.no_grad():
        var, spec = net.flat_statistics(torch.tensor([0.3]), p)
        x = torch.full((8, 1, 256, 256), 0.3)
        g = net(x, p.expand(8, 3), torch.randn(8, 1, 262, 262, generator=torch.Generator()))
    measured = radial_power_spectrum(g.double(), bins=16).mean(0)[0]
    assert abs(float(g.double().var()) / float(var[0]) - 1) < 0.03
    assert _weighted_error(measured, spec[0].double()) < 0.05
    with pytest.raises(RestorekitError, match="no skew"):
        build("grain-net", skew=True).flat_statistics(torch.tensor([0.3]), p)


def test_clipped_variance_is_the_clamped_gaussian_s():
    u = torch.tensor([0.05, 0.5, 0.93], dtype=torch.float64)
    var = torch.tensor([0.01, 0.02, 0.004], dtype=torch.float64)
    z = torch.randn(3, 400_000, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    mc = (u[:, None] + var.sqrt()[:, None] * z).clamp(0, 1).var(dim=1)
    torch.testing.assert_close(clipped_variance(u, var), mc, rtol=0.01, atol=0)


@pytest.fixture
def tiny_grain_config(monkeypatch, tmp_path):
    from pathlib import Path

    monkeypatch.setattr(grain_recipe, "_CF_LEVELS", 5)
    monkeypatch.setattr(grain_recipe, "_CF_PARAMS", 2)
    monkeypatch.setattr(grain_recipe, "_CF_BATCH", 8)
    root = Path(__file__).resolve().parents[2]
    cfg = {
        "task": "grain",
        "model": {"name": "grain-net", "args": {"modulate": True, "envelope": True}},
        "data": {
            "train": str(root.parent / "shared/data/train/gray/Train400"),
            "mode": "gray",
            "holdout": 40,
            "patch": 32,
            "batch": 8,
        },
        "loss": {
            "weights": {"grain_variance": 1.0},
            "options": {"grain_variance": {"bins": 4, "min_count": 16, "group": 4}},
            "model": {"closed_form": 2.0},
        },
        "optim": {"lr": 0.002, "steps": 3},
        "run": {"out": str(tmp_path / "run"), "validate_every": 3, "log_every": 1},
    }
    return cfg


def test_a_tiny_run_with_the_closed_form_term(tiny_grain_config, tmp_path):
    # the same seed and data with and without the term: only the term can tell the runs apart
    cfg = tiny_grain_config
    run_config(write_config(copy.deepcopy(cfg), {}, tmp_path / "cfg.yaml"), progress=False)
    plain = write_config(
        copy.deepcopy(cfg),
        {"loss__model": {}, "run__out": str(tmp_path / "plain")},
        tmp_path / "plain.yaml",
    )
    run_config(plain, progress=False)
    a, _ = load_model(tmp_path / "run/model.safetensors")
    b, _ = load_model(tmp_path / "plain/model.safetensors")
    assert not torch.equal(a.basis.weight, b.basis.weight)
    bad = write_config(
        copy.deepcopy(cfg),
        {"loss__model": {"closedform": 1.0}, "run__out": str(tmp_path / "r2")},
        tmp_path / "bad.yaml",
    )
    with pytest.raises(RestorekitError, match=re.escape("loss.model.closedform: the grain task")):
        run_config(bad, progress=False)
