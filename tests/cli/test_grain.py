"""``restorekit grain render|estimate|analyze``: engines, the AV1 path against dav1d, bad input."""

from __future__ import annotations

import json
import subprocess

import numpy as np
import pytest
import torch

from av1_tools import AOMENC, code_frame, stream_seed
from helpers import assert_one_line_error as _one_line_error
from helpers import read_uint8, shared_images
from helpers import run_cli as _run
from restorekit.film.av1 import AV1GrainParams, GrainTableEntry, write_grain_table
from restorekit.film.boolean import BooleanGrain, render_boolean
from restorekit.io import read_image, write_image


@pytest.fixture
def photo(tmp_path):
    path = tmp_path / "photo.png"
    crop = read_uint8(shared_images("test/color/Kodak24")[2])[:96, :128]
    from PIL import Image

    Image.fromarray(crop).save(path)
    return path


@pytest.fixture
def table(tmp_path):
    params = AV1GrainParams(
        scaling_points_y=((0, 20), (128, 60), (255, 30)),
        ar_coeff_lag=1,
        ar_coeffs_y=(10, 20, 30, 40),
        random_seed=1234,
        overlap_flag=True,
    )
    path = tmp_path / "t.tbl"
    write_grain_table(path, [GrainTableEntry(params=params)])
    return path, params


@pytest.mark.parametrize("engine", ["boolean", "gaussian", "boolean-reference"])
def test_render_engines(capsys, tmp_path, photo, engine):
    out = tmp_path / f"{engine}.png"
    argv = ["grain", "render", str(photo), str(out), "--engine", engine, "--seed", "3"]
    if engine == "boolean-reference":
        argv += ["--samples", "16"]
    code, _, err = _run(capsys, *argv)
    assert code == 0, err
    x, y = read_image(photo), read_image(out)
    assert y.shape == x.shape
    grain = y - x
    assert 0.02 < grain.std() < 0.3  # grain clearly there at the defaults (radius 0.5, blur 0.8)
    assert abs(grain.mean()) < 0.02  # and the picture unchanged on average


def test_render_per_channel_zoom_and_16_bit(capsys, tmp_path, photo):
    out = tmp_path / "z.tif"
    code, _, err = _run(
        capsys,
        *("grain", "render", str(photo), str(out), "--radius", "0.3,0.4,0.8", "--zoom", "2"),
        *("--bits", "16", "--quiet"),
    )
    assert code == 0, err
    y = read_image(out)
    assert y.shape[-2:] == (192, 256)
    from PIL import Image

    with Image.open(out) as im:
        assert im.mode.startswith("I;16") or im.mode == "RGB" or "16" in str(np.asarray(im).dtype)
    var = (y - y.mean(dim=(-2, -1), keepdim=True)).var(dim=(-2, -1))[0]
    assert var[2] > var[0]  # the coarse (radius 0.8) blue layer is the grainiest


def test_same_seed_same_output(capsys, tmp_path, photo):
    a, b, c = (tmp_path / f"{n}.png" for n in "abc")
    for path, seed in ((a, "1"), (b, "1"), (c, "2")):
        assert _run(capsys, "grain", "render", str(photo), str(path), "--seed", seed)[0] == 0
    assert torch.equal(read_image(a), read_image(b))
    assert not torch.equal(read_image(a), read_image(c))


def test_av1_gray_render_equals_dav1d(capsys, tmp_path, table):
    """A gray picture is the luma plane of a monochrome stream: our render equals dav1d's."""
    path, params = table
    gray = read_uint8(shared_images("test/gray/Set12")[0])[:72, :104]
    src = tmp_path / "gray.png"
    write_image(src, torch.from_numpy(gray / 255.0)[None, None].float())
    clean, grained = code_frame(tmp_path, (gray, None, None), path)
    assert np.array_equal(clean[0], gray)  # lossless
    out = tmp_path / "out.png"
    render = ("grain", "render", str(src), str(out), "--engine", "av1", "--table", str(path))
    code, _, err = _run(capsys, *render)
    assert code == 0, err
    assert np.array_equal(read_uint8(out), grained[0])
    # --seed is the stream's seed: the stream's own gives the same picture, another does not
    assert _run(capsys, *render, "--seed", str(stream_seed(params.random_seed)))[0] == 0
    assert np.array_equal(read_uint8(out), grained[0])
    assert _run(capsys, *render, "--seed", "5")[0] == 0
    assert not np.array_equal(read_uint8(out), grained[0])


def test_estimate_writes_a_table_aomenc_accepts_and_json(capsys, tmp_path):
    yy, xx = torch.meshgrid(torch.linspace(0, 1, 256), torch.linspace(0, 1, 256), indexing="ij")
    x = (0.2 + 0.6 * xx)[None, None].contiguous()
    scan = tmp_path / "scan.png"
    write_image(
        scan, render_boolean(x, BooleanGrain(0.6, 0, 0.9), torch.Generator().manual_seed(0))
    )
    tbl, js = tmp_path / "fit.tbl", tmp_path / "fit.json"
    code, out, err = _run(
        capsys, "grain", "estimate", str(scan), "--table", str(tbl), "--json", str(js)
    )
    assert code == 0, err
    assert "Boolean radius" in out and "flat blocks" in out
    fits = json.loads(js.read_text())
    assert abs(fits["boolean"][0]["radius"] / 0.6 - 1) < 0.1  # 8-bit file, one ramp
    y4m = tmp_path / "src.y4m"
    y4m.write_bytes(b"YUV4MPEG2 W64 H48 F25:1 Ip A1:1 Cmono\nFRAME\n" + bytes(64 * 48))
    run = subprocess.run(
        [
            *(AOMENC, "--monochrome", f"--film-grain-table={tbl}", "--limit=1", "--cpu-used=8"),
            *("--ivf", "-q", "-o", str(tmp_path / "o.ivf"), str(y4m)),
        ],
        capture_output=True,
        text=True,
    )
    assert run.returncode == 0, run.stderr[-300:]


def test_analyze_writes_a_page(capsys, tmp_path):
    x = torch.full((1, 1, 128, 128), 0.5)
    img = tmp_path / "flat.png"
    write_image(img, render_boolean(x, BooleanGrain(), torch.Generator().manual_seed(0)))
    code, out, err = _run(capsys, "grain", "analyze", str(img), "--out", str(tmp_path / "rep"))
    assert code == 0, err
    page = (tmp_path / "rep" / "index.html").read_text()
    assert ".png" in page and "open" in out


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("--radius", "-1"), "--radius must be a finite number > 0"),
        (("--blur", "0"), "--blur must be a finite number > 0"),
        (("--samples", "0"), "--samples must be >= 1"),
        (("--radius-sigma", "-0.5"), "--radius-sigma must be a finite number >= 0"),
        (("--radius", "0.4,0.5"), "--radius has 2 values; the image has 3 channels"),
        (("--engine", "boolen"), "unknown grain engine 'boolen'; known: boolean"),
        (("--engine", "av1"), "--engine av1 needs --table"),
        (("--zoom", "0"), "--zoom must be a finite number > 0"),
        (("--engine", "gaussian", "--radius-sigma", "0.1"), "--radius-sigma must be 0"),
    ],
)
def test_render_bad_arguments(capsys, tmp_path, photo, args, needle):
    out = tmp_path / "o.png"
    code, _, err = _run(capsys, "grain", "render", str(photo), str(out), *args)
    _one_line_error(code, err, needle)
    assert not out.exists()


@pytest.mark.parametrize(
    ("text", "needle"),
    [
        ("filmgrn2\n", "filmgrn1"),
        (
            "filmgrn1\nE 0 9223372036854775807 1 7391 1\n\tp 3 7 0 11 0 1 128 192 256 128 192 256\n"
            "\tsY 1 0 20\n\tsCb 0\n\tsCr 0\n\tcY 1 2 3\n\tcCb 0\n\tcCr 0\n",
            "line",
        ),
        (
            "filmgrn1\nE 0 9223372036854775807 1 7391 1\n"
            "\tp 0 12 0 11 0 1 128 192 256 128 192 256\n\tsY 1 0 20\n\tsCb 0\n\tsCr 0\n"
            "\tcY\n\tcCb 0\n\tcCr 0\n",
            "ar_coeff_shift",
        ),
    ],
)
def test_render_bad_tables(capsys, tmp_path, photo, text, needle):
    bad = tmp_path / "bad.tbl"
    bad.write_text(text)
    out = tmp_path / "o.png"
    code, _, err = _run(
        capsys, "grain", "render", str(photo), str(out), "--engine", "av1", "--table", str(bad)
    )
    _one_line_error(code, err, needle)
    assert not out.exists()


def test_estimate_without_a_flat_block(capsys, tmp_path, photo):
    busy = tmp_path / "busy.png"
    from PIL import Image

    Image.fromarray(read_uint8(shared_images("test/color/Kodak24")[4])[:128, :128]).save(busy)
    js = tmp_path / "o.json"
    code, _, err = _run(capsys, "grain", "estimate", str(busy), "--json", str(js))
    _one_line_error(code, err, "no flat block")
    assert not js.exists()
