"""How much of an image's (or a residual's) energy sits at high spatial frequencies."""

from __future__ import annotations

import math

import torch
from torch import nn

from restorekit._checks import check_image
from restorekit.errors import RestorekitError
from restorekit.metrics._common import crop_border

__all__ = ["HighFrequencyEnergyRatio", "high_frequency_energy_ratio", "radial_frequency"]


def radial_frequency(
    height: int, width: int, device: torch.device | str | None = None
) -> torch.Tensor:
    """Radial frequency of every DFT bin of an ``height x width`` image, in cycles per pixel.

    Bin ``(k, l)`` has frequencies ``fy = fftfreq(height)[k]`` and ``fx = fftfreq(width)[l]`` in
    [-0.5, 0.5) and radius :math:`\\sqrt{f_x^2 + f_y^2}`, between 0 (DC) and
    :math:`\\sqrt{2}/2` (the Nyquist corner).

    Shape:
        ``(height, width)``, in the unshifted order of ``torch.fft.fft2``.

    Example:
        >>> radial_frequency(4, 4)[0].tolist()
        [0.0, 0.25, 0.5, 0.25]
    """
    fy = torch.fft.fftfreq(height, dtype=torch.float64, device=device)
    fx = torch.fft.fftfreq(width, dtype=torch.float64, device=device)
    return torch.sqrt(fy[:, None] ** 2 + fx[None, :] ** 2)


def high_frequency_energy_ratio(
    x: torch.Tensor, cutoff: float = 0.25, crop: int = 0
) -> torch.Tensor:
    """Fraction of the power spectrum above a radial frequency, per image.

    Each channel has its mean removed; its 2-D DFT power :math:`|X(f)|^2` is summed over channels
    and

    .. math::

        \\rho = \\frac{\\sum_{|f| > f_c} |X(f)|^2}{\\sum_f |X(f)|^2}

    with :math:`|f|` the radial frequency of the bin in cycles per pixel (:func:`radial_frequency`;
    Nyquist is 0.5 on each axis) and :math:`f_c` = ``cutoff``. For white noise the power is flat
    over the square :math:`[-0.5, 0.5)^2`, so :math:`\\rho \\approx 1 - \\pi f_c^2` for
    :math:`f_c \\le 0.5`; a checkerboard (all energy at the corner) gives 1, a smooth image near 0.

    The DFT treats the image as periodic and no window is applied: a strong jump between opposite
    borders shows up as high-frequency energy. Measure a residual (e.g. ``noisy - clean`` or
    ``restored - clean``) to ask how white it is, or crop.

    Args:
        x: image or residual; any real values and any number of channels.
        cutoff: radial frequency :math:`f_c` in cycles per pixel, >= 0 (0.25 is half of Nyquist).
        crop: pixels removed on every side before computing.

    Returns:
        ``(B,)`` ratio in [0, 1]; 0 for an image with no energy after mean removal (constant).
        Float64 inside, ``x``'s dtype out. Differentiable.

    Shape:
        ``(B, C, H, W) -> (B,)``

    Example:
        >>> i = torch.arange(8.0)
        >>> checker = ((i[:, None] + i[None, :]) % 2).expand(1, 1, 8, 8)
        >>> high_frequency_energy_ratio(checker)
        tensor([1.])
    """
    check_image(x, name="x")
    if (
        isinstance(cutoff, bool)
        or not isinstance(cutoff, (int, float))
        or not math.isfinite(cutoff)
        or cutoff < 0
    ):
        raise RestorekitError(
            f"cutoff must be a finite number >= 0 (cycles per pixel), got {cutoff!r}"
        )
    a = crop_border(x.to(torch.float64), crop)
    H, W = a.shape[-2:]
    a = a - a.mean(dim=(-2, -1), keepdim=True)
    # |X|^2 as re^2 + im^2 (abs() has a 0/0 gradient at the zeroed DC bin), summed over channels.
    power = torch.view_as_real(torch.fft.fft2(a)).pow(2).sum(dim=(1, -1))  # (B, H, W)
    high = (radial_frequency(H, W, device=a.device) > cutoff).to(power.dtype)
    total = power.flatten(1).sum(dim=1)
    above = (power * high).flatten(1).sum(dim=1)
    has_energy = total > 0
    ratio = above / torch.where(has_energy, total, torch.ones_like(total))
    return torch.where(has_energy, ratio, torch.zeros_like(ratio)).to(x.dtype)


class HighFrequencyEnergyRatio(nn.Module):
    """Module twin of :func:`high_frequency_energy_ratio`."""

    def __init__(self, cutoff: float = 0.25, crop: int = 0) -> None:
        super().__init__()
        self.cutoff = cutoff
        self.crop = crop

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return high_frequency_energy_ratio(x, cutoff=self.cutoff, crop=self.crop)

    def extra_repr(self) -> str:
        return f"cutoff={self.cutoff}, crop={self.crop}"
