from __future__ import annotations

import re

import pytest
import torch

from helpers import assert_close
from restorekit.degrade import (
    RealDegradation,
    RealDegradationParams,
    add_gaussian_noise,
    blur,
    degrade_real,
    imresize,
    jpeg,
)
from restorekit.errors import RestorekitError


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def _hr(B=2, C=3, H=64, W=48, seed=0):
    return torch.rand(B, C, H, W, generator=_g(seed))


def _raises(message, fn, *args, **kwargs):
    with pytest.raises(RestorekitError, match=f"^{re.escape(message)}$"):
        fn(*args, **kwargs)


@pytest.mark.parametrize(("scale", "C"), [(4, 3), (2, 1), (3, 3)])
def test_output_is_hr_over_scale_in_8_bit_steps(scale, C):
    deg = RealDegradation(scale=scale, kernel_size=11)
    hr = _hr(C=C, H=12 * scale, W=9 * scale)
    lr = deg(hr, _g(1))
    assert lr.shape == (2, C, 12, 9) and lr.dtype == hr.dtype
    assert lr.min() >= 0 and lr.max() <= 1
    assert_close(lr * 255, (lr * 255).round(), atol=1e-4)


def test_same_seed_same_images_other_seed_other_images():
    deg = RealDegradation()
    hr = _hr()
    assert torch.equal(deg(hr, _g(3)), deg(hr, _g(3)))
    assert not torch.equal(deg(hr, _g(3)), deg(hr, _g(4)))


def test_sampling_touches_only_the_generator():
    torch.manual_seed(0)
    state = torch.get_rng_state()
    RealDegradation()(_hr(), _g(5))
    RealDegradation.fixed(1.0, 5, 70)(_hr())
    assert torch.equal(torch.get_rng_state(), state)


def test_apply_is_deterministic_and_each_image_is_independent_of_its_batch():
    deg = RealDegradation()
    hr = _hr(B=3)
    params = deg.sample(3, _g(6))
    lr = deg.apply(hr, params)
    assert torch.equal(lr, deg.apply(hr, params))
    for i in range(3):
        one = RealDegradationParams(
            kernel=params.kernel[i : i + 1],
            noise_sigma=params.noise_sigma[i : i + 1],
            jpeg_quality=params.jpeg_quality[i : i + 1],
            noise_seed=params.noise_seed[i : i + 1],
        )
        assert torch.equal(deg.apply(hr[i : i + 1], one), lr[i : i + 1])


def test_order_is_blur_downscale_noise_jpeg():
    deg = RealDegradation(scale=4)
    hr = _hr(B=2, C=3)
    p = deg.sample(2, _g(7))
    x = imresize(blur(hr, p.kernel), scale=1 / 4)
    noisy = torch.cat(
        [
            add_gaussian_noise(x[i : i + 1], p.noise_sigma[i].item(), _g(int(p.noise_seed[i])))
            for i in range(2)
        ]
    )
    assert torch.equal(degrade_real(hr, 4, p), jpeg(noisy, p.jpeg_quality))


def test_sampled_parameters_are_in_their_ranges():
    deg = RealDegradation(blur_sigma=(0.5, 1.0), noise_sigma_255=(5, 10), jpeg_quality=(40, 42))
    p = deg.sample(64, _g(8))
    assert len(p) == 64 and p.kernel.shape == (64, 21, 21)
    assert_close(p.kernel.sum(dim=(1, 2)), torch.ones(64, dtype=torch.float64), atol=1e-12)
    assert (p.noise_sigma >= 5 / 255).all() and (p.noise_sigma <= 10 / 255).all()
    assert set(p.jpeg_quality.tolist()) == {40, 41, 42}
    assert len(set(p.noise_seed.tolist())) == 64


def test_fixed_mode_needs_no_generator():
    bench = RealDegradation.fixed(blur_sigma=1.6, noise_sigma_255=10, jpeg_quality=60)
    hr = _hr()
    assert torch.equal(bench(hr), bench(hr))
    p, q = bench.sample(2), bench.sample(2)
    assert torch.equal(p.kernel, q.kernel) and torch.equal(p.noise_seed, q.noise_seed)
    assert torch.equal(p.kernel[0], p.kernel[1])
    assert p.jpeg_quality.tolist() == [60, 60]
    assert_close(p.noise_sigma, torch.full((2,), 10 / 255, dtype=torch.float64), atol=1e-15)
    assert not torch.equal(RealDegradation.fixed(1.6, 10, 60, seed=1)(hr), bench(hr))


def test_noise_level_of_a_flat_image():
    # No JPEG loss to speak of at quality 100 on a gray image; blur and resize keep a flat image.
    deg = RealDegradation.fixed(blur_sigma=1.0, noise_sigma_255=20, jpeg_quality=100, scale=2)
    lr = deg(torch.full((1, 1, 256, 256), 0.5))
    assert abs(lr.std().item() * 255 - 20) < 1.5
    assert abs(lr.mean().item() - 0.5) < 0.01


def test_yaml_lists_become_tuples():
    deg = RealDegradation(blur_sigma=[0.5, 2], noise_sigma_255=[0, 0], jpeg_quality=[90, 95])
    assert deg.blur_sigma == (0.5, 2.0) and deg.noise_sigma_255 == (0.0, 0.0)
    assert deg.jpeg_quality == (90, 95)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"scale": 0}, "scale must be an integer >= 1, got 0"),
        ({"scale": 2.5}, "scale must be an integer >= 1, got 2.5"),
        ({"kernel_size": 20}, "kernel size must be an odd integer >= 1, got 20"),
        ({"blur_sigma": (3, 1)}, "blur_sigma must have lo <= hi, got (3, 1)"),
        ({"blur_sigma": (0, 1)}, "blur_sigma lo must be a finite number > 0, got 0.0"),
        ({"noise_sigma_255": (-1, 5)}, "noise_sigma_255 lo must be a finite number >= 0, got -1.0"),
        ({"noise_sigma_255": 5}, "noise_sigma_255 must be a pair (lo, hi), got 5"),
        ({"jpeg_quality": (0, 50)}, "jpeg_quality lo must be an integer in 1..100, got 0"),
        ({"jpeg_quality": (90, 30)}, "jpeg_quality must have lo <= hi, got (90, 30)"),
        ({"seed": 1.5}, "seed must be an integer or None, got 1.5"),
    ],
)
def test_bad_configuration(kwargs, message):
    _raises(message, RealDegradation, **kwargs)


def test_bad_parameters():
    deg = RealDegradation()
    p = deg.sample(2, _g(9))
    _raises("params.noise_sigma must be a (3,) tensor, got (2,)", degrade_real, _hr(B=3), 4, p)
    _raises("batch must be an integer >= 1, got 0", deg.sample, 0)
    _raises("scale must be an integer >= 1, got 0", degrade_real, _hr(), 0, p)
    _raises("params must be RealDegradationParams, got dict", degrade_real, _hr(), 4, {})
    _raises(
        "a 21x21 kernel needs an image larger than 10x10 for reflect padding, got 8x8",
        degrade_real,
        _hr(H=8, W=8),
        4,
        p,
    )
