"""``restorekit denoise`` with the learned models: sigma, auto, level, model files, refusals."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from helpers import DATA
from restorekit.cli.main import main
from restorekit.io import read_image, write_image
from restorekit.models import build, save_model
from restorekit.models.pretrained import PRETRAINED, load_pretrained_denoiser


def _noisy(
    tmp_path: Path, mode: str, sigma: float, name: str = "noisy.png"
) -> tuple[Path, torch.Tensor]:
    folder = "test/gray/Set12/01.png" if mode == "gray" else "test/color/Kodak24/kodim05.png"
    clean = read_image(DATA / folder, mode=mode).double()[..., :160, :160]
    g = torch.Generator().manual_seed(0)
    noisy = clean + sigma / 255 * torch.randn(clean.shape, generator=g, dtype=torch.float64)
    path = tmp_path / name
    write_image(path, noisy.clamp(0, 1), bits=16)
    return path, clean


def _psnr(a: torch.Tensor, b: torch.Tensor) -> float:
    return float(10 * torch.log10(1 / (a.double() - b.double()).pow(2).mean()))


@pytest.mark.parametrize("mode", ["gray", "rgb"])
def test_shipped_model_by_default_beats_the_noisy_input(tmp_path, mode):
    src, clean = _noisy(tmp_path, mode, 25)
    out = tmp_path / "out.png"
    assert main(["denoise", str(src), str(out), "--sigma", "25"]) == 0
    y = read_image(out)
    assert y.shape == clean.shape
    assert _psnr(y, clean) > _psnr(read_image(src), clean) + 6


def test_sigma_auto_says_what_it_estimated(tmp_path, capsys):
    # mid-grey contrast, so that the noisy PNG is (almost) not clipped and its noise is sigma 30
    clean = 0.2 + 0.6 * read_image(DATA / "test/gray/Set12/05.png", mode="gray").double()
    g = torch.Generator().manual_seed(0)
    noisy = clean + 30 / 255 * torch.randn(clean.shape, generator=g, dtype=torch.float64)
    src = tmp_path / "noisy.png"
    write_image(src, noisy.clamp(0, 1), bits=16)
    out = tmp_path / "out.png"
    assert main(["denoise", str(src), str(out), "--sigma", "auto"]) == 0
    said = capsys.readouterr().out
    est = float(said.split("estimated noise sigma ")[1].split()[0])
    assert abs(est - 30) < 3
    assert _psnr(read_image(out), clean) > 28


def test_level_gives_direct_control(tmp_path):
    src, _ = _noisy(tmp_path, "gray", 25)
    weak, strong = tmp_path / "weak.png", tmp_path / "strong.png"
    assert main(["denoise", str(src), str(weak), "--level", "0"]) == 0
    assert main(["denoise", str(src), str(strong), "--level", "1"]) == 0
    # more smoothing at level 1: less high-frequency energy left
    hf = [float(read_image(p).diff(dim=-1).abs().mean()) for p in (weak, strong)]
    assert hf[1] < hf[0]


def test_sixteen_bit_output_round_trip(tmp_path):
    src, _ = _noisy(tmp_path, "gray", 15)
    out = tmp_path / "out.png"
    assert main(["denoise", str(src), str(out), "--sigma", "15"]) == 0
    assert np.asarray(Image.open(out)).dtype == np.uint16


def test_self_ensemble_is_better_than_one_pass(tmp_path):
    src, clean = _noisy(tmp_path, "gray", 25)
    scores = {}
    for n in ("1", "8"):
        out = tmp_path / f"x{n}.png"
        assert main(["denoise", str(src), str(out), "--sigma", "25", "--ensemble", n]) == 0
        scores[n] = _psnr(read_image(out), clean)
    assert scores["8"] > scores["1"] + 0.02, scores


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--sigma", "80"], "sigma 80 is outside the calibrated range 5-75"),
        (["--sigma", "3"], "sigma 3 is outside the calibrated range 5-75"),
        (["--level", "1.5"], r"--level \(alpha\) must be in \[0, 1\], got 1.5"),
        (["--level", "-0.1"], r"--level \(alpha\) must be in \[0, 1\], got -0.1"),
        (["--sigma", "25", "--level", "0.5"], "give --sigma or --level, not both"),
        ([], "give the noise level"),
        (["--sigma", "many"], "--sigma must be a number"),
        (["--method", "bm3d", "--level", "0.5"], "--level needs --method learned"),
        (["--method", "bm3d", "--sigma", "25", "--ensemble", "8"], "--ensemble needs --method"),
        (["--method", "bm4d", "--sigma", "5"], "unknown denoise method 'bm4d'"),
    ],
)
def test_refusals_are_one_line(tmp_path, capsys, extra, message):
    src, _ = _noisy(tmp_path, "gray", 25)
    out = tmp_path / "out.png"
    assert main(["denoise", str(src), str(out), *extra]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1
    import re

    assert re.search(message, err[0]), err[0]
    assert not out.exists()


def test_a_checkpoint_of_another_model_is_refused(tmp_path, capsys):
    src, _ = _noisy(tmp_path, "gray", 25)
    demosaic = Path(__file__).parents[2] / "src/restorekit/weights" / PRETRAINED["demosaic"][0]
    assert (
        main(
            [
                "denoise",
                str(src),
                str(tmp_path / "o.png"),
                "--model",
                str(demosaic),
                "--level",
                "0.5",
            ]
        )
        == 2
    )
    assert "holds a 'demosaicnet' model, not a denoiser" in capsys.readouterr().err


def test_gray_model_file_on_a_color_image_is_refused(tmp_path, capsys):
    src, _ = _noisy(tmp_path, "rgb", 25)
    net = build("ffdnet", channels=8, depth=3, conditional=True, sigma_range=(5, 75))
    save_model(tmp_path / "g.safetensors", net)
    rc = main(
        [
            "denoise",
            str(src),
            str(tmp_path / "o.png"),
            "--model",
            str(tmp_path / "g.safetensors"),
            "--level",
            "0.5",
        ]
    )
    assert rc == 2
    assert "has 3 channel(s); the model takes 1" in capsys.readouterr().err


def test_calibrate_and_dni_commands(tmp_path, capsys):
    torch.manual_seed(0)
    a = build("dncnn", channels=8, depth=3, batch_norm=False)
    b = build("dncnn", channels=8, depth=3, batch_norm=False)
    save_model(tmp_path / "a.safetensors", a)
    save_model(tmp_path / "b.safetensors", b)
    dni = tmp_path / "dni.safetensors"
    assert (
        main(["dni", str(tmp_path / "a.safetensors"), str(tmp_path / "b.safetensors"), str(dni)])
        == 0
    )
    images = tmp_path / "val"
    images.mkdir()
    for i in range(2):
        write_image(images / f"{i}.png", torch.rand(1, 1, 40, 40))
    assert (
        main(["calibrate", str(dni), "--data", str(images), "--sigma", "15", "25", "--crop", "32"])
        == 0
    )
    from restorekit.models.control import load_denoiser

    _, cal = load_denoiser(dni)
    assert cal.sigmas == (15.0, 20.0, 25.0)
    save_model(tmp_path / "c.safetensors", build("dncnn", channels=16, depth=3))
    capsys.readouterr()
    assert (
        main(
            [
                "dni",
                str(tmp_path / "a.safetensors"),
                str(tmp_path / "c.safetensors"),
                str(tmp_path / "x.safetensors"),
            ]
        )
        == 2
    )
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "DNI needs two networks of one architecture" in err[0]
    assert not (tmp_path / "x.safetensors").exists()


def test_shipped_calibrations_cover_5_to_75():
    for channels in (1, 3):
        _, cal = load_pretrained_denoiser(channels)
        assert cal.range == (5.0, 75.0)
        assert all(0 <= v <= 1 for v in cal.levels)
