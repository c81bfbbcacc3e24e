"""``restorekit develop``: a camera raw in, an sRGB image out, one-line errors."""

from __future__ import annotations

import pytest
import torch

from helpers import DATA
from helpers import assert_one_line_error as _assert_one_line_error
from helpers import run_cli as _run
from restorekit.cli.main import main
from restorekit.io import read_image_with_depth, write_image

pytest.importorskip("rawpy")

DC50 = DATA / "raw" / "kodak_dc50.kdc"


@pytest.fixture
def dc50():
    if not DC50.is_file():
        pytest.skip(f"{DC50} not found")
    return DC50


def test_develop_writes_an_8bit_srgb_png(capfd, dc50, tmp_path):
    out = tmp_path / "dc50.png"
    code, stdout, err = _run(capfd, "develop", str(dc50), str(out))
    assert code == 0, err
    x, bits = read_image_with_depth(out)
    assert bits == 8 and x.shape == (1, 3, 512, 768)
    line = stdout.strip()
    assert len(line.splitlines()) == 1
    for part in ("768x512", "CFA GRBG", "WB camera", "matrix kodak_tag_37400", "learned", " s"):
        assert part in line, line


def test_develop_16bit_without_white_balance(capfd, dc50, tmp_path):
    out = tmp_path / "dc50.tif"
    code, stdout, err = _run(
        capfd,
        "develop",
        str(dc50),
        str(out),
        "--bits",
        "16",
        "--wb",
        "none",
        "--method",
        "bilinear",
    )
    assert code == 0, err
    assert read_image_with_depth(out)[1] == 16
    assert "WB none" in stdout and "bilinear" in stdout


def test_jpeg_output_is_8bit(capfd, dc50, tmp_path):
    out = tmp_path / "dc50.jpg"
    code, _, err = _run(capfd, "develop", str(dc50), str(out), "--bits", "16")
    assert code == 0, err
    assert read_image_with_depth(out)[1] == 8


def test_missing_file(capfd, tmp_path):
    out = tmp_path / "o.png"
    code, _, err = _run(capfd, "develop", str(tmp_path / "none.dng"), str(out))
    _assert_one_line_error(code, err, "no such file")
    assert not out.exists()


@pytest.mark.parametrize("kind", ["text.dng", "image.png", "truncated.kdc"])
def test_not_a_raw(capfd, dc50, tmp_path, kind):
    src = tmp_path / kind
    if kind == "text.dng":
        src.write_text("hello, not a raw\n")
    elif kind == "image.png":
        write_image(src, torch.rand(1, 3, 16, 16))
    else:
        src.write_bytes(dc50.read_bytes()[:40000])
    out = tmp_path / "o.png"
    code, _, err = _run(capfd, "develop", str(src), str(out))
    _assert_one_line_error(code, err, "not a camera raw file LibRaw can read")
    assert not out.exists()
    assert not list(tmp_path.glob("*.part"))


def test_bad_output_type_fails_before_reading(capfd, tmp_path):
    # the input does not exist either: the output is checked first
    code, _, err = _run(capfd, "develop", str(tmp_path / "x.dng"), str(tmp_path / "o.bmp"))
    _assert_one_line_error(code, err, "unsupported output type .bmp")


def test_unknown_method(capfd, dc50, tmp_path):
    out = tmp_path / "o.png"
    code, _, err = _run(capfd, "develop", str(dc50), str(out), "--method", "mch")
    _assert_one_line_error(code, err, "unknown demosaic method 'mch'; known: mhc")
    assert not out.exists()


def test_bad_wb_flag_is_one_line(capfd, dc50, tmp_path):
    with pytest.raises(SystemExit) as e:
        main(["develop", str(dc50), str(tmp_path / "o.png"), "--wb", "auto"])
    assert e.value.code == 2
    assert len(capfd.readouterr().err.strip().splitlines()) == 1
