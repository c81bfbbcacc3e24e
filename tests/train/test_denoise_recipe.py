"""Denoising training at tiny scale: a base, its modulation with the base frozen, a conditional
model with its calibration, and the refusals."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from restorekit.errors import RestorekitError
from restorekit.models import load_model
from restorekit.models.control import load_denoiser
from restorekit.models.control import sigma_grid as _sigma_grid
from restorekit.train import load_config, run_config
from restorekit.train.denoise import DenoiseRecipe

pytest.importorskip("lightning_fabric")


@pytest.fixture(scope="module")
def gray_images(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("gray")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:40, 0:48] / 48
    for i in range(6):
        img = 0.5 + 0.3 * np.sin(7 * xx + 3 * yy + i) + 0.05 * rng.standard_normal((40, 48))
        Image.fromarray((np.clip(img, 0, 1) * 255).round().astype(np.uint8)).save(
            folder / f"g{i}.png"
        )
    return folder


def _write(tmp_path: Path, name: str, cfg: dict) -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _cfg(images: Path, out: Path, model: dict, **data) -> dict:
    return {
        "task": "denoise",
        "model": model,
        "data": {
            "train": str(images),
            "mode": "gray",
            "holdout": 3,
            "patch": 16,
            "batch": 4,
            **data,
        },
        "optim": {"lr": 0.002, "steps": 6},
        "run": {"out": str(out), "checkpoint_every": 3, "validate_every": 3, "threads": 1},
    }


BACKBONE = {"in_channels": 1, "channels": [8, 16], "blocks": 1}


def test_base_then_adafm_with_the_base_frozen(tmp_path, gray_images):
    base_out = tmp_path / "base"
    cfg = _cfg(gray_images, base_out, {"name": "unet-denoiser", "args": BACKBONE}, sigma=[15])
    run_config(_write(tmp_path, "base", cfg), progress=False)
    base_file = base_out / "model.safetensors"
    _, meta = load_model(base_file)
    assert meta["train_sigma"] == [15.0] and "calibration" not in meta

    mod = {
        "name": "modulated",
        "args": {"backbone": "unet-denoiser", "backbone_args": BACKBONE, "scheme": "adafm"},
        "init": str(base_file),
        "freeze": ["base"],
    }
    cfg = _cfg(gray_images, tmp_path / "adafm", mod, sigma=[50], level=1.0)
    result = run_config(_write(tmp_path, "adafm", cfg), progress=False)
    assert result.steps == 6 and result.val["psnr"] > 0
    base, _ = load_model(base_file)
    net, cal = load_denoiser(tmp_path / "adafm" / "model.safetensors")
    # the base is untouched, the modulation moved, and level 0 is exactly the base
    for k, v in base.state_dict().items():
        assert torch.equal(net.base.state_dict()[k], v), k
    assert any(
        not torch.equal(m.weight[:, :, 2, 2], torch.ones_like(m.weight[:, :, 2, 2]))
        for m in net.adafm.values()
    )
    x = torch.rand(1, 1, 24, 24)
    assert torch.equal(net(x, 0.0), base(x))
    # the calibration spans the two trained levels, 15 (level 0) to 50 (level 1)
    assert cal is not None and cal.range == (15.0, 50.0)
    _, meta = load_model(tmp_path / "adafm" / "model.safetensors")
    assert meta["modulation_sigmas"] == [15.0, 50.0]


def test_conditional_model_over_a_range_is_calibrated(tmp_path, gray_images):
    model = {
        "name": "ffdnet",
        "args": {"channels": 8, "depth": 3, "conditional": True, "sigma_range": [5, 30]},
    }
    cfg = _cfg(gray_images, tmp_path / "cond", model, sigma=[5, 30])
    result = run_config(_write(tmp_path, "cond", cfg), progress=False)
    assert set(result.val) == {"psnr", "psnr_sigma5", "psnr_sigma17.5", "psnr_sigma30"}
    net, cal = load_denoiser(tmp_path / "cond" / "model.safetensors")
    assert cal.sigmas == (5.0, 10.0, 15.0, 20.0, 25.0, 30.0)
    assert all(0 <= v <= 1 for v in cal.levels)


def test_refusals(tmp_path, gray_images):
    plain = {"name": "unet-denoiser", "args": BACKBONE}
    with pytest.raises(RestorekitError, match=r"data.sigma must be one value or \[lo, hi\]"):
        load_config(_write(tmp_path, "a", _cfg(gray_images, tmp_path / "a", plain)))
    with pytest.raises(RestorekitError, match=r"data.level must be in \[0, 1\], got 1.5"):
        load_config(
            _write(tmp_path, "b", _cfg(gray_images, tmp_path / "b", plain, sigma=[5], level=1.5))
        )
    with pytest.raises(RestorekitError, match=r"data.sigma must be >= 0 and \[lo, hi\]"):
        load_config(_write(tmp_path, "c", _cfg(gray_images, tmp_path / "c", plain, sigma=[30, 5])))
    bad_freeze = {**plain, "freeze": ["bsae"]}
    with pytest.raises(
        RestorekitError, match=r"model\.freeze: unet-denoiser has no submodule 'bsae'"
    ):
        run_config(
            _write(tmp_path, "d", _cfg(gray_images, tmp_path / "d", bad_freeze, sigma=[5])),
            progress=False,
        )


def test_a_base_of_another_backbone_is_refused_as_init(tmp_path, gray_images):
    other = tmp_path / "other"
    cfg = _cfg(
        gray_images, other, {"name": "dncnn", "args": {"channels": 8, "depth": 3}}, sigma=[15]
    )
    cfg["optim"]["steps"] = 1
    run_config(_write(tmp_path, "other", cfg), progress=False)
    mod = {
        "name": "modulated",
        "args": {"backbone": "unet-denoiser", "backbone_args": BACKBONE},
        "init": str(other / "model.safetensors"),
        "freeze": ["base"],
    }
    cfg = _cfg(gray_images, tmp_path / "m", mod, sigma=[50], level=1.0)
    with pytest.raises(RestorekitError, match="holds dncnn"):
        run_config(_write(tmp_path, "m", cfg), progress=False)


def test_a_wider_deeper_run_grows_from_a_smaller_model(tmp_path, gray_images, capsys):
    small = tmp_path / "small"
    cfg = _cfg(gray_images, small, {"name": "unet-denoiser", "args": BACKBONE}, sigma=[15])
    run_config(_write(tmp_path, "small", cfg), progress=False)
    wide = {**BACKBONE, "channels": [12, 16], "blocks": 2}
    model = {"name": "unet-denoiser", "args": wide, "init": str(small / "model.safetensors")}
    cfg = _cfg(gray_images, tmp_path / "wide", model, sigma=[15])
    cfg["optim"].update(steps=1, lr=1e-9)
    result = run_config(_write(tmp_path, "wide", cfg), progress=False)
    err = capsys.readouterr().err
    assert re.search(r"grew .*'channels': \[8, 16\].* into .*'channels': \[12, 16\]", err), err
    # one negligible step from the start: the grown network computes the small one
    source, _ = load_model(small / "model.safetensors")
    grown, _ = load_model(tmp_path / "wide" / "model.safetensors")
    x = torch.rand(1, 1, 24, 24)
    with torch.no_grad():
        torch.testing.assert_close(grown(x), source(x), atol=1e-5, rtol=0)
    assert result.steps == 1 and grown.widths() == ((12, 16), 2)


def test_recipe_levels_and_sigma_grid():
    r = DenoiseRecipe(sigma=(5.0, 75.0), conditional=True, sigma_range=(5.0, 75.0))
    assert r.level_of(torch.tensor([5.0, 40.0, 75.0])).tolist() == [0.0, 0.5, 1.0]
    assert DenoiseRecipe(sigma=(75.0,), level=1.0).level_of(torch.tensor([75.0])).tolist() == [1.0]
    assert DenoiseRecipe(sigma=(25.0,)).level_of(torch.tensor([25.0])).tolist() == [0.0]
    g = torch.Generator().manual_seed(0)
    s = r.draw_sigma(1000, g)
    assert s.min() >= 5 and s.max() <= 75 and abs(float(s.mean()) - 40) < 2
    assert _sigma_grid(15, 75) == [15, 20, 25, 30, 35, 40, 45, 50, 55, 60, 65, 70, 75]
    assert _sigma_grid(51, 140.25) == [
        51,
        55,
        60,
        65,
        70,
        75,
        80,
        85,
        90,
        95,
        100,
        105,
        110,
        115,
        120,
        125,
        130,
        135,
        140,
        140.25,
    ]
    log = DenoiseRecipe(sigma=(5.0, 80.0), sampling="log").draw_sigma(4000, g)
    # log-uniform: a quarter of the draws in each factor-of-two band
    assert abs(float(((log >= 5) & (log < 10)).float().mean()) - 0.25) < 0.03
    assert abs(float(((log >= 40) & (log <= 80)).float().mean()) - 0.25) < 0.03
    (noisy, level), target = r.degrade(torch.full((64, 1, 16, 16), 0.5), g)
    residual_std = (noisy - target).flatten(1).std(dim=1) * 255
    assert torch.allclose(residual_std, 5 + 70 * level, rtol=0.25)
