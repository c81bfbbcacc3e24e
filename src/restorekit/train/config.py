"""Training configuration: YAML validated into frozen dataclasses, with one-line errors.

A config file has five sections (every key optional except ``task``, ``model.name`` and
``data.train``)::

    task: demosaic
    seed: 0
    model: {name: demosaicnet, args: {channels: 64, depth: 4}}
    data:  {train: ../shared/data/train/color/CBSD432, holdout: 18, patch: 64, batch: 16}
    loss:  {weights: {mixed: 1.0}, options: {mixed: {alpha: 0.84}}}
    optim: {lr: 0.001, steps: 60000, scheduler: cosine}
    run:   {out: runs/demosaic, checkpoint_every: 500, validate_every: 2000, devices: 1}

Paths are relative to the working directory (the repository root, beside ``../shared``). Unknown
keys, wrong types and impossible values are refused with the section and key named, and the
closest known key suggested. The resolved config (every default filled in) is saved with each run.
"""

from __future__ import annotations

import dataclasses
import os
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from restorekit._checks import closest_names
from restorekit.errors import RestorekitError

__all__ = [
    "AdversarialConfig",
    "CycleConfig",
    "DataConfig",
    "LossConfig",
    "MiningConfig",
    "ModelConfig",
    "NoiseConfig",
    "OptimConfig",
    "RunConfig",
    "SelfSupConfig",
    "TrainConfig",
    "config_from_dict",
    "config_to_dict",
    "load_config",
]


@dataclass(frozen=True)
class ModelConfig:
    """Which network to build: a name from :data:`restorekit.models.MODELS` and its arguments."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)
    #: start from the weights of this model file: the same network (to fine-tune a run), or the
    #: base network of a modulated model (to train its modulation)
    init: str = ""
    #: submodules whose parameters stay fixed (and BatchNorm statistics too), e.g. ``[base]``
    freeze: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class MiningConfig:
    """Hard-patch mining (:class:`restorekit.data.HardPatchMiner`)."""

    capacity: int = 512
    revisit: float = 0.25


@dataclass(frozen=True)
class NoiseConfig:
    """Synthetic noise added to clean training images (self-supervised tasks); ``kind: none``
    means the training images are already noisy (real scans)."""

    #: "none", "gaussian", "poisson-gaussian" or "speckle"
    kind: str = "none"
    #: Gaussian (and the read noise of Poisson-Gaussian): standard deviation, 0..255 scale
    sigma: float = 0.0
    #: Poisson-Gaussian: the variance per unit of signal (see add_poisson_gaussian_noise)
    gain: float = 0.0
    #: speckle: the number of looks L (multiplicative Gamma noise of mean 1, variance 1/L)
    looks: float = 1.0


@dataclass(frozen=True)
class DataConfig:
    """Where the training images are and how patches are cut from them."""

    #: a folder of training images, or a list of folders
    train: str | list[str]
    #: a folder of validation images; empty means the ``holdout`` images of ``train``
    val: str = ""
    #: every holdout-th training image is kept out for validation (0: none)
    holdout: int = 0
    #: shrink the training (and holdout) images by this factor first (bicubic); one factor, or one
    #: per folder of ``train``
    downscale: float | list[float] = 1.0
    #: with a list of ``train`` folders: the share of patches drawn from each (empty: every image
    #: of every folder equally likely)
    train_weights: list[float] = field(default_factory=list)
    mode: str = "rgb"
    patch: int = 64
    batch: int = 16
    #: random channel permutation and saturation scaling of the ground truth (colour augmentation,
    #: :func:`restorekit.data.color_augment`)
    color_augment: bool = False
    #: colour augmentation: permute the channels of each patch
    color_permute: bool = True
    #: colour augmentation: the share of patches whose saturation is boosted, and the largest boost
    #: (a factor drawn from [1, 1 + color_saturation])
    color_boost: float = 0.5
    color_saturation: float = 1.0
    mining: MiningConfig | None = None
    #: denoise (and joint demosaic): the noise sigma on the 0..255 scale, one value or a [lo, hi]
    #: uniform range
    sigma: list[float] = field(default_factory=list)
    #: demosaic with a noise range (joint demosaicing and denoising): the share of patches left
    #: clean
    clean_share: float = 0.0
    #: denoise: how a [lo, hi] range is sampled: "uniform", or "log" (log-uniform: as many patches
    #: between 5 and 10 as between 35 and 70, so the low levels weigh more in the loss)
    sigma_sampling: str = "uniform"
    #: grain: the grey levels of the flat-field patches: "sample" (each its own, uniform in
    #: [0.02, 0.98]), "group" (one per group of patches that pool their statistics, so a pooled
    #: spectrum is one level's), or "group-ends" (as "group", drawn from the arcsine law: denser
    #: near 0 and 1, where the grain changes fastest)
    flat_levels: str = "sample"
    #: grain: what the Boolean target's grain is measured from on pictures: "image" (render minus
    #: the patch, so the engine's filter blur of the picture counts as grain) or "mean-render"
    #: (render minus :func:`restorekit.film.boolean.boolean_mean_render`: the grain alone, which
    #: is what the learned engine adds and the benchmark measures)
    grain_mean: str = "image"
    #: grain: the share of the picture patches stretched in contrast (a gain drawn from [1, 4]
    #: about a random grey level) and clipped to [0, 1], so that saturated blacks and whites meet
    #: grey ones as in photographs (the training images rarely clip)
    saturate: float = 0.0
    #: denoise: the control level (alpha) the network is trained at; empty: a conditional model
    #: is told each patch's sigma, any other network level 0
    level: float | None = None
    #: self-supervised tasks: the noise added to the training images ("none": they are noisy)
    noise: NoiseConfig = field(default_factory=NoiseConfig)
    #: unpaired tasks (TCFL): a folder of clean images, never paired with the noisy ones
    clean: str = ""
    #: which of ``clean``'s images: "all", or with ``holdout`` the "train" / "holdout" split
    #: (the holdout half of the training folder gives a disjoint clean set)
    clean_split: str = "all"
    #: Noise2Noise on real scans: "frames" pairs two files of one scene (names ``SCENE_F.png``,
    #: the same crop of two frames F); "noise" draws two noises for one clean patch
    views: str = "noise"
    #: Noise2Noise: the target is the mean of this many other views (noise draws, or frames of
    #: the scene up to as many as it has): the same expectation with 1/k of the noise variance
    target_views: int = 1
    #: Noise2Noise on frames: shift each target frame's crop by up to this many pixels to the
    #: best-correlating position (0: as cut)
    register: int = 0
    #: with ``register``: shift each target crop once more to its best local match (2 rows, 4
    #: columns)
    register_refine: bool = False
    #: super-resolution: the LR images' degradation (fields of
    #: :class:`restorekit.degrade.RealDegradation`); empty: MATLAB bicubic only
    degradation: dict[str, Any] = field(default_factory=dict)
    #: real-noise validation: a folder of noisy scans ``SCENE_F.png`` scored against ``val``'s
    #: clean ``SCENE.png`` (frame ``val_frame``); empty: synthetic noise on ``val``/holdout
    val_noisy: str = ""
    val_frame: int = 0


@dataclass(frozen=True)
class LossConfig:
    """Named loss weights (see :class:`restorekit.losses.CompositeLoss`) and options per loss."""

    weights: dict[str, float] = field(default_factory=lambda: {"l1": 1.0})
    options: dict[str, dict[str, Any]] = field(default_factory=dict)
    #: per loss name, (progress, weight) knots of a piecewise-linear schedule
    schedule: dict[str, list[list[float]]] = field(default_factory=dict)
    #: weights of terms the task's recipe computes from the network itself, not from its output
    #: (grain: ``closed_form``, the network's flat-field statistics against the Boolean model's
    #: closed form)
    model: dict[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class OptimConfig:
    """Adam(W) and its learning-rate schedule."""

    lr: float = 1e-3
    weight_decay: float = 0.0
    betas: tuple[float, float] = (0.9, 0.999)
    steps: int = 10000
    #: "cosine" (to ``min_lr``), "constant", or "step" (times ``gamma`` at each milestone)
    scheduler: str = "cosine"
    warmup: int = 0
    min_lr: float = 0.0
    #: "step": the steps where the learning rate is multiplied by ``gamma``
    milestones: list[int] = field(default_factory=list)
    gamma: float = 0.5
    grad_clip: float = 0.0


@dataclass(frozen=True)
class RunConfig:
    """Where the run writes, how often, and on what hardware."""

    out: str = "runs/run"
    checkpoint_every: int = 500
    validate_every: int = 2000
    log_every: int = 50
    image_every: int = 0
    #: "cpu", "cuda", "auto"
    accelerator: str = "auto"
    devices: int = 1
    #: Lightning Fabric precision, e.g. "32-true", "bf16-mixed", "16-mixed"
    precision: str = "32-true"
    #: torch threads per process (0: torch's default)
    threads: int = 0
    #: how the final model file stores its weights: "float32", or "float16" (half the size; the
    #: network still runs in float32)
    weights_dtype: str = "float32"


@dataclass(frozen=True)
class AdversarialConfig:
    """The discriminator of an adversarial task and how it is trained (TCFL: the authors'
    settings are the defaults)."""

    discriminator: ModelConfig = field(
        default_factory=lambda: ModelConfig("patchgan", {"in_channels": 1, "norm": "instance"})
    )
    #: a name from restorekit.losses.GAN_LOSSES: vanilla, lsgan, wgan-gp, hinge, ragan, rahinge
    loss: str = "lsgan"
    #: the generator's adversarial term (0 removes the discriminator)
    weight: float = 1.0
    lr: float = 2e-5
    betas: tuple[float, float] = (0.5, 0.999)
    #: the discriminator's loss is real + fake_weight x the sum over the fakes (TCFL: 0.1, six)
    fake_weight: float = 0.1
    #: wgan-gp: the gradient penalty's weight
    gp_weight: float = 10.0


@dataclass(frozen=True)
class SelfSupConfig:
    """Self-supervised denoising (Noise2Noise, Neighbor2Neighbor, TCFL)."""

    #: TCFL: weight of the L1 consistency terms (the authors' 6)
    consistency: float = 6.0
    #: Neighbor2Neighbor: the regulariser's weight at the end (ramped linearly from 0, as the
    #: authors' code does; they use 2 for Gaussian noise)
    gamma: float = 2.0
    #: collapse watch: a run stops when the spread of the network's noise estimate across
    #: inputs stays below ``collapse_threshold`` x the inputs' spread for ``collapse_patience``
    #: steps in a row (0: never)
    collapse_patience: int = 300
    #: healthy generators measured 0.25-0.4 (Gaussian sigma 25) and 0.6-0.7 (OCT); a TCFL run on
    #: OCT whose generator became one fixed pattern for every input measured 0.03
    collapse_threshold: float = 0.05


@dataclass(frozen=True)
class CycleConfig:
    """Cycle-consistent super-resolution (SRResCycGAN): the degradation network, the LR-side
    discriminator and the weights of the generators' loss."""

    #: G_LR, the learned HR -> LR degradation
    degrader: ModelConfig = field(
        default_factory=lambda: ModelConfig("degradenet", {"scale": 4, "noise_channels": 1})
    )
    #: D_LR, the discriminator on LR images (D_HR is ``adversarial.discriminator``)
    lr_discriminator: ModelConfig = field(
        default_factory=lambda: ModelConfig("patchgan", {"in_channels": 3, "depth": 2})
    )
    #: the backward cycle, G_HR's content loss: L1 between G_HR(G_LR(hr)) and hr, G_LR's output
    #: fixed (G_HR learns to undo the learned degradation)
    content: float = 1.0
    #: the forward cycle, G_LR's: L1 between G_LR(G_HR(lr)) and lr, G_HR's output fixed (G_LR
    #: learns the real degradation)
    cycle: float = 1.0
    #: G_LR's anchor: L1 between low-passes of G_LR(hr) and the bicubic downscale of hr
    #: (0 lets the two generators drift in brightness together)
    fidelity: float = 0.0
    #: perceptual loss between G_HR(G_LR(hr)) and hr (``loss.options.perceptual`` configures it)
    perceptual: float = 0.0
    #: gradient difference (SRResCycGAN's "TV" term) between G_HR(G_LR(hr)) and hr
    tv: float = 0.0
    #: adversarial terms of G_HR (SR of real LR judged by D_HR) and G_LR (judged by D_LR)
    adversarial_hr: float = 0.005
    adversarial_lr: float = 0.05
    #: G_LR's learning rate (it starts from a box average: it has more to learn than a G_HR
    #: started from a trained model); 0: ``optim.lr``
    degrader_lr: float = 0.0
    #: the forward cycle compares Gaussian low-passes of this sigma (LR pixels; 0: the images)
    lowpass_sigma: float = 1.0
    #: options of the perceptual loss (restorekit.losses.PerceptualLoss), e.g. a VGG19 file
    perceptual_options: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class TrainConfig:
    """A whole training run."""

    task: str
    model: ModelConfig
    data: DataConfig
    loss: LossConfig = field(default_factory=LossConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)
    seed: int = 0
    adversarial: AdversarialConfig | None = None
    selfsup: SelfSupConfig = field(default_factory=SelfSupConfig)
    cycle: CycleConfig = field(default_factory=CycleConfig)


_TASKS = (
    "demosaic",
    "denoise",
    "grain",
    "sr",
    "noise2noise",
    "neighbor2neighbor",
    "tcfl",
    "cycle-sr",
)
_NOISES = ("none", "gaussian", "poisson-gaussian", "speckle")
_SCHEDULERS = ("cosine", "constant", "step")
_ACCELERATORS = ("auto", "cpu", "cuda", "gpu", "mps")


def _type_name(tp: Any) -> str:
    if typing.get_origin(tp) is not None:  # list[str], not list
        return str(tp).replace("typing.", "")
    return getattr(tp, "__name__", str(tp)).replace("typing.", "")


def _convert(value: Any, tp: Any, where: str) -> Any:
    """Check ``value`` against the annotation ``tp`` (converting ints to floats and lists to
    tuples), recursing into dataclasses."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None and type(None) in args:
            return None
        inner = [a for a in args if a is not type(None)]
        if len(inner) == 1:
            return _convert(value, inner[0], where)
        for tp_i in inner:  # e.g. ``str | list[str]``: the first that fits
            try:
                return _convert(value, tp_i, where)
            except RestorekitError:
                pass
        names = " or ".join(_type_name(t) for t in inner)
        raise RestorekitError(f"config: {where} must be {names}, got {value!r}")
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise RestorekitError(f"config: {where} must be a mapping, got {value!r}")
        return config_from_dict(tp, value, where)
    if origin is dict:
        if not isinstance(value, dict):
            raise RestorekitError(f"config: {where} must be a mapping, got {value!r}")
        _, vt = typing.get_args(tp)
        return {str(k): _convert(v, vt, f"{where}.{k}") for k, v in value.items()}
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise RestorekitError(f"config: {where} must be a list, got {value!r}")
        args = typing.get_args(tp)
        if origin is tuple:
            if len(value) != len(args):
                raise RestorekitError(f"config: {where} needs {len(args)} values, got {value!r}")
            return tuple(
                _convert(v, a, f"{where}[{i}]")
                for i, (v, a) in enumerate(zip(value, args, strict=True))
            )
        return [_convert(v, args[0], f"{where}[{i}]") for i, v in enumerate(value)]
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):
        try:  # YAML reads "1e-3" (no dot) as a string
            return float(value)
        except ValueError:
            pass
    if not isinstance(value, tp) or (tp is int and isinstance(value, bool)):
        raise RestorekitError(f"config: {where} must be {_type_name(tp)}, got {value!r}")
    return value


def config_from_dict(cls: type, data: dict[str, Any], where: str = "") -> Any:
    """Build the dataclass ``cls`` from a mapping, refusing unknown keys and wrong types.

    Example:
        >>> config_from_dict(OptimConfig, {"lr": 1, "steps": 100}).lr
        1.0
        >>> config_from_dict(OptimConfig, {"stpes": 100})  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: config: unknown key 'stpes'; known: steps, ...
    """
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}
    prefix = f"{where}." if where else ""
    for key in data:
        if key not in fields:
            known = closest_names(str(key), list(fields))
            shown = ", ".join(known[:3]) + (", ..." if len(known) > 3 else "")
            raise RestorekitError(f"config: unknown key '{prefix}{key}'; known: {shown}")
    kwargs = {}
    for name, f in fields.items():
        if name in data:
            kwargs[name] = _convert(data[name], hints[name], prefix + name)
        elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
            raise RestorekitError(f"config: missing key '{prefix}{name}'")
    return cls(**kwargs)


def _validate(cfg: TrainConfig) -> None:
    def need(ok: bool, message: str) -> None:
        if not ok:
            raise RestorekitError(f"config: {message}")

    need(cfg.task in _TASKS, f"task must be one of {', '.join(_TASKS)}, got {cfg.task!r}")
    need(cfg.data.patch >= 8 and cfg.data.patch % 8 == 0, "data.patch must be a multiple of 8")
    need(cfg.data.batch >= 1, "data.batch must be >= 1")
    need(cfg.data.holdout >= 0, "data.holdout must be >= 0")
    folders = 1 if isinstance(cfg.data.train, str) else len(cfg.data.train)
    scales = cfg.data.downscale if isinstance(cfg.data.downscale, list) else [cfg.data.downscale]
    need(all(f >= 1 for f in scales), "data.downscale must be >= 1")
    need(
        len(scales) in (1, folders),
        f"data.downscale: one factor or one per train folder ({folders}), got {len(scales)}",
    )
    w = cfg.data.train_weights
    # cycle-sr splits the images into two unpaired halves: no weights to carry over
    need(
        not w or cfg.task != "cycle-sr", "data.train_weights: cycle-sr does not take folder weights"
    )
    need(
        not w or (len(w) == folders and min(w) >= 0 and sum(w) > 0),
        f"data.train_weights: one weight >= 0 per train folder ({folders}), got {w}",
    )
    need(cfg.data.mode in ("rgb", "gray"), "data.mode must be 'rgb' or 'gray'")
    need(0 <= cfg.data.clean_share <= 1, "data.clean_share must be in [0, 1]")
    need(0 <= cfg.data.color_boost <= 1, "data.color_boost must be in [0, 1]")
    need(cfg.data.color_saturation >= 0, "data.color_saturation must be >= 0")
    need(cfg.optim.lr > 0, "optim.lr must be > 0")
    need(cfg.optim.steps >= 1, "optim.steps must be >= 1")
    need(0 <= cfg.optim.warmup < cfg.optim.steps, "optim.warmup must be in [0, steps)")
    need(
        cfg.optim.scheduler in _SCHEDULERS,
        f"optim.scheduler must be one of {', '.join(_SCHEDULERS)}, got {cfg.optim.scheduler!r}",
    )
    need(cfg.run.accelerator in _ACCELERATORS, f"run.accelerator must be one of {_ACCELERATORS}")
    need(cfg.run.devices >= 1, "run.devices must be >= 1")
    need(
        cfg.run.weights_dtype in ("float32", "float16"),
        f"run.weights_dtype must be 'float32' or 'float16', got {cfg.run.weights_dtype!r}",
    )
    for key in ("checkpoint_every", "validate_every", "log_every"):
        need(getattr(cfg.run, key) >= 1, f"run.{key} must be >= 1")
    need(bool(cfg.loss.weights), "loss.weights must name at least one loss")
    if cfg.task in ("denoise", "demosaic") and (cfg.task == "denoise" or cfg.data.sigma):
        s = cfg.data.sigma
        need(len(s) in (1, 2), "data.sigma must be one value or [lo, hi] (0..255 scale)")
        need(
            all(v >= 0 for v in s) and s == sorted(s),
            f"data.sigma must be >= 0 and [lo, hi], got {s}",
        )
    need(
        cfg.data.sigma_sampling in ("uniform", "log"),
        f"data.sigma_sampling must be 'uniform' or 'log', got {cfg.data.sigma_sampling!r}",
    )
    need(
        cfg.data.flat_levels in ("sample", "group", "group-ends"),
        f"data.flat_levels must be 'sample', 'group' or 'group-ends', got {cfg.data.flat_levels!r}",
    )
    need(
        cfg.data.grain_mean in ("image", "mean-render"),
        f"data.grain_mean must be 'image' or 'mean-render', got {cfg.data.grain_mean!r}",
    )
    need(0 <= cfg.data.saturate <= 1, f"data.saturate must be in [0, 1], got {cfg.data.saturate}")
    if cfg.data.sigma_sampling == "log" and cfg.data.sigma:
        need(min(cfg.data.sigma) > 0, "data.sigma_sampling 'log' needs sigma > 0")
    if cfg.data.level is not None:
        need(0 <= cfg.data.level <= 1, f"data.level must be in [0, 1], got {cfg.data.level}")
    for name in cfg.loss.options:
        need(name in cfg.loss.weights, f"loss.options.{name} names a loss not in loss.weights")
    for name, weight in cfg.loss.model.items():
        need(weight >= 0, f"loss.model.{name} must be >= 0, got {weight}")
    n = cfg.data.noise
    need(n.kind in _NOISES, f"data.noise.kind must be one of {', '.join(_NOISES)}, got {n.kind!r}")
    need(n.sigma >= 0 and n.gain >= 0, "data.noise.sigma and data.noise.gain must be >= 0")
    if n.kind == "speckle":
        need(n.looks > 0, f"speckle looks L must be > 0, got {n.looks:g}")
    need(
        cfg.data.clean_split in ("all", "train", "holdout"),
        f"data.clean_split must be 'all', 'train' or 'holdout', got {cfg.data.clean_split!r}",
    )
    need(cfg.data.views in ("noise", "frames"), "data.views must be 'noise' or 'frames'")
    need(cfg.data.target_views >= 1, "data.target_views must be >= 1")
    need(cfg.data.register >= 0, "data.register must be >= 0")
    if cfg.task in ("noise2noise", "neighbor2neighbor", "tcfl"):
        need(
            cfg.data.views == "frames" or n.kind != "none" or cfg.task != "noise2noise",
            "noise2noise needs two views: data.views 'frames' (real scans) or a data.noise.kind",
        )
    if cfg.task == "tcfl":
        need(bool(cfg.data.clean), "tcfl needs data.clean, a folder of (unpaired) clean images")
        need(cfg.adversarial is not None, "tcfl needs an adversarial section")
    if cfg.task == "cycle-sr":
        need(cfg.adversarial is not None, "cycle-sr needs an adversarial section (D_HR)")
        need(bool(cfg.data.degradation), "cycle-sr needs data.degradation (the LR side's)")
    c = cfg.cycle
    for key in (
        "content",
        "cycle",
        "fidelity",
        "perceptual",
        "tv",
        "adversarial_hr",
        "adversarial_lr",
        "lowpass_sigma",
        "degrader_lr",
    ):
        need(getattr(c, key) >= 0, f"cycle.{key} must be >= 0, got {getattr(c, key)}")
    if cfg.optim.scheduler == "step":
        need(cfg.optim.milestones == sorted(cfg.optim.milestones), "optim.milestones must rise")
        need(0 < cfg.optim.gamma <= 1, f"optim.gamma must be in (0, 1], got {cfg.optim.gamma}")
    if cfg.adversarial is not None:
        from restorekit.losses.gan import GAN_LOSSES

        a = cfg.adversarial
        need(
            a.loss in GAN_LOSSES,
            f"unknown GAN loss {a.loss!r}; known: "
            + ", ".join(closest_names(a.loss, list(GAN_LOSSES))),
        )
        need(a.lr > 0 and a.weight >= 0 and a.fake_weight >= 0, "adversarial: lr > 0, weights >= 0")
    s = cfg.selfsup
    need(s.collapse_patience >= 0 and s.collapse_threshold >= 0, "selfsup.collapse_* must be >= 0")
    need(s.gamma >= 0 and s.consistency >= 0, "selfsup.gamma and consistency must be >= 0")


def load_config(path: str | os.PathLike, overrides: dict[str, Any] | None = None) -> TrainConfig:
    """Read and validate a YAML training config.

    Args:
        path: the YAML file.
        overrides: dotted keys replacing values of the file, e.g. ``{"optim.steps": 10}``.

    Raises:
        RestorekitError: a missing or unparsable file, an unknown key, a wrong type or value.
    """
    import yaml

    p = Path(path)
    if not p.is_file():
        raise RestorekitError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        line = f" (line {mark.line + 1})" if mark is not None else ""
        raise RestorekitError(f"config {p}: not valid YAML{line}") from None
    if not isinstance(data, dict):
        raise RestorekitError(f"config {p}: expected a mapping at the top level")
    for dotted, value in (overrides or {}).items():
        node = data
        *parents, leaf = dotted.split(".")
        for key in parents:
            node = node.setdefault(key, {})
        node[leaf] = value
    cfg = config_from_dict(TrainConfig, data)
    _validate(cfg)
    return cfg


def config_to_dict(cfg: Any) -> dict[str, Any]:
    """The config as plain YAML-able data (tuples become lists).

    Example:
        >>> config_to_dict(MiningConfig())
        {'capacity': 512, 'revisit': 0.25}
    """

    def plain(v: Any) -> Any:
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return plain(dataclasses.asdict(cfg))
