"""A "real-world" super-resolution degradation: blur, bicubic downscale, noise, JPEG.

The low-resolution images of the "unknown degradation" studies (SRResCycGAN, BSRGAN,
Real-ESRGAN) are made from high-resolution ones in this order:

1. Gaussian blur, isotropic or anisotropic (:func:`~restorekit.degrade.blur.blur`);
2. MATLAB-bicubic downscale by ``scale`` (:func:`~restorekit.degrade.resize.imresize`);
3. additive white Gaussian noise (:func:`~restorekit.degrade.noise.add_gaussian_noise`);
4. clip and round to 8 bits, JPEG at some quality, back to float
   (:func:`~restorekit.degrade.jpeg.jpeg`).

:class:`RealDegradation` holds the ranges the parameters are drawn from. Drawing and applying are
separate (``params = deg.sample(B, generator)``, then ``lr = deg.apply(hr, params)``), so the
parameters can be logged, reused or shared; ``apply`` is deterministic given the parameters (the
noise is drawn from a seed stored in them). :meth:`RealDegradation.fixed` gives one fixed
kernel, noise level and quality for benchmark images.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import torch

from restorekit._checks import check_image, check_positive
from restorekit.degrade.blur import _check_range, _check_size, blur, sample_blur_kernel
from restorekit.degrade.jpeg import _check_quality_int, jpeg, sample_jpeg_quality
from restorekit.degrade.noise import add_gaussian_noise
from restorekit.degrade.resize import imresize
from restorekit.errors import RestorekitError

__all__ = ["RealDegradation", "RealDegradationParams", "degrade_real"]

_SEED_BOUND = 2**62  # noise seeds are drawn from 0 .. 2**62 - 1


@dataclass(frozen=True, eq=False)
class RealDegradationParams:
    """The parameters of :func:`degrade_real` for a batch of ``B`` images.

    Attributes:
        kernel: blur kernels, ``(B, k, k)`` float (or one ``(k, k)`` kernel for every image).
        noise_sigma: Gaussian noise standard deviations, ``(B,)``, on the [0, 1] scale.
        jpeg_quality: JPEG qualities, ``(B,)`` integers in 1..100.
        noise_seed: the seed of each image's noise, ``(B,)`` int64.
    """

    kernel: torch.Tensor
    noise_sigma: torch.Tensor
    jpeg_quality: torch.Tensor
    noise_seed: torch.Tensor

    def __len__(self) -> int:
        return int(self.noise_sigma.numel())


def _pair(value: Sequence[float], name: str) -> tuple[float, float]:
    try:
        lo, hi = (float(v) for v in value)
    except (TypeError, ValueError):
        raise RestorekitError(f"{name} must be a pair (lo, hi), got {value!r}") from None
    return lo, hi


@dataclass(frozen=True)
class RealDegradation:
    """The ranges of a random real-world degradation for super-resolution (see the module).

    Every parameter is drawn per image, uniformly in its range: the blur sigma(s) in
    ``blur_sigma`` (and an angle in :math:`(-\\pi, \\pi)` when ``anisotropic``, see
    :func:`~restorekit.degrade.blur.sample_blur_kernel`), the noise level in ``noise_sigma_255``
    (divided by 255), the JPEG quality among the integers of ``jpeg_quality``. The defaults are
    Real-ESRGAN's first degradation stage (with a fixed kernel size).

    Args:
        scale: the downscale factor, an integer >= 1 (LR is ``ceil(H / scale)`` by
            ``ceil(W / scale)``; crop HR to a multiple of ``scale`` first).
        kernel_size: the blur kernel side, odd.
        blur_sigma: ``(lo, hi)`` blur standard deviation in HR pixels, ``0 < lo <= hi``.
        anisotropic: draw two sigmas and an angle (otherwise one sigma, isotropic).
        noise_sigma_255: ``(lo, hi)`` noise standard deviation on the 0..255 scale,
            ``0 <= lo <= hi`` (the sampled parameters hold it on the [0, 1] scale).
        jpeg_quality: ``(lo, hi)`` JPEG quality, integers ``1 <= lo <= hi <= 100``.
        seed: the seed :meth:`sample` uses when it gets no generator; ``None`` uses torch's
            global generator then.

    Raises:
        RestorekitError: any field out of range (one line naming it).

    References:
        R. M. Umer, C. Micheloni, "Deep cyclic generative adversarial residual convolutional
        networks for real image super-resolution" (SRResCycGAN), ECCV Workshops, 2020.
        X. Wang, L. Xie, C. Dong, Y. Shan, "Real-ESRGAN: Training real-world blind
        super-resolution with pure synthetic data", ICCV Workshops, 2021.

    Example:
        >>> deg = RealDegradation(scale=4)
        >>> hr = torch.rand(2, 3, 64, 48, generator=torch.Generator().manual_seed(0))
        >>> params = deg.sample(2, generator=torch.Generator().manual_seed(1))
        >>> lr = deg.apply(hr, params)
        >>> lr.shape, torch.equal(lr, deg.apply(hr, params))
        (torch.Size([2, 3, 16, 12]), True)
        >>> bench = RealDegradation.fixed(blur_sigma=1.6, noise_sigma_255=10, jpeg_quality=60)
        >>> torch.equal(bench(hr), bench(hr))  # no generator needed
        True
    """

    scale: int = 4
    kernel_size: int = 21
    blur_sigma: tuple[float, float] = (0.2, 3.0)
    anisotropic: bool = True
    noise_sigma_255: tuple[float, float] = (1.0, 30.0)
    jpeg_quality: tuple[int, int] = (30, 95)
    seed: int | None = field(default=None)

    def __post_init__(self) -> None:
        if isinstance(self.scale, bool) or not isinstance(self.scale, int) or self.scale < 1:
            raise RestorekitError(f"scale must be an integer >= 1, got {self.scale!r}")
        _check_size(self.kernel_size)
        object.__setattr__(self, "blur_sigma", _check_range(self.blur_sigma, "blur_sigma"))
        lo, hi = _pair(self.noise_sigma_255, "noise_sigma_255")
        check_positive(lo, "noise_sigma_255 lo")
        check_positive(hi, "noise_sigma_255 hi")
        if lo > hi:
            raise RestorekitError(
                f"noise_sigma_255 must have lo <= hi, got {self.noise_sigma_255!r}"
            )
        object.__setattr__(self, "noise_sigma_255", (lo, hi))
        try:
            qlo, qhi = self.jpeg_quality
        except (TypeError, ValueError):
            raise RestorekitError(
                f"jpeg_quality must be a pair (lo, hi), got {self.jpeg_quality!r}"
            ) from None
        _check_quality_int(qlo, "jpeg_quality lo")
        _check_quality_int(qhi, "jpeg_quality hi")
        if qlo > qhi:
            raise RestorekitError(f"jpeg_quality must have lo <= hi, got {self.jpeg_quality!r}")
        object.__setattr__(self, "jpeg_quality", (qlo, qhi))
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise RestorekitError(f"seed must be an integer or None, got {self.seed!r}")
        if not isinstance(self.anisotropic, bool):
            raise RestorekitError(f"anisotropic must be true or false, got {self.anisotropic!r}")

    @classmethod
    def fixed(
        cls,
        blur_sigma: float,
        noise_sigma_255: float,
        jpeg_quality: int,
        scale: int = 4,
        kernel_size: int = 21,
        seed: int = 0,
    ) -> RealDegradation:
        """One isotropic kernel, one noise level and one quality for every image (benchmarks).

        :meth:`sample` then needs no generator: the noise seeds come from ``seed``, so every call
        gives the same low-resolution images.

        Example:
            >>> RealDegradation.fixed(2.0, 15, 50)
            RealDegradation(scale=4, kernel_size=21, blur_sigma=(2.0, 2.0), anisotropic=False, noise_sigma_255=(15.0, 15.0), jpeg_quality=(50, 50), seed=0)
        """  # noqa: E501
        return cls(
            scale=scale,
            kernel_size=kernel_size,
            blur_sigma=(blur_sigma, blur_sigma),
            anisotropic=False,
            noise_sigma_255=(noise_sigma_255, noise_sigma_255),
            jpeg_quality=(jpeg_quality, jpeg_quality),
            seed=seed,
        )

    def sample(self, batch: int, generator: torch.Generator | None = None) -> RealDegradationParams:
        """Draw the parameters of ``batch`` images.

        Args:
            batch: the number of images, >= 1.
            generator: the random source (CPU); ``None`` uses ``torch.Generator()`` seeded with
                :attr:`seed`, or torch's global generator when :attr:`seed` is ``None``.

        Returns:
            The per-image parameters, on the CPU.
        """
        if isinstance(batch, bool) or not isinstance(batch, int) or batch < 1:
            raise RestorekitError(f"batch must be an integer >= 1, got {batch!r}")
        g = generator
        if g is None and self.seed is not None:
            g = torch.Generator().manual_seed(self.seed)
        nlo, nhi = self.noise_sigma_255
        kernels, sigmas, qualities, seeds = [], [], [], []
        for _ in range(batch):
            kernels.append(
                sample_blur_kernel(self.kernel_size, self.blur_sigma, g, self.anisotropic)
            )
            u = torch.rand(1, generator=g, dtype=torch.float64).item()
            sigmas.append((nlo + (nhi - nlo) * u) / 255)
            qualities.append(sample_jpeg_quality(*self.jpeg_quality, generator=g))
            seeds.append(int(torch.randint(0, _SEED_BOUND, (1,), generator=g).item()))
        return RealDegradationParams(
            kernel=torch.stack(kernels),
            noise_sigma=torch.tensor(sigmas, dtype=torch.float64),
            jpeg_quality=torch.tensor(qualities, dtype=torch.int64),
            noise_seed=torch.tensor(seeds, dtype=torch.int64),
        )

    def apply(self, hr: torch.Tensor, params: RealDegradationParams) -> torch.Tensor:
        """:func:`degrade_real` with this degradation's scale."""
        return degrade_real(hr, self.scale, params)

    def __call__(self, hr: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        """Sample the parameters for ``hr``'s batch, then apply them."""
        check_image(hr)
        return self.apply(hr, self.sample(hr.shape[0], generator))


def degrade_real(hr: torch.Tensor, scale: int, params: RealDegradationParams) -> torch.Tensor:
    """Blur, downscale, add noise and JPEG-compress: the low-resolution image of ``hr``.

    .. math::
        y = \\mathrm{JPEG}_q\\!\\left(\\mathrm{round}_8\\!\\left(
        (x \\ast k)\\!\\downarrow^{\\text{bicubic}}_s + \\sigma n\\right)\\right),
        \\qquad n \\sim N(0, 1)

    Deterministic given ``params``: image ``i``'s noise is drawn from a CPU generator seeded with
    ``params.noise_seed[i]``, so the same parameters give the same noise on any device and in any
    batch (blur and resize run on ``hr``'s device, whose rounding may differ from the CPU's in the
    last bits; on an H100 the 8-bit result equalled the CPU's). Noise and JPEG run on the CPU;
    the result is moved back to ``hr``'s device. Not differentiable (JPEG).

    Args:
        hr: high-resolution image ``(B, C, H, W)`` in [0, 1], sRGB, C 1 or 3.
        scale: the downscale factor, an integer >= 1; blur happens at HR resolution, before it.
        params: per-image parameters, from :meth:`RealDegradation.sample` or built by hand.

    Returns:
        The low-resolution image ``(B, C, ceil(H / scale), ceil(W / scale))`` in [0, 1], values
        ``k / 255``, in ``hr``'s dtype and on its device.

    Raises:
        RestorekitError: a bad image, scale or parameters (wrong batch length, a kernel too large
            for the image, a quality out of range).

    Example:
        >>> hr = torch.rand(1, 1, 32, 32, generator=torch.Generator().manual_seed(0))
        >>> params = RealDegradation(scale=2).sample(1, torch.Generator().manual_seed(0))
        >>> degrade_real(hr, 2, params).shape
        torch.Size([1, 1, 16, 16])
    """
    check_image(hr, channels=(1, 3))
    if isinstance(scale, bool) or not isinstance(scale, int) or scale < 1:
        raise RestorekitError(f"scale must be an integer >= 1, got {scale!r}")
    B = hr.shape[0]
    if not isinstance(params, RealDegradationParams):
        raise RestorekitError(f"params must be RealDegradationParams, got {type(params).__name__}")
    for name in ("noise_sigma", "jpeg_quality", "noise_seed"):
        value = getattr(params, name)
        if not isinstance(value, torch.Tensor) or value.numel() != B:
            shape = tuple(value.shape) if isinstance(value, torch.Tensor) else type(value).__name__
            raise RestorekitError(f"params.{name} must be a ({B},) tensor, got {shape}")
    sigmas = params.noise_sigma.detach().cpu().reshape(-1).tolist()
    if not all(math.isfinite(s) and s >= 0 for s in sigmas):
        raise RestorekitError(f"params.noise_sigma must be finite and >= 0, got {sigmas}")

    lr = imresize(blur(hr, params.kernel), scale=1 / scale).cpu()  # noise and JPEG on the CPU
    seeds = params.noise_seed.detach().cpu().reshape(-1).tolist()
    noisy = torch.cat(
        [
            add_gaussian_noise(lr[i : i + 1], sigmas[i], torch.Generator().manual_seed(int(s)))
            for i, s in enumerate(seeds)
        ]
    )
    return jpeg(noisy, params.jpeg_quality).to(hr.device)  # clips and rounds to 8 bits first
