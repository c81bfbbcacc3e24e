from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest
import torch

from helpers import assert_one_line_error as _assert_one_line_error
from helpers import run_cli as _run
from helpers import shared_images
from restorekit.cli.main import main
from restorekit.io import from_numpy, read_image, read_image_with_depth, to_numpy, write_image


@pytest.fixture
def rgb_png(tmp_path):
    path = tmp_path / "rgb.png"
    write_image(path, torch.rand(1, 3, 32, 24, generator=torch.Generator().manual_seed(0)))
    return path


@pytest.fixture
def gray_png(tmp_path):
    path = tmp_path / "gray.png"
    write_image(path, torch.rand(1, 1, 32, 24, generator=torch.Generator().manual_seed(0)))
    return path


def test_missing_file(capsys, tmp_path):
    out = tmp_path / "o.png"
    code, _, err = _run(capsys, "demosaic", str(tmp_path / "none.png"), str(out))
    _assert_one_line_error(code, err, "no such file")
    assert not out.exists()


def test_truncated_png(capsys, tmp_path):
    data = shared_images("test/color/Set5")[0].read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 3])
    out = tmp_path / "o.png"
    code, _, err = _run(
        capsys, "denoise", str(tmp_path / "cut.png"), str(out), "--sigma", "25", "--method", "tv"
    )
    _assert_one_line_error(code, err, "truncated or corrupt")
    assert not out.exists()


def test_text_file_named_png(capsys, tmp_path):
    (tmp_path / "t.png").write_text("hello")
    out = tmp_path / "o.png"
    code, _, err = _run(capsys, "upscale", str(tmp_path / "t.png"), str(out), "--scale", "2")
    _assert_one_line_error(code, err, "not an image")
    assert not out.exists()


def test_unknown_cfa(capsys, gray_png, tmp_path):
    out = tmp_path / "o.png"
    code, _, err = _run(capsys, "demosaic", str(gray_png), str(out), "--cfa", "RGBG")
    _assert_one_line_error(code, err, "unknown CFA 'RGBG'; known: RGGB")
    assert not out.exists()


def test_unknown_method_lists_known_ones(capsys, gray_png, tmp_path):
    code, _, err = _run(
        capsys, "demosaic", str(gray_png), str(tmp_path / "o.png"), "--method", "malvar"
    )
    _assert_one_line_error(code, err, "unknown demosaic method 'malvar'; known:")
    assert "mhc" in err


def test_negative_sigma(capsys, gray_png, tmp_path):
    out = tmp_path / "o.png"
    code, _, err = _run(capsys, "denoise", str(gray_png), str(out), "--sigma", "-5")
    _assert_one_line_error(code, err, "--sigma must be a finite number > 0")
    assert not out.exists()


def test_gray_image_where_rgb_is_needed(capsys, gray_png, tmp_path):
    out = tmp_path / "o.png"
    code, _, err = _run(capsys, "mosaic", str(gray_png), str(out))
    _assert_one_line_error(code, err, "mosaic needs an RGB image")
    assert not out.exists()


def test_rgb_image_where_a_mosaic_is_needed(capsys, rgb_png, tmp_path):
    out = tmp_path / "o.png"
    code, _, err = _run(capsys, "demosaic", str(rgb_png), str(out))
    _assert_one_line_error(code, err, "needs a 1-channel Bayer mosaic")
    assert not out.exists()


def test_bad_flag_is_one_line(capsys, gray_png, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["denoise", str(gray_png), str(tmp_path / "o.png"), "--level", "abc"])
    assert e.value.code == 2
    assert len(capsys.readouterr().err.strip().splitlines()) == 1


@pytest.mark.parametrize("suffix", [".png", ".tif"])
def test_16bit_mosaic_round_trip_through_the_cli(capsys, tmp_path, suffix):
    arr = np.random.default_rng(1).integers(0, 65536, size=(16, 18, 3), dtype=np.uint16)
    src, dst = tmp_path / f"in{suffix}", tmp_path / f"out{suffix}"
    write_image(src, from_numpy(arr), bits=16)
    code, _, err = _run(capsys, "mosaic", str(src), str(dst), "--cfa", "GRBG")
    assert code == 0, err
    raw, bits = read_image_with_depth(dst)
    assert bits == 16
    m = to_numpy(raw, 16)
    # GRBG: G at (0,0) and (1,1), R at (0,1), B at (1,0)
    np.testing.assert_array_equal(m[0::2, 0::2], arr[0::2, 0::2, 1])
    np.testing.assert_array_equal(m[0::2, 1::2], arr[0::2, 1::2, 0])
    np.testing.assert_array_equal(m[1::2, 0::2], arr[1::2, 0::2, 2])
    np.testing.assert_array_equal(m[1::2, 1::2], arr[1::2, 1::2, 1])


def test_mosaic_then_demosaic(capsys, tmp_path):
    src = shared_images("test/color/Kodak24")[0]
    code, _, err = _run(capsys, "mosaic", str(src), str(tmp_path / "m.png"), "--cfa", "BGGR")
    assert code == 0, err
    code, _, err = _run(
        capsys, "demosaic", str(tmp_path / "m.png"), str(tmp_path / "d.png"), "--cfa", "BGGR"
    )
    assert code == 0, err
    d, x = read_image(tmp_path / "d.png"), read_image(src)
    assert d.shape == x.shape
    assert (
        10 * torch.log10(1 / (d - x)[..., 10:-10, 10:-10].pow(2).mean()) > 30
    )  # MHC on kodim01: 31.6 dB


def test_folder_in_folder_out(capsys, tmp_path, rgb_png):
    (tmp_path / "outdir").mkdir()
    code, _, err = _run(capsys, "noise", str(tmp_path), str(tmp_path / "noisy"), "--sigma", "10")
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "noisy").iterdir()) == ["rgb.png"]


def test_help_lists_method_names(capsys):
    with pytest.raises(SystemExit):
        main(["demosaic", "--help"])
    out = capsys.readouterr().out
    for name in ("bilinear", "mhc", "menon", "opencv-bilinear", "opencv-ea", "opencv-vng"):
        assert name in out
    with pytest.raises(SystemExit):
        main(["denoise", "--help"])
    out = capsys.readouterr().out
    for name in ("bm3d", "nlm-opencv", "nlm-skimage", "tv"):
        assert name in out


def test_console_script_exit_code_and_single_line(tmp_path):
    r = subprocess.run(
        [
            sys.executable,
            "-m",
            "restorekit.cli.main",
            "denoise",
            str(tmp_path / "x.png"),
            str(tmp_path / "y.png"),
            "--sigma",
            "5",
        ],
        capture_output=True,
        text=True,
    )
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        f"restorekit denoise: error: '{tmp_path / 'x.png'}': no such file"
    ]
