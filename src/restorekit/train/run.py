"""The scaffolding every training loop shares: :class:`Run`.

A loop (supervised, adversarial, self-supervised, cycle) keeps only its step; the run does the rest:
Lightning Fabric (devices, precision, DDP over processes), the run folder, named networks with
their optimizers and learning-rate schedules, checkpoints of all of them, exact resume, TensorBoard,
validation, the progress bar and the final model file. A loop reads::

    run = Run(cfg, resume=resume, progress=progress, max_steps=max_steps)
    net = build(...)                                   # after Run(): seeded by cfg.seed
    model = run.network("model", net, run.adam(net.parameters()))
    run.restore()                                      # the checkpoint, when resuming
    run.start(validate=...)                            # run folder, config, TensorBoard
    for step in run.steps():                           # progress, logs, checkpoints, validation
        ... forward, loss, backward, optimizer steps ...
        run.log(loss=loss.item(), **parts)
    return run.finish("model", extra)                  # model.safetensors

Each run folder holds ``config.yaml`` (the resolved config), ``checkpoints/last.safetensors``
(written atomically every ``run.checkpoint_every`` steps), ``log.jsonl`` (validation scores),
``tb/`` (TensorBoard scalars and images) and, at the end, ``model.safetensors`` (the weights of one
network, self-describing: what :func:`restorekit.models.load_model` reads). Resuming restores every
network, optimizer, schedule, the step, the random generator and any extra state the loop
registered (:meth:`Run.keep`), so a killed run finishes where an uninterrupted one would.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from restorekit.errors import RestorekitError
from restorekit.io.files import atomic_write
from restorekit.train.checkpoint import load_checkpoint, save_checkpoint
from restorekit.train.config import TrainConfig, config_to_dict

__all__ = ["Run", "Stateful", "TrainResult", "composite_loss", "lr_factor"]


class Stateful(Protocol):
    """Extra state a run checkpoints (a hard-patch pool, a collapse watch): tensors in, out."""

    def state_dict(self) -> dict[str, torch.Tensor]: ...

    def load_state_dict(self, state: dict[str, torch.Tensor]) -> None: ...


@dataclass
class TrainResult:
    """What a finished run reports."""

    out: Path
    steps: int
    seconds: float
    val: dict[str, float] = field(default_factory=dict)


def lr_factor(cfg: TrainConfig) -> Callable[[int], float]:
    """The learning-rate multiplier per step: linear warm-up, then constant, cosine to
    ``optim.min_lr``, or ``step`` (times ``optim.gamma`` at each of ``optim.milestones``)."""
    o = cfg.optim

    def factor(step: int) -> float:
        if o.warmup and step < o.warmup:
            return (step + 1) / o.warmup
        if o.scheduler == "constant":
            return 1.0
        if o.scheduler == "step":
            return o.gamma ** sum(step >= m for m in o.milestones)
        t = (step - o.warmup) / max(1, o.steps - o.warmup)
        floor = o.min_lr / o.lr
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))

    return factor


def composite_loss(cfg: TrainConfig) -> nn.Module:
    """The config's named loss weights, options and schedule as one
    :class:`~restorekit.losses.CompositeLoss`."""
    from restorekit.losses import CompositeLoss

    return CompositeLoss(cfg.loss.weights, schedule=cfg.loss.schedule or None, **cfg.loss.options)


#: validation: () -> (scores, headline first; a preview picture (3, H, W) in [0, 1] or None)
Validation = Callable[[], tuple[dict[str, float], "torch.Tensor | None"]]


class Run:
    """One training run (see the module docstring).

    Args:
        cfg: the validated config.
        resume: continue from ``<run.out>/checkpoints/last.safetensors``.
        progress: show a progress bar (steps, loss, patches/s, ETA) on the main process.
        max_steps: stop after this step (the schedule still spans ``optim.steps``); for tests
            and for splitting a long run over sessions.

    Raises:
        RestorekitError: an existing run folder without ``resume``, nothing to resume.
    """

    def __init__(
        self,
        cfg: TrainConfig,
        resume: bool = False,
        progress: bool = True,
        max_steps: int | None = None,
    ) -> None:
        from lightning_fabric import Fabric

        if cfg.run.threads:
            torch.set_num_threads(cfg.run.threads)
        self.cfg = cfg
        self.out = Path(cfg.run.out)
        self.ckpt_path = self.out / "checkpoints" / "last.safetensors"
        if resume and not self.ckpt_path.is_file():
            raise RestorekitError(f"nothing to resume: {self.ckpt_path} does not exist")
        if not resume and self.ckpt_path.is_file():
            raise RestorekitError(
                f"{self.out} already holds a run; pass --resume to continue it or set run.out "
                "elsewhere"
            )
        self.resume = resume
        self.progress = progress
        self.fabric = Fabric(
            accelerator=cfg.run.accelerator,
            devices=cfg.run.devices,
            strategy="ddp" if cfg.run.devices > 1 else "auto",
            precision=cfg.run.precision,
        )
        self.fabric.launch()
        self.main = self.fabric.is_global_zero
        torch.manual_seed(cfg.seed)  # the same initial weights on every process
        #: the loop's random source; each process draws its own patches
        self.generator = torch.Generator().manual_seed(cfg.seed * 1000 + self.fabric.global_rank)
        self.nets: dict[str, nn.Module] = {}
        self.optimizers: dict[str, torch.optim.Optimizer] = {}
        self.schedulers: dict[str, Any] = {}
        self.kept: dict[str, Stateful] = {}
        self.first = 0
        self.elapsed = 0.0
        self.stop = min(cfg.optim.steps, max_steps or cfg.optim.steps)
        self.val: dict[str, float] = {}
        self._scalars: dict[str, float] = {}
        self._validation: Validation | None = None
        self._writer: Any = None
        self._t0 = time.perf_counter()

    # -- set-up ----------------------------------------------------------------------------------
    def adam(
        self,
        params: Iterable[nn.Parameter],
        lr: float | None = None,
        betas: tuple[float, float] | None = None,
    ) -> torch.optim.Optimizer:
        """AdamW with the config's learning rate, betas and weight decay (or the ones given)."""
        o = self.cfg.optim
        return torch.optim.AdamW(
            params, lr=lr or o.lr, betas=betas or o.betas, weight_decay=o.weight_decay
        )

    def network(
        self,
        name: str,
        net: nn.Module,
        optimizer: torch.optim.Optimizer | None = None,
        schedule: bool = True,
    ) -> nn.Module:
        """Register a network (and its optimizer) under ``name``; return it set up by Fabric.

        The network goes to channels-last memory; its optimizer gets the config's schedule
        (warm-up, cosine) unless ``schedule`` is False. Everything registered is checkpointed
        and restored together. Use the returned module in the step (it is the DDP wrapper on
        several devices); the registered one stays in :attr:`nets`.
        """
        if name in self.nets:
            raise RestorekitError(f"the run already has a network named {name!r}")
        self.nets[name] = net
        net = net.to(memory_format=torch.channels_last)
        if optimizer is None:
            return self.fabric.setup_module(net)
        if schedule:
            self.schedulers[name] = torch.optim.lr_scheduler.LambdaLR(
                optimizer, lr_factor(self.cfg)
            )
        wrapped, optimizer = self.fabric.setup(net, optimizer)
        self.optimizers[name] = optimizer
        return wrapped

    def keep(self, name: str, obj: Stateful) -> None:
        """Checkpoint and restore ``obj``'s tensors with the run (under ``extra.<name>.*``)."""
        self.kept[name] = obj

    def restore(self) -> int:
        """When resuming, load every registered network, optimizer, schedule, the generator and
        the kept state from the checkpoint; return the first step to run."""
        if not self.resume:
            return self.first
        raw = {n: getattr(o, "optimizer", o) for n, o in self.optimizers.items()}
        ck = load_checkpoint(self.ckpt_path, self.nets, raw, self.schedulers)
        self.first = ck.step
        self.elapsed = float(ck.extra.get("elapsed", torch.tensor(0.0)))
        rank = self.fabric.global_rank
        if f"generator{rank}" in ck.extra:
            self.generator.set_state(ck.extra[f"generator{rank}"])
        for name, obj in self.kept.items():
            prefix = f"{name}."
            state = {k[len(prefix) :]: v for k, v in ck.extra.items() if k.startswith(prefix)}
            if state:
                obj.load_state_dict(state)
        return self.first

    def start(self, validate: Validation | None = None) -> None:
        """Create the run folder, save the resolved config, open TensorBoard; ``validate`` is
        called every ``run.validate_every`` steps and at the end (main process only)."""
        self._validation = validate if self.main else None
        if self.main:
            import yaml

            self.out.mkdir(parents=True, exist_ok=True)
            atomic_write(
                self.out / "config.yaml", yaml.safe_dump(config_to_dict(self.cfg), sort_keys=False)
            )
            from torch.utils.tensorboard import SummaryWriter

            self._writer = SummaryWriter(str(self.out / "tb"))

    # -- the loop --------------------------------------------------------------------------------
    def to_device(self, x: Any) -> Any:
        """Move a tensor (or a tuple of them) to the run's device; 4-D tensors channels-last."""
        x = self.fabric.to_device(x)
        return _channels_last(x)

    def backward(self, loss: torch.Tensor, name: str | None = None) -> None:
        """``loss.backward()`` through Fabric (precision scaling, DDP); then clip the gradients of
        network ``name`` when ``optim.grad_clip`` is set."""
        self.fabric.backward(loss)
        if self.cfg.optim.grad_clip and name is not None:
            self.fabric.clip_gradients(
                self.nets[name], self.optimizers[name], max_norm=self.cfg.optim.grad_clip
            )

    def log(self, **scalars: float) -> None:
        """Record this step's scalars (``loss`` first: it is shown and checked for NaN)."""
        self._scalars = {k: float(v) for k, v in scalars.items()}

    def steps(self) -> Iterator[int]:
        """Yield the step indices from the first one to run; after each step: advance the
        schedules, check the loss, write logs, checkpoints and validation when due."""
        from tqdm import tqdm

        cfg = self.cfg
        per_step = cfg.data.batch * self.fabric.world_size
        bar = tqdm(
            total=self.stop,
            initial=self.first,
            unit="step",
            desc=f"train {cfg.task} {cfg.model.name}",
            disable=not (self.progress and self.main),
            dynamic_ncols=True,
        )
        self._t0 = time.perf_counter()
        rate_t, rate_step = self._t0, self.first
        for step in range(self.first, self.stop):
            self._scalars = {}
            yield step
            for sched in self.schedulers.values():
                sched.step()
            done = step + 1
            loss = self._scalars.get("loss", 0.0)
            if not math.isfinite(loss):
                raise RestorekitError(f"loss became {loss} at step {done}; lower optim.lr")
            if self.main and (done % cfg.run.log_every == 0 or done == self.stop):
                now = time.perf_counter()
                speed = (done - rate_step) * per_step / max(now - rate_t, 1e-9)
                rate_t, rate_step = now, done
                bar.set_postfix(loss=f"{loss:.4g}", patches_s=f"{speed:.0f}", refresh=False)
                for k, v in self._scalars.items():
                    self._writer.add_scalar(f"train/{k}", v, done)
                for name, sched in self.schedulers.items():
                    tag = "train/lr" if len(self.schedulers) == 1 else f"train/lr_{name}"
                    self._writer.add_scalar(tag, sched.get_last_lr()[0], done)
                self._writer.add_scalar("train/patches_per_s", speed, done)
            bar.update(1)
            if done % cfg.run.checkpoint_every == 0 or done == self.stop:
                self.checkpoint(done)
            if self._validation and (done % cfg.run.validate_every == 0 or done == self.stop):
                self._validate(done)
            self.fabric.barrier()
        bar.close()

    def checkpoint(self, step: int) -> None:
        """Write the checkpoint of every registered network, optimizer, schedule and state."""
        if not self.main:
            return
        extra = {f"generator{self.fabric.global_rank}": self.generator.get_state()}
        extra["elapsed"] = torch.tensor(self.seconds)
        for name, obj in self.kept.items():
            extra.update({f"{name}.{k}": v for k, v in obj.state_dict().items()})
        raw = {n: getattr(o, "optimizer", o) for n, o in self.optimizers.items()}
        save_checkpoint(
            self.ckpt_path, self.nets, raw, step, self.schedulers, extra, config_to_dict(self.cfg)
        )

    @property
    def seconds(self) -> float:
        """Training time so far, over every session of the run."""
        return self.elapsed + (time.perf_counter() - self._t0)

    def _validate(self, step: int) -> None:
        assert self._validation is not None
        modes = {n: net.training for n, net in self.nets.items()}
        for net in self.nets.values():
            net.eval()
        with torch.inference_mode():
            scores, picture = self._validation()
        for name, net in self.nets.items():
            _restore_modes(net, modes[name])
        self.val = scores
        for k, v in scores.items():
            self._writer.add_scalar(f"val/{k}", v, step)
        if picture is not None:
            self._writer.add_image("val/preview", picture.clamp(0, 1), step)
        with open(self.out / "log.jsonl", "a") as f:
            f.write(json.dumps({"step": step, **{k: round(v, 4) for k, v in scores.items()}}))
            f.write("\n")

    # -- the end ---------------------------------------------------------------------------------
    def finish(
        self,
        name: str,
        extra: Callable[[], dict[str, Any]] | None = None,
        message: str = "",
    ) -> TrainResult:
        """Close the logs; when the last step of the schedule is done, save network ``name`` as
        ``model.safetensors`` with the run's metadata and ``extra()`` (computed in eval mode)."""
        from restorekit.models import save_model

        seconds = self.seconds
        cfg = self.cfg
        if self.main and self.stop == cfg.optim.steps:
            net = self.nets[name]
            meta: dict[str, Any] = {
                "task": cfg.task,
                "config": config_to_dict(cfg),
                "train_steps": self.stop,
                "train_seconds": round(seconds, 1),
                "train_device": _device_name(self.fabric.device),
                "val": self.val,
            }
            net.eval()
            if extra is not None:
                with torch.inference_mode():
                    meta.update(extra())
            save_model(
                self.out / "model.safetensors",
                net,
                meta,
                dtype=getattr(torch, cfg.run.weights_dtype),
            )
        if self._writer is not None:
            self._writer.close()
        if message and self.main:
            print(message, file=sys.stderr)
        return TrainResult(self.out, self.stop, seconds, self.val)


def _restore_modes(net: nn.Module, training: bool) -> None:
    """Back to ``net``'s mode before validation, keeping frozen submodules (in eval mode)."""
    if not training:
        return
    frozen = [m for m in net.modules() if getattr(m, "_frozen", False)]
    net.train()
    for m in frozen:
        m.eval()


def _channels_last(inputs: Any) -> Any:
    if isinstance(inputs, torch.Tensor):
        return inputs.contiguous(memory_format=torch.channels_last) if inputs.ndim == 4 else inputs
    if isinstance(inputs, (tuple, list)):
        return type(inputs)(_channels_last(v) for v in inputs)
    return inputs


def _device_name(device: torch.device) -> str:
    """``cpu: <processor>`` or ``cuda: <GPU name>``: which machine trained the weights."""
    if device.type == "cuda":
        return f"cuda: {torch.cuda.get_device_name(device)}"
    import platform

    try:
        with open("/proc/cpuinfo") as f:
            names = [ln.split(":", 1)[1].strip() for ln in f if ln.startswith("model name")]
    except OSError:
        names = []
    return f"cpu: {names[0] if names else platform.processor() or platform.machine()}"
