from __future__ import annotations

import math

import pytest
import torch
from scipy import stats

from restorekit.degrade import AddSpeckleNoise, add_speckle_noise, sample_speckle
from restorekit.errors import RestorekitError


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


@pytest.mark.parametrize("looks", [1.0, 2.5, 4.0, 10.0])
def test_noise_has_mean_one_and_variance_one_over_looks(looks):
    # 2**19 draws. Standard errors: mean 1 / sqrt(L n) <= 0.0014; relative error of the sample
    # variance sqrt((2 + 6 / L) / n) <= 0.004 (Gamma excess kurtosis 6 / L). Tolerances 0.005
    # and 2 % are >= 3.5 and 5 standard errors.
    n = sample_speckle(torch.zeros(1, 1, 512, 1024, dtype=torch.float64), looks, generator=_g())
    assert abs(n.mean().item() - 1.0) < 0.005
    assert abs(n.var().item() * looks - 1.0) < 0.02
    assert n.min() > 0


@pytest.mark.parametrize("looks", [0.5, 1.0, 2.5, 4.0, 10.0])
def test_noise_is_gamma_by_ks_test(looks):
    # 0.5 takes the L < 1 path (boosted Marsaglia-Tsang). 100 000 draws at seed 0.
    n = sample_speckle(torch.zeros(1, 1, 250, 400, dtype=torch.float64), looks, generator=_g())
    sample = n.flatten().numpy()
    assert stats.kstest(sample, stats.gamma(a=looks, scale=1 / looks).cdf).pvalue > 0.01
    # The test has power: a Gamma with 20 % more looks (same mean) is rejected.
    wrong = stats.gamma(a=1.2 * looks, scale=1 / (1.2 * looks))
    assert stats.kstest(sample, wrong.cdf).pvalue < 1e-6


def test_same_seed_same_output_and_global_rng_untouched():
    x = torch.rand(2, 3, 16, 16, generator=_g(5))
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = add_speckle_noise(x, 3.0, generator=_g(7))
    b = add_speckle_noise(x, 3.0, generator=_g(7))
    c = add_speckle_noise(x, 3.0, generator=_g(8))
    assert torch.equal(a, b)
    assert not torch.equal(a, c)
    assert torch.equal(torch.get_rng_state(), state)


def test_apply_is_x_times_sampled_noise():
    # "Sample" and "apply" split: the noisy image is x times the noise drawn from the same seed.
    x = torch.rand(2, 1, 8, 8, generator=_g(1))
    n = sample_speckle(x, 2.0, generator=_g(3))
    assert torch.equal(add_speckle_noise(x, 2.0, generator=_g(3)), x * n)


def test_module_equals_function():
    x = torch.rand(2, 3, 16, 16, generator=_g(2))
    m = AddSpeckleNoise(4.0, clip=True)
    assert torch.equal(m(x, generator=_g(9)), add_speckle_noise(x, 4.0, generator=_g(9), clip=True))
    assert "looks=4.0" in repr(m)


def test_dtype_shape_and_device_follow_x():
    x = torch.rand(1, 3, 8, 8, generator=_g(3))
    y = add_speckle_noise(x, 1.5, generator=_g())
    assert y.dtype == torch.float32 and y.shape == x.shape
    assert sample_speckle(x.double(), 1.5, generator=_g()).dtype == torch.float64


@pytest.mark.parametrize(
    ("looks", "shown"), [(0, "0"), (-1, "-1"), (float("nan"), "nan"), (float("inf"), "inf")]
)
def test_bad_looks_message_is_exact(looks, shown):
    x = torch.zeros(2, 1, 4, 4)
    expected = f"speckle looks L must be > 0, got {shown}"
    with pytest.raises(RestorekitError) as e:
        add_speckle_noise(x, looks, generator=_g())
    assert str(e.value) == expected
    with pytest.raises(RestorekitError) as e:
        AddSpeckleNoise(looks)
    assert str(e.value) == expected


def test_bad_looks_tensor():
    x = torch.zeros(2, 1, 4, 4)
    with pytest.raises(RestorekitError) as e:
        sample_speckle(x, torch.tensor([2.0, 0.0]), generator=_g())
    assert str(e.value) == "speckle looks L must be > 0, got 0.0"
    with pytest.raises(RestorekitError, match=r"a \(2,\) tensor, got shape \(3,\)"):
        sample_speckle(x, torch.tensor([1.0, 2.0, 3.0]), generator=_g())


def test_per_image_looks_give_per_image_variances():
    # 2**17 draws per image: relative standard error of the variance <= 0.8 %; tolerance 5 %.
    looks = torch.tensor([1.0, 4.0, 16.0])
    n = sample_speckle(torch.zeros(3, 1, 256, 512), looks, generator=_g())
    var = n.double().flatten(1).var(dim=1)
    assert torch.allclose(var, 1 / looks.double(), rtol=0.05)
    # A one-element tensor counts for every image.
    one = sample_speckle(torch.zeros(2, 1, 4, 4), torch.tensor([2.0]), generator=_g(1))
    assert torch.equal(one, sample_speckle(torch.zeros(2, 1, 4, 4), 2.0, generator=_g(1)))


def test_image_domain_variance_is_x_squared_over_looks():
    # Var[y | x] = x^2 / L and E[y | x] = x, for three flat images; 2**16 pixels each.
    # Relative standard errors: mean 0.23 %, variance 0.7 % (L = 3); tolerances 1 % and 4 %.
    levels = torch.tensor([0.2, 0.5, 0.9], dtype=torch.float64)
    x = levels.view(3, 1, 1, 1).expand(3, 1, 256, 256)
    y = add_speckle_noise(x, 3.0, generator=_g(4))
    assert torch.allclose(y.flatten(1).mean(dim=1), levels, rtol=0.01)
    assert torch.allclose(y.flatten(1).var(dim=1), levels**2 / 3, rtol=0.04)


def test_clip():
    x = torch.full((1, 1, 64, 64), 0.9)
    raw = add_speckle_noise(x, 1.0, generator=_g())
    clipped = add_speckle_noise(x, 1.0, generator=_g(), clip=True)
    assert raw.max() > 1  # exponential speckle often more than doubles a pixel
    assert clipped.max() == 1 and clipped.min() >= 0
    assert torch.equal(clipped, raw.clamp(0, 1))
    assert math.isclose(raw.mean().item(), 0.9, rel_tol=0.05)
