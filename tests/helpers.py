"""Shared test helpers: where the shared images are, and a reader independent of restorekit.io.

Import them as ``from helpers import ...`` (pytest puts tests/ on the path).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


def shared_images(folder: str, limit: int | None = None) -> list[Path]:
    """Sorted image paths in ``../shared/data/<folder>``; skips the test if the folder is absent."""
    d = DATA / folder
    if not d.is_dir():
        pytest.skip(f"shared data folder {d} not found")
    paths = sorted(p for p in d.iterdir() if p.suffix.lower() in {".png", ".jpg", ".jpeg", ".tif"})
    return paths[:limit] if limit else paths


def read_uint8(path: Path) -> np.ndarray:
    """Read an image with PIL as uint8 HxW or HxWx3 (the reference reader, not restorekit.io)."""
    from PIL import Image

    with Image.open(path) as im:
        im = im.convert("RGB") if im.mode not in ("L", "RGB") else im
        return np.asarray(im).copy()


def to_tensor(a: np.ndarray) -> torch.Tensor:
    """uint8 HxW(x3) -> float32 (1, C, H, W) in [0, 1]."""
    t = torch.from_numpy(a.astype(np.float32) / 255.0)
    return t[None, None] if t.ndim == 2 else t.permute(2, 0, 1)[None]


def assert_close(actual, expected, atol: float = 1e-6, rtol: float = 0.0, msg: str = "") -> None:
    """Tolerant comparison of tensors or arrays that reports the worst difference."""
    a = torch.as_tensor(np.asarray(actual) if not isinstance(actual, torch.Tensor) else actual)
    e = torch.as_tensor(
        np.asarray(expected) if not isinstance(expected, torch.Tensor) else expected
    )
    a, e = a.double(), e.double()
    assert a.shape == e.shape, f"{msg} shape {tuple(a.shape)} != {tuple(e.shape)}"
    diff = (a - e).abs()
    bound = atol + rtol * e.abs()
    worst = diff.max().item() if diff.numel() else 0.0
    assert bool((diff <= bound).all()), (
        f"{msg} max abs diff {worst:.3g} > atol {atol} / rtol {rtol}"
    )


def sigkill_after_checkpoint(command: list[str], env: dict, ckpt: Path, step: int) -> int:
    """Start a training ``command``, kill it with SIGKILL once its checkpoint ``ckpt`` holds
    ``step`` or later, and return the step the checkpoint holds after the kill."""
    import signal
    import subprocess
    import time

    from restorekit.train.checkpoint import checkpoint_step

    def current() -> int:
        try:
            return checkpoint_step(ckpt) if ckpt.exists() else -1
        except Exception:  # the file is being renamed into place
            return -1

    proc = subprocess.Popen(command, env=env)
    deadline = time.time() + 120
    while time.time() < deadline and proc.poll() is None and current() < step:
        time.sleep(0.05)
    assert proc.poll() is None, "the run ended before it could be killed"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    return current()


def cli(*args: str) -> list[str]:
    """The ``restorekit`` command line run with this interpreter (for subprocess tests)."""
    import sys

    return [sys.executable, "-m", "restorekit.cli.main", *args]


def one_thread_env() -> dict[str, str]:
    """The environment for a training subprocess: one thread, unbuffered output."""
    import os

    return {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def train_error_line(cfg: Path) -> str:
    """``restorekit train cfg`` must fail with exit code 2 and one line on stderr: that line."""
    import subprocess

    env = one_thread_env()
    done = subprocess.run(cli("train", str(cfg)), capture_output=True, text=True, env=env)
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    return lines[0]


def train_whole_and_killed(whole: Path, killed: Path, ckpt: Path, kill_at: int) -> int:
    """Train config ``whole`` uninterrupted; train config ``killed``, SIGKILL it once its checkpoint
    ``ckpt`` holds step ``kill_at`` or later, and resume it to the end. Returns the step the
    checkpoint held after the kill."""
    import subprocess

    env = one_thread_env()
    subprocess.run(cli("train", str(whole), "--quiet"), check=True, env=env, timeout=300)
    stopped_at = sigkill_after_checkpoint(cli("train", str(killed), "--quiet"), env, ckpt, kill_at)
    done = subprocess.run(
        cli("train", str(killed), "--resume", "--quiet"),
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return stopped_at


class SpyAdam(torch.optim.Adam):
    """Adam that calls ``before()`` when it is about to step (GAN-step order tests)."""

    def __init__(self, params, before, **kw):
        super().__init__(params, **kw)
        self.before = before

    def step(self, closure=None):
        self.before()
        return super().step(closure)


def write_config(cfg: dict, changes: dict, path: Path) -> Path:
    """Write the training config ``cfg`` as YAML to ``path`` with ``changes`` applied: keys are
    dotted with ``__`` (``optim__steps=4`` sets ``cfg["optim"]["steps"]``)."""
    import yaml

    for dotted, value in changes.items():
        node = cfg
        *parents, leaf = dotted.split("__")
        for k in parents:
            node = node.setdefault(k, {})
        node[leaf] = value
    path.write_text(yaml.safe_dump(cfg))
    return path


def run_cli(capture, *argv) -> tuple[int, str, str]:
    """``restorekit`` in this process: (exit code, stdout, stderr). ``capture`` is pytest's
    ``capsys`` (or ``capfd`` where C code writes to the file descriptors)."""
    from restorekit.cli.main import main

    code = main([str(a) for a in argv])
    out, err = capture.readouterr()
    return code, out, err


def assert_one_line_error(code: int, err: str, needle: str) -> None:
    """A user's mistake: exit code 2 and one line on stderr that contains ``needle``."""
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert needle in lines[0], lines[0]
