"""The shipped demosaicer through the command line: default method, every CFA, --model, export."""

from __future__ import annotations

import pytest
import torch

from helpers import run_cli as _run
from helpers import shared_images
from restorekit.degrade import CFA, mosaic
from restorekit.io import read_image, write_image
from restorekit.metrics import cpsnr
from restorekit.models import build, save_model


@pytest.fixture(scope="module")
def kodak():
    return read_image(shared_images("test/color/Kodak24")[0], mode="rgb")


@pytest.mark.parametrize("cfa", [c.value for c in CFA])
def test_default_method_is_the_shipped_cnn_and_beats_mhc_on_every_layout(
    capsys, tmp_path, kodak, cfa
):
    raw_path = tmp_path / "raw.png"
    write_image(raw_path, mosaic(kodak, cfa))
    scores = {}
    for method in ("learned", "mhc"):
        out = tmp_path / f"{method}.png"
        args = ["demosaic", str(raw_path), str(out), "--cfa", cfa]
        code, _, err = _run(capsys, *args, *(["--method", method] if method == "mhc" else []))
        assert code == 0, err
        scores[method] = float(cpsnr(read_image(out).double(), kodak.double(), crop=10)[0])
    assert scores["learned"] > scores["mhc"] + 1.0, scores


def test_a_trained_model_file_can_be_used(capsys, tmp_path, kodak):
    raw_path = tmp_path / "raw.png"
    write_image(raw_path, mosaic(kodak[..., :64, :64], "RGGB"))
    model = build("demosaicnet", channels=8, depth=1)
    save_model(tmp_path / "m.safetensors", model)
    out = tmp_path / "out.png"
    code, _, err = _run(
        capsys, "demosaic", str(raw_path), str(out), "--model", str(tmp_path / "m.safetensors")
    )
    assert code == 0, err
    assert out.is_file()


@pytest.mark.parametrize(
    ("make", "needle"),
    [
        (lambda p: p.write_bytes(b"not weights"), "not a safetensors file"),
        (lambda p: None, "no such file"),
    ],
)
def test_bad_model_files_are_one_line(capsys, tmp_path, make, needle):
    raw_path = tmp_path / "raw.png"
    write_image(raw_path, torch.rand(1, 1, 16, 16))
    model = tmp_path / "m.safetensors"
    make(model)
    out = tmp_path / "out.png"
    code, _, err = _run(capsys, "demosaic", str(raw_path), str(out), "--model", str(model))
    assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err, err
    assert not out.exists()


def test_model_flag_needs_the_learned_method(capsys, tmp_path):
    raw_path = tmp_path / "raw.png"
    write_image(raw_path, torch.rand(1, 1, 16, 16))
    code, _, err = _run(
        capsys,
        "demosaic",
        str(raw_path),
        str(tmp_path / "o.png"),
        "--method",
        "mhc",
        "--model",
        "x",
    )
    assert code == 2 and "--model needs --method learned" in err


@pytest.mark.slow
def test_export_the_shipped_model(capsys, tmp_path):
    pytest.importorskip("onnxruntime")
    out = tmp_path / "demosaic.onnx"
    code, stdout, err = _run(capsys, "export", "demosaic", str(out), "--cfa", "BGGR")
    assert code == 0, err
    assert out.is_file() and "max abs difference" in stdout
    diff = float(stdout.rsplit("difference", 1)[1].strip())
    assert diff < 1e-4
