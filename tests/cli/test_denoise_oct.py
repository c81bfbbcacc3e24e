"""``restorekit denoise --model oct``: the shipped blind OCT denoiser, short names, refusals."""

from __future__ import annotations

import pytest
import torch

from helpers import DATA
from restorekit.cli.main import main
from restorekit.io import read_image, write_image
from restorekit.metrics import psnr
from restorekit.models import build, save_model

OCT = DATA / "oct" / "Duke18"


def test_shipped_oct_model_denoises_a_real_test_scan(tmp_path):
    src = OCT / "test" / "noisy" / "12_0.png"
    clean = read_image(OCT / "test" / "clean" / "12.png", mode="gray")
    out = tmp_path / "out.png"
    assert main(["denoise", str(src), str(out), "--model", "oct"]) == 0
    y = read_image(out)
    assert y.shape == clean.shape
    noisy = read_image(src, mode="gray")
    # subject 12: the noisy frame scores 16.9 dB against the average, the model 24.0 dB; BM3D at
    # the sigma chosen on training subjects (110) scores 23.63 dB (REFERENCE.md)
    assert float(psnr(noisy, clean)[0]) < 17.5
    assert float(psnr(y, clean)[0]) > 23.63 + 0.2


def test_a_large_scan_is_tiled_and_odd_sizes_work(tmp_path):
    scan = read_image(OCT / "test" / "noisy" / "11_0.png", mode="gray")
    big = torch.cat([scan, scan.flip(-1)], dim=-1)[..., :449, :1801]  # 1801 x 449, odd sizes
    src = tmp_path / "big.png"
    write_image(src, big)
    out = tmp_path / "out.png"
    assert main(["denoise", str(src), str(out), "--model", "oct"]) == 0
    assert read_image(out).shape == big.shape


def test_model_names_and_files(tmp_path, capsys):
    src = tmp_path / "in.png"
    write_image(src, read_image(OCT / "test" / "noisy" / "13_0.png", mode="gray")[..., :64, :80])
    out = tmp_path / "out.png"
    assert main(["denoise", str(src), str(out), "--model", "octt"]) == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "restorekit denoise: error: --model 'octt' names no shipped model "
        "(known: oct, denoise-color, denoise-gray) and no file"
    )
    assert not out.exists()
    # a blind model takes no noise level
    assert main(["denoise", str(src), str(out), "--model", "oct", "--sigma", "25"]) == 2
    assert (
        "is blind (it estimates the noise itself): drop --sigma/--level" in capsys.readouterr().err
    )
    # a model file of another task
    assert main(["denoise", str(src), str(out), "--model", "grain"]) == 2
    assert "not a denoiser" in capsys.readouterr().err
    # a path still works: a blind model file trained elsewhere
    torch.manual_seed(0)
    net = build("dncnn", in_channels=1, channels=8, depth=3)
    path = tmp_path / "mine.safetensors"
    save_model(path, net)
    assert main(["denoise", str(src), str(out), "--model", str(path)]) == 0
    assert read_image(out).shape == (1, 1, 64, 80)


@pytest.mark.parametrize("name", ["denoise-gray"])
def test_a_shipped_continuous_model_by_name_still_needs_its_level(tmp_path, capsys, name):
    src = tmp_path / "in.png"
    write_image(src, read_image(DATA / "test/gray/Set12/01.png", mode="gray")[..., :64, :64])
    out = tmp_path / "out.png"
    assert main(["denoise", str(src), str(out), "--model", name]) == 2
    assert "give the noise level" in capsys.readouterr().err
    assert main(["denoise", str(src), str(out), "--model", name, "--sigma", "25"]) == 0
