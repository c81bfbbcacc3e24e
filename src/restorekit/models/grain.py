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

Two options make it closer to the Boolean model on pictures (``modulate`` and ``envelope``):

- ``modulate``: the per-pixel weights scale the white noise *before* the basis filters,
  ``grain = sum_i B_i * (w_i(u) n)``, instead of the filtered noise after them,
  ``sum_i w_i(u) (B_i * n)``. On a flat field the two are the same field; on a picture the first
  is the Boolean model's order (grains are born where the grey level is, then the filter blurs
  them), so a pixel's grain comes from its neighbourhood's grey levels: at an edge it is the
  average of both sides' grain, and a clipped white pixel next to grey ones still shows the grey
  ones' grain blurred into it, as the Boolean engine renders it.
- ``envelope``: the amplitude is multiplied by ``sqrt(u (1 - u))``, so that a pixel at exactly 0
  or 1 (no grains, or a full cover) gives no grain of its own, as in the Boolean model, whose
  variance goes to zero at both ends; the network learns the rest of the curve.
- ``gate`` (with ``modulate``): a gain after the filters, a function of the pixel's own grey level,
  ``grain = g(u) sum_i B_i * (w_i(u) n)``. On a flat field it only rescales; on a picture it
  decides how much of the neighbours' grain reaches a pixel. The Boolean model is a union of
  disks, not a sum: a near-white pixel is covered whatever its darker neighbours' disks do, so
  their grain barely shows there, while a near-black pixel shows every disk that reaches into
  it. A sum of filtered noise alone gives the first too much grain and the second too little.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from restorekit.errors import RestorekitError

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
        skew: add a skew feature (:meth:`features`) with its own per-pixel weight.
        modulate: weight the noise before the basis filters (module docstring); one noise
            channel, no skew.
        envelope: multiply the amplitude by ``sqrt(u (1 - u))`` (module docstring).
        gate: a gain after the basis filters, from the pixel's grey level (module docstring);
            needs ``modulate``.

    Shape:
        ``forward(x (N, 1, H, W), params (N, 3), noise (N, k, H + 2m, W + 2m)) -> grain
        (N, 1, H, W)``, ``params`` = (radius, spread, blur) in output pixels, ``m`` =
        :attr:`margin` = ``kernel // 2`` (the noise covers the basis filters' reach). ``x`` may
        also be given with the margin, ``(N, 1, H + 2m, W + 2m)`` (the grey levels under the
        margin's noise, which ``modulate`` uses; otherwise the border is replicated).

    Example:
        >>> net = GrainNet().eval()
        >>> g = net(torch.full((2, 1, 37, 31), 0.5), torch.tensor([[0.5, 0.0, 0.8]] * 2),
        ...         torch.randn(2, 1, 37 + 6, 31 + 6))
        >>> g.shape
        torch.Size([2, 1, 37, 31])
        >>> noise = torch.randn(1, 1, 43, 37, generator=torch.Generator().manual_seed(0))
        >>> params = torch.tensor([0.5, 0.0, 0.8])
        >>> fast = net.synthesize(torch.full((1, 1, 37, 31), 0.5), params, noise)
        >>> fast.shape
        torch.Size([1, 1, 37, 31])
    """

    def __init__(
        self,
        noise_channels: int = 1,
        basis: int = 6,
        kernel: int = 7,
        hidden: int = 24,
        radius_range: tuple[float, float] = (0.3, 1.0),
        spread_range: tuple[float, float] = (0.0, 0.5),
        blur_range: tuple[float, float] = (0.5, 1.4),
        skew: bool = False,
        modulate: bool = False,
        envelope: bool = False,
        gate: bool = False,
    ) -> None:
        super().__init__()
        if modulate and (noise_channels != 1 or skew):
            raise RestorekitError("grain-net: modulate takes one noise channel and no skew")
        if gate and not modulate:
            raise RestorekitError("grain-net: gate needs modulate")
        self.noise_channels = noise_channels
        self.skew = bool(skew)
        self.modulate = bool(modulate)
        self.envelope = bool(envelope)
        self.gate = bool(gate)
        self.ranges = (tuple(radius_range), tuple(spread_range), tuple(blur_range))
        # no padding: the noise is drawn with a margin, so no pixel sees a zero-padded border
        # (which would lower the grain there and teach the network too strong a grain)
        self.basis = nn.Conv2d(noise_channels, basis, kernel, bias=False)
        self.margin = kernel // 2
        self.mix = nn.Sequential(
            nn.Conv2d(6, hidden, 1),
            nn.SiLU(),
            nn.Conv2d(hidden, hidden, 1),
            nn.SiLU(),
            nn.Conv2d(hidden, basis + 1 + self.skew + self.gate, 1),
        )
        with torch.no_grad():  # start near film grain's typical strength, std ~ 0.05
            self.mix[-1].bias[0].fill_(-3.0)
        lo = torch.tensor([r[0] for r in self.ranges])
        span = torch.tensor([max(r[1] - r[0], 1e-6) for r in self.ranges])
        self.register_buffer("param_lo", lo, persistent=False)
        self.register_buffer("param_span", span, persistent=False)

    def weights(self, x: torch.Tensor, params: torch.Tensor) -> torch.Tensor:
        """The per-pixel weights of the features (:meth:`features`), ``(N, basis [+ 1], H, W)``."""
        return self.weights_and_gain(x, params)[0]

    def weights_and_gain(
        self, x: torch.Tensor, params: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor | None]:
        """:meth:`weights` and, with :attr:`gate`, the gain after the filters ``(N, 1, H, W)``
        (``None`` without)."""
        N, C, H, W = x.shape
        p = ((params - self.param_lo) / self.param_span).to(x.dtype)  # ranges -> [0, 1]
        # log u and log(1 - u) besides u: the Boolean model's grain changes fastest near 0 and 1
        logs = torch.cat([torch.log(x.clamp(min=1e-3)), torch.log1p(-x.clamp(max=1 - 1e-3))], 1)
        cond = torch.cat([x, logs, p[:, :, None, None].expand(N, 3, H, W)], dim=1)
        out = self.mix(cond)
        # log-amplitude and mixing direction apart: the grain's strength spans decades
        amplitude = torch.exp(out[:, :1])
        if self.envelope:  # no grain of its own at exactly 0 or 1
            amplitude = amplitude * (x * (1 - x)).clamp(min=0).sqrt()
        n = self.basis.out_channels
        mixing = out[:, 1 : 1 + n]
        w = amplitude * mixing / mixing.norm(dim=1, keepdim=True).clamp(min=1e-6)
        if self.skew:  # the skew term's weight, relative to the amplitude
            w = torch.cat([w, amplitude * out[:, 1 + n : 2 + n]], dim=1)
        return w, (torch.exp(out[:, -1:]) if self.gate else None)

    def features(self, noise: torch.Tensor) -> torch.Tensor:
        """The basis responses of the noise and, with ``skew``, the zero-mean square of the
        first one normalised to unit variance (``z^2 - 1``): a Gaussian field is symmetric, film
        grain near black or white is not (isolated grains on white, isolated holes on black)."""
        b = self.basis(noise)
        if not self.skew:
            return b
        norm = self.basis.weight[0].pow(2).sum().sqrt().clamp(min=1e-6)  # unit-variance noise in
        z = b[:, :1] / norm
        return torch.cat([b, z * z - 1], dim=1)

    def flat_statistics(
        self, u: torch.Tensor, params: torch.Tensor, size: int = 64, rings: int = 16
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact variance and radially averaged power spectrum of the grain on flat fields
        before the engine's clamp, ``(N,)`` and ``(N, rings)``, differentiable: on a flat field
        of grey level ``u`` the grain is white noise through one kernel, ``sum_i w_i(u) B_i``
        (in either order, :attr:`modulate` or not), whose power spectrum is ``|K(f)|^2``,
        averaged over the rings of :func:`restorekit.metrics.grain.radial_power_spectrum` on a
        ``size x size`` grid.

        Args:
            u: ``(N,)`` grey levels; params: ``(N, 3)`` (radius, spread, blur).
        """
        from restorekit.metrics.grain import ring_weights

        if self.skew or self.noise_channels != 1:
            raise RestorekitError("flat_statistics needs one noise channel and no skew")
        w, gain = self.weights_and_gain(u.view(-1, 1, 1, 1), params)
        kernel = torch.einsum("bn,nhw->bhw", w[:, :, 0, 0], self.basis.weight[:, 0])
        if gain is not None:
            kernel = kernel * gain[:, :, 0]
        power = torch.fft.fft2(kernel, s=(size, size)).abs().pow(2)
        weights = ring_weights(size, size, rings, dtype=power.dtype, device=power.device)
        return kernel.pow(2).sum(dim=(1, 2)), torch.einsum("bhw,hwr->br", power, weights)

    def grow_from(self, source: GrainNet) -> None:
        """Start from a trained network of the same kind, computing exactly its function: a
        :attr:`gate` it did not have (the gain starts at 1: its output row at zero), and larger
        basis filters (the source's in the centre, zero around)."""
        from restorekit.models.weights import model_args

        mine, theirs = model_args(self), model_args(source)
        for args in (mine, theirs):
            args.pop("gate", None)
            args.pop("kernel", None)
        if (
            mine != theirs
            or (source.gate and not self.gate)
            or self.margin < source.margin
            or (source.gate, source.margin) == (self.gate, self.margin)
        ):
            raise RestorekitError(
                "a grain-net grows only from the same network with no gate or smaller filters"
            )
        state = source.state_dict()
        last = f"mix.{len(self.mix) - 1}"
        d = self.margin - source.margin
        with torch.no_grad():
            for name, value in self.state_dict().items():
                if name.startswith(last):
                    value.zero_()
                    value[: state[name].shape[0]] = state[name]
                elif name == "basis.weight":
                    value.zero_()
                    k = state[name].shape[-1]
                    value[..., d : d + k, d : d + k] = state[name]
                else:
                    value.copy_(state[name])

    def _split(self, x: torch.Tensor, noise: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``x`` without and with the noise's margin (replicated where it was not given)."""
        m = self.margin
        if x.shape[-2:] == noise.shape[-2:]:
            return (x[..., m:-m, m:-m] if m else x), x
        return x, F.pad(x, (m, m, m, m), mode="replicate")

    def forward(self, x: torch.Tensor, params: torch.Tensor, noise: torch.Tensor) -> torch.Tensor:
        inner, padded = self._split(x, noise)
        if self.modulate:  # weight the noise, then filter: sum_i B_i * (w_i n)
            w, gain = self.weights_and_gain(padded, params)
            g = F.conv2d(w * noise, self.basis.weight.transpose(0, 1))
            if gain is None:
                return g
            m, (H, W) = self.margin, g.shape[-2:]
            return g * gain[..., m : m + H, m : m + W]
        return (self.weights(inner, params) * self.features(noise)).sum(dim=1, keepdim=True)

    @torch.no_grad()
    def synthesize(
        self, x: torch.Tensor, params: torch.Tensor, noise: torch.Tensor, levels: int = 4096
    ) -> torch.Tensor:
        """:meth:`forward` for inference, fast: the weights depend only on the grey level (the
        parameters are fixed per call), so they are tabulated at ``levels`` grey levels and
        looked up (nearest level: at most half a step of 1 / (levels - 1) off), and the basis
        responses are computed channels-last. With :attr:`modulate` the table is cut to its
        principal components above 1 % of the largest (within about 0.2 % of the table).

        Shape:
            ``x (1, 1, H, W)`` (or with the margin, as :meth:`forward`), ``params (3,)``,
            ``noise (1, k, H + 2m, W + 2m)`` -> ``(1, 1, H, W)``.
        """
        inner, padded = self._split(x, noise)
        u = torch.linspace(0, 1, levels, dtype=x.dtype, device=x.device).view(1, 1, levels, 1)
        table, gain = self.weights_and_gain(u, params.view(1, 3))
        table = table[0, :, :, 0].T.contiguous()  # (levels, n)
        if self.modulate:
            # the weights' table has few independent columns (its singular values fall by ~10x
            # each): keep the components above 1 % of the largest (together they are the table
            # within about 0.2 % of its norm), and mix the basis filters to match, so that each
            # pixel gathers and filters fewer channels
            U, S, Vh = torch.linalg.svd(table.double(), full_matrices=False)
            k = int((S / S[0] > 0.01).sum())
            none = table.abs().sum(dim=1) == 0  # no grain (the envelope's 0 and 1): kept exact
            table = (U[:, :k] * S[:k]).to(x.dtype).contiguous()
            table[none] = 0
            filters = torch.einsum("kn,nchw->kchw", Vh[:k].to(x.dtype), self.basis.weight)
            index = (padded.reshape(-1).clamp(0, 1) * (levels - 1)).round().long()
            Hp, Wp = padded.shape[-2:]
            w = (table[index] * noise.reshape(-1, 1)).view(1, Hp, Wp, k).permute(0, 3, 1, 2)
            # w is channels-last already; one depthwise convolution per component, then the
            # sum, is twice as fast here as the k-to-1 convolution (oneDNN, one output channel)
            g = F.conv2d(w, filters, groups=k).sum(dim=1, keepdim=True)
            if gain is None:
                return g
            m, (H, W) = self.margin, g.shape[-2:]
            inner_index = index.view(Hp, Wp)[m : m + H, m : m + W]
            return g * gain.reshape(-1)[inner_index]
        B, C, H, W = inner.shape
        index = (inner.reshape(-1).clamp(0, 1) * (levels - 1)).round().long()
        b = self.features(noise.contiguous(memory_format=torch.channels_last))  # (1, n, H, W)
        b = b.contiguous(memory_format=torch.channels_last)
        b = b.permute(0, 2, 3, 1).reshape(H * W, -1)  # channels-last: a free view
        return torch.einsum("pk,pk->p", b, table[index]).view(1, 1, H, W)
