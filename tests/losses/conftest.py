"""Fixtures for the loss tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def _one_torch_thread():
    """Run each loss test on one intra-op thread, then restore the setting.

    As for the metric tests: the float64 convolutions of SSIM are several times slower on 2 threads
    than on 1 when the 2 cores are shared with other jobs.
    """
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)
