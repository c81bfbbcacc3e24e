"""``restorekit upscale``: the shipped models by default, short names, model files, refusals."""

from __future__ import annotations

import pytest
import torch

from helpers import assert_one_line_error as _one_line
from helpers import run_cli as _run
from restorekit.io import read_image, write_image
from restorekit.models.sr import load_upscaler, upscale_learned


@pytest.fixture
def small_png(tmp_path):
    path = tmp_path / "small.png"
    write_image(path, torch.rand(1, 3, 20, 28, generator=torch.Generator().manual_seed(0)))
    return path


def test_default_is_the_shipped_model_of_the_scale(capsys, small_png, tmp_path):
    out = tmp_path / "big.png"
    code, _, err = _run(capsys, "upscale", str(small_png), str(out), "--scale", "4")
    assert code == 0, err
    x = read_image(small_png)
    want = (upscale_learned(x, model=load_upscaler(4)).clamp(0, 1) * 255).round() / 255
    assert torch.equal(read_image(out), want.to(torch.float32))


def test_gray_images_go_through_the_rgb_model(capsys, tmp_path):
    src = tmp_path / "g.png"
    write_image(src, torch.rand(1, 1, 12, 10))
    code, _, err = _run(capsys, "upscale", str(src), str(tmp_path / "o.png"), "--scale", "2")
    assert code == 0, err
    assert read_image(tmp_path / "o.png").shape == (1, 1, 24, 20)


def test_classical_methods_take_any_scale(capsys, small_png, tmp_path):
    out = tmp_path / "o.png"
    code, _, err = _run(
        capsys, "upscale", str(small_png), str(out), "--scale", "2.5", "--method", "bicubic"
    )
    assert code == 0, err
    assert read_image(out).shape == (1, 3, 50, 70)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--scale", "5"], "no shipped upscaler for --scale 5; the shipped scales: 2, 3, 4"),
        (["--scale", "2.5"], "--scale 2.5: learned models upscale by an integer"),
        (["--model", "x4", "--scale", "2"], "the model x4 was trained for x4 only"),
        (["--model", "nope"], "--model 'nope': no shipped upscaler of that name"),
        (["--scale", "2", "--method", "lanczos"], "unknown upscale method 'lanczos'"),
        (["--scale", "4", "--max-megapixels", "0.001"], "over the limit of 0.001"),
    ],
)
def test_refusals_are_one_line_and_write_nothing(capsys, small_png, tmp_path, argv, needle):
    out = tmp_path / "o.png"
    code, _, err = _run(capsys, "upscale", str(small_png), str(out), *argv)
    _one_line(code, err, needle)
    assert not out.exists()


def test_a_model_file_of_another_task_is_refused(capsys, small_png, tmp_path):
    from restorekit.models.pretrained import pretrained_path

    out = tmp_path / "o.png"
    code, _, err = _run(
        capsys, "upscale", str(small_png), str(out), "--model", str(pretrained_path("demosaic"))
    )
    _one_line(code, err, "holds a 'demosaicnet' model, expected 'srnet'")
    assert not out.exists()


def test_export_writes_an_upscaler_as_onnx(capsys, tmp_path):
    pytest.importorskip("onnxscript")
    code, out, err = _run(capsys, "export", "sr-x2", str(tmp_path / "x2.onnx"))
    assert code == 0, err
    assert "(N, 3, H, W) -> (N, 3, 2H, 2W)" in out
    code, _, err = _run(capsys, "export", "oct", str(tmp_path / "o.onnx"))
    _one_line(code, err, "no such file")
