"""Gaussian kernels and blur, against SciPy's ndimage and by their moments.

Border semantics: our blur pads with torch's ``"reflect"`` (``d c b | a b c d | c b a``, edge not
repeated), which is SciPy's ``mode="mirror"``; SciPy's ``mode="reflect"`` repeats the edge pixel
(``d c b a | a b c d | d c b a``). The comparisons use ``"mirror"``, and one test shows that
``"reflect"`` differs at the border.
"""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
import torch
from scipy import ndimage

from helpers import assert_close
from restorekit.degrade import Blur, blur, gaussian_kernel, sample_blur_kernel
from restorekit.errors import RestorekitError


def _g(seed=0):
    return torch.Generator().manual_seed(seed)


def _raises(message, fn, *args, **kwargs):
    with pytest.raises(RestorekitError, match=f"^{re.escape(message)}$"):
        fn(*args, **kwargs)


def _moments(k: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean ``(u, v)`` and covariance of a kernel seen as a distribution over pixel offsets."""
    n = k.shape[-1]
    r = torch.arange(n, dtype=torch.float64) - n // 2
    v, u = torch.meshgrid(r, r, indexing="ij")
    p = torch.stack([u.flatten(), v.flatten()])  # (2, n*n): (u, v) of every tap
    w = k.flatten()
    mean = p @ w
    d = p - mean[:, None]
    return mean, (d * w) @ d.T


def _covariance(sx: float, sy: float, theta: float) -> torch.Tensor:
    c, s = math.cos(theta), math.sin(theta)
    R = torch.tensor([[c, -s], [s, c]], dtype=torch.float64)
    return R @ torch.diag(torch.tensor([sx * sx, sy * sy], dtype=torch.float64)) @ R.T


# --- against SciPy ----------------------------------------------------------------------------


@pytest.mark.parametrize("sigma", [0.8, 1.5, 2.6])
def test_isotropic_blur_equals_scipy_gaussian_filter(sigma):
    # SciPy cuts its kernel at radius int(4 sigma + 0.5); a kernel of that radius is the same
    # (both are the outer product of the same normalised 1-D Gaussian).
    radius = int(4.0 * sigma + 0.5)
    x = torch.rand(2, 3, 29, 34, generator=_g(1), dtype=torch.float64)
    ours = blur(x, gaussian_kernel(2 * radius + 1, sigma))
    ref = ndimage.gaussian_filter(x.numpy(), sigma=(0, 0, sigma, sigma), mode="mirror")
    assert_close(ours, ref, atol=1e-12)


def test_scipy_reflect_is_not_our_border():
    x = torch.rand(1, 1, 20, 20, generator=_g(2), dtype=torch.float64)
    ours = blur(x, gaussian_kernel(13, 1.5))[0, 0].numpy()
    scipy_reflect = ndimage.gaussian_filter(x[0, 0].numpy(), 1.5, mode="reflect")
    interior = (slice(6, -6), slice(6, -6))
    assert_close(ours[interior], scipy_reflect[interior], atol=1e-12)
    assert np.abs(ours - scipy_reflect).max() > 1e-3  # only the border differs


def test_blur_is_a_true_convolution_like_scipy_convolve():
    # An asymmetric kernel shows the flip: torch's conv2d alone would be a correlation.
    k = torch.rand(5, 5, generator=_g(3), dtype=torch.float64)
    x = torch.rand(1, 2, 11, 9, generator=_g(4), dtype=torch.float64)
    ref = np.stack([ndimage.convolve(c, k.numpy(), mode="mirror") for c in x[0].numpy()])
    assert_close(blur(x, k)[0], ref, atol=1e-12)
    correlation = np.stack([ndimage.correlate(c, k.numpy(), mode="mirror") for c in x[0].numpy()])
    assert np.abs(blur(x, k)[0].numpy() - correlation).max() > 1e-3


def test_one_kernel_per_image_equals_blurring_each_alone():
    x = torch.rand(3, 3, 16, 15, generator=_g(5), dtype=torch.float64)
    ks = torch.stack([sample_blur_kernel(9, (0.5, 2.5), _g(s)) for s in range(3)])
    batched = blur(x, ks)
    for i in range(3):
        assert_close(batched[i : i + 1], blur(x[i : i + 1], ks[i]), atol=1e-14)


# --- the kernels ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("size", "sx", "sy", "theta"),
    [(1, 1.0, None, 0.0), (3, 0.2, None, 0.0), (21, 3.0, 0.5, 1.0), (7, 0.3, 4.0, -2.0)],
)
def test_kernels_sum_to_one_and_are_point_symmetric(size, sx, sy, theta):
    k = gaussian_kernel(size, sx, sy, theta)
    assert k.shape == (size, size) and k.dtype == torch.float64
    assert abs(k.sum().item() - 1.0) < 1e-12
    assert (k >= 0).all()
    assert_close(k, k.flip(0, 1), atol=1e-15)


@pytest.mark.parametrize(
    ("sx", "sy", "theta"),
    [(2.0, 2.0, 0.0), (3.0, 1.0, 0.0), (3.0, 1.0, math.pi / 4), (1.2, 2.7, -1.0), (2.5, 1.5, 2.5)],
)
def test_anisotropic_covariance_is_the_requested_rotated_one(sx, sy, theta):
    # Size 41 keeps > 6 sigma: the second moments of the sampled Gaussian equal Sigma to ~1e-8.
    mean, cov = _moments(gaussian_kernel(41, sx, sy, theta))
    assert_close(mean, torch.zeros(2), atol=1e-12)
    assert_close(cov, _covariance(sx, sy, theta), atol=1e-6)


def test_theta_turns_the_sigma_x_axis_from_the_width_towards_the_height():
    k0 = gaussian_kernel(15, 3.0, 1.0, 0.0)
    assert_close(gaussian_kernel(15, 3.0, 1.0, math.pi / 2), k0.T, atol=1e-15)
    _, cov = _moments(gaussian_kernel(31, 3.0, 1.0, math.pi / 4))
    assert cov[0, 1] > 3.0  # mass along u = v: right and down (rows grow downwards)
    assert_close(gaussian_kernel(9, 2.0, 2.0, 0.7), gaussian_kernel(9, 2.0), atol=1e-15)


def test_sample_blur_kernel_is_seeded_and_leaves_global_rng_alone():
    torch.manual_seed(0)
    state = torch.get_rng_state()
    a = sample_blur_kernel(21, (0.2, 3.0), _g(7))
    assert torch.equal(a, sample_blur_kernel(21, (0.2, 3.0), _g(7)))
    assert not torch.equal(a, sample_blur_kernel(21, (0.2, 3.0), _g(8)))
    assert torch.equal(torch.get_rng_state(), state)


def test_sampled_sigmas_stay_in_range():
    lo, hi = 0.7, 2.0
    g = _g(9)
    for _ in range(20):
        _, cov = _moments(sample_blur_kernel(31, (lo, hi), g))
        eig = torch.linalg.eigvalsh(cov).sqrt()
        assert lo - 1e-6 <= eig.min() and eig.max() <= hi + 1e-6
        _, cov = _moments(sample_blur_kernel(31, (lo, hi), g, anisotropic=False))
        assert_close(cov[0, 1], torch.tensor(0.0), atol=1e-9)  # isotropic: no correlation
        assert_close(cov[0, 0], cov[1, 1], atol=1e-9)
        assert lo**2 - 1e-6 <= cov[0, 0] <= hi**2 + 1e-6


# --- gradients, modules, dtypes ---------------------------------------------------------------


def test_gradcheck_in_image_and_kernel():
    x = torch.rand(2, 2, 6, 5, generator=_g(10), dtype=torch.float64, requires_grad=True)
    k = gaussian_kernel(3, 0.8, 1.3, 0.4).requires_grad_(True)
    assert torch.autograd.gradcheck(blur, (x, k))
    ks = torch.rand(2, 5, 5, generator=_g(11), dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(blur, (x, ks))


def test_module_equals_function_and_keeps_dtype():
    x = torch.rand(2, 3, 12, 12, generator=_g(12))
    k = gaussian_kernel(5, 1.0)
    assert torch.equal(Blur(k)(x), blur(x, k))
    assert blur(x, k).dtype == torch.float32
    assert "kernel_shape=(5, 5)" in repr(Blur(k))
    assert Blur(k).state_dict() == {}  # the kernel is not a weight


def test_constant_image_stays_constant():
    x = torch.full((1, 1, 9, 9), 0.3, dtype=torch.float64)
    assert_close(blur(x, sample_blur_kernel(9, (0.5, 3.0), _g(13))), x, atol=1e-15)


# --- bad input --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((4, 1.0), "kernel size must be an odd integer >= 1, got 4"),
        ((0, 1.0), "kernel size must be an odd integer >= 1, got 0"),
        ((5.0, 1.0), "kernel size must be an odd integer >= 1, got 5.0"),
        ((True, 1.0), "kernel size must be an odd integer >= 1, got True"),
        ((5, 0.0), "sigma_x must be a finite number > 0, got 0.0"),
        ((5, -1.0), "sigma_x must be a finite number > 0, got -1.0"),
        ((5, 1.0, float("nan")), "sigma_y must be a finite number > 0, got nan"),
        ((5, 1.0, 2.0, float("inf")), "theta must be a finite number (radians), got inf"),
    ],
)
def test_bad_kernel_arguments(args, message):
    _raises(message, gaussian_kernel, *args)


def test_bad_sigma_range():
    _raises("sigma_range must have lo <= hi, got (3.0, 1.0)", sample_blur_kernel, 5, (3.0, 1.0))
    _raises("sigma_range lo must be a finite number > 0, got 0.0", sample_blur_kernel, 5, (0, 1))
    _raises("sigma_range must be a pair (lo, hi), got 2.0", sample_blur_kernel, 5, 2.0)


def test_bad_blur_input():
    x = torch.rand(2, 1, 8, 8)
    _raises(
        "kernel must be (k, k) or (B, k, k) with k odd, got shape (4, 4)", blur, x, torch.ones(4, 4)
    )
    _raises(
        "kernel must be (k, k) or (B, k, k) with k odd, got shape (3, 5)", blur, x, torch.ones(3, 5)
    )
    _raises(
        "a batch of kernels must have one per image (2), got (3, 3, 3)",
        blur,
        x,
        torch.ones(3, 3, 3),
    )
    _raises(
        "a 17x17 kernel needs an image larger than 8x8 for reflect padding, got 8x8",
        blur,
        x,
        gaussian_kernel(17, 2.0),
    )
    _raises(
        "kernel must be a float tensor, got dtype torch.int64", blur, x, torch.ones(3, 3).long()
    )
    _raises(
        "image must have shape (B, C, H, W), got (8, 8)", blur, x[0, 0], gaussian_kernel(3, 1.0)
    )
