"""Training data in memory: a folder of images decoded once, random patches, hard-patch mining.

Decoding a JPEG costs more than a training step of a small network on a CPU, so a dataset here is
decoded once into a list of tensors and every batch is cut from memory. Randomness enters only
through a ``torch.Generator``; the augmentation (flips and 90-degree rotations, the 8 symmetries of
the square) is applied to the RGB ground truth *before* a degradation such as mosaicking, so the
CFA pattern of the input is always exact.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from restorekit.errors import RestorekitError

__all__ = [
    "HardPatchMiner",
    "ImageBank",
    "PatchBatch",
    "color_augment",
    "dihedral",
    "sample_patches",
]


class ImageBank:
    """The images of a folder decoded once into memory, as ``(C, H, W)`` float32 tensors.

    Args:
        folder: a folder of PNG / JPEG / TIFF images (its files, sorted by name), or a list of
            folders (their images one after the other).
        mode: ``"rgb"`` or ``"gray"`` (see :func:`restorekit.io.read_image`).
        downscale: shrink every image by this factor with MATLAB-compatible bicubic first
            (1 keeps them as they are), or one factor per folder. Useful for 4:2:0 JPEG training
            sets, whose chroma is half resolution: after a 2x reduction every channel carries
            full-resolution detail.
        weights: with a list of folders, the share of patches drawn from each (normalised; an
            image is then drawn uniformly within its folder). ``None``: every image of every
            folder equally likely.
        holdout: keep every ``holdout``-th image (by sorted name, starting with the first) out of
            training, for validation; 0 uses all.
        split: ``"train"`` for the kept images, ``"holdout"`` for the held-out ones.
        progress: show a progress bar while decoding.
        min_size: leave out images smaller than this on either side (after ``downscale``).

    Example:
        >>> bank = ImageBank.from_tensors([torch.rand(3, 40, 50), torch.rand(3, 30, 30)])
        >>> len(bank), bank.pixels
        (2, 2900)
    """

    def __init__(
        self,
        folder: str | os.PathLike | Sequence[str | os.PathLike],
        mode: str = "rgb",
        downscale: float = 1.0,
        holdout: int = 0,
        split: str = "train",
        progress: bool = False,
        min_size: int = 0,
        weights: Sequence[float] | None = None,
    ) -> None:
        from tqdm import tqdm

        from restorekit.degrade import imresize
        from restorekit.io import list_images, read_image

        if split not in ("train", "holdout"):
            raise RestorekitError(f"split must be 'train' or 'holdout', got {split!r}")
        folders = [folder] if isinstance(folder, (str, os.PathLike)) else list(folder)
        scales = _per_folder(downscale, len(folders), "downscale")
        if any(f < 1 for f in scales):
            raise RestorekitError(f"downscale must be >= 1, got {downscale}")
        shares = _per_folder(1.0 if weights is None else weights, len(folders), "weights")
        if any(w < 0 for w in shares) or sum(shares) <= 0:
            raise RestorekitError(f"folder weights must be >= 0 and not all 0, got {weights}")
        jobs = []  # (path, downscale, folder index)
        for k, f in enumerate(folders):  # the holdout split is taken in each folder
            found = list_images(f)
            if holdout:
                keep_holdout = split == "holdout"
                found = [p for i, p in enumerate(found) if (i % holdout == 0) == keep_holdout]
            jobs += [(p, scales[k], k) for p in found]
        where = ", ".join(os.fspath(f) for f in folders)
        if not jobs:
            raise RestorekitError(f"no images for split {split!r} in {where}")
        images, names, origin = [], [], []
        for p, factor, k in tqdm(jobs, desc=f"decoding {where}", disable=not progress):
            x = read_image(p, mode=mode)
            if factor != 1:
                x = imresize(x, scale=1 / factor).clamp(0, 1)
            if min(x.shape[-2:]) < min_size:
                continue  # too small to cut a training patch from
            images.append(x[0].contiguous())
            names.append(p.name)
            origin.append(k)
        if not images:
            raise RestorekitError(f"no image of {where} is at least {min_size} pixels a side")
        self.images: list[torch.Tensor] = images
        self.names = names
        #: per-image drawing probabilities, or None for uniform over images
        self.probs: torch.Tensor | None = None
        if weights is not None:
            counts = [origin.count(k) for k in range(len(folders))]
            probs = [shares[k] / counts[k] for k in origin]
            self.probs = torch.tensor(probs, dtype=torch.float64) / sum(probs)

    @classmethod
    def from_tensors(cls, images: Sequence[torch.Tensor]) -> ImageBank:
        """A bank over tensors already in memory, each ``(C, H, W)``."""
        bank = cls.__new__(cls)
        bank.images = [x.contiguous() for x in images]
        bank.names = [f"image{i}" for i in range(len(images))]
        bank.probs = None
        return bank

    def draw(self, generator: torch.Generator | None = None) -> torch.Tensor:
        """One image at random: uniformly, or by the folder weights."""
        if self.probs is None:
            return self.images[_randint(len(self), generator)]
        return self.images[int(torch.multinomial(self.probs, 1, generator=generator))]

    def __len__(self) -> int:
        return len(self.images)

    @property
    def pixels(self) -> int:
        """Total number of pixels in the bank."""
        return sum(x.shape[-2] * x.shape[-1] for x in self.images)


def _per_folder(value: float | Sequence[float], folders: int, name: str) -> list[float]:
    if isinstance(value, (int, float)):
        return [float(value)] * folders
    if len(value) != folders:
        raise RestorekitError(f"{name}: one value per folder ({folders}), got {len(value)}")
    return [float(v) for v in value]


def dihedral(x: torch.Tensor, k: int) -> torch.Tensor:
    """One of the 8 symmetries of the square: bit 0 flips left-right, bit 1 up-down, bit 2
    transposes.

    Example:
        >>> x = torch.arange(4.0).reshape(1, 2, 2)
        >>> dihedral(x, 4).tolist()
        [[[0.0, 2.0], [1.0, 3.0]]]
    """
    if k & 1:
        x = x.flip(-1)
    if k & 2:
        x = x.flip(-2)
    if k & 4:
        x = x.transpose(-1, -2)
    return x


def dihedral_inverse(x: torch.Tensor, k: int) -> torch.Tensor:
    """Undo :func:`dihedral` ``k``: ``dihedral_inverse(dihedral(x, k), k)`` is ``x``."""
    if k & 4:
        x = x.transpose(-1, -2)
    if k & 2:
        x = x.flip(-2)
    if k & 1:
        x = x.flip(-1)
    return x


def _randint(high: int, generator: torch.Generator | None) -> int:
    return int(torch.randint(high, (1,), generator=generator))


def sample_patches(
    bank: ImageBank,
    count: int,
    size: int,
    generator: torch.Generator | None = None,
    phase: int = 2,
    augment: bool = True,
) -> torch.Tensor:
    """Cut ``count`` random ``size x size`` patches from random images of ``bank``.

    Offsets are multiples of ``phase`` (2 keeps a Bayer CFA's phase when cutting from a raw or from
    an image that is mosaicked afterwards with a fixed layout). With ``augment`` each patch gets one
    of the 8 flips / 90-degree rotations at random.

    Returns:
        ``(count, C, size, size)`` float32.

    Example:
        >>> bank = ImageBank.from_tensors([torch.rand(3, 40, 50)])
        >>> sample_patches(bank, 4, 16, torch.Generator().manual_seed(0)).shape
        torch.Size([4, 3, 16, 16])
    """
    out = []
    for _ in range(count):
        img = bank.draw(generator)
        C, H, W = img.shape
        if size > H or size > W:
            raise RestorekitError(f"patch size {size} is larger than an image of {H}x{W}")
        i = _randint((H - size) // phase + 1, generator) * phase
        j = _randint((W - size) // phase + 1, generator) * phase
        p = img[:, i : i + size, j : j + size]
        out.append(dihedral(p, _randint(8, generator)) if augment else p)
    return torch.stack(out).contiguous()


def color_augment(
    x: torch.Tensor,
    generator: torch.Generator | None = None,
    saturation: float = 1.0,
    permute: bool = True,
    boost: float = 0.5,
) -> torch.Tensor:
    """Random colour changes of RGB ground-truth patches: a channel permutation per patch (if
    ``permute``), and for a share ``boost`` of them a saturation boost by a factor drawn from
    ``[1, 1 + saturation]``.

    The boost scales each pixel's distance from its grey value (the channel mean). A boosted patch
    that leaves [0, 1] is then scaled as a whole toward mid-grey until it fits, so no value is
    clipped and its colour contrast still grows by the factor relative to its brightness contrast.
    (Leaving such patches unboosted would boost only about a third of natural patches, the dull
    ones.) Natural photos rarely hold the saturated colours and sharp colour edges where
    demosaicers fail (the McMaster set is full of them); this shows the network more of both.

    Shape:
        ``(B, 3, H, W) -> (B, 3, H, W)``

    Example:
        >>> x = torch.rand(4, 3, 8, 8)
        >>> y = color_augment(x, torch.Generator().manual_seed(0))
        >>> bool(y.min() >= 0 and y.max() <= 1), y.shape
        (True, torch.Size([4, 3, 8, 8]))
    """
    B, C, H, W = x.shape
    if permute:
        perm = torch.stack([torch.randperm(C, generator=generator) for _ in range(B)])
        x = torch.gather(x, 1, perm[:, :, None, None].expand(B, C, H, W))
    boosted = torch.rand(B, generator=generator) < boost
    factor = 1 + torch.rand(B, generator=generator) * saturation
    grey = x.mean(dim=1, keepdim=True)
    y = grey + (x - grey) * factor[:, None, None, None]
    reach = (y - 0.5).abs().amax(dim=(1, 2, 3), keepdim=True)  # farthest from mid-grey
    y = 0.5 + (y - 0.5) * (0.5 / reach).clamp(max=1)
    return torch.where(boosted[:, None, None, None], y, x)


@dataclass
class PatchBatch:
    """A batch of ground-truth patches and, for each, its id in the hard-patch pool (or -1)."""

    patches: torch.Tensor
    ids: torch.Tensor


class HardPatchMiner:
    """Keep the highest-loss patches seen in training and revisit them with probability ``p``.

    Each batch slot is, with probability ``revisit``, a patch drawn uniformly from the pool of the
    ``capacity`` hardest patches seen so far (by their last measured loss), else a fresh random
    patch. After the step, :meth:`update` records the losses of the batch: fresh patches enter the
    pool if they are harder than its easiest member, revisited ones get their loss refreshed (so a
    patch the network has learned drops out). Demosaicing's hard cases (moire, fine high-frequency
    texture, sharp colour edges) are rare in natural images; mining shows them more often.

    Example:
        >>> bank = ImageBank.from_tensors([torch.rand(3, 64, 64)])
        >>> miner = HardPatchMiner(capacity=8, revisit=0.5)
        >>> g = torch.Generator().manual_seed(0)
        >>> batch = miner.sample(bank, 4, 16, g)
        >>> miner.update(batch, torch.tensor([0.1, 0.4, 0.2, 0.3]))
        >>> len(miner)
        4
    """

    def __init__(self, capacity: int = 512, revisit: float = 0.25) -> None:
        if capacity < 1:
            raise RestorekitError(f"capacity must be >= 1, got {capacity}")
        if not 0 <= revisit <= 1:
            raise RestorekitError(f"revisit must be in [0, 1], got {revisit}")
        self.capacity = capacity
        self.revisit = revisit
        self.patches: torch.Tensor | None = None  # (N, C, P, P)
        self.losses = torch.empty(0)
        self.ids = torch.empty(0, dtype=torch.long)
        self._next_id = 0

    def __len__(self) -> int:
        return int(self.ids.numel())

    def sample(
        self, bank: ImageBank, count: int, size: int, generator: torch.Generator | None = None
    ) -> PatchBatch:
        """A batch of ``count`` patches: revisited hard ones and fresh random ones."""
        fresh = sample_patches(bank, count, size, generator)
        ids = torch.full((count,), -1, dtype=torch.long)
        n = len(self)
        if n and self.patches is not None and self.patches.shape[-1] == size:
            take = torch.rand(count, generator=generator) < self.revisit
            pick = torch.randint(n, (count,), generator=generator)
            for k in torch.nonzero(take).flatten().tolist():
                # a revisited patch is shown under a new random symmetry
                fresh[k] = dihedral(self.patches[pick[k]], _randint(8, generator))
                ids[k] = self.ids[pick[k]]
        return PatchBatch(fresh, ids)

    def update(self, batch: PatchBatch, losses: torch.Tensor) -> None:
        """Record the per-patch ``losses`` ``(count,)`` of a batch from :meth:`sample`."""
        losses = losses.detach().float().cpu().flatten()
        if losses.numel() != batch.ids.numel():
            raise RestorekitError(
                f"need one loss per patch ({batch.ids.numel()}), got {losses.numel()}"
            )
        patches = batch.patches.detach().cpu()
        ids = batch.ids.clone()
        new = ids < 0
        ids[new] = torch.arange(self._next_id, self._next_id + int(new.sum()))
        self._next_id += int(new.sum())
        if self.patches is None or self.patches.shape[1:] != patches.shape[1:]:
            self.patches = patches[:0].clone()
            self.losses, self.ids = losses[:0].clone(), ids[:0].clone()
        # revisited patches: their new loss replaces the old one (in place)
        if (~new).any():
            slot = {i: k for k, i in enumerate(self.ids.tolist())}
            for j in torch.nonzero(~new).flatten().tolist():
                k = slot.get(int(ids[j]))
                if k is not None:
                    self.losses[k] = losses[j]
        # fresh patches, hardest first: fill the free room, then replace easier pool entries.
        # The pool is updated in place (no copy of the whole pool per step).
        fresh = torch.nonzero(new).flatten()
        fresh = fresh[torch.argsort(losses[fresh], descending=True, stable=True)]
        room = self.capacity - len(self)
        if room > 0:
            add, fresh = fresh[:room], fresh[room:]
            self.patches = torch.cat([self.patches, patches[add]])
            self.losses = torch.cat([self.losses, losses[add]])
            self.ids = torch.cat([self.ids, ids[add]])
        if fresh.numel():
            easiest = torch.argsort(self.losses, stable=True)[: fresh.numel()]
            # candidates fall and pool entries rise along the two lists: replace while harder
            n = int((losses[fresh] > self.losses[easiest]).sum())
            slots, take = easiest[:n], fresh[:n]
            self.patches[slots] = patches[take]
            self.losses[slots] = losses[take]
            self.ids[slots] = ids[take]

    def state_dict(self) -> dict[str, torch.Tensor]:
        """The pool as tensors (for checkpoints)."""
        patches = self.patches if self.patches is not None else torch.empty(0)
        return {
            "patches": patches,
            "losses": self.losses,
            "ids": self.ids,
            "next_id": torch.tensor(self._next_id),
        }

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None:
        """Restore the pool saved by :meth:`state_dict`."""
        self.patches = state["patches"] if state["patches"].numel() else None
        self.losses = state["losses"]
        self.ids = state["ids"]
        self._next_id = int(state["next_id"])
