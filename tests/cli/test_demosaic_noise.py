"""Noisy raws on the command line: ``demosaic`` / ``develop`` with ``--noise SIGMA|auto``."""

from __future__ import annotations

import pytest
import rawpy
import torch

from helpers import DATA
from helpers import assert_one_line_error as _assert_one_line_error
from helpers import run_cli as _run
from restorekit.degrade import mosaic
from restorekit.io import read_image, write_image
from restorekit.models import build
from restorekit.models.weights import save_model

DC50 = DATA / "raw" / "kodak_dc50.kdc"


@pytest.fixture
def raw_png(tmp_path):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(1, 3, 64, 80, generator=g)
    path = tmp_path / "raw.png"
    write_image(path, mosaic(x, "RGGB"), bits=16)
    return path


@pytest.fixture
def joint_model(tmp_path):
    torch.manual_seed(0)
    net = build("demosaicnet", channels=8, depth=1, noise_map=True)
    torch.nn.init.normal_(net.tail.weight, std=0.01)  # not the identity over MHC
    path = tmp_path / "joint.safetensors"
    save_model(path, net)
    return path, net


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--noise", "-3"], "--noise must be >= 0"),
        (["--noise", "nan"], "--noise must be >= 0"),
        (["--noise", "loud"], "--noise must be a number"),
        (["--noise", "5", "--method", "menon"], "menon is a demosaicer that takes no noise level"),
        (["--noise", "0", "--method", "bilinear"], "takes no noise level"),
        (["--method", "bm3d+menon"], "needs --noise SIGMA"),
        (["--method", "menon+cbm3d", "--noise", "0"], "needs --noise SIGMA (above 0)"),
        (["--method", "menon", "--ensemble", "8"], "menon is not a network"),
        (["--method", "learned-joint-x8", "--ensemble", "2"], "learned-joint-x8 averages 8"),
    ],
)
def test_bad_noise_options_are_one_line(capfd, raw_png, tmp_path, argv, needle):
    out = tmp_path / "out.png"
    code, _, err = _run(capfd, "demosaic", raw_png, out, *argv)
    _assert_one_line_error(code, err, needle)
    assert not out.exists()


def test_a_clean_model_refuses_a_noise_level(capfd, raw_png, tmp_path):
    net = build("demosaicnet", channels=8, depth=1)
    model = tmp_path / "clean.safetensors"
    save_model(model, net)
    code, _, err = _run(
        capfd, "demosaic", raw_png, tmp_path / "o.png", "--model", model, "--noise", "5"
    )
    _assert_one_line_error(code, err, "trained on clean raws")


def test_noise_reaches_the_joint_network(capfd, raw_png, tmp_path, joint_model):
    path, net = joint_model
    outs = {}
    for level in ("0", "12"):
        out = tmp_path / f"o{level}.png"
        code, _, err = _run(capfd, "demosaic", raw_png, out, "--model", path, "--noise", level)
        assert code == 0, err
        outs[level] = read_image(out)
    raw = read_image(raw_png)
    with torch.no_grad():
        want = net(raw, "RGGB", 12 / 255).clamp(0, 1)
    assert (outs["12"] - want).abs().max() < 1 / 65535 + 1e-6  # 16-bit output
    assert (outs["12"] - outs["0"]).abs().max() > 1e-3


def test_noise_auto_estimates_and_says_so(capfd, tmp_path, joint_model):
    path, _ = joint_model
    g = torch.Generator().manual_seed(1)
    raw = torch.full((1, 1, 128, 128), 0.4) + 10 / 255 * torch.randn(1, 1, 128, 128, generator=g)
    src = tmp_path / "noisy.png"
    write_image(src, raw.clamp(0, 1), bits=16)
    code, _, err = _run(
        capfd, "demosaic", src, tmp_path / "o.png", "--model", path, "--noise", "auto"
    )
    assert code == 0, err
    sigma = float(err.split("estimated noise sigma ")[1].split()[0])
    assert abs(sigma - 10) < 1.0, err


def test_a_pipeline_denoises_with_the_given_level(capfd, raw_png, tmp_path):
    out = tmp_path / "o.png"
    code, _, err = _run(capfd, "demosaic", raw_png, out, "--method", "bm3d+menon", "--noise", "8")
    assert code == 0, err
    from restorekit.classical.demosaic import bm3d_then_menon

    raw = read_image(raw_png).double()
    want = bm3d_then_menon(raw, "RGGB", 8 / 255).clamp(0, 1)
    assert (read_image(out).double() - want).abs().max() < 1 / 255


@pytest.fixture
def dc50():
    if not DC50.is_file():
        pytest.skip(f"{DC50} not found")
    return DC50


def test_develop_noise_auto_with_the_joint_model(capfd, dc50, tmp_path, joint_model):
    path, _ = joint_model
    out = tmp_path / "dc50.png"
    code, stdout, err = _run(capfd, "develop", dc50, out, "--model", path, "--noise", "auto")
    assert code == 0, err
    assert "estimated noise sigma" in err and "| noise " in stdout


def test_develop_refuses_noise_for_a_classical_demosaicer(capfd, dc50, tmp_path):
    out = tmp_path / "dc50.png"
    code, _, err = _run(capfd, "develop", dc50, out, "--method", "mhc", "--noise", "auto")
    _assert_one_line_error(code, err, "takes no noise level")
    assert not out.exists()


def test_develop_refuses_a_black_level_at_the_white_level(capfd, dc50, tmp_path, monkeypatch):
    imread = rawpy.imread

    class Patched:
        def __init__(self, raw):
            self._raw = raw

        def __getattr__(self, name):
            if name == "black_level_per_channel":
                return [16383] * 4
            return getattr(self._raw, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self._raw.close()

    monkeypatch.setattr(rawpy, "imread", lambda p: Patched(imread(p)))
    out = tmp_path / "dc50.png"
    code, _, err = _run(capfd, "develop", dc50, out, "--method", "bm3d+menon", "--noise", "auto")
    _assert_one_line_error(code, err, "white level 16383 is not above the black level")
    assert not out.exists()


def test_the_shipped_joint_model_denoises_what_the_clean_one_cannot():
    """Kodak24's first two images at sigma 10 (the benchmark's draws and convention): the shipped
    joint network against the shipped clean one and Menon, told nothing."""
    from helpers import read_uint8, shared_images
    from restorekit.tasks import DemosaicTask

    task = DemosaicTask()
    paths = shared_images("test/color/Kodak24", limit=2)
    images = [(p.stem, read_uint8(p)) for p in paths]
    cond = task.conditions(["RGGB"], noise=[10])[0]
    scores = {m: [] for m in ("learned-joint", "learned", "menon")}
    for pair in task.pairs(images, cond):
        for m in scores:
            scores[m].append(task.score(task.run(m, pair, cond), pair, cond)["cpsnr"])
    mean = {m: sum(v) / len(v) for m, v in scores.items()}
    # measured: joint 31.5, clean network 28.5, Menon 27.7 on these two
    assert (
        mean["learned-joint"] > mean["learned"] + 1.5
        and mean["learned-joint"] > mean["menon"] + 1.5
    )


def test_noise_sends_the_default_method_to_the_joint_model(capfd, raw_png, tmp_path):
    from restorekit.models.demosaic import demosaic_joint

    out = tmp_path / "o.png"
    code, _, err = _run(capfd, "demosaic", raw_png, out, "--noise", "6")
    assert code == 0, err
    want = demosaic_joint(read_image(raw_png), "RGGB", 6 / 255).clamp(0, 1)
    assert (read_image(out) - want).abs().max() < 1 / 65535 + 1e-6


def test_develop_noise_auto_with_the_shipped_joint_model(capfd, dc50, tmp_path):
    out = tmp_path / "dc50.png"
    code, stdout, err = _run(capfd, "develop", dc50, out, "--noise", "auto")
    assert code == 0, err
    assert "| learned | noise " in stdout, stdout


def test_ensemble_on_the_command_line_is_the_library_s(capfd, raw_png, tmp_path):
    from restorekit.models.demosaic import demosaic_joint

    out = tmp_path / "x8.png"
    code, _, err = _run(
        capfd, "demosaic", raw_png, out, "--method", "learned-joint-x8", "--noise", "4"
    )
    assert code == 0, err
    raw = read_image(raw_png)[:, :1].double()
    got = read_image(out).double()  # 16 bits, as the input
    want = demosaic_joint(raw, "RGGB", 4 / 255, ensemble=8).clamp(0, 1)
    single = demosaic_joint(raw, "RGGB", 4 / 255).clamp(0, 1)
    assert (got - want).abs().max() < 1e-4
    assert (got - single).abs().max() > 1e-3
