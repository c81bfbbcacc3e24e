"""3D LUTs: apply against colour-science, .cube and Hald files, ffmpeg's lut3d on our .cube."""

from __future__ import annotations

import re
import shutil
import subprocess

import numpy as np
import pytest
import torch

from helpers import DATA, assert_close, read_uint8, shared_images, to_tensor
from restorekit.errors import ImageFileError, RestorekitError
from restorekit.film.lut import (
    LUT1D,
    LUT3D,
    apply_lut,
    identity_lut,
    lut_stencil,
    read_cube,
    read_hald,
    read_lut,
    resample_lut,
    write_cube,
    write_hald,
)

LOOKS = sorted((DATA / "looks").glob("*.png"))


def _as_image(v: np.ndarray, dtype=torch.float32) -> torch.Tensor:
    """(P, 3) colours -> (1, 3, 1, P)."""
    return torch.tensor(v, dtype=dtype).T.reshape(1, 3, 1, -1)


def _as_rows(x: torch.Tensor) -> np.ndarray:
    return x[0].reshape(3, -1).T.double().numpy()


@pytest.fixture(scope="module")
def looks() -> list[LUT3D]:
    if not LOOKS:
        pytest.skip("no Hald looks in ../shared/data/looks")
    return [read_hald(p) for p in LOOKS]


@pytest.fixture(scope="module")
def colours() -> np.ndarray:
    rng = np.random.default_rng(0)
    v = rng.random((100_000, 3))
    v[:500] = np.round(v[:500] * 8) / 8  # on grid nodes and cell faces
    v[500:1000, 1] = v[500:1000, 0]  # ties between fractions
    v[1000:1100] = v[1000:1100, :1]  # the grey axis
    return v


@pytest.mark.parametrize("method", ["tetrahedral", "trilinear"])
def test_apply_matches_colour_science(looks, colours, method):
    import colour
    from colour.algebra import table_interpolation_tetrahedral, table_interpolation_trilinear

    interpolator = {
        "tetrahedral": table_interpolation_tetrahedral,
        "trilinear": table_interpolation_trilinear,
    }[method]
    for lut in [*looks, resample_lut(looks[0], 33)]:
        ref = colour.LUT3D(lut.table.double().numpy()).apply(colours, interpolator=interpolator)
        ours = _as_rows(apply_lut(_as_image(colours), lut, method))
        assert_close(ours, ref, atol=1e-5, msg=f"{lut.title} {method}")


def test_apply_domain_and_clipping_match_colour_science(colours):
    import colour

    rng = np.random.default_rng(1)
    table = rng.random((5, 5, 5, 3))
    domain = ((-0.1, 0.0, 0.2), (1.5, 2.0, 1.2))
    v = colours * 2.4 - 0.5  # partly outside the domain: clipped to it
    ref = colour.LUT3D(table, domain=np.array(domain)).apply(v)
    lut = LUT3D(torch.tensor(table), domain)
    assert_close(_as_rows(apply_lut(_as_image(v, torch.float64), lut, "trilinear")), ref, 1e-12)


@pytest.mark.parametrize("size", [2, 3, 17, 33, 65])
@pytest.mark.parametrize("method", ["tetrahedral", "trilinear"])
def test_identity_returns_input(size, method, colours):
    x = _as_image(colours)
    assert_close(apply_lut(x, identity_lut(size), method), x, atol=1e-6)


def test_strength_blends_and_batches(looks):
    lut = resample_lut(looks[0], 17)
    x = torch.rand(3, 3, 9, 11)
    full = apply_lut(x, lut)
    assert_close(apply_lut(x, lut, strength=0.3), x + 0.3 * (full - x), atol=1e-6)
    assert torch.equal(apply_lut(x, lut, strength=0), x)
    for b in range(3):  # each image of a batch on its own
        assert_close(apply_lut(x[b : b + 1], lut), full[b : b + 1], atol=0)


def test_chunks_do_not_change_the_result(looks):
    x = torch.rand(1, 3, 37, 31)
    assert_close(apply_lut(x, looks[1], chunk=100), apply_lut(x, looks[1]), atol=0)


def test_stencil_is_the_apply(looks, colours):
    lut = resample_lut(looks[2], 9)
    v = torch.tensor(colours[:2000], dtype=torch.float64)
    table = lut.table.double().reshape(-1, 3)
    for method in ("tetrahedral", "trilinear"):
        idx, w = lut_stencil(v, lut, method)
        assert_close(w.sum(dim=1), torch.ones(len(v)), atol=1e-12)
        assert bool((w >= -1e-12).all())
        via = (w[:, :, None] * table[idx]).sum(dim=1)
        ours = apply_lut(v.T.reshape(1, 3, 1, -1), LUT3D(lut.table.double()), method)
        assert_close(via, ours[0].reshape(3, -1).T, atol=1e-12)


def test_gradients_flow_to_image_and_table():
    table = identity_lut(5, torch.float64).table.clone().requires_grad_(True)
    x = torch.rand(1, 3, 4, 4, dtype=torch.float64) * 0.9 + 0.05
    x.requires_grad_(True)
    for method in ("tetrahedral", "trilinear"):
        assert torch.autograd.gradcheck(
            lambda t, im, m=method: apply_lut(im, LUT3D(t), m, strength=0.7),
            (table, x),
            eps=1e-7,
            atol=1e-5,
        )


def test_shaper_matches_colour_science_sequence(tmp_path, colours):
    """A Resolve .cube with a 1D shaper, as colour-science writes it, reads and applies the same."""
    import colour

    rng = np.random.default_rng(2)
    shaper = colour.LUT3x1D(np.sort(rng.random((16, 3)), axis=0) * 0.8 + 0.1)
    cube = colour.LUT3D(colour.LUT3D.linear_table(9) ** 0.8)
    path = tmp_path / "shaped.cube"
    colour.write_LUT(colour.LUTSequence(shaper, cube), str(path), method="Resolve Cube")
    ref = colour.read_LUT(str(path)).apply(colours)
    lut = read_cube(path)
    assert isinstance(lut, LUT3D) and lut.shaper is not None and lut.shaper.size == 16
    ours = _as_rows(apply_lut(_as_image(colours, torch.float64), lut, "trilinear"))
    assert_close(ours, ref, atol=1e-5)
    # and our writer keeps it: write, read back, same result
    write_cube(tmp_path / "again.cube", lut)
    again = read_cube(tmp_path / "again.cube")
    assert_close(again.table, lut.table, atol=1e-6)
    assert_close(again.shaper.table, lut.shaper.table, atol=1e-6)


def test_cube_written_is_read_by_colour_science(tmp_path, looks):
    import colour

    lut = resample_lut(looks[0], 17)
    path = tmp_path / "look.cube"
    write_cube(path, lut, title="velvia test")
    theirs = colour.read_LUT(str(path))
    assert theirs.name == "velvia test"
    assert_close(theirs.table, lut.table, atol=1e-6)
    ours = read_cube(path)
    assert ours.title == "velvia test"
    assert_close(ours.table, lut.table, atol=1e-6)


def test_cube_domain_and_1d_only(tmp_path):
    lut = LUT3D(identity_lut(3).table * 2 - 0.5, ((-0.5, 0, 0), (1.5, 2, 1)))
    write_cube(tmp_path / "d.cube", lut)
    back = read_cube(tmp_path / "d.cube")
    assert back.domain == lut.domain
    one = LUT1D(torch.linspace(0, 1, 11)[:, None].repeat(1, 3) ** 2)
    write_cube(tmp_path / "one.cube", one)
    back1 = read_cube(tmp_path / "one.cube")
    assert isinstance(back1, LUT1D)
    x = torch.rand(1, 3, 5, 5)
    assert_close(apply_lut(x, back1), apply_lut(x, one), atol=1e-6)


def test_hald_cube_hald_is_lossless(tmp_path, looks):
    """8-bit Hald -> .cube -> 8-bit Hald gives the same pixels; 16-bit the same at 16 bits."""
    src = LOOKS[0]
    lut = read_hald(src)
    write_cube(tmp_path / "a.cube", lut)
    write_hald(tmp_path / "b.png", read_cube(tmp_path / "a.cube"), bits=8)
    assert np.array_equal(read_uint8(tmp_path / "b.png"), read_uint8(src))
    small = resample_lut(lut, 16)  # level 4
    write_hald(tmp_path / "c16.png", small, bits=16)
    write_cube(tmp_path / "c.cube", read_hald(tmp_path / "c16.png"))
    write_hald(tmp_path / "d16.tif", read_cube(tmp_path / "c.cube"), bits=16)
    a = read_hald(tmp_path / "c16.png").table
    b = read_hald(tmp_path / "d16.tif").table
    assert torch.equal((a * 65535).round(), (b * 65535).round())


def test_hald_identity_layout(tmp_path):
    """Pixel k of an identity Hald image holds (k mod N, k div N mod N, k div N^2) / (N - 1)."""
    write_hald(tmp_path / "id.png", identity_lut(4), bits=8)  # level 2: 8x8 pixels
    img = read_uint8(tmp_path / "id.png").reshape(-1, 3).astype(int)
    k = np.arange(64)
    expected = np.stack([k % 4, k // 4 % 4, k // 16], axis=1) * 85
    assert np.array_equal(img, expected)


def test_cube_to_hald_resamples(tmp_path):
    lut = LUT3D(identity_lut(33).table ** 1.2)
    write_hald(tmp_path / "h.png", lut)  # level 6 (36 entries)
    back = read_hald(tmp_path / "h.png")
    assert back.size == 36
    x = torch.rand(1, 3, 20, 20)
    assert (apply_lut(x, back) - apply_lut(x, lut)).abs().max() < 2e-3


@pytest.mark.parametrize("method", ["tetrahedral", "trilinear"])
def test_ffmpeg_lut3d_applies_our_cube_as_we_do(tmp_path, looks, method):
    ffmpeg = shutil.which("ffmpeg")
    assert ffmpeg, "ffmpeg is missing: `make test` installs it (Debian package ffmpeg)"
    lut = resample_lut(looks[1], 33)
    write_cube(tmp_path / "look.cube", lut)
    for src in shared_images("test/color/Kodak24", limit=2):
        out = tmp_path / f"{src.stem}.png"
        subprocess.run(
            [ffmpeg, "-y", "-loglevel", "error", "-i", str(src), "-vf",
             f"lut3d=file={tmp_path / 'look.cube'}:interp={method}", "-pix_fmt", "rgb24", str(out)],
            check=True,
        )  # fmt: skip
        theirs = to_tensor(read_uint8(out))
        ours = apply_lut(to_tensor(read_uint8(src)), read_cube(tmp_path / "look.cube"), method)
        assert (theirs - ours).abs().max() <= 1 / 255 + 1e-6


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("LUT_3D_SIZE 2\n0 0 0\n1 0 0\n", "expected 2^3 (3D) = 8 table rows, got 2"),
        ('TITLE "x"\n0 0 0\n', "no LUT_3D_SIZE or LUT_1D_SIZE"),
        ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 7 + "0 zero 0\n", "line 9: not a number"),
        ("LUT_3D_SIZE 2\n" + "0 0 0\n" * 7 + "0 0\n", "line 9: expected 3 numbers, got 2"),
        ("LUT_3D_SIZE 1\n0 0 0\n", "LUT_3D_SIZE must be an integer in [2, 256]"),
        ("LUT_3D_SIZE 2\nFOO 1\n", "unknown keyword 'FOO'"),
        ("LUT_3D_SIZE 2\nDOMAIN_MIN 1 1 1\n" + "0 0 0\n" * 8, "minima below maxima"),
        ("LUT_3D_SIZE 2\n" + "0 0 nan\n" * 8, "values must be finite"),
    ],
)
def test_bad_cube_is_one_clear_error(tmp_path, text, message):
    path = tmp_path / "bad.cube"
    path.write_text(text)
    with pytest.raises(ImageFileError, match=re.escape(message)):
        read_cube(path)


def test_bad_hald_and_bad_arguments(tmp_path):
    from restorekit.io import write_image

    write_image(tmp_path / "odd.png", torch.rand(1, 3, 30, 30), bits=8)
    with pytest.raises(ImageFileError, match="square of side L\\^3"):
        read_hald(tmp_path / "odd.png")
    with pytest.raises(ImageFileError, match="not a LUT file"):
        read_lut(tmp_path / "odd.jpg")
    with pytest.raises(ImageFileError, match="no such file"):
        read_lut(tmp_path / "none.cube")
    x = torch.rand(1, 3, 4, 4)
    with pytest.raises(RestorekitError, match=re.escape("strength must be in [0, 1], got 1.5")):
        apply_lut(x, identity_lut(3), strength=1.5)
    with pytest.raises(RestorekitError, match="unknown LUT interpolation 'cubic'"):
        apply_lut(x, identity_lut(3), method="cubic")
    with pytest.raises(RestorekitError, match="3 channels"):
        apply_lut(torch.rand(1, 1, 4, 4), identity_lut(3))
    with pytest.raises(RestorekitError, match="N >= 2"):
        LUT3D(torch.zeros(1, 1, 1, 3))
