"""Evaluating methods on datasets: the benchmark harness and the measurements it records."""

from __future__ import annotations

from restorekit.eval.benchmark import BenchmarkResult, run_benchmark
from restorekit.eval.environment import PeakMemory, machine_info, versions

__all__ = ["BenchmarkResult", "PeakMemory", "machine_info", "run_benchmark", "versions"]
