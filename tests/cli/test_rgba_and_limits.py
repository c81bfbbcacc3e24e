"""Real files at the command line: RGBA images keep their alpha; enlarging commands refuse
outputs over --max-megapixels in one line, before any work, with no file."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import read_uint8, run_cli, shared_images


@pytest.fixture(params=[8, 16])
def rgba(request, tmp_path):
    """An RGBA crop with a ramp of transparency (8- or 16-bit PNG)."""
    import cv2

    rgb = read_uint8(shared_images("test/color/Kodak24")[6])[:64, :80].astype(np.uint16)
    alpha = (np.arange(64 * 80).reshape(64, 80) % 256).astype(np.uint16)
    arr = np.dstack([rgb, alpha])
    if request.param == 16:
        arr = arr * 257 + np.arange(64 * 80).reshape(64, 80, 1) % 7  # not a multiple of 257
    path = tmp_path / f"rgba{request.param}.png"
    bgra = arr[..., [2, 1, 0, 3]].astype(np.uint8 if request.param == 8 else np.uint16)
    cv2.imwrite(str(path), bgra)
    return path


def _read(path):
    import cv2

    arr = cv2.imread(str(path), cv2.IMREAD_UNCHANGED)
    return arr[..., [2, 1, 0, 3][: arr.shape[2]]] if arr.ndim == 3 else arr


@pytest.mark.parametrize(
    "command",
    [
        ["denoise", "--sigma", "15"],
        ["denoise", "--sigma", "15", "--method", "tv"],
        ["noise", "--sigma", "10"],
        ["grain", "render", "--engine", "gaussian"],
        ["film", "--grain", "none", "--tone", "soft-negative"],
    ],
)
def test_alpha_is_carried_through_untouched(capsys, tmp_path, rgba, command):
    out = tmp_path / "out.png"
    head = command[:2] if command[0] == "grain" else command[:1]
    code, _, err = run_cli(capsys, *head, rgba, out, *command[len(head) :])
    assert code == 0, err
    src, res = _read(rgba), _read(out)
    assert res.shape == src.shape and res.dtype == src.dtype
    assert np.array_equal(res[..., 3], src[..., 3])  # the alpha plane, bit for bit
    assert not np.array_equal(res[..., :3], src[..., :3])  # and the colour was processed


def test_upscale_enlarges_alpha_alike(capsys, tmp_path, rgba):
    out = tmp_path / "big.png"
    assert run_cli(capsys, "upscale", rgba, out, "--scale", "2")[0] == 0
    res = _read(out)
    assert res.shape[:2] == (128, 160) and res.shape[2] == 4
    src_alpha = _read(rgba)[..., 3].astype(float)
    assert abs(res[..., 3].astype(float).mean() - src_alpha.mean()) < 0.01 * src_alpha.max()


@pytest.mark.parametrize(
    ("command", "needle"),
    [
        (["upscale", "--scale", "1000", "--method", "bicubic"], "the x1000 output would be"),
        (["upscale", "--scale", "4", "--max-megapixels", "0.01"], "over the limit of 0.01"),
        (["grain", "render", "--zoom", "1000"], "the --zoom 1000 output would be"),
    ],
)
def test_oversized_outputs_are_one_line_and_no_file(capsys, tmp_path, command, needle):
    src = shared_images("test/color/Kodak24")[0]
    out = tmp_path / "out.png"
    head = command[:2] if command[0] == "grain" else command[:1]
    code, _, err = run_cli(capsys, *head, src, out, *command[len(head) :])
    assert code == 2 and len(err.strip().splitlines()) == 1 and needle in err, err
    assert "(--max-megapixels)" in err
    assert not out.exists() and not list(tmp_path.iterdir())
