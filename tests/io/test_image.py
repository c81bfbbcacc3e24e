from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import read_uint8, shared_images
from restorekit.errors import ImageFileError, RestorekitError
from restorekit.io import from_numpy, read_image, read_image_with_depth, to_numpy, write_image


def _rand(shape, dtype, seed=0):
    peak = np.iinfo(dtype).max
    return np.random.default_rng(seed).integers(0, peak + 1, size=shape, dtype=dtype)


@pytest.mark.parametrize("suffix", [".png", ".tif"])
@pytest.mark.parametrize("shape", [(7, 9), (7, 9, 3), (7, 9, 4)])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_round_trip_is_lossless(tmp_path, suffix, shape, dtype):
    arr = _rand(shape, dtype)
    bits = 16 if dtype == np.uint16 else 8
    path = tmp_path / f"x{suffix}"
    write_image(path, from_numpy(arr), bits=bits)
    mode = "rgba" if len(shape) == 3 and shape[2] == 4 else "keep"
    x, depth = read_image_with_depth(path, mode=mode)
    assert depth == bits
    assert x.dtype == torch.float32 and x.shape == (1, *(shape[2:] or (1,)), 7, 9)
    np.testing.assert_array_equal(to_numpy(x, bits), arr)


def test_every_16bit_code_survives_float32(tmp_path):
    codes = np.arange(65536, dtype=np.uint16).reshape(256, 256)
    write_image(tmp_path / "all.png", from_numpy(codes), bits=16)
    np.testing.assert_array_equal(to_numpy(read_image(tmp_path / "all.png"), 16), codes)


def test_reads_shared_png_like_pil():
    path = shared_images("test/color/Set5")[0]
    x = read_image(path)
    np.testing.assert_array_equal(to_numpy(x), read_uint8(path))


def test_modes(tmp_path):
    rgb = _rand((4, 5, 3), np.uint8)
    write_image(tmp_path / "c.png", from_numpy(rgb))
    assert read_image(tmp_path / "c.png", mode="gray").shape == (1, 1, 4, 5)
    gray = read_image(tmp_path / "c.png", mode="gray")
    expected = np.clip(np.rint(rgb @ np.array([0.299, 0.587, 0.114])), 0, 255)
    np.testing.assert_array_equal(to_numpy(gray), expected.astype(np.uint8))
    write_image(tmp_path / "g.png", from_numpy(rgb[..., 0]))
    assert read_image(tmp_path / "g.png", mode="rgb").shape == (1, 3, 4, 5)
    assert read_image(tmp_path / "g.png", mode="rgba").shape == (1, 4, 4, 5)


def test_opaque_rgba_reads_as_rgb_and_transparency_is_refused(tmp_path):
    rgba = _rand((4, 5, 4), np.uint8)
    rgba[..., 3] = 255
    write_image(tmp_path / "o.png", from_numpy(rgba))
    assert read_image(tmp_path / "o.png").shape == (1, 3, 4, 5)
    rgba[0, 0, 3] = 10
    write_image(tmp_path / "t.png", from_numpy(rgba))
    with pytest.raises(ImageFileError, match="transparency"):
        read_image(tmp_path / "t.png")


def test_jpeg_is_8bit_rgb(tmp_path):
    rgb = np.full((8, 8, 3), 100, np.uint8)
    write_image(tmp_path / "x.jpg", from_numpy(rgb), quality=100)
    x, bits = read_image_with_depth(tmp_path / "x.jpg")
    assert bits == 8 and np.abs(to_numpy(x).astype(int) - 100).max() <= 1
    with pytest.raises(RestorekitError, match="JPEG holds only 8-bit"):
        write_image(tmp_path / "y.jpg", from_numpy(rgb), bits=16)
    assert not (tmp_path / "y.jpg").exists()


def test_missing_file(tmp_path):
    with pytest.raises(ImageFileError, match="no such file"):
        read_image(tmp_path / "nope.png")


def test_truncated_png(tmp_path):
    path = shared_images("test/color/Set5")[0]
    data = path.read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileError, match="truncated or corrupt"):
        read_image(tmp_path / "cut.png")


def test_truncated_16bit_png(tmp_path):
    write_image(tmp_path / "a.png", from_numpy(_rand((64, 64, 3), np.uint16)), bits=16)
    data = (tmp_path / "a.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileError, match="truncated or corrupt"):
        read_image(tmp_path / "cut.png")


def test_text_file_named_png(tmp_path):
    (tmp_path / "notes.png").write_text("this is not an image\n")
    with pytest.raises(ImageFileError, match="not an image"):
        read_image(tmp_path / "notes.png")


def test_unsupported_suffix(tmp_path):
    with pytest.raises(ImageFileError, match=r"unsupported image type \.bmp"):
        read_image(tmp_path / "x.bmp")


def test_write_is_atomic_on_failure(tmp_path):
    target = tmp_path / "out.png"
    with pytest.raises(RestorekitError):
        write_image(target, torch.zeros(1, 2, 4, 4))  # 2 channels cannot be written
    with pytest.raises(RestorekitError):
        write_image(target, torch.zeros(1, 3, 4, 4), bits=12)
    assert list(tmp_path.iterdir()) == []


def test_write_replaces_existing_file_whole(tmp_path):
    target = tmp_path / "out.png"
    write_image(target, torch.zeros(1, 3, 4, 4))
    write_image(target, torch.ones(1, 3, 6, 6))
    assert read_image(target).shape == (1, 3, 6, 6)
    assert [p.name for p in tmp_path.iterdir()] == ["out.png"]


def test_missing_output_folder(tmp_path):
    with pytest.raises(RestorekitError, match="does not exist"):
        write_image(tmp_path / "no" / "x.png", torch.zeros(1, 3, 4, 4))


def test_to_numpy_clips_and_rounds():
    x = torch.tensor([-0.5, 0.0, 0.4 / 255, 0.6 / 255, 1.0, 2.0]).reshape(1, 1, 1, 6)
    assert to_numpy(x).tolist() == [[0, 0, 0, 1, 255, 255]]
