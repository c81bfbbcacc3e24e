from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import assert_close, read_uint8, shared_images
from restorekit.errors import RestorekitError
from restorekit.metrics import rgb_to_y, rgb_to_ycbcr, ycbcr_to_rgb

skc = pytest.importorskip("skimage.color")


def _rgb_samples() -> np.ndarray:
    """A Kodak crop plus the 8 corners of the RGB cube, HxWx3 float64 in [0, 1]."""
    img = read_uint8(shared_images("test/color/Kodak24")[2])[:40, :48] / 255.0
    corners = np.array(
        [[[r, g, b] for r in (0, 1) for g in (0, 1) for b in (0, 1)]], dtype=np.float64
    )
    img[:1, :8] = corners
    return img


def _tensor(a: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(a)).permute(2, 0, 1)[None].contiguous()


def test_rgb_to_ycbcr_equals_skimage_times_255():
    rgb = _rgb_samples()
    ref = skc.rgb2ycbcr(rgb)  # 0..255 scale
    ours = rgb_to_ycbcr(_tensor(rgb))[0].permute(1, 2, 0) * 255
    assert_close(ours, ref, atol=1e-10)


def test_ycbcr_to_rgb_equals_skimage():
    rgb = _rgb_samples()
    ycc = skc.rgb2ycbcr(rgb)
    ref = skc.ycbcr2rgb(ycc)
    ours = ycbcr_to_rgb(_tensor(ycc / 255.0))[0].permute(1, 2, 0)
    assert_close(ours, ref, atol=1e-10)
    assert_close(ours, rgb, atol=1e-10)


def test_matlab_rgb2ycbcr_values():
    # MATLAB rgb2ycbcr on double input: black -> (16, 128, 128)/255, white -> (235, 128, 128)/255,
    # pure red -> (16 + 65.481, 128 - 37.797, 128 + 112)/255 = (81.481, 90.203, 240)/255.
    rgb = torch.tensor([[0.0, 0.0, 0.0], [1.0, 1.0, 1.0], [1.0, 0.0, 0.0]], dtype=torch.float64)
    x = rgb.T.reshape(1, 3, 1, 3)
    expected = torch.tensor(
        [[16.0, 128.0, 128.0], [235.0, 128.0, 128.0], [81.481, 90.203, 240.0]], dtype=torch.float64
    )
    assert_close(rgb_to_ycbcr(x)[0, :, 0].T * 255, expected, atol=1e-10)


def test_rgb_to_y_is_the_first_channel_and_in_studio_range():
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 16, 16, generator=g, dtype=torch.float64)
    y = rgb_to_y(x)
    assert y.shape == (2, 1, 16, 16)
    assert_close(y, rgb_to_ycbcr(x)[:, :1], atol=1e-14)
    assert y.min() >= 16 / 255 and y.max() <= 235 / 255


def test_round_trip_and_dtype():
    x = torch.rand(2, 3, 5, 7)
    out = ycbcr_to_rgb(rgb_to_ycbcr(x))
    assert out.dtype == torch.float32
    assert_close(out, x, atol=1e-5)


def test_gradients_flow():
    x = torch.rand(1, 3, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda a: rgb_to_y(a), (x,))
    assert torch.autograd.gradcheck(lambda a: ycbcr_to_rgb(rgb_to_ycbcr(a)), (x,))


@pytest.mark.parametrize("fn", [rgb_to_ycbcr, rgb_to_y, ycbcr_to_rgb])
def test_needs_three_channels(fn):
    with pytest.raises(
        RestorekitError, match=r"image must have 3 channels, got 1 \(shape \(1, 1, 4, 4\)\)"
    ):
        fn(torch.rand(1, 1, 4, 4))
