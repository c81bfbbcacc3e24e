"""restorekit.io.raw on the Kodak DC50 raw in ../shared/data/raw, with LibRaw (rawpy) live as the
reference for every number it can give."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from helpers import DATA, assert_close
from restorekit.color import SRGB_TO_XYZ_D65
from restorekit.degrade import CFA
from restorekit.errors import ImageFileError, RestorekitError
from restorekit.io.raw import (
    RawImage,
    apply_flip,
    camera_to_srgb_matrix,
    cfa_from_pattern,
    develop,
    read_raw,
    white_balance_mosaic,
)
from restorekit.metrics import psnr, ssim

rawpy = pytest.importorskip("rawpy")

DC50 = DATA / "raw" / "kodak_dc50.kdc"


@pytest.fixture(scope="module")
def path():
    if not DC50.is_file():
        pytest.skip(f"{DC50} not found")
    return DC50


@pytest.fixture(scope="module")
def raw(path) -> RawImage:
    return read_raw(path)


def _libraw(path, algorithm="LINEAR", flip=0, **kw) -> torch.Tensor:
    """LibRaw's own development, float32 (1, 3, H, W) in [0, 1]."""
    args = dict(
        use_camera_wb=True,
        no_auto_bright=True,
        output_bps=16,
        gamma=(2.4, 12.92),
        output_color=rawpy.ColorSpace.sRGB,
        demosaic_algorithm=getattr(rawpy.DemosaicAlgorithm, algorithm),
        user_flip=flip,
    )
    args.update(kw)
    with rawpy.imread(str(path)) as r:
        out = r.postprocess(**args)
    return torch.from_numpy(out.astype(np.float32) / 65535).permute(2, 0, 1)[None].contiguous()


# --- reading -----------------------------------------------------------------------------------


def test_dc50_layout_and_levels(raw):
    assert raw.cfa is CFA.GRBG
    assert raw.shape == (512, 768)
    assert raw.mosaic.shape == (1, 1, 512, 768) and raw.mosaic.dtype == torch.float32
    assert raw.mosaic.min().item() >= 0.0 and raw.mosaic.max().item() == 1.0  # it clips
    # what LibRaw reports for this file: no black level, a 14-bit white level
    assert raw.black_levels == (0.0, 0.0, 0.0, 0.0)
    assert raw.white_level == 16383 and raw.bits == 14
    assert raw.flip == 0


def test_dc50_white_balance_and_matrix(raw):
    # LibRaw reports camera WB 1, 1, 1, 1 for the DC50 (the file records none it decodes) and an
    # all-zero rgb_xyz_matrix; the colour matrix is the one the KDC file stores in tag 37400.
    assert raw.camera_wb == (1.0, 1.0, 1.0) and raw.wb_source == "camera"
    assert raw.metadata["rgb_xyz_matrix"] == [[0.0] * 3] * 4
    assert raw.matrix_source == "kodak_tag_37400"
    expected = [[1.8125, -0.3365, -0.476], [-0.435, 1.852, -0.417], [-0.676, -1.393, 3.069]]
    assert_close(raw.camera_to_srgb, expected, atol=1e-12)


def test_mosaic_is_libraw_values_scaled(raw, path):
    with rawpy.imread(str(path)) as r:
        values = r.raw_image_visible.astype(np.float64)
        colors = r.raw_colors_visible[:2, :2]
        desc = r.color_desc.decode()
    assert_close(raw.mosaic[0, 0], np.clip(values / 16383, 0, 1), atol=1e-7)
    assert "".join(desc[c] for c in colors.ravel()) == raw.cfa.value


def test_kodak_matrix_is_the_one_libraw_applies(raw, path):
    # LibRaw's linear camera-RGB output times our matrix == LibRaw's linear sRGB output
    # (measured 105 dB; LibRaw rounds to 16 bits at each step)
    cam = _libraw(path, gamma=(1, 1), output_color=rawpy.ColorSpace.raw).double()
    srgb = _libraw(path, gamma=(1, 1)).double()
    ours = torch.einsum("ij,bjhw->bihw", raw.camera_to_srgb, cam).clamp(0, 1)
    assert psnr(ours, srgb).item() > 90


class _Patched:
    """A rawpy RawPy with some attributes replaced: files we do not have (X-Trans, CYGM...)."""

    def __init__(self, raw, **overrides):
        self._raw, self._overrides = raw, overrides

    def __getattr__(self, name):
        return self._overrides[name] if name in self._overrides else getattr(self._raw, name)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self._raw.close()


def _patch(monkeypatch, **overrides):
    imread = rawpy.imread
    monkeypatch.setattr(rawpy, "imread", lambda p: _Patched(imread(p), **overrides))


def test_wb_falls_back_to_daylight_then_to_unity(monkeypatch, path):
    _patch(monkeypatch, camera_whitebalance=[0.0] * 4, daylight_whitebalance=[2.0, 1.0, 1.5, 0])
    r = read_raw(path)
    assert r.wb_source == "daylight" and r.camera_wb == (2.0, 1.0, 1.5)
    _patch(monkeypatch, camera_whitebalance=[0.0] * 4, daylight_whitebalance=[0.0] * 4)
    r = read_raw(path)
    assert r.wb_source == "none" and r.camera_wb == (1.0, 1.0, 1.0)


def test_camera_wb_is_normalised_to_green(monkeypatch, path):
    _patch(monkeypatch, camera_whitebalance=[1024.0, 512.0, 768.0, 512.0])
    assert read_raw(path).camera_wb == (2.0, 1.0, 1.5)


def test_rgb_xyz_matrix_wins_over_the_kodak_tag(monkeypatch, path):
    cam_xyz = np.vstack([np.linalg.inv(np.array(SRGB_TO_XYZ_D65)), np.zeros((1, 3))])
    _patch(monkeypatch, rgb_xyz_matrix=cam_xyz)
    r = read_raw(path)
    assert r.matrix_source == "rgb_xyz_matrix"
    assert_close(r.camera_to_srgb, torch.eye(3), atol=1e-9)


def test_black_levels_are_mapped_through_the_pattern(monkeypatch, path):
    # colour indices R=0 G=1 B=2 G2=3; the DC50 tile is [[1, 0], [2, 3]] = G R / B G2
    _patch(monkeypatch, black_level_per_channel=[100, 200, 300, 400])
    r = read_raw(path)
    assert r.black_levels == (200.0, 100.0, 300.0, 400.0)
    with rawpy.imread(str(path)) as f:
        v = f.raw_image_visible.astype(np.float64)
    black = np.tile([[200.0, 100.0], [300.0, 400.0]], (256, 384))
    assert_close(r.mosaic[0, 0], np.clip((v - black) / (16383 - black), 0, 1), atol=1e-6)


@pytest.mark.parametrize(
    ("overrides", "needle"),
    [
        ({"raw_pattern": np.zeros((6, 6), np.uint8)}, "6x6 colour filter pattern (Fuji X-Trans?)"),
        ({"color_desc": b"GMCY"}, "colour filters MGCY (e.g. CYGM)"),
        ({"raw_pattern": None}, "no colour filter pattern"),
    ],
)
def test_non_bayer_sensors_are_refused(monkeypatch, path, overrides, needle):
    _patch(monkeypatch, **overrides)
    with pytest.raises(ImageFileError) as e:
        read_raw(path)
    msg = str(e.value)
    assert "\n" not in msg and needle in msg and "Bayer" in msg, msg


def test_demosaiced_raws_are_refused(monkeypatch, path):
    _patch(monkeypatch, raw_type=rawpy.RawType.Stack)
    with pytest.raises(ImageFileError, match="not a Bayer mosaic"):
        read_raw(path)


# --- the pure helpers --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("pattern", "desc", "top", "left", "expected"),
    [
        ([[1, 0], [2, 3]], b"RGBG", 0, 0, CFA.GRBG),  # the DC50
        ([[0, 1], [3, 2]], b"RGBG", 0, 0, CFA.RGGB),
        ([[2, 3], [1, 0]], b"RGBG", 0, 0, CFA.BGGR),
        ([[3, 2], [0, 1]], b"RGBG", 0, 0, CFA.GBRG),
        ([[0, 1], [3, 2]], "RGBG", 1, 0, CFA.GBRG),  # the visible area starts one row in
        ([[0, 1], [3, 2]], b"RGBG", 1, 1, CFA.BGGR),
        ([[0, 1], [3, 2]], b"RGBG", 2, 4, CFA.RGGB),
    ],
)
def test_cfa_from_pattern(pattern, desc, top, left, expected):
    assert cfa_from_pattern(np.array(pattern), desc, top, left) is expected


def test_cfa_from_pattern_index_out_of_range():
    with pytest.raises(RestorekitError, match="does not match the colours"):
        cfa_from_pattern(np.array([[0, 1], [4, 2]]), b"RGBG")


def test_camera_to_srgb_matrix_by_hand():
    # Choose the camera so that cam_rgb = cam_xyz @ SRGB_TO_XYZ = A. Rows of A sum to 4, 4, 2;
    # normalised N = [[.5 .25 .25] [0 .75 .25] [.5 0 .5]], det N = 1/8, and the adjugate over the
    # determinant gives N^-1 = [[3 -1 -1] [1 1 -1] [-3 1 3]] (rows sum to 1: white stays white).
    A = np.array([[2.0, 1.0, 1.0], [0.0, 3.0, 1.0], [1.0, 0.0, 1.0]])
    cam_xyz = A @ np.linalg.inv(np.array(SRGB_TO_XYZ_D65))
    expected = [[3.0, -1.0, -1.0], [1.0, 1.0, -1.0], [-3.0, 1.0, 3.0]]
    assert_close(camera_to_srgb_matrix(cam_xyz), expected, atol=1e-9)
    # LibRaw's 4x3 form: the 4th row (a 4-colour sensor's) is ignored
    four = np.vstack([cam_xyz, [[9.0, 9.0, 9.0]]])
    assert_close(camera_to_srgb_matrix(four), expected, atol=1e-9)
    assert camera_to_srgb_matrix(torch.from_numpy(cam_xyz)).dtype == torch.float64


def test_camera_to_srgb_matrix_without_a_matrix():
    assert camera_to_srgb_matrix(np.zeros((4, 3))) is None
    assert camera_to_srgb_matrix(np.full((3, 3), np.nan)) is None
    assert camera_to_srgb_matrix(np.ones((3, 3))) is None  # singular
    with pytest.raises(RestorekitError, match="3x3 or 4x3"):
        camera_to_srgb_matrix(np.ones((2, 3)))


@pytest.mark.parametrize("cfa", list(CFA))
def test_white_balance_mosaic_puts_each_gain_on_its_sites(cfa):
    x = torch.full((1, 1, 5, 7), 0.25)
    y = white_balance_mosaic(x, cfa, (2.0, 1.0, 3.0))
    gain = {"R": 2.0, "G": 1.0, "B": 3.0}
    for i in range(2):
        for j in range(2):
            want = min(0.25 * gain[cfa.value[2 * i + j]], 1.0)  # B: 0.75; highlights clip at 1
            assert_close(y[0, 0, i::2, j::2], torch.full_like(y[0, 0, i::2, j::2], want))
    assert white_balance_mosaic(torch.ones(1, 1, 2, 2), cfa, (2.0, 1.0, 3.0)).max() == 1.0


# --- developing --------------------------------------------------------------------------------


def test_develop_shape_range_and_info(raw):
    rgb, info = develop(raw)
    assert rgb.shape == (1, 3, 512, 768) and rgb.dtype == torch.float32
    assert rgb.min().item() >= 0.0 and rgb.max().item() <= 1.0
    assert info["method"] == "mhc" and info["cfa"] == "GRBG"
    assert info["white_balance"] == "camera" and info["wb_gains"] == [1.0, 1.0, 1.0]
    assert info["matrix"] == "kodak_tag_37400"
    assert info["black_levels"] == [0.0] * 4 and info["white_level"] == 16383


def test_develop_bilinear_is_libraw_linear(raw, path):
    # Same demosaicing (bilinear), same WB, matrix, clipping and curve: equal to LibRaw's 16-bit
    # rounding away from the 1-pixel border, where LibRaw interpolates differently.
    # Measured: 89.2 dB inside (max diff 27/65535), 33.8 dB on the whole image.
    ours, _ = develop(raw, method="bilinear")
    ref = _libraw(path, "LINEAR")
    assert psnr(ours[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1]).item() > 85
    assert psnr(ours, ref).item() > 32


@pytest.mark.parametrize(("method", "floor"), [("mhc", 34.0), ("bilinear", 28.0)])
def test_develop_against_libraw_ahd(raw, path, method, floor):
    # LibRaw AHD is a different demosaicer, so this measures the demosaicing gap. Measured on
    # the DC50: mhc 34.38 dB (SSIM 0.956), bilinear 28.42 dB (SSIM 0.868); menon 37.06 dB.
    ours, _ = develop(raw, method=method)
    ref = _libraw(path, "AHD")
    assert psnr(ours, ref).item() > floor
    assert ssim(ours, ref).item() > (0.95 if method == "mhc" else 0.85)


@pytest.mark.parametrize("flip", [3, 5, 6])
def test_orientation_matches_libraw(raw, path, flip):
    ours, info = develop(dataclasses.replace(raw, flip=flip), method="bilinear")
    ref = _libraw(path, "LINEAR", flip=flip)
    assert ours.shape == ref.shape and info["flip"] == flip
    assert psnr(ours[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1]).item() > 85
    unturned, info = develop(dataclasses.replace(raw, flip=flip), method="bilinear", orient=False)
    assert unturned.shape == (1, 3, 512, 768) and info["flip"] == 0


def test_apply_flip_bad_code():
    with pytest.raises(RestorekitError, match=r"0\.\.7"):
        apply_flip(torch.zeros(1, 3, 2, 2), 9)


def test_develop_without_a_matrix_falls_back_to_identity(raw):
    bare = dataclasses.replace(raw, camera_to_srgb=None, matrix_source="none")
    rgb, info = develop(bare, method="bilinear")
    assert info["matrix"] == "identity (the file has no colour matrix)"
    off, info_off = develop(raw, method="bilinear", color_matrix=False)
    assert info_off["matrix"] == "identity (colour matrix disabled)"
    assert torch.equal(rgb, off)
    on, _ = develop(raw, method="bilinear")
    assert not torch.equal(rgb, on)


def test_develop_white_balance_gains(raw):
    # gains are divided by the smallest so every channel clips at the same raw level
    warm = dataclasses.replace(raw, camera_wb=(0.8, 1.0, 1.5), wb_source="daylight")
    _, info = develop(warm, method="bilinear")
    assert info["white_balance"] == "daylight"
    assert_close(torch.tensor(info["wb_gains"]), torch.tensor([1.0, 1.25, 1.875]), atol=1e-6)
    _, info = develop(warm, white_balance="none", method="bilinear")
    assert info["white_balance"] == "none" and info["wb_gains"] == [1.0, 1.0, 1.0]
    with pytest.raises(RestorekitError, match="'camera' or 'none'"):
        develop(raw, white_balance="auto")  # type: ignore[arg-type]


def test_develop_calls_a_custom_demosaicer(raw):
    seen = {}

    def grey(mosaic: torch.Tensor, cfa: CFA) -> torch.Tensor:
        seen["shape"], seen["cfa"] = tuple(mosaic.shape), cfa
        return mosaic.expand(-1, 3, -1, -1)

    rgb, info = develop(raw, grey)
    assert seen == {"shape": (1, 1, 512, 768), "cfa": CFA.GRBG} and info["method"] == "grey"
    assert rgb.shape == (1, 3, 512, 768)
    with pytest.raises(RestorekitError, match=r"must return \(1, 3, 512, 768\), got \(1, 1, 512"):
        develop(raw, lambda m, c: m)


def test_develop_unknown_method(raw):
    with pytest.raises(RestorekitError, match="unknown demosaicing method 'mch'; known: mhc"):
        develop(raw, method="mch")


# --- bad files ---------------------------------------------------------------------------------


def test_missing_file(tmp_path):
    with pytest.raises(ImageFileError, match="no such file"):
        read_raw(tmp_path / "none.dng")


@pytest.mark.parametrize("kind", ["text.dng", "image.png", "truncated.kdc"])
def test_not_a_raw_is_one_line_and_quiet(tmp_path, capfd, path, kind):
    f = tmp_path / kind
    if kind == "text.dng":
        f.write_text("hello, not a raw\n")
    elif kind == "image.png":
        from restorekit.io import write_image

        write_image(f, torch.rand(1, 3, 16, 16))
    else:
        f.write_bytes(path.read_bytes()[:40000])
    with pytest.raises(ImageFileError) as e:
        read_raw(f)
    msg = str(e.value)
    assert "\n" not in msg and msg.startswith(f"'{f}': not a camera raw file"), msg
    # LibRaw's own complaint ("Unexpected end of file") goes into the message, not the terminal
    assert capfd.readouterr().err == ""
    if kind == "truncated.kdc":
        assert "Unexpected end of file" in msg
