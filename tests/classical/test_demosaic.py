"""Tests for restorekit.classical.demosaic against colour-demosaicing and OpenCV, run live."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from conftest import assert_close, read_uint8, shared_images, to_tensor
from restorekit.classical.demosaic import (
    DEMOSAICERS,
    Demosaic,
    demosaic,
    demosaic_bilinear,
    demosaic_malvar,
    demosaic_menon,
    demosaic_opencv,
)
from restorekit.degrade import CFA, mosaic
from restorekit.errors import RestorekitError

colour_demosaicing = pytest.importorskip("colour_demosaicing")
cv2 = pytest.importorskip("cv2")

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")  # colour's scipy imports

CFAS = list(CFA)
TORCH_METHODS = {
    "bilinear": (demosaic_bilinear, "demosaicing_CFA_Bayer_bilinear"),
    "mhc": (demosaic_malvar, "demosaicing_CFA_Bayer_Malvar2004"),
}


@pytest.fixture(scope="module")
def images() -> dict[str, np.ndarray]:
    """3 Kodak24 and 2 McMaster images (uint8 HxWx3), plus an odd-sized 37x31 crop."""
    paths = shared_images("test/color/Kodak24", limit=3) + shared_images("test/color/McMaster", 2)
    out = {f"{p.parent.name}/{p.name}": read_uint8(p) for p in paths}
    out["odd 37x31"] = out[f"Kodak24/{paths[0].name}"][100:137, 200:231]
    return out


def raw_of(rgb: np.ndarray, cfa: CFA) -> torch.Tensor:
    """uint8 HxWx3 -> float32 raw (1, 1, H, W), mosaicked by restorekit."""
    return mosaic(to_tensor(rgb), cfa)


def colour_ref(fn_name: str, raw: torch.Tensor, cfa: CFA, **kwargs: object) -> torch.Tensor:
    """Run a colour-demosaicing function on a (1, 1, H, W) raw in float64 -> (1, 3, H, W)."""
    fn = getattr(colour_demosaicing, fn_name)
    out = fn(raw[0, 0].double().numpy(), cfa.value, **kwargs)
    return torch.from_numpy(np.asarray(out)).permute(2, 0, 1)[None]


def to_uint8(x: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) float -> uint8 HxWx3, clipped and rounded (the REFERENCE convention)."""
    a = x[0].permute(1, 2, 0).double().numpy()
    return np.clip(np.rint(a * 255), 0, 255).astype(np.uint8)


def cpsnr(out: np.ndarray, gt: np.ndarray, crop: int = 10) -> float:
    diff = out.astype(np.float64) - gt.astype(np.float64)
    mse = np.mean(diff[crop:-crop, crop:-crop] ** 2)
    return float(10 * np.log10(255.0**2 / mse))


# --- numbers against colour-demosaicing -----------------------------------------------------


@pytest.mark.parametrize("cfa", CFAS, ids=str)
@pytest.mark.parametrize("method", list(TORCH_METHODS))
def test_torch_methods_match_colour(images, method, cfa) -> None:
    fn, ref_name = TORCH_METHODS[method]
    for name, rgb in images.items():
        raw = raw_of(rgb, cfa)
        ref = colour_ref(ref_name, raw, cfa)
        out32 = fn(raw, cfa)
        assert out32.dtype == torch.float32
        assert_close(out32, ref, atol=1e-4, msg=f"{method} {cfa} {name} float32")
        if name in ("odd 37x31", "McMaster/01.png"):  # float64 is exact (and slower: no mkldnn)
            out64 = fn(raw.double(), cfa)
            assert_close(out64, ref, atol=1e-10, msg=f"{method} {cfa} {name} float64")


@pytest.mark.parametrize("size", [(2, 2), (3, 2), (2, 5), (5, 3)])
@pytest.mark.parametrize("method", list(TORCH_METHODS))
def test_torch_methods_match_colour_on_tiny_images(method, size) -> None:
    # Smaller than the 5x5 Malvar window: the padding reflects more than once.
    fn, ref_name = TORCH_METHODS[method]
    g = torch.Generator().manual_seed(0)
    raw = torch.rand(1, 1, *size, generator=g, dtype=torch.float64)
    for cfa in CFAS:
        assert_close(fn(raw, cfa), colour_ref(ref_name, raw, cfa), atol=1e-12, msg=f"{cfa}")


@pytest.mark.parametrize("method", list(TORCH_METHODS))
def test_torch_methods_handle_a_batch(images, method) -> None:
    fn, _ = TORCH_METHODS[method]
    rgbs = [images["odd 37x31"], images["odd 37x31"][::-1].copy()]
    raw = torch.cat([raw_of(rgb, CFA.GBRG) for rgb in rgbs])
    out = fn(raw, "gbrg")
    assert out.shape == (2, 3, 37, 31)
    for b in range(2):
        assert_close(out[b : b + 1], fn(raw[b : b + 1], CFA.GBRG), atol=1e-6)


def test_cpsnr_agrees_with_colour(images) -> None:
    # Clipped, rounded to uint8, 10-pixel crop: our score equals colour-demosaicing's. Bilinear
    # outputs of 8-bit data often sit exactly halfway between two uint8 levels, so float32
    # rounding moves a few pixels by one level: exact in float64, ~0.01 dB in float32.
    for name in [k for k in images if k.startswith("Kodak24")][:2]:
        gt = images[name]
        raw = raw_of(gt, CFA.RGGB)
        scores = {}
        for method, (fn, ref_name) in TORCH_METHODS.items():
            theirs = cpsnr(to_uint8(colour_ref(ref_name, raw, CFA.RGGB)), gt)
            ours64 = cpsnr(to_uint8(fn(raw.double(), CFA.RGGB)), gt)
            ours32 = cpsnr(to_uint8(fn(raw, CFA.RGGB)), gt)
            assert ours64 == pytest.approx(theirs, abs=1e-9), f"{method} {name}"
            assert ours32 == pytest.approx(theirs, abs=0.05), f"{method} {name}"
            scores[method] = ours64
        # REFERENCE: on Kodak24, MHC beats bilinear by ~5.5 dB on average.
        assert 20 < scores["bilinear"] < scores["mhc"] - 2 < 50, f"{name}: {scores}"


def test_torch_methods_do_not_clip() -> None:
    # A sharp step overshoots with Malvar's negative taps; the output keeps the overshoot.
    x = torch.zeros(1, 3, 12, 12)
    x[..., :, 6:] = 1.0
    x[:, 1] = 1 - x[:, 1]
    out = demosaic_malvar(mosaic(x, CFA.RGGB), CFA.RGGB)
    assert out.min() < 0 or out.max() > 1


@pytest.mark.parametrize("refining", [True, False])
def test_menon_equals_colour(images, refining) -> None:
    for cfa in CFAS:
        for crop in [images["odd 37x31"], images["Kodak24/kodim01.png"][:64, :48]]:
            raw = raw_of(crop, cfa)
            ref = colour_ref("demosaicing_CFA_Bayer_Menon2007", raw, cfa, refining_step=refining)
            out = demosaic_menon(raw.double(), cfa, refining=refining)
            assert out.dtype == torch.float64
            assert_close(out, ref, atol=0, msg=f"{cfa}")
            assert_close(demosaic_menon(raw, cfa, refining=refining), ref, atol=1e-6)


# --- OpenCV: the Bayer code mapping -----------------------------------------------------------


def sampled_error(out: torch.Tensor, raw: torch.Tensor, cfa: CFA, border: int) -> float:
    """Max abs difference between ``raw`` and ``out`` at the pixels the CFA sampled."""
    back = mosaic(out, cfa)
    s = slice(border, -border) if border else slice(None)
    return (back - raw)[..., s, s].abs().max().item()


@pytest.mark.parametrize("cfa", CFAS, ids=str)
def test_opencv_mapping_reproduces_the_samples(images, cfa) -> None:
    # A demosaicer keeps each sampled value at its own pixel. Only the right OpenCV code does
    # that for our CFA layout; the codes of the other three layouts do not.
    for rgb in [images["odd 37x31"], images["Kodak24/kodim01.png"][:64, :64]]:
        raw = raw_of(rgb, cfa)
        # OpenCV fills a 1-pixel border its own way (VNG keeps the samples everywhere).
        for variant, border in [("bilinear", 1), ("ea", 1), ("vng", 0)]:
            out = demosaic_opencv(raw, cfa, variant=variant)
            q = 0.5 / (255 if variant == "vng" else 65535)
            assert sampled_error(out, raw, cfa, border) <= q + 1e-6, variant
        for wrong in CFAS:
            if wrong != cfa:
                out = demosaic_opencv(raw, wrong, variant="bilinear")
                assert sampled_error(out, raw, cfa, border=1) > 0.05, f"{wrong} passed for {cfa}"


@pytest.mark.parametrize("cfa", CFAS, ids=str)
def test_opencv_bilinear_matches_colour_inside(images, cfa) -> None:
    for crop in [images["McMaster/01.png"], images["odd 37x31"]]:
        raw = raw_of(crop, cfa)
        out = demosaic_opencv(raw, cfa, variant="bilinear")
        ref = colour_ref("demosaicing_CFA_Bayer_bilinear", raw, cfa)
        # 16-bit quantisation: half a step is 7.6e-6.
        assert_close(out[..., 1:-1, 1:-1], ref[..., 1:-1, 1:-1], atol=1e-5, msg=str(cfa))


def test_opencv_ea_changes_only_green(images) -> None:
    raw = raw_of(images["Kodak24/kodim01.png"][:64, :64], CFA.GRBG)
    bl = demosaic_opencv(raw, CFA.GRBG, variant="bilinear")
    ea = demosaic_opencv(raw, CFA.GRBG, variant="ea")
    assert torch.equal(ea[:, [0, 2]], bl[:, [0, 2]])
    assert not torch.equal(ea[:, 1], bl[:, 1])


def test_opencv_keeps_batch_dtype_and_precision() -> None:
    g = torch.Generator().manual_seed(1)
    raw = torch.rand(2, 1, 9, 12, generator=g, dtype=torch.float64)
    out = demosaic_opencv(raw, "bggr")
    assert out.shape == (2, 3, 9, 12) and out.dtype == torch.float64
    assert_close(out[1:], demosaic_opencv(raw[1:], "bggr"), atol=0)
    # bilinear and EA run on 16 bits, VNG on 8 bits.
    step = 1 / 65535
    assert_close(torch.round(out / step) * step, out, atol=1e-12)
    vng = demosaic_opencv(raw, "bggr", variant="vng")
    assert_close(torch.round(vng * 255) / 255, vng, atol=1e-12)


# --- registry, module, errors, gradients ------------------------------------------------------


def test_registry_names_and_dispatch() -> None:
    assert list(DEMOSAICERS) == [
        "bilinear",
        "mhc",
        "menon",
        "opencv-bilinear",
        "opencv-ea",
        "opencv-vng",
    ]
    raw = torch.rand(1, 1, 8, 10, generator=torch.Generator().manual_seed(2))
    expected = {
        "bilinear": demosaic_bilinear(raw, "RGGB"),
        "mhc": demosaic_malvar(raw, "RGGB"),
        "menon": demosaic_menon(raw, "RGGB"),
        "opencv-bilinear": demosaic_opencv(raw, "RGGB", variant="bilinear"),
        "opencv-ea": demosaic_opencv(raw, "RGGB", variant="ea"),
        "opencv-vng": demosaic_opencv(raw, "RGGB", variant="vng"),
    }
    for name, want in expected.items():
        assert torch.equal(demosaic(raw, "RGGB", method=name), want), name
    assert torch.equal(demosaic(raw, CFA.RGGB), expected["mhc"])  # the default


def test_unknown_method_lists_known_names_closest_first() -> None:
    with pytest.raises(
        RestorekitError, match=r"unknown demosaicing method 'mch'; known: mhc, "
    ) as e:
        demosaic(torch.rand(1, 1, 4, 4), "RGGB", method="mch")
    assert all(name in str(e.value) for name in DEMOSAICERS)
    with pytest.raises(
        RestorekitError, match=r"unknown OpenCV demosaicing variant 'vgn'; known: vng"
    ):
        demosaic_opencv(torch.rand(1, 1, 4, 4), "RGGB", variant="vgn")


@pytest.mark.parametrize("method", list(DEMOSAICERS))
def test_rgb_given_as_raw_is_refused(method) -> None:
    with pytest.raises(
        RestorekitError, match=r"1 channel, got 3 channels \(shape \(1, 3, 8, 8\)\)"
    ):
        demosaic(torch.rand(1, 3, 8, 8), "RGGB", method=method)


@pytest.mark.parametrize("method", list(DEMOSAICERS))
def test_bad_cfa_and_bad_tensors_are_refused(method) -> None:
    raw = torch.rand(1, 1, 8, 8)
    with pytest.raises(RestorekitError, match=r"unknown CFA 'RGBG'; known: "):
        demosaic(raw, "RGBG", method=method)
    with pytest.raises(RestorekitError, match=r"raw must have 1 channels, got 2"):
        demosaic(torch.rand(1, 2, 8, 8), "RGGB", method=method)
    with pytest.raises(RestorekitError, match=r"raw must be a float tensor"):
        demosaic(torch.ones(1, 1, 8, 8, dtype=torch.uint8), "RGGB", method=method)
    with pytest.raises(RestorekitError, match=r"raw must be at least 2x2 pixels, got 1x8"):
        demosaic(torch.rand(1, 1, 1, 8), "RGGB", method=method)
    with pytest.raises(RestorekitError, match=r"raw must have shape \(B, C, H, W\)"):
        demosaic(torch.rand(8, 8), "RGGB", method=method)


@pytest.mark.parametrize("size", [(6, 6), (5, 7)])
@pytest.mark.parametrize("method", list(TORCH_METHODS))
def test_gradcheck(method, size) -> None:
    fn, _ = TORCH_METHODS[method]
    g = torch.Generator().manual_seed(3)
    raw = torch.rand(1, 1, *size, generator=g, dtype=torch.float64, requires_grad=True)
    for cfa in (CFA.RGGB, CFA.GBRG):
        assert torch.autograd.gradcheck(lambda r, c=cfa: fn(r, c), (raw,))


@pytest.mark.parametrize("method", list(TORCH_METHODS))
def test_module_equals_function(method) -> None:
    fn, _ = TORCH_METHODS[method]
    raw = torch.rand(2, 1, 11, 14, generator=torch.Generator().manual_seed(4))
    module = Demosaic("grbg", method=method)
    assert torch.equal(module(raw), fn(raw, CFA.GRBG))
    assert repr(module) == f"Demosaic(cfa=GRBG, method='{method}')"


def test_module_refuses_numpy_methods() -> None:
    with pytest.raises(RestorekitError, match=r"unknown torch demosaicing method 'menon'"):
        Demosaic(CFA.RGGB, method="menon")


# --- noisy raws: the classical pipelines against the libraries they chain ----------------------


def test_menon_then_cbm3d_is_colour_then_bm3d_rgb(images) -> None:
    import bm3d

    from restorekit.classical.demosaic import menon_then_cbm3d

    g = torch.Generator().manual_seed(0)
    raw = raw_of(images["Kodak24/kodim01.png"][:48, :64], CFA.GRBG).double()
    raw = raw + 10 / 255 * torch.randn(raw.shape, generator=g, dtype=raw.dtype)
    rgb = colour_ref("demosaicing_CFA_Bayer_Menon2007", raw, CFA.GRBG)
    ref = bm3d.bm3d_rgb(rgb[0].permute(1, 2, 0).numpy(), sigma_psd=10 / 255)
    out = menon_then_cbm3d(raw, CFA.GRBG, 10 / 255)
    assert_close(
        out, torch.from_numpy(np.asarray(ref)).permute(2, 0, 1)[None], atol=1e-6
    )  # bm3d runs in float32 inside


def test_bm3d_then_menon_denoises_each_cfa_plane_with_bm3d(images) -> None:
    import bm3d

    from restorekit.classical.demosaic import bm3d_then_menon

    g = torch.Generator().manual_seed(1)
    raw = raw_of(images["Kodak24/kodim01.png"][:48, :64], CFA.BGGR).double()
    raw = raw + 10 / 255 * torch.randn(raw.shape, generator=g, dtype=raw.dtype)
    planes = raw[0, 0].numpy()
    clean = np.empty_like(planes)
    for dy in (0, 1):
        for dx in (0, 1):
            clean[dy::2, dx::2] = bm3d.bm3d(planes[dy::2, dx::2], sigma_psd=10 / 255)
    ref = colour_ref(
        "demosaicing_CFA_Bayer_Menon2007", torch.from_numpy(clean)[None, None], CFA.BGGR
    )
    assert_close(bm3d_then_menon(raw, CFA.BGGR, 10 / 255), ref, atol=1e-6)
    with pytest.raises(RestorekitError, match="even-sized"):
        bm3d_then_menon(raw[..., :47, :], CFA.BGGR, 0.04)
