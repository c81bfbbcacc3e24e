"""Training data without clean targets: noisy patches, pairs of noisy views, unpaired clean patches.

Self-supervised denoising trains on noisy images only (Noise2Noise, Neighbor2Neighbor) or on
noisy images and clean ones that show other scenes (TCFL). :class:`NoisyPatches` cuts them from
images in memory:

- real noisy scans (``noise=None``): patches of the files as they are; views of one scene are its
  frames, files named ``SCENE_F.png`` (the same crop of two different frames F);
- clean images and a synthetic noise (:class:`NoiseModel`): each patch gets the noise on the fly;
  two views of one patch are two independent draws.
"""

from __future__ import annotations

import os
from collections import defaultdict
from dataclasses import dataclass

import torch

from restorekit.data.patches import ImageBank, _randint, dihedral, sample_patches
from restorekit.errors import RestorekitError

__all__ = ["NoiseModel", "NoisyPatches", "best_offset", "frame_groups"]

_NOISES = ("gaussian", "poisson-gaussian", "speckle")


@dataclass(frozen=True)
class NoiseModel:
    """A synthetic noise: ``gaussian`` (``sigma``, 0..255), ``poisson-gaussian`` (``gain`` and the
    read noise ``sigma``) or ``speckle`` (``looks`` L, multiplicative Gamma of mean 1)."""

    kind: str
    sigma: float = 0.0
    gain: float = 0.0
    looks: float = 1.0

    def __post_init__(self) -> None:
        if self.kind not in _NOISES:
            raise RestorekitError(
                f"noise kind must be one of {', '.join(_NOISES)}, got {self.kind!r}"
            )
        if self.kind == "speckle" and not self.looks > 0:
            raise RestorekitError(f"speckle looks L must be > 0, got {self.looks:g}")

    def __call__(self, x: torch.Tensor, generator: torch.Generator | None) -> torch.Tensor:
        """A noisy version of the clean images ``x`` (not clipped)."""
        from restorekit.degrade import (
            add_gaussian_noise,
            add_poisson_gaussian_noise,
            add_speckle_noise,
        )

        if self.kind == "gaussian":
            return add_gaussian_noise(x, self.sigma / 255, generator)
        if self.kind == "poisson-gaussian":
            return add_poisson_gaussian_noise(x, self.gain, self.sigma / 255, generator)
        return add_speckle_noise(x, self.looks, generator)


def frame_groups(names: list[str]) -> list[list[int]]:
    """Indices of the files of each scene, from names ``SCENE_F.ext`` (scenes in sorted order).

    Example:
        >>> frame_groups(["01_0.png", "01_1.png", "02_0.png", "02_3.png"])
        [[0, 1], [2, 3]]
    """
    groups: dict[str, list[int]] = defaultdict(list)
    for i, name in enumerate(names):
        stem = os.path.splitext(name)[0]
        scene, sep, _ = stem.rpartition("_")
        groups[scene if sep else stem].append(i)
    return [groups[k] for k in sorted(groups)]


#: the local refinement of a registered crop: rows and columns searched around the scene's shift
#: (on 9x9 box-blurred frames)
_REFINE = (2, 4)


def _refine(ref: torch.Tensor, frame: torch.Tensor, r: int, c: int, size: int) -> tuple[int, int]:
    """The shift within :data:`_REFINE` of the crop of ``frame`` at ``(r, c)`` that best
    correlates with ``ref``; both are already box-blurred (:meth:`NoisyPatches._blurred`)."""
    ry, rx = _REFINE
    cands = torch.stack(
        [
            frame[:, r + dy : r + dy + size, c + dx : c + dx + size]
            for dy in range(-ry, ry + 1)
            for dx in range(-rx, rx + 1)
        ]
    ).flatten(1)
    a = ref.reshape(1, -1)
    a = a - a.mean(1, keepdim=True)
    b = cands - cands.mean(1, keepdim=True)
    score = (b * a).sum(1) / b.norm(dim=1).clamp_min(1e-12)
    k = int(score.argmax())
    return k // (2 * rx + 1) - ry, k % (2 * rx + 1) - rx


def best_offset(ref: torch.Tensor, region: torch.Tensor, blur: float = 2.0) -> tuple[int, int]:
    """The shift ``(dy, dx)`` of ``ref`` (``(C, h, w)``) inside ``region`` (``(C, h + 2m, w + 2m)``,
    centred) with the highest normalised correlation, both Gaussian-blurred first (noise would
    dominate the correlation of raw speckle).

    Example:
        >>> x = torch.rand(1, 40, 40, generator=torch.Generator().manual_seed(0))
        >>> best_offset(x[:, 5:29, 7:31], x[:, 2:32, 2:32], blur=0.0)
        (0, 2)
    """
    import torch.nn.functional as F

    C, h, w = ref.shape
    m = (region.shape[-2] - h) // 2
    a, b = ref[None].double(), region[None].double()
    if blur > 0:
        r = int(3 * blur)
        t = torch.arange(-r, r + 1, dtype=torch.float64)
        g = torch.exp(-(t**2) / (2 * blur**2))
        g = (g / g.sum()).view(1, 1, 1, -1).expand(C, 1, 1, -1)

        def smooth(x: torch.Tensor) -> torch.Tensor:
            x = F.conv2d(F.pad(x, (r, r, 0, 0), mode="replicate"), g, groups=C)
            return F.conv2d(F.pad(x, (0, 0, r, r), mode="replicate"), g.transpose(-1, -2), groups=C)

        a, b = smooth(a), smooth(b)
    # normalised correlation of ref with every h x w window of the region, as convolutions
    a = (a - a.mean()).float()
    b = b.float()
    dot = F.conv2d(b, a)[0, 0]  # (2m+1, 2m+1)
    ones = torch.ones(1, C, h, w)
    n = C * h * w
    s1, s2 = F.conv2d(b, ones)[0, 0], F.conv2d(b * b, ones)[0, 0]
    score = dot / (s2 - s1 * s1 / n).clamp_min(1e-12).sqrt()
    best = int(score.flatten().argmax())
    return best // (2 * m + 1) - m, best % (2 * m + 1) - m


class NoisyPatches:
    """Random noisy patches (and views, and unpaired clean patches) from images in memory.

    Args:
        bank: the training images: noisy scans, or clean images when ``noise`` is given.
        noise: the synthetic noise for clean images; None for real noisy scans.
        clean: unpaired clean images (TCFL's third path), or None.
    """

    def __init__(
        self, bank: ImageBank, noise: NoiseModel | None = None, clean: ImageBank | None = None
    ) -> None:
        self.bank = bank
        self.noise = noise
        self.clean_bank = clean
        self.groups = frame_groups(bank.names) if noise is None else []
        self._offsets: dict[tuple[int, int], tuple[int, int]] = {}
        self._blur: dict[int, torch.Tensor] = {}

    def _blurred(self, index: int) -> torch.Tensor:
        """Frame ``index`` box-blurred 9x9 (computed once): what the local refinement compares."""
        import torch.nn.functional as F

        if index not in self._blur:
            x = self.bank.images[index][None]
            self._blur[index] = F.avg_pool2d(x, 9, 1, 4, count_include_pad=False)[0]
        return self._blur[index]

    def _offset(self, index: int, register: int) -> tuple[int, int]:
        """Where frame ``index`` sits relative to the first frame of its scene (whole-image
        registration within ``register`` pixels, computed once); (0, 0) without registration."""
        if not register:
            return 0, 0
        key = (index, register)
        if key not in self._offsets:
            first = next(g[0] for g in self.groups if index in g)
            ref = self.bank.images[first]
            m = register
            H = min(ref.shape[-2], self.bank.images[index].shape[-2])
            W = min(ref.shape[-1], self.bank.images[index].shape[-1])
            core = ref[:, m : H - m, m : W - m]
            self._offsets[key] = best_offset(core, self.bank.images[index][:, :H, :W])
        return self._offsets[key]

    def noisy(self, count: int, size: int, generator: torch.Generator) -> torch.Tensor:
        """``(count, C, size, size)`` noisy patches."""
        x = sample_patches(self.bank, count, size, generator, phase=1)
        return x if self.noise is None else self.noise(x, generator)

    def clean(self, count: int, size: int, generator: torch.Generator) -> torch.Tensor:
        """``(count, C, size, size)`` clean patches of other scenes (unpaired)."""
        if self.clean_bank is None:
            raise RestorekitError("this task needs clean images (data.clean)")
        return sample_patches(self.clean_bank, count, size, generator, phase=1)

    def views(
        self,
        count: int,
        size: int,
        generator: torch.Generator,
        targets: int = 1,
        register: int = 0,
        refine: bool = False,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Two noisy views of the same patches: two noise draws, or two frames of one scene.

        With ``targets`` = k > 1 the second view is the mean of k other views (k more noise
        draws, or k other frames of the scene, as many as it has): the same expectation, 1/k of
        the noise variance, so Noise2Noise converges faster. With ``register`` = m > 0 every frame
        is registered once to the first frame of its scene (the integer shift within ``[-m, m]``
        rows and columns with the best correlation of the blurred images, :func:`best_offset`),
        and the crops follow: frames of a scan drift by a few pixels, and an unregistered target
        teaches the network to blur. With ``refine`` each target crop is then shifted once more,
        within :data:`_REFINE`, to its best local match (the drift is not rigid).
        """
        if self.noise is not None:
            x = sample_patches(self.bank, count, size, generator, phase=1)
            target = torch.stack([self.noise(x, generator) for _ in range(targets)]).mean(0)
            return self.noise(x, generator), target
        pairs = [g for g in self.groups if len(g) >= 2]
        if not pairs:
            raise RestorekitError(
                "data.views 'frames' needs scenes with two frames or more (files SCENE_F.png)"
            )
        a, b = [], []
        for _ in range(count):
            group = pairs[_randint(len(pairs), generator)]
            i = _randint(len(group), generator)
            others = [group[(i + 1 + _randint(len(group) - 1, generator)) % len(group)]]
            if targets > 1:  # the first other frame drawn, then the rest in order
                rest = [f for f in group if f != group[i] and f != others[0]]
                others += rest[: targets - 1]
            frames = [self.bank.images[group[i]]] + [self.bank.images[f] for f in others]
            H = min(f.shape[-2] for f in frames)
            W = min(f.shape[-1] for f in frames)
            if size > H or size > W:
                raise RestorekitError(f"patch size {size} is larger than an image of {H}x{W}")
            # offsets between two frames: up to twice one frame's, and the local refinement
            m = 2 * register + (max(_REFINE) if refine else 0) if register else 0
            if size + 2 * m > H or size + 2 * m > W:
                raise RestorekitError(
                    f"patch size {size} + 4 x register {register} exceeds {H}x{W}"
                )
            r = m + _randint(H - size - 2 * m + 1, generator)
            c = m + _randint(W - size - 2 * m + 1, generator)
            k = _randint(8, generator)
            oy, ox = self._offset(group[i], register)
            crops = []
            for n, (f, idx) in enumerate(zip(frames, [group[i], *others], strict=True)):
                fy, fx = self._offset(idx, register)
                dy, dx = fy - oy, fx - ox
                if register and refine and n:  # the drift is not rigid: refine on this crop
                    ref = self._blurred(group[i])[:, r : r + size, c : c + size]
                    ey, ex = _refine(ref, self._blurred(idx), r + dy, c + dx, size)
                    dy, dx = dy + ey, dx + ex
                crops.append(f[:, r + dy : r + dy + size, c + dx : c + dx + size])
            crops = [dihedral(x, k) for x in crops]
            a.append(crops[0])
            b.append(torch.stack(crops[1:]).mean(0))
        return torch.stack(a).contiguous(), torch.stack(b).contiguous()
