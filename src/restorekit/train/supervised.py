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

import sys
from typing import Any, Protocol

import torch
from torch import nn

from restorekit.data import HardPatchMiner, ImageBank, PatchBatch, sample_patches
from restorekit.data.patches import color_augment
from restorekit.errors import RestorekitError
from restorekit.train.config import TrainConfig
from restorekit.train.run import Run, TrainResult, composite_loss

__all__ = ["Recipe", "TrainResult", "fit", "init_from", "validation_images"]


class Recipe(Protocol):
    """The task-specific parts of supervised training.

    A recipe may also define ``model_loss(model, generator) -> dict[str, Tensor]``: named terms
    computed from the network itself rather than from its output, each added to the loss with its
    weight in the config's ``loss.model``.
    """

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
    from restorekit.models import build

    run = Run(cfg, resume=resume, progress=progress, max_steps=max_steps)
    net = build(cfg.model.name, **cfg.model.args)
    if cfg.model.init and not resume:
        init_from(net, cfg.model.init)
    optimizer = run.adam(_freeze(net, cfg.model.freeze))
    criterion = composite_loss(cfg)
    if cfg.loss.model and not hasattr(recipe, "model_loss"):
        raise RestorekitError(f"config: loss.model: the {cfg.task} task has no model terms")
    d = cfg.data
    miner = HardPatchMiner(d.mining.capacity, d.mining.revisit) if d.mining else None
    model = run.network("model", net, optimizer)
    if miner is not None:
        run.keep("miner", miner)
    run.restore()
    bank = ImageBank(
        d.train,
        mode=d.mode,
        downscale=d.downscale,
        holdout=d.holdout,
        progress=progress and run.main,
        min_size=d.patch,
        weights=d.train_weights or None,
    )
    val_images = validation_images(cfg) if run.main else []

    def validate() -> tuple[dict[str, float], torch.Tensor]:
        return recipe.validate(net, val_images), recipe.preview(net, val_images[0])

    run.start(validate if val_images else None)
    _train_mode(net)
    for step in run.steps():
        if miner is not None:
            batch = miner.sample(bank, d.batch, d.patch, run.generator)
        else:
            patches = sample_patches(bank, d.batch, d.patch, run.generator)
            batch = PatchBatch(patches, torch.full((d.batch,), -1))
        gt = batch.patches
        if d.color_augment:
            gt = color_augment(
                gt,
                run.generator,
                saturation=d.color_saturation,
                permute=d.color_permute,
                boost=d.color_boost,
            )
        inputs, target = recipe.degrade(gt, run.generator)
        inputs = run.to_device(inputs)
        target = run.fabric.to_device(target)
        output = recipe.forward(model, inputs)
        loss, parts = criterion(output, target, progress=step / cfg.optim.steps)
        if cfg.loss.model:  # terms of the network itself, weighted as the config says
            terms = recipe.model_loss(net, run.generator)
            for name, weight in cfg.loss.model.items():
                loss = loss + weight * terms[name]
                parts[name] = terms[name].detach()
        optimizer.zero_grad(set_to_none=True)
        run.backward(loss, "model")
        optimizer.step()
        if miner is not None:
            with torch.no_grad():
                per_patch = (output - target).abs().flatten(1).mean(1)
            batch.patches = gt  # the pool keeps the (augmented) patch the loss was measured on
            miner.update(batch, per_patch)
        run.log(loss=loss.item(), **{k: float(v) for k, v in parts.items()})
    return run.finish("model", lambda: recipe.finalize(net, val_images))


def init_from(net: nn.Module, path: str) -> None:
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
        try:
            net.grow_from(source)  # a larger network of the same kind, started as the source
        except RestorekitError as e:
            raise RestorekitError(
                f"model.init {path} holds {source.registry_name} {model_args(source)}, this run "
                f"builds {net.registry_name} {model_args(net)}: {e}"
            ) from None
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
        names[prefix]._frozen = True  # stays in eval mode (its BatchNorm statistics too)
        for p in names[prefix].parameters():
            p.requires_grad_(False)
    trainable = [p for p in net.parameters() if p.requires_grad]
    if not trainable:
        raise RestorekitError("model.freeze leaves no parameter to train")
    return trainable


def _train_mode(net: nn.Module) -> None:
    """Training mode, except frozen submodules (their BatchNorm statistics must not move)."""
    net.train()
    for m in net.modules():
        if getattr(m, "_frozen", False):
            m.eval()


def validation_images(cfg: TrainConfig) -> list[torch.Tensor]:
    d = cfg.data
    if d.val:
        # one validation folder: a per-train-folder downscale does not apply to it
        scale = d.downscale if isinstance(d.downscale, (int, float)) else 1.0
        bank = ImageBank(d.val, mode=d.mode, downscale=scale)
    elif d.holdout:
        bank = ImageBank(
            d.train, mode=d.mode, downscale=d.downscale, holdout=d.holdout, split="holdout"
        )
    else:
        return []
    return [x[None] for x in bank.images]
