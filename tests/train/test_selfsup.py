"""Self-supervised loops (Noise2Noise, Neighbor2Neighbor, TCFL) and the adversarial engine: the GAN
step's order, collapse detection, resume after SIGKILL, seeds, one-line refusals."""

from __future__ import annotations

import subprocess
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import SpyAdam as _Spy
from helpers import cli as _cli
from helpers import one_thread_env as _env
from helpers import train_error_line, train_whole_and_killed, write_config
from restorekit.data import ImageBank, NoiseModel, NoisyPatches
from restorekit.errors import RestorekitError
from restorekit.losses.gan import gan_loss
from restorekit.models import build, load_model
from restorekit.models.weights import read_safetensors
from restorekit.train import run_config
from restorekit.train.collapse import CollapseWatch, GeneratorCollapseError, spread_ratio
from restorekit.train.selfsup import TCFLWeights, neighbor_subsample, subsample_like, tcfl_step

pytest.importorskip("lightning_fabric")


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> Path:
    """Gray scenes: ``clean/`` (6 images), ``noisy/`` (3 scenes x 2 frames, ``SS_F.png``)."""
    root = tmp_path_factory.mktemp("selfsup")
    (root / "clean").mkdir()
    (root / "noisy").mkdir()
    (root / "empty").mkdir()
    rng = np.random.default_rng(0)
    yy, xx = np.mgrid[0:48, 0:64] / 64
    for i in range(6):
        base = 0.5 + 0.3 * np.sin(6 * xx + i) * np.cos(5 * yy - i)
        u8 = (np.clip(base, 0, 1) * 255).round().astype(np.uint8)
        Image.fromarray(u8).save(root / "clean" / f"c{i}.png")
    for s in range(3):
        base = 0.5 + 0.3 * np.cos(4 * xx - s) * np.sin(3 * yy + s)
        for f in range(2):
            noisy = np.clip(base + 0.1 * rng.standard_normal(base.shape), 0, 1)
            Image.fromarray((noisy * 255).round().astype(np.uint8)).save(
                root / "noisy" / f"{s:02d}_{f}.png"
            )
    return root


def _config(tmp_path: Path, folders: Path, task: str = "tcfl", **changes) -> Path:
    cfg = {
        "task": task,
        "seed": 0,
        "model": {"name": "dncnn", "args": {"in_channels": 1, "channels": 8, "depth": 3}},
        "data": {
            "train": str(folders / "noisy"),
            "mode": "gray",
            "patch": 32,
            "batch": 4,
        },
        "optim": {"lr": 0.003, "steps": 12, "scheduler": "constant"},
        "run": {
            "out": str(tmp_path / "run"),
            "checkpoint_every": 3,
            "validate_every": 100,
            "log_every": 2,
            "threads": 1,
        },
    }
    if task == "tcfl":
        cfg["data"]["clean"] = str(folders / "clean")
        cfg["adversarial"] = {
            "discriminator": {
                "name": "patchgan",
                "args": {"in_channels": 1, "channels": 8, "depth": 2},
            }
        }
    if task == "noise2noise":
        cfg["data"]["views"] = "frames"
        cfg["loss"] = {"weights": {"l2": 1.0}}
    return write_config(cfg, changes, tmp_path / "cfg.yaml")


# -- the neighbour sub-sampler, views, noise ------------------------------------------------------
def test_neighbor_subsample_takes_edge_neighbours_of_each_cell():
    g = torch.Generator().manual_seed(0)
    H, W = 64, 64
    # every pixel holds its own coordinates: row in channel 0, column in channel 1
    rows, cols = torch.meshgrid(torch.arange(H), torch.arange(W), indexing="ij")
    x = torch.stack([rows, cols]).float()[None].expand(3, -1, -1, -1).contiguous()
    g1, g2, idx = neighbor_subsample(x, g)
    assert g1.shape == g2.shape == (3, 2, H // 2, W // 2)
    # both in the same 2x2 cell, one step apart horizontally or vertically
    cell_r = torch.arange(H // 2).view(-1, 1) * 2
    cell_c = torch.arange(W // 2).view(1, -1) * 2
    for g_ in (g1, g2):
        assert ((g_[:, 0] - cell_r).ge(0) & (g_[:, 0] - cell_r).le(1)).all()
        assert ((g_[:, 1] - cell_c).ge(0) & (g_[:, 1] - cell_c).le(1)).all()
    dist = (g1 - g2).abs().sum(1)
    assert (dist == 1).all()
    # the four first positions and the two neighbours are equally likely
    counts = torch.bincount(idx[:, 0].flatten(), minlength=4).float() / idx[:, 0].numel()
    assert (counts - 0.25).abs().max() < 0.02
    assert ((idx[:, 1] ^ idx[:, 0]) == 1).float().mean().sub(0.5).abs() < 0.02
    # another image sub-sampled with the same choice
    a1, a2 = subsample_like(x * 2, idx)
    assert torch.equal(a1, 2 * g1) and torch.equal(a2, 2 * g2)
    with pytest.raises(RestorekitError, match="even sizes, got 5x4"):
        neighbor_subsample(torch.zeros(1, 1, 5, 4))


def test_frame_views_are_the_same_crop_of_two_frames(folders):
    bank = ImageBank(folders / "noisy", mode="gray")
    data = NoisyPatches(bank)
    a, b = data.views(16, 24, torch.Generator().manual_seed(1))
    assert a.shape == b.shape == (16, 1, 24, 24)
    assert not torch.equal(a, b)  # different frames: different noise
    # the same content: the views differ by noise only (the frames' noise std is 0.1)
    assert 0.1 < (a - b).std() < 0.2
    clean_views = NoisyPatches(
        ImageBank(folders / "clean", mode="gray"), NoiseModel("gaussian", 25)
    )
    c, d = clean_views.views(8, 24, torch.Generator().manual_seed(2))
    assert abs((c - d).std().item() - np.sqrt(2) * 25 / 255) < 0.01


def test_noise_model_refuses_bad_values():
    with pytest.raises(RestorekitError, match=r"^speckle looks L must be > 0, got 0$"):
        NoiseModel("speckle", looks=0)
    with pytest.raises(RestorekitError, match="noise kind must be one of"):
        NoiseModel("pink")
    y = NoiseModel("speckle", looks=4)(torch.full((1, 1, 256, 256), 0.5), torch.Generator())
    assert abs(y.mean().item() - 0.5) < 0.01 and abs(y.var().item() / 0.25 - 0.25) < 0.02


# -- the GAN step -------------------------------------------------------------------------------
def test_gan_step_detaches_fakes_and_keeps_the_discriminator_fixed_in_the_generator_step():
    torch.manual_seed(0)
    G = build("dncnn", in_channels=1, channels=8, depth=3)
    D = build("patchgan", in_channels=1, channels=8, depth=2)
    seen: dict[str, object] = {}

    def before_d():
        # the discriminator's backward reached no generator parameter: the fakes were detached
        seen["g_grads_at_d_step"] = [p.grad for p in G.parameters()]
        seen["d_before_g"] = [p.detach().clone() for p in D.parameters()]

    def before_g():
        seen["d_grads_at_g_step"] = [p.grad.clone() for p in D.parameters()]
        seen["d_at_g_step"] = [p.detach().clone() for p in D.parameters()]

    opt_d = _Spy(D.parameters(), before_d, lr=1e-3)
    opt_g = _Spy(G.parameters(), before_g, lr=1e-3)
    d_after_its_step: list[torch.Tensor] = []
    d_grads_after_its_step: list[torch.Tensor] = []
    calls: list[torch.Tensor] = []

    def backward(loss: torch.Tensor) -> None:
        if len(calls) == 1:  # the generator's backward: D as its own step left it
            d_after_its_step.extend(p.detach().clone() for p in D.parameters())
            d_grads_after_its_step.extend(p.grad.clone() for p in D.parameters())
            assert not any(p.requires_grad for p in D.parameters())
        calls.append(loss)
        loss.backward()

    g = torch.Generator().manual_seed(0)
    A, B, C = (torch.rand(2, 1, 32, 32, generator=g) for _ in range(3))
    out = tcfl_step(G, D, opt_g, opt_d, gan_loss("lsgan"), A, B, C, TCFLWeights(), backward)
    assert all(gr is None for gr in seen["g_grads_at_d_step"])
    # the generator's backward and step left D's weights and gradients as D's step left them
    for a, b in zip(d_after_its_step, seen["d_at_g_step"], strict=True):
        assert torch.equal(a, b)
    for a, b in zip(d_grads_after_its_step, seen["d_grads_at_g_step"], strict=True):
        assert torch.equal(a, b)
    # and D did move in its own step
    assert any(
        not torch.equal(a, b) for a, b in zip(seen["d_before_g"], d_after_its_step, strict=True)
    )
    assert all(p.grad is not None for p in G.parameters())
    assert torch.isfinite(out["loss"]) and torch.isfinite(out["discriminator"])
    assert all(p.requires_grad for p in D.parameters())


@pytest.mark.parametrize("name", ["vanilla", "wgan-gp", "hinge", "ragan", "rahinge"])
def test_gan_step_runs_with_every_loss(name):
    torch.manual_seed(0)
    G = build("dncnn", in_channels=1, channels=8, depth=3)
    D = build("patchgan", in_channels=1, channels=8, depth=2, norm="none")
    opt_g, opt_d = torch.optim.Adam(G.parameters()), torch.optim.Adam(D.parameters())
    g = torch.Generator().manual_seed(0)
    A, B, C = (torch.rand(2, 1, 32, 32, generator=g) for _ in range(3))
    out = tcfl_step(G, D, opt_g, opt_d, gan_loss(name), A, B, C, TCFLWeights(), generator=g)
    assert all(torch.isfinite(v).all() for v in out.values())


# -- collapse -----------------------------------------------------------------------------------
def test_collapse_watch_counts_steps_in_a_row():
    watch = CollapseWatch(patience=3, threshold=0.1)
    x = torch.rand(4, 1, 8, 8)
    watch.update(1, 0.01 * x, x)
    watch.update(2, 0.01 * x, x)
    watch.update(3, 0.5 * x, x)  # a healthy step resets the count
    watch.update(4, 0.01 * x, x)
    watch.update(5, torch.zeros_like(x), x)
    with pytest.raises(GeneratorCollapseError, match="collapsed to a constant at step 6"):
        watch.update(6, torch.full_like(x, 0.2), x)
    assert spread_ratio(torch.full_like(x, 0.2), x) == 0.0
    state = watch.state_dict()
    other = CollapseWatch(patience=3, threshold=0.1)
    other.load_state_dict(state)
    assert other.count == 3


@pytest.mark.slow
def test_without_the_discriminator_the_generator_collapses_and_the_run_stops(tmp_path, folders):
    """The notes' failure: the consistency terms alone drive G to a constant."""
    cfg = _config(
        tmp_path,
        folders,
        optim__steps=600,
        adversarial__weight=0.0,
        selfsup__collapse_patience=20,
        selfsup__collapse_threshold=0.05,
    )
    done = subprocess.run(
        _cli("train", str(cfg), "--quiet"), capture_output=True, text=True, env=_env(), timeout=300
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith(
        "restorekit train: error: the generator collapsed to a constant at step "
    )
    step = int(lines[0].split("at step ")[1].split(":")[0])
    assert 20 <= step < 600
    assert lines[0].endswith("with adversarial.weight 0 nothing opposes it: keep the discriminator")
    assert not (tmp_path / "run/model.safetensors").exists()
    # the run folder says why it has no model file
    stopped = (tmp_path / "run/stopped.txt").read_text().strip()
    assert lines[0] == f"restorekit train: error: {stopped}"
    # with the discriminator the same run's generator keeps depending on its input
    keep = tmp_path / "with_d"
    keep.mkdir()
    cfg = _config(
        keep,
        folders,
        optim__steps=step,
        selfsup__collapse_patience=20,
        selfsup__collapse_threshold=0.05,
    )
    assert run_config(cfg, progress=False).steps == step


# -- the loops end to end -----------------------------------------------------------------------
@pytest.mark.parametrize("task", ["noise2noise", "neighbor2neighbor", "tcfl"])
def test_each_loop_trains_a_denoiser_file_and_is_seed_deterministic(tmp_path, folders, task):
    outs = []
    for k in range(2):
        d = tmp_path / f"r{k}"
        d.mkdir()
        cfg = _config(
            d,
            folders,
            task=task,
            optim__steps=4,
            data__val=str(folders / "clean"),
            data__val_noisy=str(folders / "noisy"),
        )
        result = run_config(cfg, progress=False)
        outs.append(d / "run/model.safetensors")
        assert result.steps == 4
    model, meta = load_model(outs[0])
    assert meta["task"] == task and meta["train_steps"] == 4
    assert meta["train_device"].startswith("cpu")
    assert model.registry_name == "dncnn"  # the generator, a denoiser like any other
    a, b = load_model(outs[1])[0].state_dict(), model.state_dict()
    for k in a:
        assert torch.equal(a[k], b[k]), k
        assert torch.isfinite(a[k]).all()
    # the validation pairs SCENE_0 with SCENE: no such clean scene here, so no score
    if task == "tcfl":
        tensors, _ = read_safetensors(tmp_path / "r0/run/checkpoints/last.safetensors")
        assert any(k.startswith("net.discriminator.") for k in tensors)
        assert any(k.startswith("optim.discriminator.") for k in tensors)
        assert any(k.startswith("optim.generator.") for k in tensors)


@pytest.mark.slow
def test_adversarial_run_killed_and_resumed_ends_like_an_uninterrupted_one(tmp_path, folders):
    steps = 40
    whole = tmp_path / "whole"
    whole.mkdir()
    cfg = _config(whole, folders, optim__steps=steps, run__checkpoint_every=4)
    killed = tmp_path / "killed"
    killed.mkdir()
    cfg_killed = _config(killed, folders, optim__steps=steps, run__checkpoint_every=4)
    ckpt = killed / "run/checkpoints/last.safetensors"
    stopped_at = train_whole_and_killed(cfg, cfg_killed, ckpt, 12)
    assert 12 <= stopped_at < steps
    a, a_meta = read_safetensors(whole / "run/checkpoints/last.safetensors")
    b, b_meta = read_safetensors(ckpt)
    assert a_meta["step"] == b_meta["step"] == str(steps)
    assert set(a) == set(b)
    # every network and optimiser: generator, discriminator, both Adams' moments and steps
    for prefix in (
        "net.generator.",
        "net.discriminator.",
        "optim.generator.",
        "optim.discriminator.",
    ):
        assert any(k.startswith(prefix) for k in a)
    for k in a:
        if k.startswith(("net.", "optim.")):
            torch.testing.assert_close(a[k], b[k], rtol=0, atol=1e-5, msg=k)


# -- refusals -----------------------------------------------------------------------------------
def test_bad_configs_end_in_one_line(tmp_path, folders):
    line = train_error_line(_config(tmp_path, folders, data__clean=str(folders / "empty")))
    assert line == (
        f"restorekit train: error: data.clean: '{folders / 'empty'}': no images "
        "(.png, .jpg, .jpeg, .tif, .tiff)"
    )
    assert not (tmp_path / "run").exists()  # nothing half-written
    line = train_error_line(_config(tmp_path, folders, adversarial__loss="lsgna"))
    assert line == (
        "restorekit train: error: config: unknown GAN loss 'lsgna'; "
        "known: lsgan, ragan, vanilla, wgan-gp, hinge, rahinge"
    )
    line = train_error_line(
        _config(
            tmp_path, folders, task="neighbor2neighbor", data__noise={"kind": "speckle", "looks": 0}
        )
    )
    assert line == "restorekit train: error: config: speckle looks L must be > 0, got 0"
    line = train_error_line(_config(tmp_path, folders, task="tcfl", data__clean=""))
    assert "tcfl needs data.clean" in line
