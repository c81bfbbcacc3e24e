"""JPEG round trip against Pillow itself, bit for bit."""

from __future__ import annotations

import io
import itertools
import re

import numpy as np
import pytest
import torch
from PIL import Image

from restorekit.degrade import JPEG, jpeg, sample_jpeg_quality
from restorekit.errors import RestorekitError


def _raises(message, fn, *args, **kwargs):
    with pytest.raises(RestorekitError, match=f"^{re.escape(message)}$"):
        fn(*args, **kwargs)


def _image_u8(channels: int, seed: int = 0, h: int = 40, w: int = 52) -> np.ndarray:
    """A smooth picture with edges and a little texture, uint8 HxW or HxWx3."""
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:h, 0:w] / np.array([h, w])[:, None, None]
    base = 0.5 + 0.3 * np.sin(6 * xx + 3 * yy) * np.cos(4 * yy)
    base = base + 0.2 * (xx > 0.6) + 0.03 * rng.standard_normal((h, w))
    planes = [base] if channels == 1 else [base, np.roll(base, 7, axis=1), 1 - base]
    a = np.clip(np.stack(planes, axis=-1) * 255, 0, 255).round().astype(np.uint8)
    return a[..., 0] if channels == 1 else a


def _to_tensor(a: np.ndarray) -> torch.Tensor:
    t = torch.from_numpy(a.astype(np.float32) / 255)
    return t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]


def _pillow_round_trip(a: np.ndarray, quality: int, **options) -> np.ndarray:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, format="JPEG", quality=quality, **options)
    with Image.open(buf) as im:
        return np.asarray(im)


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("quality", [1, 35, 75, 100])
def test_equals_pillow_bit_for_bit(channels, quality):
    a = _image_u8(channels)
    y = jpeg(_to_tensor(a), quality)
    ref = _to_tensor(_pillow_round_trip(a, quality))
    assert torch.equal(y, ref)


def test_one_quality_per_image():
    a, b = _image_u8(3, seed=1), _image_u8(3, seed=2)
    x = torch.cat([_to_tensor(a), _to_tensor(b)])
    y = jpeg(x, torch.tensor([20, 90]))
    assert torch.equal(y[0:1], _to_tensor(_pillow_round_trip(a, 20)))
    assert torch.equal(y[1:2], _to_tensor(_pillow_round_trip(b, 90)))
    assert torch.equal(jpeg(x, torch.tensor([55.0])), jpeg(x, 55))  # one value for all


def test_colour_is_subsampled_4_2_0_as_pillows_default():
    a = _image_u8(3)
    y = jpeg(_to_tensor(a), 80)
    assert torch.equal(y, _to_tensor(_pillow_round_trip(a, 80, subsampling="4:2:0")))
    assert not torch.equal(y, _to_tensor(_pillow_round_trip(a, 80, subsampling="4:4:4")))


def test_higher_quality_gives_lower_error():
    x = _to_tensor(_image_u8(3, seed=3, h=64, w=64))
    errors = [(jpeg(x, q) - x).abs().mean().item() for q in (5, 20, 40, 60, 80, 95)]
    assert all(b < a for a, b in itertools.pairwise(errors)), errors


def test_clips_and_rounds_first_and_keeps_dtype_and_device():
    a = _image_u8(1)
    x = _to_tensor(a).double()
    off = x + 0.4 / 255  # rounds back to the same 8-bit image
    y = jpeg(off, 60)
    assert y.dtype == torch.float64 and y.device == x.device
    assert torch.equal(y, jpeg(x, 60))
    assert torch.equal(jpeg(x * 3 - 1, 60), jpeg((x * 3 - 1).clamp(0, 1), 60))


def test_not_differentiable_the_output_carries_no_gradient():
    x = _to_tensor(_image_u8(3)).requires_grad_(True)
    assert not jpeg(x, 50).requires_grad


def test_module_equals_function():
    x = _to_tensor(_image_u8(3))
    assert torch.equal(JPEG(40)(x), jpeg(x, 40))
    assert repr(JPEG(40)) == "JPEG(quality=40)"


def test_sample_jpeg_quality():
    torch.manual_seed(0)
    state = torch.get_rng_state()
    g = torch.Generator().manual_seed(0)
    qs = [sample_jpeg_quality(30, 33, generator=g) for _ in range(200)]
    assert set(qs) == {30, 31, 32, 33} and all(isinstance(q, int) for q in qs)
    g1, g2 = torch.Generator().manual_seed(5), torch.Generator().manual_seed(5)
    assert [sample_jpeg_quality(1, 100, g1) for _ in range(5)] == [
        sample_jpeg_quality(1, 100, g2) for _ in range(5)
    ]
    assert sample_jpeg_quality(70, 70, g) == 70
    assert torch.equal(torch.get_rng_state(), state)  # only the generators were used


@pytest.mark.parametrize(
    ("quality", "message"),
    [
        (0, "JPEG quality must be an integer in 1..100, got 0"),
        (101, "JPEG quality must be an integer in 1..100, got 101"),
        (50.5, "JPEG quality must be an integer in 1..100, got 50.5"),
        (True, "JPEG quality must be an integer in 1..100, got True"),
        (torch.tensor([10, 0]), "JPEG quality must be an integer in 1..100, got 0"),
        (torch.tensor([10.0, 20.5]), "JPEG quality must hold integers, got [10.0, 20.5]"),
        (
            torch.tensor([10, 20, 30]),
            "JPEG quality must be an int or a (2,) tensor, got shape (3,)",
        ),
    ],
)
def test_bad_quality(quality, message):
    _raises(message, jpeg, torch.rand(2, 3, 8, 8), quality)


def test_bad_arguments():
    _raises("JPEG quality must be an integer in 1..100, got 0", JPEG, 0)
    _raises("JPEG quality range must have lo <= hi, got (90, 30)", sample_jpeg_quality, 90, 30)
    _raises("lowest JPEG quality must be an integer in 1..100, got 0", sample_jpeg_quality, 0, 30)
    _raises(
        "image must have 1 or 3 channels, got 2 (shape (1, 2, 8, 8))",
        jpeg,
        torch.rand(1, 2, 8, 8),
        50,
    )
