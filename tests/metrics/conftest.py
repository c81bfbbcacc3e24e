"""Fixtures for the metric tests: clean / noisy pairs of the shared test sets, made once."""

from __future__ import annotations

import numpy as np
import pytest

from helpers import read_uint8, shared_images


def _noisy_pairs(folder: str) -> list[tuple[str, np.ndarray, np.ndarray]]:
    # The REFERENCE.md convention: seed 0 once, images in sorted order. RandomState's stream is
    # frozen by NumPy's compatibility policy, so these pairs are the same on every machine. The
    # noisy image is quantised to uint8 as the field measures; both are float64 in [0, 1].
    rs = np.random.RandomState(0)
    pairs = []
    for path in shared_images(folder):
        clean = read_uint8(path)
        noisy = np.clip(np.round(clean + 25.0 * rs.standard_normal(clean.shape)), 0, 255)
        pairs.append((path.name, clean / 255.0, noisy.astype(np.uint8) / 255.0))
    return pairs


@pytest.fixture(scope="session")
def set12_pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, clean, noisy) for the 12 gray Set12 images, HxW float64, sigma 25 noise."""
    return _noisy_pairs("test/gray/Set12")


@pytest.fixture(scope="session")
def kodak24_pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """(name, clean, noisy) for the 24 Kodak images, HxWx3 float64, sigma 25 noise."""
    return _noisy_pairs("test/color/Kodak24")


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run each metric test on one intra-op thread, then restore the setting.

    The float64 convolutions here are 4-6x slower with 2 threads than with 1 when the 2 cores are
    shared with other jobs (the threads spin-wait on each other); on one thread the reference
    comparisons over Set12 and Kodak24 take seconds instead of a minute.
    """
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
