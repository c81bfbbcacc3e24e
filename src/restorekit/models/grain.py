"""A small conditioned CNN that synthesises film grain (the learned grain engine's network).

The network maps an image, white noise and the Boolean model's parameters to grain with the
Boolean model's statistics (:mod:`restorekit.film.boolean`); it is trained against that model
with distribution losses (:mod:`restorekit.losses.grain`), never pixel by pixel.

.. code-block:: text

    noise (k ch) --conv KxK--> basis (n ch) --------------------.
                                                                  x --> sum over channels --> grain
    [u, log u, log(1-u), radius, spread, blur] --1x1 MLP--> weights (n ch) -'

The basis convolution shapes the grain's spectrum (a bank of learned filters of the noise); the
per-pixel mixing weights, computed from the grey level and the parameters as a log-amplitude and a
unit direction (the strength of grain spans decades), set how much of each filter the grain has
there: its variance per intensity and its spectrum per intensity. Linear in
the noise, so the grain has zero mean at every intensity by construction (the model preserves the
image on average, as the Boolean model does); the engine clamps the render to [0, 1], which gives
the skewed grain of near-black and near-white film.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["GrainNet"]


class GrainNet(nn.Module):
    """Conditioned grain synthesis network (see the module docstring).

    Args:
        noise_channels: white-noise input channels ``k``.
        basis: learned noise filters ``n``.
        kernel: size of the basis filters (odd).
        hidden: width of the 1x1 conditioning MLP.
        radius_range: the grain radii (output pixels) it is trained for, ``[lo, hi]``.
        spread_range: the radius spreads ``radius_sigma / radius`` it is trained for.
        blur_range: the filter sigmas (output pixels) it is trained for.

    Shape:
        ``forward(x (N, 1, H, W), params (N, 3), noise (N, k, H, W)) -> grain (N, 1, H, W)``,
        ``params`` = (radius, spread, blur) in output pixels.

    Example:
        >>> net = GrainNet()
        >>> g = net(torch.full((2, 1, 37, 31), 0.5), torch.tensor([[0.5, 0.0, 0.8]] * 2),
        ...         torch.randn(2, 2, 37, 31))
        >>> g.shape
        torch.Size([2, 1, 37, 31])
    """

    def __init__(
        self,
        noise_channels: int = 2,
        basis: int = 12,
        kernel: int = 7,
        hidden: int = 24,
        radius_range: tuple[float, float] = (0.3, 1.0),
        spread_range: tuple[float, float] = (0.0, 0.5),
        blur_range: tuple[float, float] = (0.5, 1.4),
    ) -> None:
        super().__init__()
        self.noise_channels = noise_channels
        self.ranges = (tuple(radius_range), tuple(spread_range), tuple(blur_range))
        self.basis = nn.Conv2d(noise_channels, basis, kernel, padding=kernel // 2, bias=False)
        self.mix = nn.Sequential(
            nn.Conv2d(6, hidden, 1),
            nn.SiLU(),
            nn.Conv2d(hidden, hidden, 1),
            nn.SiLU(),
            nn.Conv2d(hidden, basis + 1, 1),
        )
        with torch.no_grad():  # start near film grain's typical strength, std ~ 0.05
            self.mix[-1].bias[0].fill_(-3.0)
        lo = torch.tensor([r[0] for r in self.ranges])
        span = torch.tensor([max(r[1] - r[0], 1e-6) for r in self.ranges])
        self.register_buffer("param_lo", lo, persistent=False)
        self.register_buffer("param_span", span, persistent=False)

    def forward(self, x: torch.Tensor, params: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        N, C, H, W = x.shape
        p = ((params - self.param_lo) / self.param_span).to(x.dtype)  # ranges -> [0, 1]
        # log u and log(1 - u) besides u: the Boolean model's grain changes fastest near 0 and 1
        logs = torch.cat([torch.log(x.clamp(min=1e-3)), torch.log1p(-x.clamp(max=1 - 1e-3))], 1)
        cond = torch.cat([x, logs, p[:, :, None, None].expand(N, 3, H, W)], dim=1)
        out = self.mix(cond)
        # log-amplitude and mixing direction apart: the grain's strength spans decades
        amplitude = torch.exp(out[:, :1])
        mixing = out[:, 1:] / out[:, 1:].norm(dim=1, keepdim=True).clamp(min=1e-6)
        basis = self.basis(noise)  # (N, basis, H, W)
        return amplitude * (mixing * basis).sum(dim=1, keepdim=True)
