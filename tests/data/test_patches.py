"""In-memory patch sampling, augmentation and hard-patch mining."""

from __future__ import annotations

import pytest
import torch

from helpers import DATA
from restorekit.data import HardPatchMiner, ImageBank, color_augment, dihedral, sample_patches
from restorekit.data.patches import dihedral_inverse
from restorekit.errors import RestorekitError


def _bank() -> ImageBank:
    g = torch.Generator().manual_seed(1)
    return ImageBank.from_tensors(
        [torch.rand(3, 40, 50, generator=g), torch.rand(3, 33, 35, generator=g)]
    )


def test_dihedral_inverse_undoes_each_symmetry():
    x = torch.arange(12.0).reshape(1, 3, 4)
    for k in range(8):
        assert torch.equal(dihedral_inverse(dihedral(x, k), k), x), k


def test_dihedral_gives_the_eight_symmetries():
    x = torch.arange(9.0).reshape(1, 3, 3)
    outs = {tuple(dihedral(x, k).flatten().tolist()) for k in range(8)}
    assert len(outs) == 8


def test_patches_start_at_even_offsets():
    """With phase 2 each patch is a crop at even (row, column) of one image, up to a symmetry."""
    img = torch.arange(40 * 50, dtype=torch.float32).reshape(1, 40, 50)
    bank = ImageBank.from_tensors([img])
    g = torch.Generator().manual_seed(0)
    for p in sample_patches(bank, 50, 8, g, augment=False):
        top_left = int(p[0, 0, 0])
        i, j = divmod(top_left, 50)
        assert i % 2 == 0 and j % 2 == 0
        assert torch.equal(p, img[:, i : i + 8, j : j + 8])


def test_sampling_is_reproducible_and_uses_only_the_generator():
    bank = _bank()
    torch.manual_seed(123)
    a = sample_patches(bank, 6, 16, torch.Generator().manual_seed(5))
    torch.manual_seed(456)
    b = sample_patches(bank, 6, 16, torch.Generator().manual_seed(5))
    assert torch.equal(a, b)


def test_patch_larger_than_image_is_refused():
    with pytest.raises(RestorekitError, match="patch size 64 is larger than an image of 40x50"):
        sample_patches(ImageBank.from_tensors([torch.rand(3, 40, 50)]), 1, 64)


def test_color_augment_permutes_and_never_clips():
    x = torch.rand(64, 3, 8, 8)
    y = color_augment(x, torch.Generator().manual_seed(0), saturation=1.0, boost=0)
    # a permutation alone keeps every pixel's grey value (the channel mean) and its values
    torch.testing.assert_close(y.mean(1), x.mean(1))
    torch.testing.assert_close(y.sort(1).values, x.sort(1).values)
    assert not torch.equal(x, y)
    z = color_augment(x, torch.Generator().manual_seed(0), saturation=1.0, boost=1)
    assert z.min() >= 0 and z.max() <= 1


def test_color_augment_boost_raises_colour_contrast_over_brightness_contrast():
    x = torch.rand(64, 3, 8, 8)
    y = color_augment(x, torch.Generator().manual_seed(0), saturation=1.0, permute=False, boost=1)
    assert y.min() >= 0 and y.max() <= 1

    def colour_over_brightness(t):
        grey = t.mean(1, keepdim=True)
        return (t - grey).std((1, 2, 3)) / grey.std((1, 2, 3))

    # each patch is mid-grey + s (grey - mid-grey + k (x - grey)): the ratio grows by k in [1, 2]
    k = colour_over_brightness(y) / colour_over_brightness(x)
    assert k.min() >= 1 - 1e-5 and k.max() <= 2 + 1e-5 and k.std() > 0.1
    grey, ygrey = x.mean(1, keepdim=True), y.mean(1, keepdim=True)
    s = (ygrey - 0.5).std((1, 2, 3)) / (grey - 0.5).std((1, 2, 3))
    expected = 0.5 + s[:, None, None, None] * (grey - 0.5 + k[:, None, None, None] * (x - grey))
    torch.testing.assert_close(y, expected)
    z = color_augment(x, torch.Generator().manual_seed(0), permute=False, boost=0)
    assert torch.equal(z, x)


def test_miner_keeps_the_hardest_and_revisits_them():
    bank = _bank()
    miner = HardPatchMiner(capacity=4, revisit=1.0)
    g = torch.Generator().manual_seed(0)
    first = miner.sample(bank, 8, 16, g)
    assert (first.ids == -1).all()  # an empty pool gives fresh patches
    losses = torch.arange(8.0)
    miner.update(first, losses)
    assert len(miner) == 4
    assert sorted(miner.losses.tolist()) == [4.0, 5.0, 6.0, 7.0]
    hard = first.patches[4:]
    # revisit=1: every slot comes from the pool, shown under one of the 8 symmetries
    again = miner.sample(bank, 6, 16, g)
    assert (again.ids >= 0).all()
    for p in again.patches:
        seen = [dihedral(h, k) for h in hard for k in range(8)]
        assert any(torch.equal(p, s) for s in seen)


def test_miner_refreshes_the_loss_of_revisited_patches():
    bank = _bank()
    miner = HardPatchMiner(capacity=2, revisit=1.0)
    g = torch.Generator().manual_seed(0)
    b = miner.sample(bank, 2, 16, g)
    miner.update(b, torch.tensor([1.0, 2.0]))
    again = miner.sample(bank, 2, 16, g)
    miner.update(again, torch.tensor([0.0, 0.0]))  # learned: easy now
    assert len(miner) == 2 and len(set(miner.ids.tolist())) == 2
    # fresh patches harder than the refreshed ones replace them
    miner.revisit = 0.0
    new = miner.sample(bank, 2, 16, g)
    miner.update(new, torch.tensor([0.5, 0.5]))
    assert miner.losses.tolist() == [0.5, 0.5]


def test_miner_state_round_trip():
    bank = _bank()
    miner = HardPatchMiner(capacity=3, revisit=0.5)
    g = torch.Generator().manual_seed(0)
    b = miner.sample(bank, 4, 16, g)
    miner.update(b, torch.rand(4))
    other = HardPatchMiner(capacity=3, revisit=0.5)
    other.load_state_dict(miner.state_dict())
    assert torch.equal(other.patches, miner.patches) and torch.equal(other.ids, miner.ids)


def test_miner_checks():
    with pytest.raises(RestorekitError, match="revisit must be in"):
        HardPatchMiner(revisit=1.5)
    miner = HardPatchMiner()
    b = miner.sample(_bank(), 2, 8)
    with pytest.raises(RestorekitError, match="need one loss per patch"):
        miner.update(b, torch.rand(3))


def test_image_bank_holdout_splits_a_folder():
    folder = DATA / "test/color/Kodak24"
    if not folder.is_dir():
        pytest.skip("shared data not found")
    train = ImageBank(folder, holdout=6, downscale=4)
    held = ImageBank(folder, holdout=6, downscale=4, split="holdout")
    assert len(train) == 20 and len(held) == 4
    assert not set(train.names) & set(held.names)
    assert held.images[0].shape == (3, 125, 125)


def test_pool_holds_the_top_losses_of_everything_seen():
    bank = _bank()
    miner = HardPatchMiner(capacity=10, revisit=0.0)
    g = torch.Generator().manual_seed(3)
    seen = []
    for _ in range(20):
        batch = miner.sample(bank, 4, 8, g)
        losses = torch.rand(4, generator=g)
        seen += losses.tolist()
        miner.update(batch, losses)
    assert sorted(miner.losses.tolist()) == sorted(seen)[-10:]
