"""Training configs: YAML -> typed objects, with one-line errors."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from restorekit.errors import RestorekitError
from restorekit.train.config import TrainConfig, config_to_dict, load_config

ROOT = Path(__file__).resolve().parents[2]

MINIMAL = {
    "task": "demosaic",
    "model": {"name": "demosaicnet"},
    "data": {"train": "somewhere"},
}


def _write(tmp_path, data) -> Path:
    p = tmp_path / "c.yaml"
    p.write_text(yaml.safe_dump(data))
    return p


def test_minimal_config_fills_defaults(tmp_path):
    cfg = load_config(_write(tmp_path, MINIMAL))
    assert isinstance(cfg, TrainConfig)
    assert cfg.optim.lr == 1e-3 and cfg.data.mining is None and cfg.loss.weights == {"l1": 1.0}


def test_round_trip_through_yaml(tmp_path):
    cfg = load_config(ROOT / "configs/demosaic/default.yaml")
    again = load_config(_write(tmp_path, config_to_dict(cfg)))
    assert again == cfg


def test_every_shipped_config_is_valid():
    paths = sorted((ROOT / "configs").rglob("*.yaml"))
    assert paths
    for p in paths:
        load_config(p)


def test_overrides_replace_dotted_keys(tmp_path):
    cfg = load_config(_write(tmp_path, MINIMAL), {"optim.steps": 7, "data.mining": {"capacity": 3}})
    assert cfg.optim.steps == 7 and cfg.data.mining.capacity == 3


def test_yaml_exponent_without_dot_is_a_float(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text(
        "task: demosaic\nmodel: {name: demosaicnet}\ndata: {train: x}\noptim: {lr: 1e-3}\n"
    )
    assert load_config(p).optim.lr == 0.001


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"optim": {"stpes": 3}}, "config: unknown key 'optim.stpes'; known: steps"),
        ({"optim": {"steps": "many"}}, "config: optim.steps must be int, got 'many'"),
        ({"optim": {"steps": 0}}, "config: optim.steps must be >= 1"),
        ({"data": {"train": "x", "patch": 30}}, "config: data.patch must be a multiple of 8"),
        (
            {"task": "paint"},
            "config: task must be one of demosaic, denoise, grain, sr, noise2noise, "
            "neighbor2neighbor, tcfl, cycle-sr, got 'paint'",
        ),
        ({"model": {"args": {}}}, "config: missing key 'model.name'"),
        ({"run": {"devices": True}}, "config: run.devices must be int, got True"),
        (
            {"optim": {"scheduler": "linear"}},
            "config: optim.scheduler must be one of cosine, constant, step",
        ),
        ({"data": {"train": "x", "mining": 5}}, "config: data.mining must be a mapping, got 5"),
        ({"data": {"train": 5}}, "config: data.train must be str or list[str], got 5"),
        (
            {"run": {"weights_dtype": "int8"}},
            "config: run.weights_dtype must be 'float32' or 'float16', got 'int8'",
        ),
        ({"data": {"train": "x", "color_boost": 2}}, "config: data.color_boost must be in [0, 1]"),
        ({"loss": {"model": {"closed_form": -1}}}, "config: loss.model.closed_form must be >= 0"),
        (
            {"data": {"train": "x", "flat_levels": "ends"}},
            "config: data.flat_levels must be 'sample', 'group' or 'group-ends', got 'ends'",
        ),
        (
            {"data": {"train": "x", "grain_mean": "blur"}},
            "config: data.grain_mean must be 'image' or 'mean-render', got 'blur'",
        ),
        ({"data": {"train": "x", "saturate": 1.5}}, "config: data.saturate must be in [0, 1]"),
        (
            {"loss": {"weights": {"l1": 1}, "options": {"l2": {}}}},
            "config: loss.options.l2 names a loss",
        ),
    ],
)
def test_bad_values_are_named(tmp_path, change, message):
    data = {**MINIMAL, **change}
    with pytest.raises(RestorekitError, match="^" + re.escape(message)):
        load_config(_write(tmp_path, data))


def test_missing_and_broken_files(tmp_path):
    with pytest.raises(RestorekitError, match="config file not found"):
        load_config(tmp_path / "nope.yaml")
    p = tmp_path / "bad.yaml"
    p.write_text("task: [unclosed\n")
    with pytest.raises(RestorekitError, match=r"not valid YAML \(line 2\)"):
        load_config(p)
    p.write_text("- a list\n")
    with pytest.raises(RestorekitError, match="expected a mapping at the top level"):
        load_config(p)
