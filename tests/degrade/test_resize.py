"""imresize against MATLAB's semantics, PIL's and torch's bicubic, and by hand.

What the comparisons show (Set5 + Set14, x2/x3/x4, down and up):

- PIL ``BICUBIC`` uses the same kernel (a = -0.5, stretched when shrinking) and pixel-centre
  mapping. Away from the border it equals ours to float32 precision. At the border PIL drops the
  taps that fall outside and renormalises, while MATLAB mirrors the image (edge repeated): the
  first and last 2 output pixels of a downscale (about 2.5 * scale of an upscale) differ, by up to
  ~20 levels of 255. Feeding PIL a mirror-padded image and cropping gives MATLAB's rule, and then
  PIL equals ours everywhere.
- PIL's 8-bit path (``Image.resize`` on a uint8 image) resizes the width first and rounds (and
  clips) that intermediate to uint8. Even in the interior it is off by one level on 10-20 % of
  pixels and by up to ~10 levels on ~0.1 % (where the clipped intermediate cuts an overshoot).
  Our weights applied the same way (width first, uint8 intermediate) reproduce PIL's 8-bit output
  exactly, so the weights are the same.
- torch ``interpolate(mode="bicubic", antialias=True)`` also uses a = -0.5 (for enlarging too) and
  equals ours to 1e-12 in the interior; it truncates at the border like PIL and its output size is
  ``floor`` instead of MATLAB's ``ceil``. Without ``antialias`` torch uses a = -0.75.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from PIL import Image

from helpers import read_uint8, shared_images, to_tensor
from restorekit.degrade.resize import (
    Downscale,
    Resize,
    cubic_kernel,
    downscale,
    imresize,
    imresize_output_size,
    resize_matrix,
)
from restorekit.errors import RestorekitError

SCALES = (2, 3, 4)


def _hr(path, s: int) -> np.ndarray:
    """uint8 RGB HxWx3 cropped to a multiple of ``s``."""
    a = read_uint8(path)
    a = np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a
    H, W = a.shape[:2]
    return a[: H - H % s, : W - W % s]


def _images() -> list:
    return shared_images("test/color/Set5") + shared_images("test/color/Set14")


@functools.cache
def _pair(path, s: int) -> tuple[np.ndarray, np.ndarray]:
    """HR and LR (our downscale rounded to uint8), kept for the next test."""
    hr = _hr(path, s)
    return hr, _u8(_ours(hr, 1 / s))


def _case(path, s: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """HR, our float downscale (0..255), LR, our float upscale of LR (0..255)."""
    hr, lr = _pair(path, s)
    return hr, _ours(hr, 1 / s), lr, _ours(lr, s)


def _ours(a: np.ndarray, scale: float) -> np.ndarray:
    """Our float64 resize of a uint8 HxWx3 image, on the 0..255 scale."""
    return imresize(to_tensor(a).double(), scale)[0].permute(1, 2, 0).numpy() * 255


def _u8(v: np.ndarray) -> np.ndarray:
    """Round half up and clip to uint8, as MATLAB's conversion of a double image."""
    return np.clip(np.floor(v + 0.5), 0, 255).astype(np.uint8)


def _pil_float(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """PIL BICUBIC per channel in float mode ('F'), no 8-bit rounding; size is (h, w)."""
    chans = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(a[..., c], np.float32), "F").resize(
                (size[1], size[0]), Image.BICUBIC
            )
        )
        for c in range(a.shape[2])
    ]
    return np.stack(chans, axis=-1).astype(np.float64)


def _pil_matlab_border(a: np.ndarray, scale: int | float) -> np.ndarray:
    """PIL BICUBIC with MATLAB's border: mirror-pad (edge repeated), resize, crop back."""
    s_in = max(1, round(1 / scale))  # input pixels per output pixel when shrinking
    p = 4 * s_in  # beyond the kernel's reach (2 * s_in) and a whole number of output pixels
    padded = np.pad(a.astype(np.float64), ((p, p), (p, p), (0, 0)), mode="symmetric")
    H, W = padded.shape[:2]
    out = _pil_float(padded, (round(H * scale), round(W * scale)))
    q = round(p * scale)
    return out[q:-q, q:-q]


def _interior(n_in: int, n_out: int, scale: float) -> np.ndarray:
    """Output indices whose kernel lies entirely inside the input (no border rule involved)."""
    c = (np.arange(n_out) + 0.5) / scale - 0.5
    reach = 2 / min(scale, 1.0)
    return (c - reach >= 0) & (c + reach <= n_in - 1)


# ---------------------------------------------------------------- against PIL


@pytest.mark.parametrize("s", SCALES)
def test_pil_with_mirrored_border_equals_ours_everywhere(s):
    frac, worst = [], 0
    for path in _images():
        hr, down, lr, up = _case(path, s)
        for ours, ref in ((down, _pil_matlab_border(hr, 1 / s)), (up, _pil_matlab_border(lr, s))):
            np.testing.assert_allclose(ours, ref, atol=1e-3, rtol=0)
            # After rounding to uint8 only near-ties can differ (PIL computes in float32).
            d = np.abs(_u8(ours).astype(int) - _u8(ref))
            frac.append(float((d > 0).mean()))
            worst = max(worst, int(d.max()))
    print(f"x{s} PIL float + mirrored border, uint8: differing {max(frac):.5%}, max {worst}")
    assert worst <= 1
    assert max(frac) < 1e-3


def _pil_8bit_matlab_border(a: np.ndarray, scale: int | float) -> np.ndarray:
    """PIL BICUBIC on a uint8 image with MATLAB's border: mirror-pad, resize, crop back."""
    p = 4 * max(1, round(1 / scale))
    padded = np.pad(a, ((p, p), (p, p), (0, 0)), mode="symmetric")
    H, W = padded.shape[:2]
    out = Image.fromarray(padded).resize((round(W * scale), round(H * scale)), Image.BICUBIC)
    q = round(p * scale)
    return np.asarray(out)[q:-q, q:-q]


def _width_first_uint8(a: np.ndarray, scale: float) -> np.ndarray:
    """Our weights applied as PIL's 8-bit path does: width first, intermediate rounded to uint8."""
    H, W = a.shape[:2]
    out_h, out_w = imresize_output_size((H, W), scale)
    mh = resize_matrix(H, out_h, scale, dtype=torch.float64)
    mw = resize_matrix(W, out_w, scale, dtype=torch.float64)
    x = torch.from_numpy(a).permute(2, 0, 1).double()  # (C, H, W) on 0..255
    mid = torch.from_numpy(_u8((x @ mw.T).numpy())).double()
    return _u8((mh @ mid).permute(1, 2, 0).numpy())


@pytest.mark.parametrize("s", SCALES)
def test_pil_8bit_is_our_weights_with_a_uint8_intermediate(s):
    n_diff, n, worst = 0, 0, 0
    for path in _images():
        hr, _, lr, _ = _case(path, s)
        for src, scale in ((hr, 1 / s), (lr, s)):
            emulated = _width_first_uint8(src, scale).astype(int)
            d = np.abs(emulated - _pil_8bit_matlab_border(src, scale))
            n_diff, n, worst = n_diff + int((d > 0).sum()), n + d.size, max(worst, int(d.max()))
    print(f"x{s} PIL 8-bit + mirrored border vs emulation: differing {n_diff / n:.5%}, max {worst}")
    assert worst <= 1
    assert n_diff / n < 1e-4


@pytest.mark.parametrize("s", SCALES)
def test_pil_8bit_as_is_differs_by_its_rounding_and_its_border(s):
    # Ours rounds once, at the end; PIL rounds (and clips) after the first pass too, and
    # truncates the kernel at the border instead of mirroring.
    stats = {"down": [0, 0, 0, 0], "up": [0, 0, 0, 0]}  # >0 inside, >1 inside, inside, border max
    for path in _images():
        hr, _, lr, up = _case(path, s)
        H, W = hr.shape[:2]
        cases = {
            "down": (hr, lr, Image.fromarray(hr).resize((W // s, H // s), Image.BICUBIC)),
            "up": (lr, _u8(up), Image.fromarray(lr).resize((W, H), Image.BICUBIC)),
        }
        for name, (src, ours, pil) in cases.items():
            scale = ours.shape[0] / src.shape[0]
            rows = _interior(src.shape[0], ours.shape[0], scale)
            cols = _interior(src.shape[1], ours.shape[1], scale)
            d = np.abs(ours.astype(int) - np.asarray(pil))
            inner = d[rows][:, cols]
            st = stats[name]
            st[0] += int((inner > 0).sum())
            st[1] += int((inner > 1).sum())
            st[2] += inner.size
            st[3] = max(st[3], int(d.max()))
    for name, (n_diff, n_big, n, edge_max) in stats.items():
        print(
            f"x{s} {name} vs PIL 8-bit as is: inside {n_diff / n:.2%} differ, "
            f"{n_big / n:.3%} by more than 1; up to {edge_max} at the border"
        )
        assert n_diff / n < 0.25
        assert n_big / n < 2e-3  # clipped overshoot in PIL's uint8 intermediate
        assert edge_max > 1  # truncate (PIL) vs mirror (MATLAB)


# ---------------------------------------------------------------- against torch


@pytest.mark.parametrize("s", SCALES)
def test_torch_antialias_equals_ours_in_the_interior(s):
    g = torch.Generator().manual_seed(s)
    x = torch.rand(1, 2, 12 * s, 10 * s, dtype=torch.float64, generator=g)
    for scale in (1 / s, s):
        ours = imresize(x, scale)
        ref = F.interpolate(x, size=ours.shape[-2:], mode="bicubic", antialias=True)
        rows = _interior(x.shape[2], ours.shape[2], scale)
        cols = _interior(x.shape[3], ours.shape[3], scale)
        rows, cols = torch.from_numpy(rows), torch.from_numpy(cols)
        torch.testing.assert_close(ours[..., rows, :][..., cols], ref[..., rows, :][..., cols])
        # Mirror-pad for torch too (numpy 'symmetric' is MATLAB's rule): then equal everywhere.
        p = 4 * s
        xp = torch.from_numpy(np.pad(x.numpy(), ((0, 0), (0, 0), (p, p), (p, p)), "symmetric"))
        q = round(p * scale)
        refp = F.interpolate(xp, scale_factor=scale, mode="bicubic", antialias=True)
        torch.testing.assert_close(ours, refp[..., q:-q, q:-q])


def test_torch_default_bicubic_is_another_kernel():
    x = torch.rand(1, 1, 40, 40, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    ours = imresize(x, 2)
    keys75 = F.interpolate(x, scale_factor=2, mode="bicubic")  # a = -0.75, no antialiasing
    assert (ours - keys75)[..., 8:-8, 8:-8].abs().max() > 0.01
    small = imresize(x, 0.5)
    torch_small = F.interpolate(x, scale_factor=0.5, mode="bicubic")  # no antialiasing either
    assert (small - torch_small)[..., 4:-4, 4:-4].abs().max() > 0.05


def test_given_scale_sets_the_kernel_when_the_size_is_not_a_multiple():
    # 37 * 0.3 = 11.1: MATLAB gives ceil = 12 rows and keeps 0.3 (not 12 / 37) for the kernel;
    # torch with scale_factor keeps 0.3 too but gives floor = 11 rows.
    x = torch.rand(1, 1, 37, 41, dtype=torch.float64, generator=torch.Generator().manual_seed(1))
    ours = imresize(x, 0.3)
    assert ours.shape[-2:] == (12, 13)
    p = 10  # 10 input pixels are 3 output pixels at scale 0.3
    xp = torch.from_numpy(np.pad(x.numpy(), ((0, 0), (0, 0), (p, p), (p, p)), "symmetric"))
    ref = F.interpolate(xp, scale_factor=0.3, mode="bicubic", antialias=True)
    torch.testing.assert_close(ours, ref[..., 3 : 3 + 12, 3 : 3 + 13])
    # Asking for the same size instead uses the ratio 12 / 37 and gives another image.
    assert (imresize(x, size=(12, 13)) - ours).abs().max() > 1e-3


# ---------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    ("hw", "scale", "out"),
    [
        ((37, 31), 0.5, (19, 16)),
        ((37, 31), 2, (74, 62)),
        ((255, 37), 1 / 3, (85, 13)),
        ((37, 31), 0.3, (12, 10)),
        ((7, 5), 1.5, (11, 8)),
        ((5, 5), 0.01, (1, 1)),
    ],
)
def test_output_size_is_ceil(hw, scale, out):
    assert imresize_output_size(hw, scale) == out
    assert imresize(torch.rand(1, 1, *hw), scale).shape[-2:] == out


def test_odd_sizes_and_explicit_size_match_pil_inside():
    a = read_uint8(shared_images("test/color/Set5")[0])[:37, :31]
    x = to_tensor(a).double()
    for size in ((17, 45), (37, 31), (80, 9), (5, 60)):
        ours = imresize(x, size=size)[0].permute(1, 2, 0).numpy() * 255
        assert ours.shape[:2] == size
        ref = _pil_float(a.astype(np.float64), size)
        rows = _interior(37, size[0], size[0] / 37)
        cols = _interior(31, size[1], size[1] / 31)
        np.testing.assert_allclose(ours[rows][:, cols], ref[rows][:, cols], atol=1e-3)


def test_any_channel_count_and_batch():
    x = torch.rand(3, 5, 16, 12)
    y = imresize(x, 0.5)
    assert y.shape == (3, 5, 8, 6)
    torch.testing.assert_close(y[1:2, 2:3], imresize(x[1:2, 2:3], 0.5))


def test_dtypes():
    x = torch.rand(1, 3, 16, 16)
    assert imresize(x, 0.5).dtype == torch.float32
    assert imresize(x.double(), 0.5).dtype == torch.float64
    half = imresize(x.half(), 0.5)
    assert half.dtype == torch.float16
    torch.testing.assert_close(half.float(), imresize(x.half().float(), 0.5), atol=1e-3, rtol=0)
    torch.testing.assert_close(imresize(x, 0.5).double(), imresize(x.double(), 0.5))


# ---------------------------------------------------------------- by hand


def test_kernel_values():
    # Keys a = -0.5: k(0.25) = 0.8671875, k(0.75) = 0.2265625, k(1.25) = -0.0703125, ...
    t = np.array([0, 0.25, 0.75, 1, 1.25, 1.75, 2, 2.5])
    expected = [1, 0.8671875, 0.2265625, 0, -0.0703125, -0.0234375, 0, 0]
    np.testing.assert_allclose(cubic_kernel(t), expected, atol=1e-15)
    np.testing.assert_allclose(cubic_kernel(-t), expected, atol=1e-15)


def test_x2_upscale_weights():
    # Output pixel 6 of a x2 enlargement sits at input 2.75: taps 1, 2, 3, 4 at distances
    # 1.75, 0.75, 0.25, 1.25.
    m = resize_matrix(8, 16).double()
    expected = [0, -0.0234375, 0.2265625, 0.8671875, -0.0703125, 0, 0, 0]
    torch.testing.assert_close(m[6], torch.tensor(expected, dtype=torch.float64))


def test_rows_sum_to_one_and_border_mirrors():
    for n_in, n_out in ((10, 5), (10, 20), (7, 3), (1, 4), (4, 1)):
        m = resize_matrix(n_in, n_out).double()
        torch.testing.assert_close(m.sum(1), torch.ones(n_out, dtype=torch.float64))
    # x2 upscale, output 0 sits at input -0.25: taps -2, -1, 0, 1 mirror onto 1, 0, 0, 1.
    m = resize_matrix(8, 16).double()
    k = cubic_kernel(np.array([1.75, 0.75, 0.25, 1.25]))
    expected = torch.zeros(8, dtype=torch.float64)
    expected[0], expected[1] = k[1] + k[2], k[0] + k[3]
    torch.testing.assert_close(m[0], expected)


@pytest.mark.parametrize("scale", [0.25, 1 / 3, 0.5, 1, 1.5, 2, 4])
def test_constant_stays_constant(scale):
    x = torch.full((1, 2, 13, 17), 0.37, dtype=torch.float64)
    torch.testing.assert_close(imresize(x, scale), torch.full_like(imresize(x, scale), 0.37))


@pytest.mark.parametrize("scale", [0.25, 1 / 3, 0.5, 2, 3])
def test_linear_ramp_stays_linear_inside(scale):
    W = 48
    ramp = 0.1 + 0.8 * torch.arange(W, dtype=torch.float64) / (W - 1)
    x = ramp.expand(1, 1, 6, W).clone()
    y = imresize(x, scale)[0, 0]
    u = (torch.arange(y.shape[1], dtype=torch.float64) + 0.5) / scale - 0.5  # input position
    expected = 0.1 + 0.8 * u / (W - 1)
    inside = torch.from_numpy(_interior(W, y.shape[1], scale))
    torch.testing.assert_close(y[:, inside], expected[inside].expand(y.shape[0], -1))
    assert not torch.allclose(y[0, :1], expected[:1])  # the mirrored border bends the ramp


def test_identity_at_scale_one():
    x = torch.rand(1, 3, 9, 7, dtype=torch.float64)
    torch.testing.assert_close(imresize(x, 1), x)


def test_no_antialias_is_plain_cubic_sampling():
    # Shrinking x2 without antialiasing samples at input 0.5, 2.5, ... with the plain kernel.
    m = resize_matrix(8, 4, antialias=False).double()
    k = cubic_kernel(np.array([1.5, 0.5, 0.5, 1.5]))
    torch.testing.assert_close(m[1, 1:5], torch.from_numpy(k))


# ---------------------------------------------------------------- gradients, twins, errors


@pytest.mark.parametrize(("scale", "size"), [(0.5, None), (2, None), (None, (3, 8))])
def test_gradcheck(scale, size):
    x = torch.rand(1, 2, 5, 6, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: imresize(t, scale, size), (x,))


def test_module_equals_function():
    x = torch.rand(2, 3, 12, 10)
    assert torch.equal(Resize(0.5)(x), imresize(x, 0.5))
    assert torch.equal(
        Resize(size=(5, 7), antialias=False)(x), imresize(x, size=(5, 7), antialias=False)
    )
    assert torch.equal(Downscale(3)(x), downscale(x, 3))
    assert torch.equal(downscale(x, 3), imresize(x, 1 / 3))
    assert "scale=0.5" in repr(Resize(0.5))


def test_bad_input():
    x = torch.rand(1, 1, 8, 8)
    with pytest.raises(RestorekitError, match="scale must be a finite number > 0, got 0"):
        imresize(x, 0)
    with pytest.raises(RestorekitError, match="scale must be a finite number > 0, got -2"):
        imresize(x, -2)
    with pytest.raises(RestorekitError, match="give exactly one of scale and size"):
        imresize(x, 0.5, size=(4, 4))
    with pytest.raises(RestorekitError, match="give exactly one of scale and size"):
        imresize(x)
    with pytest.raises(RestorekitError, match="size must be two integers >= 1"):
        imresize(x, size=(0, 4))
    with pytest.raises(RestorekitError, match="size must be two integers >= 1"):
        imresize(x, size=(2.5, 4))
    with pytest.raises(RestorekitError, match=r"size must be \(height, width\)"):
        imresize(x, size=(4, 4, 4))
    with pytest.raises(RestorekitError, match="must have shape"):
        imresize(torch.rand(8, 8), 0.5)
    with pytest.raises(RestorekitError, match="must be a float tensor"):
        imresize(torch.zeros(1, 1, 8, 8, dtype=torch.uint8), 0.5)
    with pytest.raises(RestorekitError, match=r"factor must be >= 1 to downscale, got 0\.5"):
        downscale(x, 0.5)
    with pytest.raises(RestorekitError, match="give exactly one of scale and size"):
        Resize()
    with pytest.raises(RestorekitError, match="factor must be a finite number > 0"):
        Downscale(0)


def test_output_size_rounding_is_exact_for_thirds():
    # 1 / 3 * n is not always an exact integer in floating point; MATLAB users expect n / 3.
    for n in range(3, 3000, 3):
        assert imresize_output_size((n, n), 1 / 3) == (n // 3, n // 3)
    # A deliberate difference from MATLAB's plain ceil: 1.1 * 50 = 55.00000000000001.
    assert math.ceil(1.1 * 50) == 56
    assert imresize_output_size((50, 50), 1.1) == (55, 55)


@pytest.mark.parametrize("scale", [0.25, 1 / 3, 0.5, 2.0, 3.0, 1.7])
def test_tap_sum_equals_the_dense_matrix(scale, monkeypatch):
    import restorekit.degrade.resize as resize_module

    monkeypatch.setattr(resize_module, "DENSE_LIMIT", 0)  # force the large-image path
    x = torch.rand(2, 3, 23, 31, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    out_h, out_w = imresize_output_size((23, 31), scale)
    mh = resize_matrix(23, out_h, scale, dtype=torch.float64)
    mw = resize_matrix(31, out_w, scale, dtype=torch.float64)
    dense = mh @ x @ mw.T if scale < 1 else mh @ (x @ mw.T)
    torch.testing.assert_close(imresize(x, scale), dense, atol=1e-12, rtol=0)
