"""Super-resolution training: the supervised recipe (bicubic and real degradations) and the
cycle-consistent GAN (SRResCycGAN): its step's order, resume after SIGKILL, seeds, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import SpyAdam as _Spy
from helpers import train_error_line, train_whole_and_killed, write_config
from restorekit.losses.gan import gan_loss
from restorekit.models import build, load_model
from restorekit.models.weights import read_safetensors
from restorekit.train import run_config
from restorekit.train.config import CycleConfig
from restorekit.train.cycle import cycle_step
from restorekit.train.sr import bicubic_lr

pytest.importorskip("lightning_fabric")


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    """Eight smooth RGB images of 64x80 (and one too small to cut a patch from)."""
    root = tmp_path_factory.mktemp("sr")
    yy, xx = np.mgrid[0:64, 0:80] / 64
    for i in range(8):
        rgb = np.stack(
            [0.5 + 0.4 * np.sin((5 + c) * xx + i) * np.cos((4 + i % 3) * yy - c) for c in range(3)],
            -1,
        )
        Image.fromarray((np.clip(rgb, 0, 1) * 255).round().astype(np.uint8)).save(
            root / f"i{i}.png"
        )
    Image.fromarray(np.zeros((16, 16, 3), np.uint8)).save(root / "tiny.png")
    return root


def _config(tmp_path: Path, images: Path, task: str = "sr", **changes) -> Path:
    cfg = {
        "task": task,
        "seed": 0,
        "model": {"name": "srnet", "args": {"scale": 2, "channels": 8, "blocks": 1}},
        "data": {"train": [str(images)], "holdout": 4, "patch": 32, "batch": 4},
        "optim": {"lr": 0.002, "steps": 6, "scheduler": "constant"},
        "run": {
            "out": str(tmp_path / "run"),
            "checkpoint_every": 3,
            "validate_every": 100,
            "log_every": 2,
            "threads": 1,
        },
    }
    if task == "cycle-sr":
        cfg["data"]["degradation"] = {
            "kernel_size": 7,
            "blur_sigma": [0.8, 1.2],
            "noise_sigma_255": [2, 6],
            "jpeg_quality": [70, 90],
        }
        cfg["cycle"] = {
            "degrader": {"name": "degradenet", "args": {"scale": 2, "channels": 8, "blocks": 1}},
            "lr_discriminator": {
                "name": "patchgan",
                "args": {"in_channels": 3, "channels": 8, "depth": 1},
            },
        }
        cfg["adversarial"] = {
            "discriminator": {
                "name": "patchgan",
                "args": {"in_channels": 3, "channels": 8, "depth": 2, "norm": "none"},
            },
            "loss": "ragan",
        }
    return write_config(cfg, changes, tmp_path / "cfg.yaml")


def test_bicubic_lr_is_the_benchmark_convention():
    from restorekit.tasks import SRTask
    from restorekit.tasks.base import Condition

    arr = (np.random.default_rng(0).random((50, 41, 3)) * 255).astype(np.uint8)
    pair = next(SRTask().pairs([("x", arr)], Condition("scale", 4)))
    hr = torch.from_numpy(arr).permute(2, 0, 1)[None].double() / 255
    assert torch.equal(bicubic_lr(hr, 4), pair.input)


@pytest.mark.parametrize("degraded", [False, True])
def test_supervised_sr_trains_an_upscaler_file(tmp_path, images, degraded):
    changes = {}
    if degraded:  # the oracle of the cycle study: pairs made by a real degradation
        changes["data__degradation"] = {"kernel_size": 7, "blur_sigma": [1.0, 1.0]}
    result = run_config(_config(tmp_path, images, **changes), progress=False)
    assert result.steps == 6 and np.isfinite(result.val["psnr_y"])
    model, meta = load_model(tmp_path / "run/model.safetensors", expect="srnet")
    assert meta["task"] == "sr" and model.scale == 2
    assert meta["config"]["data"]["degradation"] == changes.get("data__degradation", {})


def test_cycle_loop_is_seed_deterministic_and_ships_the_upscaler(tmp_path, images):
    outs = []
    for k in range(2):
        d = tmp_path / f"r{k}"
        d.mkdir()
        result = run_config(_config(d, images, task="cycle-sr", optim__steps=4), progress=False)
        assert result.steps == 4 and np.isfinite(result.val["psnr_y"])
        outs.append(d / "run/model.safetensors")
    a, meta = load_model(outs[0], expect="srnet")
    assert meta["task"] == "cycle-sr"
    b = load_model(outs[1])[0].state_dict()
    for k, v in a.state_dict().items():
        assert torch.equal(v, b[k]) and torch.isfinite(v).all(), k
    tensors, _ = read_safetensors(tmp_path / "r0/run/checkpoints/last.safetensors")
    for name in ("generator", "degrader", "discriminator", "lr_discriminator"):
        assert any(k.startswith(f"net.{name}.") for k in tensors), name
    assert any(k.startswith("optim.generator.") for k in tensors)
    assert any(k.startswith("optim.discriminator.") for k in tensors)


def test_cycle_step_detaches_fakes_and_keeps_the_discriminators_fixed_in_the_generator_step():
    torch.manual_seed(0)
    G_HR = build("srnet", scale=2, channels=8, blocks=1)
    G_LR = build("degradenet", scale=2, channels=8, blocks=1, noise_channels=1)
    for net in (G_HR, G_LR):  # the zero-initialised last convolutions would hide gradients
        with torch.no_grad():
            net.tail.weight.normal_(0, 0.01)
    D_HR = build("patchgan", in_channels=3, channels=8, depth=2, norm="none")
    D_LR = build("patchgan", in_channels=3, channels=8, depth=1, norm="none")
    gens = [*G_HR.parameters(), *G_LR.parameters()]
    discs = [*D_HR.parameters(), *D_LR.parameters()]
    seen: dict[str, list] = {}

    def before_d():  # the discriminators' backward reached no generator parameter
        seen["g_grads_at_d_step"] = [p.grad for p in gens]
        seen["d_before"] = [p.detach().clone() for p in discs]

    def before_g():
        seen["d_at_g_step"] = [p.detach().clone() for p in discs]
        seen["d_grads_at_g_step"] = [p.grad.clone() for p in discs]

    opt_d = _Spy(discs, before_d, lr=1e-3)
    opt_g = _Spy(gens, before_g, lr=1e-3)
    after_d: dict[str, list] = {}

    def backward(loss: torch.Tensor) -> None:
        if after_d == {} and "d_before" in seen:  # the generators' backward comes second
            after_d["w"] = [p.detach().clone() for p in discs]
            after_d["g"] = [p.grad.clone() for p in discs]
            assert not any(p.requires_grad for p in discs)
        loss.backward()

    g = torch.Generator().manual_seed(0)
    lr, hr = torch.rand(2, 3, 16, 16, generator=g), torch.rand(2, 3, 32, 32, generator=g)
    weights = CycleConfig(tv=0.1, fidelity=1.0, adversarial_hr=0.1, adversarial_lr=0.1)
    out = cycle_step(
        G_HR, G_LR, D_HR, D_LR, opt_g, opt_d, gan_loss("ragan"), lr, hr, weights,
        backward=backward, generator=g,
    )  # fmt: skip
    assert all(gr is None for gr in seen["g_grads_at_d_step"])
    for a, b in zip(after_d["w"], seen["d_at_g_step"], strict=True):
        assert torch.equal(a, b)
    for a, b in zip(after_d["g"], seen["d_grads_at_g_step"], strict=True):
        assert torch.equal(a, b)
    assert any(not torch.equal(a, b) for a, b in zip(seen["d_before"], after_d["w"], strict=True))
    assert all(p.grad is not None for p in gens)
    assert all(torch.isfinite(v) for v in out.values())
    assert out["fidelity"] > 0  # G_LR(hr) is not yet the bicubic downscale's low-pass
    assert all(p.requires_grad for p in discs)


@pytest.mark.slow
def test_cycle_run_killed_and_resumed_ends_like_an_uninterrupted_one(tmp_path, images):
    steps = 16
    whole = tmp_path / "whole"
    whole.mkdir()
    cfg = _config(whole, images, task="cycle-sr", optim__steps=steps, run__checkpoint_every=2)
    killed = tmp_path / "killed"
    killed.mkdir()
    cfg_killed = _config(
        killed, images, task="cycle-sr", optim__steps=steps, run__checkpoint_every=2
    )
    ckpt = killed / "run/checkpoints/last.safetensors"
    stopped_at = train_whole_and_killed(cfg, cfg_killed, ckpt, 4)
    assert 4 <= stopped_at < steps
    a, a_meta = read_safetensors(whole / "run/checkpoints/last.safetensors")
    b, b_meta = read_safetensors(ckpt)
    assert a_meta["step"] == b_meta["step"] == str(steps)
    assert set(a) == set(b)
    for k in a:
        if k.startswith(("net.", "optim.")):
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-5, msg=k)


def test_bad_sr_configs_end_in_one_line(tmp_path, images):
    line = train_error_line(_config(tmp_path, images, data__patch=40, model__args={"scale": 3}))
    assert line.endswith("data.patch (40) must be a multiple of the scale (3)")
    line = train_error_line(_config(tmp_path, images, data__degradation={"blur": 1}))
    assert "unknown key 'data.degradation.blur'; known: kernel_size" in line
    line = train_error_line(_config(tmp_path, images, task="cycle-sr", data__degradation={}))
    assert line.endswith("cycle-sr needs data.degradation (the LR side's)")
    line = train_error_line(_config(tmp_path, images, task="cycle-sr", cycle__content=-1))
    assert line.endswith("cycle.content must be >= 0, got -1.0")
    assert not (tmp_path / "run").exists()
