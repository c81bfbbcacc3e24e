"""``restorekit look apply|fit|convert`` and ``restorekit film``."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import DATA, read_uint8, shared_images
from helpers import assert_one_line_error as _one_line_error
from helpers import run_cli as _run
from restorekit.film.lut import apply_lut, read_cube, read_hald, resample_lut, write_cube
from restorekit.io import read_image, write_image

LOOK = DATA / "looks" / "fuji-velvia-50.png"


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    from PIL import Image

    Image.fromarray(read_uint8(shared_images("test/color/Kodak24")[4])[:96, :128]).save(path)
    return path


@pytest.fixture
def cube(tmp_path):
    path = tmp_path / "look.cube"
    write_cube(path, resample_lut(read_hald(LOOK), 17))
    return path


def test_the_parser_imports_no_torch():
    import subprocess
    import sys

    from restorekit.cli.look import INTERPOLATIONS
    from restorekit.film import lut

    assert INTERPOLATIONS == lut.INTERPOLATIONS
    code = "import sys; from restorekit.cli.main import _build_parser; _build_parser(); "
    code += "print('torch' in sys.modules)"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.stdout.strip() == "False", done.stderr


def test_look_apply_equals_the_library(capsys, tmp_path, photo, cube):
    out = tmp_path / "out.png"
    assert _run(capsys, "look", "apply", photo, out, "--look", cube, "--strength", "0.6")[0] == 0
    x = read_image(photo)
    expected = (apply_lut(x, read_cube(cube), strength=0.6) * 255).round()
    assert torch.equal(read_image(out) * 255, expected)
    # a Hald image works as the look too, and folders map to folders
    (tmp_path / "in").mkdir()
    write_image(tmp_path / "in" / "a.png", x, bits=16)
    assert _run(capsys, "look", "apply", tmp_path / "in", tmp_path / "o", "--look", LOOK)[0] == 0
    y = read_image(tmp_path / "o" / "a.png")
    assert (y - apply_lut(x, read_hald(LOOK))).abs().max() < 1 / 65535 + 1e-7  # 16 bits kept


def test_look_convert_round_trip(capsys, tmp_path):
    assert _run(capsys, "look", "convert", LOOK, tmp_path / "v.cube")[0] == 0
    assert (
        _run(capsys, "look", "convert", tmp_path / "v.cube", tmp_path / "v.png", "--bits", "8")[0]
        == 0
    )
    assert np.array_equal(read_uint8(tmp_path / "v.png"), read_uint8(LOOK))


def test_look_fit_from_pairs(capsys, tmp_path):
    lut = read_hald(LOOK)
    for d in ("before", "after"):
        (tmp_path / d).mkdir()
    for p in shared_images("train/color/CBSD432", limit=4):
        x = torch.from_numpy(read_uint8(p)).permute(2, 0, 1)[None].float() / 255
        write_image(tmp_path / "before" / f"{p.stem}.png", x, bits=8)
        write_image(tmp_path / "after" / f"{p.stem}.png", apply_lut(x, lut), bits=8)
    out = tmp_path / "fit.cube"
    code, stdout, _ = _run(
        capsys, "look", "fit", "--pairs", tmp_path / "before", tmp_path / "after", "--out", out,
        "--size", "9",
    )  # fmt: skip
    assert code == 0 and "fitted a 9^3 LUT to 4 pairs" in stdout
    fitted = read_cube(out)
    x = read_image(tmp_path / "before" / sorted(p.name for p in (tmp_path / "before").iterdir())[0])
    assert (apply_lut(x, fitted) - apply_lut(x, lut)).abs().mean() < 2 / 255


def test_film_runs_the_pipeline(capsys, tmp_path, photo, cube):
    out = tmp_path / "film.png"
    argv = ["film", photo, out, "--look", cube, "--tone", "soft-negative", "--seed", "3"]
    assert _run(capsys, *argv)[0] == 0
    y = read_image(out)
    assert y.shape == read_image(photo).shape
    assert _run(capsys, *argv[:2], tmp_path / "again.png", *argv[3:])[0] == 0
    assert torch.equal(read_image(tmp_path / "again.png"), y)  # the seed decides the grain
    no_grain = tmp_path / "clean.png"
    assert _run(capsys, "film", photo, no_grain, "--look", cube, "--grain", "none")[0] == 0
    clean = read_image(no_grain)
    assert (y - clean).std() > 1 / 255  # grain was added


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("LUT_3D_SIZE 2\n0 0 0\n", "expected 2^3 (3D) = 8 table rows, got 1"),
        ("0 0 0\n" * 8, "no LUT_3D_SIZE"),
        ("LUT_3D_SIZE 2\n" + "0 0 x\n" * 8, "line 2: not a number"),
    ],
)
def test_bad_cube_one_line_no_output(capsys, tmp_path, photo, text, needle):
    bad = tmp_path / "bad.cube"
    bad.write_text(text)
    out = tmp_path / "out.png"
    for argv in (("look", "apply", photo, out, "--look", bad), ("film", photo, out, "--look", bad)):
        _one_line_error(*_run(capsys, *argv)[::2], needle)
        assert not out.exists()


def test_bad_arguments_one_line_no_output(capsys, tmp_path, photo, cube):
    out = tmp_path / "out.png"
    write_image(tmp_path / "notahald.png", torch.rand(1, 3, 30, 30), bits=8)
    cases = [
        (("look", "apply", photo, out, "--look", tmp_path / "notahald.png"), "square of side L^3"),
        (("look", "apply", photo, out, "--look", cube, "--strength", "1.2"), "--strength must be"),
        (("look", "apply", photo, out, "--look", cube, "--method", "cubic"), "unknown LUT interp"),
        (("film", photo, out, "--strength", "-0.1"), "--strength must be in [0, 1]"),
        (("film", photo, out, "--tone", "vivid"), "unknown tone preset 'vivid'"),
        (("film", photo, out, "--grain", "av1"), "--grain av1 needs --table"),
        (("film", photo, out, "--radius", "-1"), "--radius must"),
        (("film", photo, out, "--grain-amount", "2"), "--grain-amount must be in [0, 1]"),
        (("look", "convert", cube, tmp_path / "x.jpg"), "a look is written as"),
        (("look", "fit", "--pairs", tmp_path, tmp_path / "none", "--out", tmp_path / "f.cube"),
         "not a folder"),
    ]  # fmt: skip
    for argv, needle in cases:
        _one_line_error(*_run(capsys, *argv)[::2], needle)
        assert not out.exists() and not (tmp_path / "x.jpg").exists()
