"""Noise models, each split into "sample the noise" and "apply it".

Sampling draws from a ``torch.Generator`` (never the global RNG), so an experiment is
reproducible and a pair of images can share one noise draw.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from restorekit._checks import check_image, check_positive, sigma_to_tensor
from restorekit.errors import RestorekitError

__all__ = [
    "AddGaussianNoise",
    "AddPoissonGaussianNoise",
    "AddSpeckleNoise",
    "add_gaussian_noise",
    "add_poisson_gaussian_noise",
    "add_speckle_noise",
    "sample_gaussian_noise",
    "sample_speckle",
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


def _check_looks(looks: float | torch.Tensor) -> None:
    """Raise the speckle error for a number of looks that is not a finite number > 0."""
    if isinstance(looks, torch.Tensor):
        L = looks.detach().to(torch.float64).reshape(-1)
        bad = ~torch.isfinite(L) | (L <= 0)
        if bad.any():
            raise RestorekitError(f"speckle looks L must be > 0, got {L[bad][0].item()}")
        return
    try:
        v = float(looks)
    except (TypeError, ValueError):
        raise RestorekitError(
            f"speckle looks L must be a number or a (B,) tensor, got {looks!r}"
        ) from None
    if isinstance(looks, bool) or not math.isfinite(v) or v <= 0:
        raise RestorekitError(f"speckle looks L must be > 0, got {looks}")


def _looks_to_tensor(looks: float | torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Broadcast a number of looks to ``(B, 1, 1, 1)`` float64 on ``x``'s device."""
    _check_looks(looks)
    B = x.shape[0]
    if isinstance(looks, torch.Tensor):
        L = looks.detach().to(device=x.device, dtype=torch.float64).reshape(-1)
        if L.numel() == 1:
            L = L.expand(B)
        if L.numel() != B:
            raise RestorekitError(
                f"speckle looks L must be a float or a ({B},) tensor, got shape "
                f"{tuple(looks.shape)}"
            )
        return L.reshape(B, 1, 1, 1)
    return torch.full((B, 1, 1, 1), float(looks), dtype=torch.float64, device=x.device)


def _standard_gamma(a: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
    """One Gamma(a, 1) draw per element of ``a`` (float64, all > 0), from ``generator`` only.

    Marsaglia and Tsang's squeeze-and-reject method: with :math:`d = a - 1/3` and
    :math:`c = 1 / \\sqrt{9 d}`, draw :math:`z \\sim N(0, 1)`, :math:`u \\sim U(0, 1)`, set
    :math:`v = (1 + c z)^3` and accept :math:`d v` when :math:`v > 0` and
    :math:`\\log u < z^2 / 2 + d - d v + d \\log v`. The rejected elements are drawn again, round
    after round, until every element is accepted (each round accepts at least 95 %), so the output
    is exactly Gamma distributed. For :math:`a < 1` a Gamma(a + 1) draw is multiplied by
    :math:`u^{1/a}` (Marsaglia and Tsang's boost), which is Gamma(a).

    References:
        G. Marsaglia, W. W. Tsang, "A simple method for generating gamma variables",
        ACM Transactions on Mathematical Software, 2000.
    """
    shape, device = a.shape, a.device
    a = a.reshape(-1)
    boost = a < 1
    d = torch.where(boost, a + 1, a) - 1.0 / 3.0
    c = 1.0 / torch.sqrt(9.0 * d)
    out = torch.empty_like(a)
    pending = torch.arange(a.numel(), device=device)
    while pending.numel() > 0:
        dp, cp = d[pending], c[pending]
        z = torch.randn(pending.shape, generator=generator, dtype=torch.float64, device=device)
        u = torch.rand(pending.shape, generator=generator, dtype=torch.float64, device=device)
        v = (1.0 + cp * z) ** 3
        positive = v > 0
        log_v = torch.log(torch.where(positive, v, torch.ones_like(v)))
        accept = positive & (torch.log(u) < 0.5 * z * z + dp - dp * v + dp * log_v)
        out[pending[accept]] = (dp * v)[accept]
        pending = pending[~accept]
    if bool(boost.any()):
        u = torch.rand(a.shape, generator=generator, dtype=torch.float64, device=device)
        out = torch.where(boost, out * torch.exp(torch.log(u) / a), out)
    return out.reshape(shape)


def sample_speckle(
    x: torch.Tensor, looks: float | torch.Tensor, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Draw multiplicative speckle shaped like ``x``: :math:`n \\sim \\mathrm{Gamma}(L, 1/L)`.

    The shape is :math:`L` (the number of looks) and the scale :math:`1 / L`, so
    :math:`E[n] = 1` and :math:`\\mathrm{Var}[n] = 1 / L`; every pixel and channel is independent
    (no speckle grain size). The draws are exact in distribution: Marsaglia and Tsang's
    rejection method, repeated for the rejected pixels until all are accepted (with their boost
    for :math:`L < 1`), on uniforms and normals from ``generator`` only, in float64, then cast
    to ``x``'s dtype. (``torch.distributions.Gamma`` and ``torch._standard_gamma`` take no
    generator.)

    Args:
        x: the image the noise is for, ``(B, C, H, W)``.
        looks: :math:`L > 0`, a float or a ``(B,)`` tensor (one per image); need not be an integer.
        generator: the random source.

    Returns:
        ``n``, positive, same shape, dtype and device as ``x``.

    Raises:
        RestorekitError: ``"speckle looks L must be > 0, got {L}"`` for a looks value that is
            not a finite number > 0.

    References:
        J. W. Goodman, "Some fundamental properties of speckle", Journal of the Optical Society
        of America, 1976. G. Marsaglia, W. W. Tsang, "A simple method for generating gamma
        variables", ACM Transactions on Mathematical Software, 2000.

    Example:
        >>> g = torch.Generator().manual_seed(0)
        >>> n = sample_speckle(torch.zeros(1, 1, 256, 256), 4.0, generator=g)
        >>> round(n.mean().item(), 2), round(n.var().item(), 2)
        (1.0, 0.25)
    """
    check_image(x)
    L = _looks_to_tensor(looks, x).expand(x.shape)
    n = _standard_gamma(L, generator) / L
    return n.to(x.dtype)


def add_speckle_noise(
    x: torch.Tensor,
    looks: float | torch.Tensor,
    generator: torch.Generator | None = None,
    clip: bool = False,
) -> torch.Tensor:
    """Multiply by fully developed speckle averaged over ``looks`` looks: :math:`y = x n`.

    .. math::
        y = x \\, n, \\qquad n \\sim \\mathrm{Gamma}(L, 1/L)

    so that :math:`E[y \\mid x] = x` and :math:`\\mathrm{Var}[y \\mid x] = x^2 / L`. This is the
    intensity-domain model: one look of fully developed speckle has an exponentially distributed
    intensity (Gamma with :math:`L = 1`, Goodman 1976), and the average of :math:`L`
    independent looks is Gamma(L, 1/L) around the underlying reflectivity. It is the standard
    model of SAR images and of linear-intensity OCT; speckle on log-compressed OCT B-scans is not
    of this form. Noise is drawn by :func:`sample_speckle`.

    Args:
        x: image ``(B, C, H, W)`` in [0, 1], linear intensity.
        looks: the number of looks :math:`L > 0`, a float or a ``(B,)`` tensor (one per image);
            larger is less noisy.
        generator: the random source.
        clip: clip the result to [0, 1] (speckle is positive, so only values above 1 change).

    Returns:
        The speckled image, same shape, dtype and device.

    References:
        J. W. Goodman, "Some fundamental properties of speckle", Journal of the Optical Society
        of America, 1976. J. M. Schmitt, S. H. Xiang, K. M. Yung, "Speckle in optical coherence
        tomography", Journal of Biomedical Optics, 1999.

    Example:
        >>> x = torch.full((2, 1, 128, 128), 0.5)
        >>> y = add_speckle_noise(x, torch.tensor([1.0, 16.0]), generator=torch.Generator())
        >>> [round(v, 1) for v in (y.flatten(1).var(dim=1) / 0.5**2).tolist()]  # 1 / L
        [1.0, 0.1]
    """
    y = x * sample_speckle(x, looks, generator)
    return y.clamp(0, 1) if clip else y


class AddSpeckleNoise(nn.Module):
    """Module twin of :func:`add_speckle_noise`."""

    def __init__(self, looks: float, clip: bool = False) -> None:
        super().__init__()
        _check_looks(looks)
        self.looks = float(looks)
        self.clip = clip

    def forward(self, x: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return add_speckle_noise(x, self.looks, generator=generator, clip=self.clip)

    def extra_repr(self) -> str:
        return f"looks={self.looks}, clip={self.clip}"
