"""The benchmark harness: every method of a task on the same images, in one run.

For each dataset and condition it makes the degraded inputs once, runs every method on them,
scores each output with the task's metrics, times each call (megapixels per second, median over
the images, which are the repeated runs) and records the peak memory above the starting level.
The result is written as JSON (everything, per image) and Markdown (per-dataset means), and a PNG
shows the same crop from each method beside the ground truth.
"""

from __future__ import annotations

import json
import os
import statistics
import time
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from restorekit._checks import closest_names
from restorekit.errors import RestorekitError
from restorekit.eval.environment import PeakMemory, machine_info, versions
from restorekit.io import atomic_write, list_images, read_image, to_numpy
from restorekit.reports import best_crop_box, comparison_strip, crop_to_uint8, markdown_table
from restorekit.tasks.base import Condition, Pair, Task

__all__ = ["BenchmarkResult", "MethodRun", "run_benchmark"]


@dataclass
class MethodRun:
    """One method on one dataset at one condition."""

    dataset: str
    condition: str
    method: str
    metrics: dict[str, float] = field(default_factory=dict)
    per_image: dict[str, dict[str, float]] = field(default_factory=dict)
    seconds: list[float] = field(default_factory=list)
    megapixels: list[float] = field(default_factory=list)
    peak_mem_mb: float = 0.0

    @property
    def mp_per_s(self) -> list[float]:
        return [m / s for m, s in zip(self.megapixels, self.seconds, strict=True) if s > 0]


@dataclass
class BenchmarkResult:
    """Everything one benchmark run measured."""

    task: str
    convention: str
    metric_names: tuple[str, ...]
    datasets: list[str]
    conditions: list[str]
    methods: list[str]
    runs: list[MethodRun]
    command: str = ""
    machine: dict[str, Any] = field(default_factory=machine_info)
    versions: dict[str, str] = field(default_factory=versions)
    date: str = field(
        default_factory=lambda: datetime.now(timezone.utc).isoformat(timespec="seconds")
    )
    figures: list[str] = field(default_factory=list)
    #: timing per method *and* condition (the methods are other networks at each scale)
    speed_by_condition: bool = False
    #: Markdown the task adds to the report (model sizes, published values)
    notes: str = ""
    #: methods whose scores and timings come from an earlier run (``--reuse``): method -> source
    reused: dict[str, str] = field(default_factory=dict)

    def run_for(self, dataset: str, condition: str, method: str) -> MethodRun | None:
        for r in self.runs:
            if (r.dataset, r.condition, r.method) == (dataset, condition, method):
                return r
        return None

    def speed(self, method: str, condition: str | None = None) -> dict[str, float]:
        """Median and quartiles of megapixels/s over every image this method ran on (at
        ``condition`` only, if given)."""
        v = sorted(
            x
            for r in self.runs
            if r.method == method and condition in (None, r.condition)
            for x in r.mp_per_s
        )
        if not v:
            return {"median": float("nan"), "q25": float("nan"), "q75": float("nan"), "runs": 0}
        q = statistics.quantiles(v, n=4) if len(v) > 1 else [v[0]] * 3
        return {"median": statistics.median(v), "q25": q[0], "q75": q[2], "runs": len(v)}

    def to_json(self) -> dict[str, Any]:
        d = asdict(self)
        d["speed_mp_per_s"] = {m: self.speed(m) for m in self.methods}
        if self.speed_by_condition:
            d["speed_mp_per_s_by_condition"] = {
                m: {c: self.speed(m, c) for c in self.conditions} for m in self.methods
            }
        d["peak_mem_mb"] = {
            m: max((r.peak_mem_mb for r in self.runs if r.method == m), default=0.0)
            for m in self.methods
        }
        return d

    def provenance(self) -> str:
        """The machine, the library versions and the date, as one sentence for reports."""
        m, v = self.machine, self.versions
        return (
            f"Machine: {m['cpu']}, {m['cpu_count']} cores ({m['torch_threads']} torch threads), "
            f"{m['ram_gb']} GB RAM, Python {m['python']}; "
            + ", ".join(f"{k} {val}" for k, val in v.items() if val != "not installed")
            + f". Date: {self.date}."
        )

    def to_markdown(self) -> str:
        cols = [(d, c) for d in self.datasets for c in self.conditions]
        out = [f"# Benchmark: {self.task}", "", f"Convention: {self.convention}", ""]
        if self.command:
            out += [f"Reproduce: `{self.command}`", ""]
        out += [self.provenance(), ""]
        for metric in self.metric_names:
            unit = " (dB)" if "psnr" in metric else ""
            headers = ["method", *[f"{d} {c}" for d, c in cols]]
            rows = []
            for meth in self.methods:
                row: list[object] = [meth]
                for d, c in cols:
                    r = self.run_for(d, c, meth)
                    row.append(r.metrics.get(metric, float("nan")) if r else "-")
                rows.append(row)
            out += [f"## {metric}{unit}", "", markdown_table(headers, rows), ""]
        rows = []
        groups = [(m, c) for m in self.methods for c in self.conditions]
        if not self.speed_by_condition:
            groups = [(m, None) for m in self.methods]
        for meth, cond in groups:
            s = self.speed(meth, cond)
            if not s["runs"]:
                continue  # a method that does not apply at this condition
            peak = max(
                (
                    r.peak_mem_mb
                    for r in self.runs
                    if r.method == meth and cond in (None, r.condition)
                ),
                default=0.0,
            )
            rows.append(
                [
                    meth if cond is None else f"{meth} {cond}",
                    f"{s['median']:.3g}",
                    f"{s['q25']:.3g} - {s['q75']:.3g}",
                    s["runs"],
                    f"{peak:.0f}",
                ]
            )
        out += [
            "## Speed and memory",
            "",
            "Megapixels of output per second, median and quartiles over every image timed "
            "(one call per image, after a warm-up call); peak resident memory above the start, "
            "sampled every 2 ms.",
            "",
            markdown_table(["method", "MP/s median", "MP/s IQR", "images", "peak MB"], rows),
            "",
        ]
        if self.notes:
            out += [self.notes, ""]
        for meth, source in self.reused.items():
            out += [
                f"{meth}: scores and timings from an earlier run of the same benchmark ({source}); "
                "re-run here on each comparison-crop image, where it gave the same score.",
                "",
            ]
        for fig in self.figures:
            out += [f"![{Path(fig).stem}]({Path(fig).name})", ""]
        return "\n".join(out)

    def write(self, out_dir: str | os.PathLike) -> tuple[Path, Path]:
        """Write ``<task>.json`` and ``<task>.md`` atomically into ``out_dir``."""
        d = Path(out_dir)
        d.mkdir(parents=True, exist_ok=True)
        paths = []
        for suffix, text in (
            (".json", json.dumps(self.to_json(), indent=1, allow_nan=True)),
            (".md", self.to_markdown()),
        ):
            p = d / f"{self.task}{suffix}"
            atomic_write(p, text + "\n")
            paths.append(p)
        return paths[0], paths[1]


def _load(folder: Path, limit: int | None) -> list[tuple[str, np.ndarray]]:
    paths = list_images(folder)[:limit] if limit else list_images(folder)
    return [(p.stem, to_numpy(read_image(p))) for p in paths]


def _check_reused(
    task: Task, method: str, pair: Pair, cond: Condition, old: MethodRun
) -> tuple[Any, dict[str, float]]:
    """Run ``method`` on ``pair`` and check it scores what the reused run recorded."""
    out = task.run(method, pair, cond)
    scores = task.score(out, pair, cond)
    for k, v in old.per_image[pair.name].items():
        if not np.isclose(scores.get(k, np.nan), v, rtol=0, atol=1e-6, equal_nan=True):
            raise RestorekitError(
                f"--reuse: {method} scores {k} {scores.get(k)} on {pair.name} ({cond.label}) "
                f"where the earlier run recorded {v}: the method or the data changed; run it again"
            )
    return out, scores


def _warm_up(task: Task, method: str, pair: Pair, cond: Condition) -> None:
    """One untimed call on a small crop, so first-call costs (imports, allocator) are not timed."""
    n = 32
    small = Pair(pair.name, pair.input[..., :n, :n], pair.target[..., :n, :n], pair.extra)
    task.run(method, small, cond)


def _reusable(
    task: Task, path: str | os.PathLike, methods: list[str]
) -> tuple[dict[tuple[str, str, str], MethodRun], str]:
    """The runs of ``methods`` in an earlier benchmark JSON of the same task and convention."""
    p = Path(path)
    try:
        data = json.loads(p.read_text())
        runs = data["runs"]
        same = data["task"] == task.name and data["convention"] == task.convention
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise RestorekitError(f"--reuse '{p}': not a benchmark JSON ({e})") from None
    if not same:
        raise RestorekitError(
            f"--reuse '{p}': a {data['task']} benchmark with another convention; its results "
            "cannot be reused here"
        )
    fields = {f for f in MethodRun.__dataclass_fields__}
    found = {}
    for r in runs:
        if r.get("method") in methods:
            run = MethodRun(**{k: v for k, v in r.items() if k in fields})
            found[(run.dataset, run.condition, run.method)] = run
    return found, f"{p.name}, {data.get('date', 'undated')}"


def run_benchmark(
    task: Task,
    datasets: list[str | os.PathLike],
    conditions: list[Condition],
    methods: list[str] | None = None,
    limit: int | None = None,
    figures_dir: str | os.PathLike | None = None,
    progress: bool = True,
    command: str = "",
    reuse: str | os.PathLike | None = None,
) -> BenchmarkResult:
    """Run every method of ``task`` on every image of every dataset at every condition.

    Args:
        task: the task object (see :mod:`restorekit.tasks`).
        datasets: image folders.
        conditions: from ``task.conditions(...)``.
        methods: method names (all of the task's by default).
        limit: use only the first ``limit`` images of each dataset (sorted by name).
        figures_dir: where to write the comparison-crop PNGs (none if ``None``).
        progress: show a progress bar on stderr.
        command: the command line that reproduces the run, recorded in the reports.
        reuse: an earlier benchmark JSON of the same task and convention: the methods it ran on
            the same images at a condition are not run again (their scores and timings are
            copied), except on the comparison-crop image, whose score must come out the same.
            For slow baselines (BM3D at several levels) between runs of a changing network.

    Returns:
        The :class:`BenchmarkResult`; call ``.write(folder)`` to save it.

    Example:
        >>> import tempfile, torch
        >>> from restorekit.io import write_image
        >>> from restorekit.tasks import SRTask
        >>> d = tempfile.mkdtemp()
        >>> write_image(os.path.join(d, "a.png"), torch.rand(1, 3, 48, 48))
        >>> task = SRTask()
        >>> r = run_benchmark(task, [d], task.conditions([2]), methods=["bicubic"], progress=False)
        >>> r.runs[0].method, sorted(r.runs[0].per_image)
        ('bicubic', ['a'])
    """
    from tqdm import tqdm

    available = task.methods()
    chosen = list(available) if not methods else list(methods)
    for m in chosen:
        if m not in available:
            known = ", ".join(closest_names(m, list(available)))
            raise RestorekitError(f"unknown {task.name} method {m!r}; known: {known}")
    folders = [Path(d) for d in datasets]
    loaded = {f.name: _load(f, limit) for f in folders}
    applies = getattr(task, "applies", lambda method, cond: True)
    per_cond = [sum(applies(m, c) for m in chosen) for c in conditions]
    total = sum(len(v) for v in loaded.values()) * sum(per_cond)
    result = BenchmarkResult(
        task=task.name,
        convention=task.convention,
        metric_names=tuple(task.metric_names),
        datasets=list(loaded),
        conditions=[c.label for c in conditions],
        methods=chosen,
        runs=[],
        command=command,
        speed_by_condition=bool(getattr(task, "speed_by_condition", False)),
    )
    notes = getattr(task, "report_notes", None)
    if notes is not None:
        result.notes = notes(chosen, conditions)
    reused, source = _reusable(task, reuse, chosen) if reuse is not None else ({}, "")
    bar = tqdm(total=total, desc=f"bench {task.name}", unit="run", disable=not progress)
    warmed: set[tuple[str, str]] = set()
    for dname, images in loaded.items():
        for cond in conditions:
            runs = {m: MethodRun(dname, cond.label, m) for m in chosen if applies(m, cond)}
            names = {name for name, _ in images}
            old = {
                m: reused[key]
                for m in runs
                if (key := (dname, cond.label, m)) in reused and set(reused[key].per_image) == names
            }
            tiles: list[tuple[str, np.ndarray]] = []
            for i, pair in enumerate(task.pairs(images, cond)):
                box = best_crop_box(pair.target) if i == 0 else None
                if box is not None:
                    scale = pair.target.shape[-1] // pair.input.shape[-1]
                    tiles += [
                        ("ground truth", crop_to_uint8(pair.target, box)),
                        ("input", crop_to_uint8(pair.extra.get("preview", pair.input), box, scale)),
                    ]
                for m in runs:
                    bar.set_postfix_str(f"{dname} {cond.label} {m} {pair.name}")
                    if m in old:
                        if box is not None:
                            out, scores = _check_reused(task, m, pair, cond, old[m])
                            head = task.metric_names[0]
                            tiles.append(
                                (f"{m}\n{head} {scores[head]:.2f}", crop_to_uint8(out, box))
                            )
                        bar.update(1)
                        continue
                    if (m, cond.label) not in warmed:  # a method may load a model per condition
                        _warm_up(task, m, pair, cond)
                        warmed.add((m, cond.label))
                    with PeakMemory() as mem:
                        t0 = time.perf_counter()
                        out = task.run(m, pair, cond)
                        dt = time.perf_counter() - t0
                    scores = task.score(out, pair, cond)
                    r = runs[m]
                    r.per_image[pair.name] = scores
                    r.seconds.append(dt)
                    r.megapixels.append(out.shape[-1] * out.shape[-2] / 1e6)
                    r.peak_mem_mb = max(r.peak_mem_mb, mem.peak_mb)
                    if box is not None:
                        head = task.metric_names[0]
                        tiles.append((f"{m}\n{head} {scores[head]:.2f}", crop_to_uint8(out, box)))
                    bar.update(1)
            for m, r in old.items():
                runs[m] = r
                result.reused[m] = source
            for r in runs.values():
                for metric in task.metric_names:
                    r.metrics[metric] = float(np.mean([v[metric] for v in r.per_image.values()]))
                result.runs.append(r)
            if figures_dir is not None and tiles:
                slug = cond.label.replace("=", "").replace(".", "p").replace(" ", "-")
                path = Path(figures_dir) / f"{task.name}-{dname}-{slug}.png"
                path.parent.mkdir(parents=True, exist_ok=True)
                comparison_strip(tiles, path)
                result.figures.append(str(path))
    bar.close()
    return result
