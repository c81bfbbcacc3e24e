"""Self-supervised training data: frame groups, views, the mean of several targets, registration."""

from __future__ import annotations

import pytest
import torch

from restorekit.data import ImageBank, NoiseModel, NoisyPatches, frame_groups
from restorekit.data.noisy import best_offset
from restorekit.errors import RestorekitError


def _scene_bank(shifts: list[tuple[int, int]], noise: float = 0.05) -> ImageBank:
    """One scene, one frame per shift: a smooth random texture moved by (dy, dx), plus noise."""
    g = torch.Generator().manual_seed(0)
    base = torch.nn.functional.avg_pool2d(torch.rand(1, 1, 140, 140, generator=g), 5, 1, 2)[0]
    frames = []
    for dy, dx in shifts:
        f = base[:, 20 + dy : 120 + dy, 20 + dx : 120 + dx]
        frames.append(f + noise * torch.randn(f.shape, generator=g))
    bank = ImageBank.from_tensors(frames)
    bank.names = [f"01_{k}.png" for k in range(len(frames))]
    return bank


def test_frame_groups_by_scene():
    assert frame_groups(["a_0.png", "b_1.png", "a_2.png", "plain.png"]) == [[0, 2], [1], [3]]


def test_the_mean_of_several_targets_has_less_noise():
    bank = ImageBank.from_tensors([torch.full((1, 64, 64), 0.5)] * 2)
    data = NoisyPatches(bank, NoiseModel("gaussian", 25))
    one = data.views(32, 32, torch.Generator().manual_seed(0), targets=1)[1]
    four = data.views(32, 32, torch.Generator().manual_seed(0), targets=4)[1]
    assert abs(one.std().item() - 25 / 255) < 0.005
    assert abs(four.std().item() - 25 / 255 / 2) < 0.005


def test_best_offset_finds_a_shift_under_noise():
    bank = _scene_bank([(0, 0), (3, -5)], noise=0.2)
    ref, moved = bank.images
    # frame 1 shows the scene moved by (3, -5): the reference's content sits at (-3, +5) in it
    assert best_offset(ref[:, 8:-8, 8:-8], moved[:, :, :]) == (-3, 5)


def test_registered_views_line_up_frames():
    bank = _scene_bank([(0, 0), (2, -4), (-3, 1)], noise=0.0)
    data = NoisyPatches(bank)
    g = torch.Generator().manual_seed(0)
    a, b = data.views(16, 48, g, targets=1, register=6)
    assert torch.allclose(a, b, atol=1e-6)  # noise-free frames: registered crops are equal
    a, b = data.views(16, 48, torch.Generator().manual_seed(0), targets=1, register=0)
    assert (a - b).abs().max() > 0.01
    a, b = data.views(16, 40, torch.Generator().manual_seed(1), register=6, refine=True)
    assert torch.allclose(a, b, atol=1e-6)  # the local refinement keeps an exact match
    with pytest.raises(RestorekitError, match="exceeds"):
        data.views(2, 96, g, register=6)
