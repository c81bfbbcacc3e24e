from __future__ import annotations

import numpy as np
import pytest
import torch

from helpers import read_uint8, shared_images
from restorekit.classical.denoise import DENOISERS, denoise, denoise_bm3d, opencv_nlm_strength
from restorekit.errors import RestorekitError
from restorekit.tasks import DenoiseTask


def _set12_psnr(method: str, sigma: float) -> float:
    """Mean PSNR on Set12 under the convention of REFERENCE.md, scored with scikit-image."""
    from skimage.metrics import peak_signal_noise_ratio

    task = DenoiseTask()
    cond = task.conditions([sigma])[0]
    images = [(p.stem, read_uint8(p)) for p in shared_images("test/gray/Set12")]
    vals = []
    for pair in task.pairs(images, cond):
        out = task.run(method, pair, cond).clamp(0, 1)[0, 0].numpy() * 255
        vals.append(peak_signal_noise_ratio(pair.target[0, 0].numpy() * 255, out, data_range=255))
    return float(np.mean(vals))


# Values measured with the libraries' own functions: REFERENCE.md (November 2026).
@pytest.mark.parametrize(
    ("method", "expected"), [("tv", 28.05), ("nlm-opencv", 27.83), ("nlm-skimage", 28.69)]
)
def test_reference_numbers_on_set12_sigma25(method, expected):
    assert _set12_psnr(method, 25) == pytest.approx(expected, abs=0.02)


def test_bm3d_is_the_bm3d_package():
    bm3d = pytest.importorskip("bm3d")
    clean = read_uint8(shared_images("test/gray/Set12")[0])[:48, :40].astype(np.float64) / 255
    noisy = clean + 0.1 * np.random.default_rng(0).standard_normal(clean.shape)
    ours = denoise_bm3d(torch.from_numpy(noisy)[None, None], 0.1)[0, 0].numpy()
    # bm3d computes in float32 inside, and its result varies between calls: under load a few
    # percent of the pixels moved by ~2e-5. Another call (sigma 0.11 instead of 0.1) moves them
    # by 1.5e-3 on average, so both bounds still tell a wrong call apart.
    diff = np.abs(ours - bm3d.bm3d(noisy, sigma_psd=0.1))
    assert diff.max() < 2e-4 and diff.mean() < 2e-6, (diff.max(), diff.mean())
    assert np.abs(ours - bm3d.bm3d(noisy, sigma_psd=0.11)).mean() > 5e-4


@pytest.mark.parametrize("method", sorted(DENOISERS))
def test_every_method_handles_gray_and_rgb_batches(method):
    g = torch.Generator().manual_seed(0)
    x = torch.rand(2, 3, 24, 20, generator=g, dtype=torch.float64)
    for c in (1, 3):
        y = denoise(x[:, :c], 0.1, method=method)
        assert y.shape == x[:, :c].shape and y.dtype == x.dtype and torch.isfinite(y).all()


def test_denoising_reduces_error():
    clean = torch.linspace(0, 1, 64, dtype=torch.float64).repeat(1, 1, 64, 1)
    noisy = clean + 0.1 * torch.randn(
        clean.shape, generator=torch.Generator().manual_seed(0), dtype=torch.float64
    )
    for method in DENOISERS:
        out = denoise(noisy, 0.1, method=method)
        assert (out - clean).pow(2).mean() < 0.5 * (noisy - clean).pow(2).mean(), method


def test_opencv_strength_table():
    assert [opencv_nlm_strength(s / 255) for s in (15, 25, 50)] == [15.0, 25.0, 40.0]


def test_bad_input():
    x = torch.zeros(1, 1, 8, 8)
    with pytest.raises(RestorekitError, match="unknown denoising method 'bm4d'; known: bm3d"):
        denoise(x, 0.1, method="bm4d")
    with pytest.raises(RestorekitError, match="sigma must be a finite number > 0"):
        denoise(x, -0.1, method="tv")
    with pytest.raises(RestorekitError, match="must have 1 or 3 channels, got 2"):
        denoise(torch.zeros(1, 2, 8, 8), 0.1, method="tv")


def test_opencv_colour_nlm_uses_the_measured_strengths_in_bgr():
    """Colour NLM: OpenCV given BGR (its Lab conversion expects it) and the strengths measured on
    training images, (15, 16) at sigma 25 (benchmarks/tune_nlm.py)."""
    import cv2

    from helpers import read_uint8, shared_images
    from restorekit.classical.denoise import denoise_nlm_opencv, opencv_nlm_colour_strengths

    assert [opencv_nlm_colour_strengths(s / 255) for s in (15, 25, 50)] == [
        (9.0, 10.0), (15.0, 16.0), (26.0, 25.0)
    ]  # fmt: skip
    clean = read_uint8(shared_images("test/color/Kodak24")[3])[:128, :128]
    rng = np.random.RandomState(0)
    noisy = np.clip(np.round(clean + 25 * rng.randn(*clean.shape)), 0, 255).astype(np.uint8)
    x = torch.from_numpy(noisy).permute(2, 0, 1)[None].double() / 255
    ours = (denoise_nlm_opencv(x, 25 / 255)[0].permute(1, 2, 0).numpy() * 255).round()
    ref = cv2.fastNlMeansDenoisingColored(noisy[..., ::-1].copy(), None, 15, 16, 7, 21)[..., ::-1]
    assert np.array_equal(ours.astype(np.uint8), ref)
