"""Joint demosaicing and denoising: the noise-map network, the raw-noise recipe, several training
folders with weights, and a tiny joint run grown from a clean model."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import write_config
from restorekit.classical.demosaic import demosaic_malvar
from restorekit.data import ImageBank, sample_patches
from restorekit.errors import RestorekitError
from restorekit.models import build, load_model
from restorekit.models.demosaic import demosaic_learned
from restorekit.train import run_config
from restorekit.train.demosaic import DemosaicRecipe, noisy_mosaic

pytest.importorskip("lightning_fabric")


def _trained_like(net: torch.nn.Module) -> torch.nn.Module:
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in net.parameters():
            p.copy_(0.05 * torch.randn(p.shape, generator=g))
    return net


def test_a_grown_joint_network_computes_the_clean_one_exactly():
    clean = _trained_like(build("demosaicnet", channels=8, depth=2))
    joint = build("demosaicnet", channels=12, depth=2, noise_map=True)
    joint.grow_from(clean)
    raw = torch.rand(2, 1, 37, 42)
    with torch.no_grad():
        want = clean(raw, "GBRG")
        assert torch.allclose(joint(raw, "GBRG"), want, atol=1e-6)
        # the new noise channels start at zero weight: any map changes nothing yet
        assert torch.allclose(joint(raw, "GBRG", torch.tensor([0.02, 0.05])), want, atol=1e-6)


def test_grow_refusals():
    joint = build("demosaicnet", channels=8, depth=2, noise_map=True)
    with pytest.raises(RestorekitError, match="cannot grow"):
        build("demosaicnet", channels=8, depth=2).grow_from(joint)  # would drop the map
    with pytest.raises(RestorekitError, match="cannot grow"):
        build("demosaicnet", channels=8, depth=3, noise_map=True).grow_from(joint)


def test_noise_forms_and_refusals():
    net = _trained_like(build("demosaicnet", channels=8, depth=1, noise_map=True))
    raw = torch.rand(2, 1, 32, 32)
    with torch.no_grad():
        per_image = net(raw, "RGGB", torch.tensor([0.01, 0.03]))
        as_map = net(raw, "RGGB", torch.tensor([0.01, 0.03]).view(2, 1, 1, 1).expand(2, 1, 32, 32))
        assert torch.allclose(per_image, as_map)
        assert not torch.allclose(net(raw, "RGGB", 0.0), net(raw, "RGGB", 0.05))
    with pytest.raises(RestorekitError, match="noise map must be"):
        net(raw, "RGGB", torch.zeros(2, 1, 16, 16))
    with pytest.raises(RestorekitError, match="one value or one per image"):
        net(raw, "RGGB", torch.zeros(3))
    with pytest.raises(RestorekitError, match="takes no noise level"):
        build("demosaicnet", channels=8, depth=1)(raw, "RGGB", 0.01)


def test_tiled_joint_inference_equals_whole_image():
    net = _trained_like(build("demosaicnet", channels=8, depth=1, noise_map=True)).eval()
    raw = torch.rand(1, 1, 70, 90)
    level = torch.rand(1, 1, 70, 90) * 0.05  # a heteroscedastic map
    whole = demosaic_learned(raw, "GRBG", net, noise=level)
    tiles = demosaic_learned(raw, "GRBG", net, tile=24, noise=level)
    assert torch.allclose(whole, tiles, atol=1e-5)


def test_raw_noise_has_the_asked_statistics():
    g = torch.Generator().manual_seed(0)
    raw = torch.rand(4, 1, 256, 256, generator=g)
    noisy, std = noisy_mosaic(raw, torch.tensor([0.0, 0.02, 0.04, 0.02]), generator=g)
    assert torch.equal(noisy[0], raw[0]) and float(std[0].max()) == 0
    for k, s in ((1, 0.02), (2, 0.04)):
        assert abs(float((noisy[k] - raw[k]).std()) - s) < 0.02 * s * 3
    # Poisson-Gaussian: variance gain * x + sigma^2, and the map says so sample by sample
    gain = torch.tensor([0.0, 0.0, 0.0, 0.01])
    noisy, std = noisy_mosaic(raw, torch.tensor([0.0, 0.0, 0.0, 0.02]), gain, generator=g)
    assert torch.allclose(std[3] ** 2, 0.01 * raw[3] + 0.02**2)
    z = (noisy[3] - raw[3]) / std[3]
    assert abs(float(z.std()) - 1) < 0.02 and abs(float(z.mean())) < 0.02


def test_recipe_leaves_the_clean_share_clean_and_never_clips():
    recipe = DemosaicRecipe(sigma=(5.0, 20.0), clean_share=0.5)
    target = torch.rand(64, 3, 16, 16)
    (noisy, std), _ = recipe.degrade(target, torch.Generator().manual_seed(0))
    levels = std.flatten(1).amax(1) * 255
    clean = levels == 0
    assert 16 < int(clean.sum()) < 48
    assert bool(((levels[~clean] >= 5) & (levels[~clean] <= 20)).all())
    assert noisy.min() < 0  # read noise below black is kept
    assert DemosaicRecipe().degrade(target, torch.Generator())[0].shape == (64, 1, 16, 16)


def _folder(root: Path, name: str, count: int, value: int, size=(40, 48)) -> Path:
    d = root / name
    d.mkdir()
    for i in range(count):
        Image.fromarray(np.full((*size, 3), value, np.uint8)).save(d / f"{i}.png")
    return d


def test_folder_weights_and_per_folder_downscale(tmp_path):
    a = _folder(tmp_path, "a", 9, 50)
    b = _folder(tmp_path, "b", 1, 200, size=(80, 96))
    bank = ImageBank([a, b], downscale=[1, 2], weights=[1, 3])
    assert {tuple(x.shape[-2:]) for x in bank.images} == {(40, 48)}  # b halved
    patches = sample_patches(bank, 400, 8, torch.Generator().manual_seed(0))
    share_b = float((patches[:, 0, 0, 0] > 0.5).float().mean())
    assert 0.68 < share_b < 0.82  # 3 : 1, though b has one image and a nine
    uniform = sample_patches(ImageBank([a, b]), 400, 8, torch.Generator().manual_seed(0))
    assert float((uniform[:, 0, 0, 0] > 0.5).float().mean()) < 0.2
    with pytest.raises(RestorekitError, match="one value per folder"):
        ImageBank([a, b], weights=[1])
    with pytest.raises(RestorekitError, match="must be >= 0"):
        ImageBank([a, b], weights=[0, 0])


def test_a_joint_run_grown_from_a_clean_model(tmp_path):
    a = _folder(tmp_path, "a", 6, 90)
    b = _folder(tmp_path, "b", 6, 160)
    rng = np.random.default_rng(0)
    for d in (a, b):  # texture, so the network has something to learn
        for p in d.iterdir():
            img = np.clip(np.asarray(Image.open(p)) + rng.normal(0, 40, (40, 48, 3)), 0, 255)
            Image.fromarray(img.astype(np.uint8)).save(p)
    clean = tmp_path / "clean.safetensors"
    from restorekit.models import save_model

    save_model(clean, _trained_like(build("demosaicnet", channels=8, depth=1)))
    cfg = {
        "task": "demosaic",
        "seed": 0,
        "model": {
            "name": "demosaicnet",
            "args": {"channels": 8, "depth": 1, "noise_map": True},
            "init": str(clean),
        },
        "data": {
            "train": [str(a), str(b)],
            "train_weights": [1, 2],
            "downscale": [1, 1],
            "holdout": 3,
            "patch": 16,
            "batch": 4,
            "sigma": [0, 20],
            "clean_share": 0.25,
            "noise": {"kind": "poisson-gaussian", "gain": 0.004},
        },
        "loss": {"weights": {"l1": 1.0}},
        "optim": {"lr": 0.001, "steps": 6, "warmup": 1},
        "run": {
            "out": str(tmp_path / "run"),
            "checkpoint_every": 3,
            "validate_every": 3,
            "log_every": 1,
            "threads": 1,
        },
    }
    run_config(write_config(copy.deepcopy(cfg), {}, tmp_path / "cfg.yaml"), progress=False)
    model, meta = load_model(tmp_path / "run/model.safetensors")
    assert model.noise_map
    logs = [json.loads(line) for line in (tmp_path / "run/log.jsonl").read_text().splitlines()]
    assert {"cpsnr", "cpsnr_sigma10"} <= set(logs[-1])
    assert logs[-1]["cpsnr"] > logs[-1]["cpsnr_sigma10"]
    bad = write_config(copy.deepcopy(cfg), {"data__train_weights": [1]}, tmp_path / "bad.yaml")
    with pytest.raises(RestorekitError, match="train_weights: one weight"):
        run_config(bad, progress=False)
    bad = write_config(copy.deepcopy(cfg), {"data__clean_share": 1.5}, tmp_path / "bad2.yaml")
    with pytest.raises(RestorekitError, match="clean_share must be in"):
        run_config(bad, progress=False)


def test_untrained_joint_net_is_mhc():
    raw = torch.rand(1, 1, 16, 16)
    net = build("demosaicnet", channels=8, depth=1, noise_map=True)
    with torch.no_grad():
        assert torch.allclose(net(raw, "RGGB", 0.03), demosaic_malvar(raw, "RGGB"), atol=1e-6)


def test_folder_weights_are_refused_where_they_cannot_apply():
    from restorekit.train.config import load_config

    root = Path(__file__).resolve().parents[2]
    with pytest.raises(RestorekitError, match="cycle-sr does not take folder weights"):
        load_config(root / "configs/sr/cycle-x4.yaml", {"data.train_weights": [1.0]})
