from __future__ import annotations

import os
import stat

import pytest
import torch

from restorekit.io import atomic_write, write_image
from restorekit.models import build
from restorekit.models.weights import save_model


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield 0o644
    os.umask(old)


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_outputs_get_the_permissions_of_a_new_file(tmp_path, umask_022):
    # mkstemp would leave them 0600: an output nobody else (a web server, a colleague) can read
    atomic_write(tmp_path / "a.txt", "text")
    write_image(tmp_path / "b.png", torch.zeros(1, 3, 4, 4))
    save_model(tmp_path / "c.safetensors", build("dncnn", channels=4, depth=3))
    for name in ("a.txt", "b.png", "c.safetensors"):
        assert _mode(tmp_path / name) == umask_022, name


def test_replacing_a_file_is_whole_or_nothing(tmp_path):
    p = tmp_path / "out.bin"
    atomic_write(p, b"old")
    (tmp_path / "dir").mkdir()
    with pytest.raises(OSError):
        atomic_write(tmp_path / "dir", b"new")  # the rename onto a folder fails
    atomic_write(p, b"new")
    assert p.read_bytes() == b"new"
    assert sorted(q.name for q in tmp_path.iterdir()) == ["dir", "out.bin"]  # no temporary left
