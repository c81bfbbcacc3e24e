"""The machine and library versions a measurement was taken on, and the memory it used."""

from __future__ import annotations

import os
import platform
import threading
import time
from importlib import metadata
from typing import Any

__all__ = ["PeakMemory", "machine_info", "versions"]

_PACKAGES = (
    "restorekit",
    "torch",
    "numpy",
    "opencv-python-headless",
    "scikit-image",
    "colour-demosaicing",
    "bm3d",
    "pillow",
    "scipy",
)


def machine_info() -> dict[str, Any]:
    """CPU model, core count, RAM and OS, read from the running machine.

    Example:
        >>> sorted(machine_info())[:3]
        ['cpu', 'cpu_count', 'machine']
    """
    cpu = platform.processor() or platform.machine()
    ram_gb = None
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
        with open("/proc/meminfo") as f:
            ram_gb = round(int(f.readline().split()[1]) / 2**20, 1)
    except OSError:
        pass
    import torch

    return {
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "ram_gb": ram_gb,
        "machine": platform.machine(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def versions() -> dict[str, str]:
    """Installed versions of the libraries a benchmark depends on.

    Example:
        >>> "torch" in versions()
        True
    """
    out = {}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def _rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


class PeakMemory:
    """Peak resident memory above the starting level while the ``with`` block runs.

    A background thread samples the process's resident set size (``/proc/self/statm``) every
    ``interval`` seconds; short spikes between samples can be missed, so treat the value as a
    lower bound accurate to a few MB.

    Example:
        >>> import numpy as np
        >>> with PeakMemory() as m:
        ...     a = np.ones(50_000_000 // 8); time.sleep(0.05)
        >>> m.peak_mb >= 0
        True
    """

    def __init__(self, interval: float = 0.002) -> None:
        self.interval = interval
        self.peak_mb = 0.0
        self._stop = threading.Event()

    def _watch(self) -> None:
        while not self._stop.is_set():
            self._peak = max(self._peak, _rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> PeakMemory:
        self._base = _rss_bytes()
        self._peak = self._base
        self._thread = threading.Thread(target=self._watch, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self._peak = max(self._peak, _rss_bytes())
        self.peak_mb = (self._peak - self._base) / 2**20
