from __future__ import annotations

import pytest
import torch

from restorekit.degrade import (
    AddGaussianNoise,
    AddPoissonGaussianNoise,
    add_gaussian_noise,
    add_poisson_gaussian_noise,
)
from restorekit.errors import RestorekitError


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def test_gaussian_std_and_mean():
    x = torch.full((1, 3, 200, 200), 0.5)
    n = add_gaussian_noise(x, 25 / 255, generator=_g()) - x
    assert abs(n.std().item() - 25 / 255) < 0.002
    assert abs(n.mean().item()) < 0.001


def test_gaussian_is_seeded_and_leaves_global_rng_alone():
    x = torch.rand(2, 3, 16, 16, generator=_g(5))
    torch.manual_seed(123)
    state = torch.get_rng_state()
    a = add_gaussian_noise(x, 0.1, generator=_g(7))
    b = add_gaussian_noise(x, 0.1, generator=_g(7))
    assert torch.equal(a, b)
    assert torch.equal(torch.get_rng_state(), state)


def test_gaussian_per_image_sigma():
    x = torch.zeros(3, 1, 128, 128)
    n = add_gaussian_noise(x, torch.tensor([0.0, 0.05, 0.2]), generator=_g())
    stds = n.flatten(1).std(dim=1)
    assert stds[0] == 0
    assert torch.allclose(stds[1:], torch.tensor([0.05, 0.2]), rtol=0.03)


def test_gaussian_not_clipped_by_default():
    y = add_gaussian_noise(torch.zeros(1, 1, 32, 32), 0.1, generator=_g())
    assert y.min() < 0
    assert add_gaussian_noise(torch.zeros(1, 1, 32, 32), 0.1, generator=_g(), clip=True).min() == 0


def test_poisson_gaussian_variance_follows_signal():
    x = torch.cat([torch.full((1, 1, 256, 256), v) for v in (0.1, 0.6)])
    y = add_poisson_gaussian_noise(x, gain=0.004, sigma=0.02, generator=_g())
    var = (y - x).flatten(1).var(dim=1)
    expected = 0.004 * torch.tensor([0.1, 0.6]) + 0.02**2
    assert torch.allclose(var, expected, rtol=0.05)


def test_bad_sigma():
    x = torch.zeros(2, 1, 4, 4)
    with pytest.raises(RestorekitError, match="sigma must be a finite number >= 0"):
        add_gaussian_noise(x, -0.1)
    with pytest.raises(RestorekitError, match=r"\(2,\) tensor"):
        add_gaussian_noise(x, torch.tensor([0.1, 0.2, 0.3]))
    with pytest.raises(RestorekitError, match="gain"):
        add_poisson_gaussian_noise(x, -1.0, 0.1)


def test_modules_equal_functions():
    x = torch.rand(1, 3, 8, 8, generator=_g(1))
    assert torch.equal(AddGaussianNoise(0.1)(x, _g(2)), add_gaussian_noise(x, 0.1, _g(2)))
    assert torch.equal(
        AddPoissonGaussianNoise(0.01, 0.02)(x, _g(2)),
        add_poisson_gaussian_noise(x, 0.01, 0.02, _g(2)),
    )


def test_gradient_passes_through_to_the_image():
    x = torch.rand(1, 1, 4, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda t: add_gaussian_noise(t, 0.1, generator=_g(3)), (x,))
