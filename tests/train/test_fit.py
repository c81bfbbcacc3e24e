"""End-to-end training at tiny scale: outputs, resume (also after SIGKILL), refusals, DDP."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from PIL import Image

from helpers import cli as _cli
from helpers import one_thread_env as _env
from helpers import train_whole_and_killed, write_config
from restorekit.errors import RestorekitError
from restorekit.models import load_model
from restorekit.train import load_checkpoint, run_config

pytest.importorskip("lightning_fabric")


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> Path:
    """Eight small RGB images (smooth colour gradients plus texture)."""
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:64] / 64
    for i in range(8):
        base = np.stack([np.sin(6 * xx + i), np.cos(5 * yy - i), np.sin(4 * (xx + yy))], -1)
        img = np.clip(0.5 + 0.3 * base + 0.1 * rng.standard_normal((48, 64, 3)), 0, 1)
        Image.fromarray((img * 255).round().astype(np.uint8)).save(folder / f"im{i}.png")
    return folder


def _config(tmp_path: Path, images: Path, **changes) -> Path:
    cfg = {
        "task": "demosaic",
        "seed": 0,
        "model": {"name": "demosaicnet", "args": {"channels": 8, "depth": 1}},
        "data": {
            "train": str(images),
            "holdout": 4,
            "patch": 16,
            "batch": 4,
            "color_augment": True,
            "mining": {"capacity": 8, "revisit": 0.5},
        },
        "loss": {"weights": {"l1": 1.0, "mixed": 0.5}, "options": {"mixed": {"alpha": 0.84}}},
        "optim": {"lr": 0.002, "steps": 12, "warmup": 2},
        "run": {
            "out": str(tmp_path / "run"),
            "checkpoint_every": 3,
            "validate_every": 6,
            "log_every": 2,
            "threads": 1,
        },
    }
    return write_config(cfg, changes, tmp_path / "cfg.yaml")


def _weights(path: Path) -> dict[str, torch.Tensor]:
    model, _ = load_model(path)
    return model.state_dict()


def test_a_run_writes_everything(tmp_path, images):
    result = run_config(_config(tmp_path, images), progress=False)
    run = tmp_path / "run"
    assert result.steps == 12 and set(result.val) == {"cpsnr"}
    assert (run / "config.yaml").is_file() and (run / "checkpoints/last.safetensors").is_file()
    assert any((run / "tb").iterdir())
    log = [json.loads(line) for line in (run / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in log] == [6, 12]
    model, meta = load_model(run / "model.safetensors", expect="demosaicnet")
    assert meta["task"] == "demosaic" and meta["train_steps"] == 12
    assert meta["config"]["data"]["batch"] == 4
    saved = yaml.safe_load((run / "config.yaml").read_text())
    assert saved["optim"]["steps"] == 12 and saved["data"]["mining"]["capacity"] == 8
    # the training moved the network away from its MHC starting point
    assert model.tail.weight.abs().sum() > 0
    with pytest.raises(RestorekitError, match="already holds a run; pass --resume"):
        run_config(_config(tmp_path, images), progress=False)


def test_resume_continues_exactly(tmp_path, images):
    whole = tmp_path / "whole"
    whole.mkdir()
    run_config(_config(whole, images), progress=False)
    split = tmp_path / "split"
    split.mkdir()
    cfg = _config(split, images)
    first = run_config(cfg, progress=False, max_steps=7)  # stops between checkpoints 6 and 9
    assert first.steps == 7 and not (split / "run/model.safetensors").exists()
    ck = load_checkpoint(split / "run/checkpoints/last.safetensors", _tiny())
    assert ck.step == 7  # the stop itself is checkpointed
    run_config(cfg, resume=True, progress=False)
    a, b = _weights(whole / "run/model.safetensors"), _weights(split / "run/model.safetensors")
    for k in a:
        torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-6)


def _tiny():
    from restorekit.models import build

    return build("demosaicnet", channels=8, depth=1)


def test_resume_refusals(tmp_path, images):
    with pytest.raises(RestorekitError, match="nothing to resume"):
        run_config(_config(tmp_path, images), resume=True, progress=False)
    run_config(_config(tmp_path, images), progress=False, max_steps=3)
    other = _config(tmp_path, images, model__args={"channels": 4, "depth": 1})
    with pytest.raises(RestorekitError, match="is a checkpoint of demosaicnet"):
        run_config(other, resume=True, progress=False)
    ckpt = tmp_path / "run/checkpoints/last.safetensors"
    ckpt.write_bytes(ckpt.read_bytes()[:1000])
    with pytest.raises(RestorekitError, match="not a safetensors file"):
        run_config(_config(tmp_path, images), resume=True, progress=False)


@pytest.mark.slow
def test_sigkill_then_resume_matches_an_uninterrupted_run(tmp_path, images):
    steps = 60
    whole = tmp_path / "whole"
    whole.mkdir()
    cfg = _config(
        whole, images, optim__steps=steps, run__checkpoint_every=5, run__validate_every=60
    )
    killed = tmp_path / "killed"
    killed.mkdir()
    cfg_killed = _config(
        killed, images, optim__steps=steps, run__checkpoint_every=5, run__validate_every=60
    )
    ckpt = killed / "run/checkpoints/last.safetensors"
    stopped_at = train_whole_and_killed(cfg, cfg_killed, ckpt, 15)
    assert 15 <= stopped_at < steps
    a_model, a_meta = load_model(whole / "run/model.safetensors")
    b_model, b_meta = load_model(killed / "run/model.safetensors")
    assert a_meta["train_steps"] == b_meta["train_steps"] == steps
    assert abs(a_meta["val"]["cpsnr"] - b_meta["val"]["cpsnr"]) < 1e-3
    for (k, a), (_, b) in zip(
        a_model.state_dict().items(), b_model.state_dict().items(), strict=True
    ):
        torch.testing.assert_close(a, b, rtol=0, atol=1e-5, msg=k)


def test_cli_errors_are_one_line(tmp_path, images):
    bad = _config(tmp_path, images, optim__stpes=3)
    done = subprocess.run(_cli("train", str(bad)), capture_output=True, text=True, env=_env())
    assert done.returncode == 2
    assert done.stderr.strip() == (
        "restorekit train: error: config: unknown key 'optim.stpes'; "
        "known: steps, milestones, scheduler, ..."
    )


@pytest.mark.slow
def test_two_process_ddp_on_cpu(tmp_path, images):
    cfg = _config(tmp_path, images, optim__steps=6, run__devices=2, run__accelerator="cpu")
    done = subprocess.run(
        _cli("train", str(cfg), "--quiet"), env=_env(), capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    model, meta = load_model(tmp_path / "run/model.safetensors")
    assert meta["train_steps"] == 6 and meta["config"]["run"]["devices"] == 2
    assert "cpsnr" in meta["val"]


def test_cli_refuses_a_corrupt_or_foreign_checkpoint_in_one_line(tmp_path, images, capsys):
    from restorekit.cli.main import main

    cfg = _config(tmp_path, images)
    run_config(cfg, progress=False, max_steps=3)
    ckpt = tmp_path / "run/checkpoints/last.safetensors"
    good = ckpt.read_bytes()
    ckpt.write_bytes(good[: len(good) // 3])
    assert main(["train", str(cfg), "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "not a safetensors file (corrupt or truncated)" in err[0], err
    ckpt.write_bytes(good)
    other = _config(tmp_path, images, model__args={"channels": 8, "depth": 2})
    assert main(["train", str(other), "--resume", "--quiet"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "is a checkpoint of demosaicnet" in err[0], err


def test_model_init_starts_from_a_model_file(tmp_path, images):
    first = tmp_path / "first"
    first.mkdir()
    run_config(_config(first, images), progress=False)
    second = tmp_path / "second"
    second.mkdir()
    init = str(first / "run/model.safetensors")
    cfg = _config(second, images, model__init=init, optim__steps=1, optim__warmup=0)
    run_config(cfg, progress=False)
    a, b = _weights(first / "run/model.safetensors"), _weights(second / "run/model.safetensors")
    # one small step away from the initial weights, far from a fresh network
    assert max(float((a[k] - b[k]).abs().max()) for k in a) < 0.01
    wrong = _config(tmp_path, images, model__init=init, model__args={"channels": 4, "depth": 1})
    with pytest.raises(RestorekitError, match=r"model\.init .* holds demosaicnet"):
        run_config(wrong, progress=False)
