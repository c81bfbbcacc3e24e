from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from helpers import DATA, assert_close, read_uint8, to_tensor
from restorekit.degrade import add_speckle_noise
from restorekit.errors import RestorekitError
from restorekit.metrics import CNR, ENL, OCTRegions, cnr, enl, oct_regions, oct_scores
from restorekit.metrics.oct import Box


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


# ---------------------------------------------------------------- ENL


def test_enl_of_gamma_speckle_is_the_number_of_looks():
    # A flat region with Gamma(L, 1/L) speckle has ENL = L. 2**16 pixels per image: the relative
    # standard error of the variance is sqrt((2 + 6 / L) / n) <= 0.9 %; tolerance 5 %.
    looks = torch.tensor([2.0, 8.0])
    x = torch.full((2, 1, 256, 256), 0.5, dtype=torch.float64)
    y = add_speckle_noise(x, looks, generator=_g())
    mask = torch.ones(256, 256, dtype=torch.bool)
    assert_close(enl(y, mask), looks, rtol=0.05, atol=0)


def test_enl_by_hand_and_population_variance():
    x = torch.tensor([[[[0.2, 0.4], [0.6, 0.8]]]], dtype=torch.float64)
    # mean 0.5, population variance (0.09 + 0.01 + 0.01 + 0.09) / 4 = 0.05 (ddof=0, not 1/15).
    assert_close(enl(x, torch.ones(2, 2, dtype=torch.bool)), torch.tensor([5.0]), atol=1e-12)
    # Only the masked pixels count: [0.4, 0.8] has mean 0.6, variance 0.04.
    m = torch.tensor([[False, True], [False, True]])
    assert_close(enl(x, m), torch.tensor([0.36 / 0.04]), atol=1e-12)


def test_enl_of_constant_region_is_inf_and_of_zeros_nan():
    x = torch.zeros(2, 1, 8, 8)
    x[0] = 0.3
    values = enl(x, torch.ones(8, 8, dtype=torch.bool))
    assert values[0].item() == math.inf
    assert math.isnan(values[1].item())


def test_enl_keeps_dtype_and_module_twin():
    x = torch.rand(2, 1, 8, 8, generator=_g(1))
    mask = torch.rand(2, 1, 8, 8, generator=_g(2)) > 0.5
    assert enl(x, mask).dtype == torch.float32
    assert torch.equal(ENL(mask)(x), enl(x, mask))


# ---------------------------------------------------------------- CNR


def _np_cnr(img: np.ndarray, sig: np.ndarray, bg: np.ndarray) -> float:
    # Fang et al. 2013: 10 log10(|mu_r - mu_b| / sqrt(sigma_r^2 + sigma_b^2)), numpy's std (ddof=0).
    r, b = img[sig], img[bg]
    return 10 * np.log10(abs(r.mean() - b.mean()) / np.sqrt(r.std() ** 2 + b.std() ** 2))


def test_cnr_matches_numpy_formula_on_random_data():
    rng = np.random.default_rng(0)
    x = rng.random((3, 1, 20, 30))
    x[:, :, :10] *= 0.3  # a darker top so the contrasts differ from image to image
    sig = rng.random((3, 1, 20, 30)) > 0.6
    bg = rng.random((3, 1, 20, 30)) > 0.7
    expected = [_np_cnr(x[i, 0], sig[i, 0], bg[i, 0]) for i in range(3)]
    got = cnr(torch.from_numpy(x), torch.from_numpy(sig), torch.from_numpy(bg))
    assert_close(got, torch.tensor(expected), atol=1e-10)
    # The linear form with 1/2 under the root (Pizurica et al. 2008) is sqrt(2) * 10 ** (CNR / 10).
    r, b = x[0, 0][sig[0, 0]], x[0, 0][bg[0, 0]]
    linear = abs(r.mean() - b.mean()) / np.sqrt(0.5 * (r.var() + b.var()))
    assert math.isclose(math.sqrt(2) * 10 ** (got[0].item() / 10), linear, rel_tol=1e-12)
    # One (H, W) mask pair applies to every image.
    expected_shared = [_np_cnr(x[i, 0], sig[0, 0], bg[0, 0]) for i in range(3)]
    got_shared = cnr(torch.from_numpy(x), torch.from_numpy(sig[0, 0]), torch.from_numpy(bg[0, 0]))
    assert_close(got_shared, torch.tensor(expected_shared), atol=1e-10)


def test_cnr_db_convention():
    # Background {0.09, 0.11}: mean 0.1, variance 1e-4; signal spread the same. A mean difference
    # of k * sqrt(2e-4) gives |dmu| / sqrt(sum of variances) = k, so 10 log10(k) dB: 10 dB at
    # k = 10 (10 log10 of the amplitude ratio, not 20 log10), 0 dB at k = 1.
    bg = torch.tensor([[True, True, False, False]])
    for k, db in [(10.0, 10.0), (1.0, 0.0), (100.0, 20.0)]:
        mu = 0.1 + k * math.sqrt(2e-4)
        x = torch.tensor([[[[0.09, 0.11, mu - 0.01, mu + 0.01]]]], dtype=torch.float64)
        assert_close(cnr(x, ~bg, bg), torch.tensor([db]), atol=1e-9)
        # |mu_r - mu_b|: symmetric in the two regions.
        assert_close(cnr(x, bg, ~bg), torch.tensor([db]), atol=1e-9)


def test_cnr_is_scale_invariant_and_module_twin():
    x = torch.rand(2, 1, 16, 16, generator=_g(3), dtype=torch.float64)
    sig = torch.zeros(16, 16, dtype=torch.bool)
    sig[8:] = True
    x[..., 8:, :] += 1.0
    x = x / 2.5
    assert_close(cnr(0.5 * x, sig, ~sig), cnr(x, sig, ~sig), atol=1e-12)
    assert torch.equal(CNR(sig, ~sig)(x), cnr(x, sig, ~sig))
    assert cnr(x.float(), sig, ~sig).dtype == torch.float32


def test_mask_errors():
    x = torch.rand(2, 1, 8, 8, generator=_g())
    full = torch.ones(8, 8, dtype=torch.bool)
    with pytest.raises(
        RestorekitError, match=r"^mask must be a bool tensor, got dtype torch\.float32$"
    ):
        enl(x, full.float())
    with pytest.raises(
        RestorekitError,
        match=r"^mask must have shape \(8, 8\) or \(2, 1, 8, 8\) like x, got \(8, 9\)$",
    ):
        enl(x, torch.ones(8, 9, dtype=torch.bool))
    with pytest.raises(RestorekitError, match=r"got \(3, 1, 8, 8\)"):
        enl(x, torch.ones(3, 1, 8, 8, dtype=torch.bool))
    with pytest.raises(RestorekitError, match=r"^mask selects no pixel \(image 0 of 2\)$"):
        enl(x, torch.zeros(8, 8, dtype=torch.bool))
    per_image = torch.ones(2, 1, 8, 8, dtype=torch.bool)
    per_image[1] = False
    with pytest.raises(
        RestorekitError, match=r"^background_mask selects no pixel \(image 1 of 2\)$"
    ):
        cnr(x, full, per_image)
    with pytest.raises(RestorekitError, match=r"^signal_mask must be a bool torch\.Tensor"):
        cnr(x, np.ones((8, 8), dtype=bool), full)
    with pytest.raises(RestorekitError, match="x must have 1 channels, got 3"):
        enl(torch.rand(1, 3, 8, 8), full)


# ---------------------------------------------------------------- regions


def _synthetic_scan() -> torch.Tensor:
    # 150 x 300: a dark band (vitreous) in rows 0..39, mid-gray tissue, a bright band (a retinal
    # layer) in rows 80..109 whose brightness rises to the right, mild texture everywhere.
    g = _g(7)
    x = 0.4 + 0.02 * torch.rand(1, 1, 150, 300, generator=g, dtype=torch.float64)
    x[..., :40, :] = 0.05 + 0.02 * torch.rand(1, 1, 40, 300, generator=g, dtype=torch.float64)
    x[..., 80:110, :] = 0.8 + 0.1 * torch.linspace(0, 1, 300, dtype=torch.float64)
    return x


def _all_boxes(r: OCTRegions) -> list[Box]:
    return [r.background, *r.signals]


def test_regions_on_synthetic_scan():
    ref = _synthetic_scan()
    r = oct_regions(ref, size=20, count=5, stride=5)
    assert (r.height, r.width) == (150, 300)
    # Background in the dark band, inside the top floor(0.25 * 150) = 37 rows.
    assert r.background.top + r.background.height <= 37
    # Signals in the bright band, brightest (rightmost) first, none overlapping.
    assert len(r.signals) == 5
    for s in r.signals:
        assert s.top >= 80 and s.top + s.height <= 110
    lefts = [s.left for s in r.signals]
    assert lefts == sorted(lefts, reverse=True) and lefts[0] == 280
    for a, b in itertools.combinations(_all_boxes(r), 2):
        assert not a.overlaps(b)
    # Deterministic, and a (1, H, W) reference gives the same regions.
    assert oct_regions(ref, size=20, count=5, stride=5) == r
    assert oct_regions(ref[0], size=20, count=5, stride=5) == r
    # The masks are the boxes.
    assert r.background_mask().sum() == 400
    assert all(m.sum() == 400 for m in r.signal_masks())


def test_regions_errors():
    ref = _synthetic_scan()
    with pytest.raises(RestorekitError, match="no 40x40 window fits in the top 37 rows"):
        oct_regions(ref, size=40)
    with pytest.raises(RestorekitError, match="asked for count=100"):
        oct_regions(ref, size=30, count=100)
    with pytest.raises(RestorekitError, match="must be one B-scan"):
        oct_regions(ref.expand(2, 1, 150, 300))
    with pytest.raises(RestorekitError, match="size must be an int >= 1"):
        oct_regions(ref, size=0)
    with pytest.raises(RestorekitError, match="top_fraction must be a number in"):
        oct_regions(ref, top_fraction=1.5)


def test_scores_are_means_over_signal_regions():
    ref = _synthetic_scan()
    r = oct_regions(ref, size=20, count=3, stride=10)
    noisy = add_speckle_noise(ref, 4.0, generator=_g(1))
    scores = oct_scores(noisy, r)
    bg = r.background_mask()
    cnrs = [cnr(noisy, m, bg).item() for m in r.signal_masks()]
    enls = [enl(noisy, m).item() for m in r.signal_masks()]
    assert scores["cnr"] == pytest.approx(np.mean(cnrs), abs=1e-9)
    assert scores["enl"] == pytest.approx(np.mean(enls), abs=1e-9)
    # The bright band is flat across each 20-pixel window (0.7 % ramp), so ENL is close to L = 4.
    assert scores["enl"] == pytest.approx(4.0, rel=0.2)
    with pytest.raises(RestorekitError, match="x is 150x200 but the regions are for a 150x300"):
        oct_scores(noisy[..., :200], r)


def test_regions_on_a_real_duke_scan():
    clean = to_tensor(read_uint8(DATA / "oct" / "Duke18" / "test" / "clean" / "11.png"))
    assert clean.shape == (1, 1, 450, 900)
    r = oct_regions(clean)
    assert len(r.signals) == 4
    for a, b in itertools.combinations(_all_boxes(r), 2):
        assert not a.overlaps(b)
    assert r.background.top + r.background.height <= 112  # the top quarter

    def mean(box: Box) -> float:
        return clean[0, 0][box.mask(450, 900)].mean().item()

    bg_mean = mean(r.background)
    assert all(bg_mean < mean(s) for s in r.signals)
    # The averaged (clean) scan beats a single noisy frame on both no-reference metrics.
    noisy = to_tensor(read_uint8(DATA / "oct" / "Duke18" / "test" / "noisy" / "11_0.png"))
    clean_scores, noisy_scores = oct_scores(clean, r), oct_scores(noisy, r)
    assert clean_scores["cnr"] > noisy_scores["cnr"]
    assert clean_scores["enl"] > noisy_scores["enl"]
