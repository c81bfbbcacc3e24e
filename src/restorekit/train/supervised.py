"""The supervised training loop (input -> output against a ground truth), on Lightning Fabric.

Fabric gives the devices, the precision, DDP over processes (gloo on CPU, NCCL on GPUs) and the
launch; the loop itself stays visible here: sample a batch from memory, degrade it, forward, the
composite loss, backward, step. A recipe (:class:`Recipe`) supplies the task-specific parts: how a
ground-truth patch becomes a network input, how to call the network, how to validate.

Each run folder holds ``config.yaml`` (the resolved config), ``checkpoints/last.safetensors``
(written atomically every ``run.checkpoint_every`` steps), ``log.jsonl`` (validation scores),
``tb/`` (TensorBoard scalars and images) and, at the end, ``model.safetensors`` (weights only,
self-describing: what :func:`restorekit.models.load_model` reads). ``resume=True`` continues from
the checkpoint with the same weights, optimizer, schedule, step and random generator states, so a
killed run finishes where an uninterrupted one would.
"""

from __future__ import annotations

import json
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import torch
from torch import nn

from restorekit.data import HardPatchMiner, ImageBank, PatchBatch, sample_patches
from restorekit.data.patches import color_augment
from restorekit.errors import RestorekitError
from restorekit.io.files import atomic_write
from restorekit.train.checkpoint import load_checkpoint, save_checkpoint
from restorekit.train.config import TrainConfig, config_to_dict

__all__ = ["Recipe", "TrainResult", "fit"]


class Recipe(Protocol):
    """The task-specific parts of supervised training."""

    def degrade(
        self, target: torch.Tensor, generator: torch.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Ground-truth patches -> (network input, target)."""
        ...

    def forward(self, model: nn.Module, inputs: torch.Tensor) -> torch.Tensor:
        """Call the network."""
        ...

    def validate(self, model: nn.Module, images: list[torch.Tensor]) -> dict[str, float]:
        """Scores on whole validation images ``(1, C, H, W)``, the headline metric first."""
        ...

    def preview(self, model: nn.Module, image: torch.Tensor) -> torch.Tensor:
        """A picture for TensorBoard, ``(3, H, W)`` in [0, 1]."""
        ...

    def finalize(self, model: nn.Module, images: list[torch.Tensor]) -> dict[str, Any]:
        """Metadata for the final model file (e.g. a calibration), computed on the validation
        images; ``{}`` if the task has none."""
        ...


@dataclass
class TrainResult:
    """What a finished run reports."""

    out: Path
    steps: int
    seconds: float
    val: dict[str, float] = field(default_factory=dict)


def _lr_lambda(cfg: TrainConfig) -> Callable[[int], float]:
    o = cfg.optim

    def factor(step: int) -> float:
        if o.warmup and step < o.warmup:
            return (step + 1) / o.warmup
        if o.scheduler == "constant":
            return 1.0
        t = (step - o.warmup) / max(1, o.steps - o.warmup)
        floor = o.min_lr / o.lr
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * min(t, 1.0)))

    return factor


def _make_loss(cfg: TrainConfig) -> nn.Module:
    from restorekit.losses import CompositeLoss

    return CompositeLoss(cfg.loss.weights, schedule=cfg.loss.schedule or None, **cfg.loss.options)


def _set_threads(cfg: TrainConfig) -> None:
    if cfg.run.threads:
        torch.set_num_threads(cfg.run.threads)


def fit(
    cfg: TrainConfig,
    recipe: Recipe,
    resume: bool = False,
    progress: bool = True,
    max_steps: int | None = None,
) -> TrainResult:
    """Train the model of ``cfg`` with ``recipe``.

    Args:
        cfg: the validated config.
        recipe: the task's degradation, forward and validation.
        resume: continue from ``<run.out>/checkpoints/last.safetensors``.
        progress: show a progress bar (patches/s, loss, ETA) on the main process.
        max_steps: stop after this step (the schedule still spans ``optim.steps``); for tests
            and for splitting a long run over sessions.

    Raises:
        RestorekitError: an existing run folder without ``resume``, nothing to resume, a
            checkpoint of another model.
    """
    from lightning_fabric import Fabric
    from tqdm import tqdm

    from restorekit.models import build, save_model

    _set_threads(cfg)
    out = Path(cfg.run.out)
    ckpt_path = out / "checkpoints" / "last.safetensors"
    if resume and not ckpt_path.is_file():
        raise RestorekitError(f"nothing to resume: {ckpt_path} does not exist")
    if not resume and ckpt_path.is_file():
        raise RestorekitError(
            f"{out} already holds a run; pass --resume to continue it or set run.out elsewhere"
        )

    strategy = "ddp" if cfg.run.devices > 1 else "auto"
    fabric = Fabric(
        accelerator=cfg.run.accelerator,
        devices=cfg.run.devices,
        strategy=strategy,
        precision=cfg.run.precision,
    )
    fabric.launch()
    main = fabric.is_global_zero

    torch.manual_seed(cfg.seed)  # the same initial weights on every process
    net = build(cfg.model.name, **cfg.model.args)
    if cfg.model.init and not resume:
        _init_from(net, cfg.model.init)
    trainable = _freeze(net, cfg.model.freeze)
    optimizer = torch.optim.AdamW(
        trainable,
        lr=cfg.optim.lr,
        betas=cfg.optim.betas,
        weight_decay=cfg.optim.weight_decay,
    )
    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, _lr_lambda(cfg))
    criterion = _make_loss(cfg)
    # each process draws its own patches
    generator = torch.Generator().manual_seed(cfg.seed * 1000 + fabric.global_rank)
    miner = (
        HardPatchMiner(cfg.data.mining.capacity, cfg.data.mining.revisit)
        if cfg.data.mining
        else None
    )

    start, elapsed = 0, 0.0
    if resume:
        ck = load_checkpoint(ckpt_path, net, optimizer, scheduler)
        start = ck.step
        elapsed = float(ck.extra.get("elapsed", torch.tensor(0.0)))
        if f"generator{fabric.global_rank}" in ck.extra:
            generator.set_state(ck.extra[f"generator{fabric.global_rank}"])
        if miner is not None and "miner.ids" in ck.extra:
            miner.load_state_dict({k[6:]: v for k, v in ck.extra.items() if k.startswith("miner.")})

    bank = ImageBank(
        cfg.data.train,
        mode=cfg.data.mode,
        downscale=cfg.data.downscale,
        holdout=cfg.data.holdout,
        progress=progress and main,
    )
    val_images = _validation_images(cfg) if main else []

    net = net.to(memory_format=torch.channels_last)
    model, optimizer = fabric.setup(net, optimizer)
    if main:
        out.mkdir(parents=True, exist_ok=True)
        _write_config(out / "config.yaml", cfg)
    writer = _tensorboard(out / "tb") if main else None

    def checkpoint(step: int) -> None:
        if not main:
            return
        extra = {f"generator{fabric.global_rank}": generator.get_state()}
        extra["elapsed"] = torch.tensor(elapsed + (time.perf_counter() - t0))
        if miner is not None:
            extra.update({f"miner.{k}": v for k, v in miner.state_dict().items()})
        save_checkpoint(ckpt_path, net, optimizer, step, scheduler, extra, config_to_dict(cfg))

    stop = min(cfg.optim.steps, max_steps or cfg.optim.steps)
    per_step = cfg.data.batch * fabric.world_size
    bar = tqdm(
        total=stop,
        initial=start,
        unit="step",
        desc=f"train {cfg.model.name}",
        disable=not (progress and main),
        dynamic_ncols=True,
    )
    t0 = time.perf_counter()
    rate_t, rate_step = t0, start
    val: dict[str, float] = {}
    _train_mode(net, cfg.model.freeze)
    for step in range(start, stop):
        if miner is not None:
            batch = miner.sample(bank, cfg.data.batch, cfg.data.patch, generator)
        else:
            patches = sample_patches(bank, cfg.data.batch, cfg.data.patch, generator)
            batch = PatchBatch(patches, torch.full((cfg.data.batch,), -1))
        gt = batch.patches
        if cfg.data.color_augment:
            d = cfg.data
            gt = color_augment(
                gt,
                generator,
                saturation=d.color_saturation,
                permute=d.color_permute,
                boost=d.color_boost,
            )
        inputs, target = recipe.degrade(gt, generator)
        inputs = _channels_last(fabric.to_device(inputs))
        target = fabric.to_device(target)
        output = recipe.forward(model, inputs)
        loss, parts = criterion(output, target, progress=step / cfg.optim.steps)
        optimizer.zero_grad(set_to_none=True)
        fabric.backward(loss)
        if cfg.optim.grad_clip:
            fabric.clip_gradients(model, optimizer, max_norm=cfg.optim.grad_clip)
        optimizer.step()
        scheduler.step()
        if miner is not None:
            with torch.no_grad():
                per_patch = (output - target).abs().flatten(1).mean(1)
            batch.patches = gt  # the pool keeps the (augmented) patch the loss was measured on
            miner.update(batch, per_patch)
        done = step + 1
        loss_value = loss.item()
        if not math.isfinite(loss_value):
            raise RestorekitError(f"loss became {loss_value} at step {done}; lower optim.lr")
        if main and (done % cfg.run.log_every == 0 or done == stop):
            now = time.perf_counter()
            speed = (done - rate_step) * per_step / max(now - rate_t, 1e-9)
            rate_t, rate_step = now, done
            bar.set_postfix(loss=f"{loss_value:.4g}", patches_s=f"{speed:.0f}", refresh=False)
            writer.add_scalar("train/loss", loss_value, done)
            for k, v in parts.items():
                writer.add_scalar(f"train/{k}", float(v), done)
            writer.add_scalar("train/lr", scheduler.get_last_lr()[0], done)
            writer.add_scalar("train/patches_per_s", speed, done)
        bar.update(1)
        if done % cfg.run.checkpoint_every == 0 or done == stop:
            checkpoint(done)
        if main and (done % cfg.run.validate_every == 0 or done == stop) and val_images:
            val = _validate(recipe, net, val_images, done, out, writer)
            _train_mode(net, cfg.model.freeze)
        fabric.barrier()
    bar.close()
    seconds = elapsed + (time.perf_counter() - t0)
    if main and stop == cfg.optim.steps:
        extra = {
            "task": cfg.task,
            "config": config_to_dict(cfg),
            "train_steps": stop,
            "train_seconds": round(seconds, 1),
            "val": val,
        }
        net.eval()
        with torch.inference_mode():
            extra.update(recipe.finalize(net, val_images))
        dtype = getattr(torch, cfg.run.weights_dtype)
        save_model(out / "model.safetensors", net, extra, dtype=dtype)
    if writer is not None:
        writer.close()
    return TrainResult(out, stop, seconds, val)


def _init_from(net: nn.Module, path: str) -> None:
    """Load the weights of a model file into ``net``: the same network, or the base network of a
    modulated model."""
    from restorekit.models import load_model
    from restorekit.models.weights import model_args

    source, _ = load_model(path)
    base = getattr(net, "base", None)
    if (
        base is not None
        and hasattr(net, "load_base")
        and source.registry_name == getattr(base, "registry_name", None)
    ):
        if model_args(source) != model_args(base):
            raise RestorekitError(
                f"model.init {path} holds {source.registry_name} {model_args(source)}, "
                f"the base of this run is {model_args(base)}"
            )
        net.load_base(source.state_dict(), source=str(path))
        return
    same_kind = source.registry_name == net.registry_name
    if same_kind and hasattr(net, "grow_from") and model_args(source) != model_args(net):
        net.grow_from(source)  # a larger network of the same kind, started as the source
        print(f"grew {model_args(source)} from {path} into {model_args(net)}", file=sys.stderr)
        return
    if source.registry_name != net.registry_name or model_args(source) != model_args(net):
        raise RestorekitError(
            f"model.init {path} holds {source.registry_name} {model_args(source)}, "
            f"this run builds {net.registry_name} {model_args(net)}"
        )
    net.load_state_dict(source.state_dict())


def _freeze(net: nn.Module, prefixes: list[str]) -> list[nn.Parameter]:
    """Fix the parameters under each prefix (a submodule name); return the ones left to train."""
    names = dict(net.named_modules())
    for prefix in prefixes:
        if prefix not in names:
            raise RestorekitError(f"model.freeze: {net.registry_name} has no submodule {prefix!r}")
        for p in names[prefix].parameters():
            p.requires_grad_(False)
    trainable = [p for p in net.parameters() if p.requires_grad]
    if not trainable:
        raise RestorekitError("model.freeze leaves no parameter to train")
    return trainable


def _train_mode(net: nn.Module, frozen: list[str]) -> None:
    """Training mode, except frozen submodules (their BatchNorm statistics must not move)."""
    net.train()
    for prefix in frozen:
        net.get_submodule(prefix).eval()


def _channels_last(inputs: Any) -> Any:
    if isinstance(inputs, torch.Tensor):
        return inputs.contiguous(memory_format=torch.channels_last) if inputs.ndim == 4 else inputs
    return type(inputs)(_channels_last(v) for v in inputs)


def _validation_images(cfg: TrainConfig) -> list[torch.Tensor]:
    d = cfg.data
    if d.val:
        bank = ImageBank(d.val, mode=d.mode, downscale=d.downscale)
    elif d.holdout:
        bank = ImageBank(
            d.train, mode=d.mode, downscale=d.downscale, holdout=d.holdout, split="holdout"
        )
    else:
        return []
    return [x[None] for x in bank.images]


def _validate(
    recipe: Recipe, net: nn.Module, images: list[torch.Tensor], step: int, out: Path, writer: Any
) -> dict[str, float]:
    net.eval()
    with torch.inference_mode():
        scores = recipe.validate(net, images)
        picture = recipe.preview(net, images[0])
    net.train()
    for k, v in scores.items():
        writer.add_scalar(f"val/{k}", v, step)
    writer.add_image("val/preview", picture.clamp(0, 1), step)
    with open(out / "log.jsonl", "a") as f:
        f.write(json.dumps({"step": step, **{k: round(v, 4) for k, v in scores.items()}}) + "\n")
    return scores


def _write_config(path: Path, cfg: TrainConfig) -> None:
    import yaml

    atomic_write(path, yaml.safe_dump(config_to_dict(cfg), sort_keys=False))


def _tensorboard(folder: Path) -> Any:
    from torch.utils.tensorboard import SummaryWriter

    return SummaryWriter(str(folder))
