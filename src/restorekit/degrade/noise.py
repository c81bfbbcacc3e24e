"""Noise models, each split into "sample the noise" and "apply it".

Sampling draws from a ``torch.Generator`` (never the global RNG), so an experiment is
reproducible and a pair of images can share one noise draw.
"""

from __future__ import annotations

import torch
from torch import nn

from restorekit._checks import check_image, check_positive, sigma_to_tensor

__all__ = [
    "AddGaussianNoise",
    "AddPoissonGaussianNoise",
    "add_gaussian_noise",
    "add_poisson_gaussian_noise",
    "sample_gaussian_noise",
]


def sample_gaussian_noise(
    x: torch.Tensor, sigma: float | torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw additive white Gaussian noise shaped like ``x``.

    Args:
        x: the image the noise is for, ``(B, C, H, W)``.
        sigma: standard deviation on the [0, 1] scale, a float or a ``(B,)`` tensor.
        generator: the random source.

    Returns:
        ``sigma * n`` with ``n ~ N(0, 1)`` i.i.d., same shape, dtype and device as ``x``.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> n = sample_gaussian_noise(torch.zeros(1, 1, 256, 256), 0.1, generator=g)
        >>> round(n.std().item(), 2)
        0.1
    """
    check_image(x)
    s = sigma_to_tensor(sigma, x)
    n = torch.randn(x.shape, generator=generator, dtype=x.dtype, device=x.device)
    return s * n


def add_gaussian_noise(
    x: torch.Tensor,
    sigma: float | torch.Tensor,
    generator: torch.Generator | None = None,
    clip: bool = False,
) -> torch.Tensor:
    """Add white Gaussian noise: :math:`y = x + \\sigma n`, :math:`n \\sim N(0, 1)`.

    The denoising benchmarks of the field do not clip the noisy image (``clip=False``).

    Args:
        x: image ``(B, C, H, W)`` in [0, 1].
        sigma: standard deviation on the [0, 1] scale (sigma 25 on 0..255 is ``25 / 255``),
            a float or a ``(B,)`` tensor (one level per image).
        generator: the random source.
        clip: clip the result to [0, 1].

    Returns:
        The noisy image, same shape.

    Example:
        >>> x = torch.full((2, 1, 64, 64), 0.5)
        >>> g = torch.Generator().manual_seed(1)
        >>> y = add_gaussian_noise(x, torch.tensor([0.0, 0.2]), generator=g)
        >>> [round(v, 1) for v in (y - x).flatten(1).std(dim=1).tolist()]
        [0.0, 0.2]
    """
    y = x + sample_gaussian_noise(x, sigma, generator)
    return y.clamp(0, 1) if clip else y


def add_poisson_gaussian_noise(
    x: torch.Tensor,
    gain: float,
    sigma: float | torch.Tensor,
    generator: torch.Generator | None = None,
    clip: bool = False,
) -> torch.Tensor:
    """Add signal-dependent Poisson-Gaussian noise, the usual raw-sensor model.

    .. math::
        y = a \\, \\mathcal{P}(x / a) + \\sigma n, \\qquad n \\sim N(0, 1)

    so that :math:`\\mathrm{Var}[y \\mid x] = a x + \\sigma^2`.

    Args:
        x: image ``(B, C, H, W)`` in [0, 1], linear (photon counts are proportional to it).
        gain: ``a``, the variance per unit of signal (``a = 1 / full-well-in-electrons``);
            0 gives pure Gaussian noise.
        sigma: read-noise standard deviation on the [0, 1] scale.
        generator: the random source.
        clip: clip the result to [0, 1].

    References:
        Foi, Trimeche, Katkovnik, Egiazarian, "Practical Poissonian-Gaussian noise modeling and
        fitting for single-image raw-data", IEEE TIP 2008.

    Example:
        >>> x = torch.full((1, 1, 128, 128), 0.25)
        >>> y = add_poisson_gaussian_noise(x, 0.01, 0.0, generator=torch.Generator().manual_seed(0))
        >>> round(y.var().item() / (0.01 * 0.25), 1)
        1.0
    """
    check_image(x)
    a = check_positive(gain, "gain")
    if a > 0:
        rate = (x.clamp_min(0) / a).to(torch.float64)
        shot = torch.poisson(rate, generator=generator).to(x.dtype) * a
    else:
        shot = x
    y = shot + sample_gaussian_noise(x, sigma, generator)
    return y.clamp(0, 1) if clip else y


class AddGaussianNoise(nn.Module):
    """Module twin of :func:`add_gaussian_noise`."""

    def __init__(self, sigma: float, clip: bool = False) -> None:
        super().__init__()
        self.sigma = check_positive(sigma, "sigma")
        self.clip = clip

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return add_gaussian_noise(x, self.sigma, generator=generator, clip=self.clip)

    def extra_repr(self) -> str:
        return f"sigma={self.sigma}, clip={self.clip}"


class AddPoissonGaussianNoise(nn.Module):
    """Module twin of :func:`add_poisson_gaussian_noise`."""

    def __init__(self, gain: float, sigma: float, clip: bool = False) -> None:
        super().__init__()
        self.gain = check_positive(gain, "gain")
        self.sigma = check_positive(sigma, "sigma")
        self.clip = clip

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return add_poisson_gaussian_noise(x, self.gain, self.sigma, generator, self.clip)

    def extra_repr(self) -> str:
        return f"gain={self.gain}, sigma={self.sigma}, clip={self.clip}"
