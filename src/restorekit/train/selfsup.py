"""Denoising without clean targets: Noise2Noise, Neighbor2Neighbor and TCFL, on :class:`Run`.

Each loop keeps only its step; the networks are the residual denoisers of
:mod:`restorekit.models.denoise` (``model(x) = x - noise(x)``), so a trained generator is a
denoiser like any other (``restorekit denoise --model``).

- **Noise2Noise** (Lehtinen et al. 2018): two independent noisy views of one scene, one the input
  and one the target; with a loss whose minimiser is the mean (L2) the network learns the clean
  image, since the target's noise averages out.
- **Neighbor2Neighbor** (Huang et al. 2021): from single noisy images. A random neighbour
  sub-sampler takes two half-size images g1(y), g2(y) from adjacent pixels of every 2x2 cell;
  the network maps g1(y) to g2(y), and a regulariser ties the result to the same sub-samples of
  the network's output on the whole image, ``|f(g1 y) - g2 y - (g1 f(y) - g2 f(y))|^2``, its
  weight ramped linearly from 0 to ``selfsup.gamma`` (the authors' code).
- **TCFL** (Geng et al. 2022): one generator G estimates the noise of an image. N2P: two noisy
  images A, B -> ``C_A1 = A - G(A)``, ``C_B1 = B - G(B)``; P2P: their noises swapped,
  ``I_A = C_A1 + G(B)``, ``I_B = C_B1 + G(A)``, denoised again -> ``C_A2``, ``C_B2``; C2P: an
  unpaired clean image C plus each estimated noise, denoised again -> ``C_C1``, ``C_C2``. L1
  consistency ``C_A1 ~ C_A2``, ``C_B1 ~ C_B2``, ``C_C1 ~ C``, ``C_C2 ~ C`` (weight
  ``selfsup.consistency``) and a PatchGAN that tells clean images from the six produced ones.
  Without the discriminator every term is minimised by a constant G: :class:`CollapseWatch`
  stops such a run.

References:
    Lehtinen et al., "Noise2Noise: learning image restoration without clean data", ICML 2018.
    Huang, Li, Jia, Lu, Liu, "Neighbor2Neighbor: self-supervised denoising from single noisy
    images", CVPR 2021.
    Geng, Meng, Chen, Wang, Zheng, Shen, Liu, Ren, "Triplet cross-fusion learning for unpaired
    image denoising in optical coherence tomography", IEEE TMI 2022.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import nn

from restorekit.data import ImageBank
from restorekit.data.noisy import NoiseModel, NoisyPatches
from restorekit.errors import RestorekitError
from restorekit.io.files import atomic_write
from restorekit.losses.gan import GANLoss, gan_loss, gradient_penalty
from restorekit.train.collapse import CollapseWatch, GeneratorCollapseError
from restorekit.train.config import TrainConfig
from restorekit.train.run import Run, TrainResult, composite_loss
from restorekit.train.supervised import validation_images

__all__ = [
    "TCFLWeights",
    "fit_neighbor2neighbor",
    "fit_noise2noise",
    "fit_tcfl",
    "neighbor_subsample",
    "subsample_like",
    "tcfl_step",
    "validation_pairs",
]


def noise_model(cfg: TrainConfig) -> NoiseModel | None:
    """The config's synthetic noise, or None when the training images are real noisy scans."""
    n = cfg.data.noise
    if n.kind == "none":
        return None
    return NoiseModel(n.kind, sigma=n.sigma, gain=n.gain, looks=n.looks)


def training_data(cfg: TrainConfig, progress: bool) -> NoisyPatches:
    """The noisy (and, for TCFL, the unpaired clean) training images of ``cfg``."""
    d = cfg.data
    clean = None
    if d.clean:  # first: an empty clean folder fails before any decoding starts
        if d.clean_split != "all" and not d.holdout:
            raise RestorekitError("data.clean_split 'train'/'holdout' needs data.holdout")
        holdout = d.holdout if d.clean_split != "all" else 0
        split = d.clean_split if d.clean_split != "all" else "train"
        try:
            clean = ImageBank(d.clean, mode=d.mode, holdout=holdout, split=split, progress=progress)
        except RestorekitError as e:
            raise RestorekitError(f"data.clean: {e}") from None
    bank = ImageBank(
        d.train,
        mode=d.mode,
        downscale=d.downscale,
        holdout=d.holdout,
        progress=progress,
        weights=d.train_weights or None,
    )
    return NoisyPatches(bank, noise_model(cfg), clean)


def validation_pairs(cfg: TrainConfig) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(noisy, clean) validation images ``(1, C, H, W)``: real scans ``SCENE_F`` of
    ``data.val_noisy`` against ``data.val``'s ``SCENE``, or the config's noise (seed 0) on the
    clean validation images."""
    d = cfg.data
    if d.val_noisy:
        import os

        noisy, clean = ImageBank(d.val_noisy, mode=d.mode), ImageBank(d.val, mode=d.mode)
        by_name = {
            os.path.splitext(n)[0]: x for n, x in zip(clean.names, clean.images, strict=True)
        }
        pairs = []
        for name, x in zip(noisy.names, noisy.images, strict=True):
            scene, _, frame = os.path.splitext(name)[0].rpartition("_")
            if frame == str(d.val_frame) and scene in by_name:
                pairs.append((x[None], by_name[scene][None]))
        return pairs
    model = noise_model(cfg)
    if model is None:
        return []
    g = torch.Generator().manual_seed(0)
    return [(model(x, g), x) for x in validation_images(cfg)]


def _validation(net: nn.Module, pairs: list[tuple[torch.Tensor, torch.Tensor]]) -> Callable:
    from restorekit.metrics import psnr

    def validate() -> tuple[dict[str, float], torch.Tensor]:
        outs = [net(y).clamp(0, 1) for y, _ in pairs]
        scores = [float(psnr(o, x)[0]) for o, (_, x) in zip(outs, pairs, strict=True)]
        y, x = pairs[0]
        row = torch.cat([y.clamp(0, 1)[0], outs[0][0], x[0]], dim=-1)
        return {"psnr": sum(scores) / len(scores)}, row.expand(3, -1, -1)

    return validate


def _denoiser(cfg: TrainConfig, resume: bool) -> nn.Module:
    """The run's denoiser, started from ``model.init`` (e.g. a Noise2Noise model that a TCFL
    run refines) unless resuming."""
    from restorekit.models import build
    from restorekit.train.supervised import init_from

    net = build(cfg.model.name, **cfg.model.args)
    if not hasattr(net, "estimate_noise"):
        raise RestorekitError(
            f"{cfg.task} trains a residual denoiser (dncnn, ffdnet, resnet-denoiser, "
            f"unet-denoiser), not {cfg.model.name}"
        )
    if cfg.model.init and not resume:
        init_from(net, cfg.model.init)
    return net


def _one_denoiser(
    cfg: TrainConfig, resume: bool, progress: bool, max_steps: int | None
) -> tuple[Run, nn.Module, nn.Module, torch.optim.Optimizer, NoisyPatches]:
    """A started run of one denoiser: the run, the network, its Fabric module, its optimizer,
    the training data (validation on :func:`validation_pairs`)."""
    run = Run(cfg, resume=resume, progress=progress, max_steps=max_steps)
    net = _denoiser(cfg, resume)
    optimizer = run.adam(net.parameters())
    model = run.network("model", net, optimizer)
    run.restore()
    data = training_data(cfg, progress and run.main)
    pairs = validation_pairs(cfg) if run.main else []
    run.start(_validation(net, pairs) if pairs else None)
    net.train()
    return run, net, model, optimizer, data


def fit_noise2noise(
    cfg: TrainConfig, resume: bool = False, progress: bool = True, max_steps: int | None = None
) -> TrainResult:
    """Noise2Noise: one noisy view in, the other as the target (``loss``: use l2)."""
    run, net, model, optimizer, data = _one_denoiser(cfg, resume, progress, max_steps)
    criterion = composite_loss(cfg)
    d = cfg.data
    for step in run.steps():
        view1, view2 = run.to_device(
            data.views(
                d.batch, d.patch, run.generator, d.target_views, d.register, d.register_refine
            )
        )
        loss, parts = criterion(model(view1), view2, progress=step / cfg.optim.steps)
        optimizer.zero_grad(set_to_none=True)
        run.backward(loss, "model")
        optimizer.step()
        run.log(loss=loss.item(), **{k: float(v) for k, v in parts.items()})
    return run.finish("model", lambda: {"train_noise": _noise_meta(cfg)})


def neighbor_subsample(
    x: torch.Tensor, generator: torch.Generator | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Neighbor2Neighbor's random neighbour sub-sampler.

    In every 2x2 cell one pixel goes to ``g1`` and one of its two edge neighbours in the cell to
    ``g2``, chosen at random per cell (the same choice for every channel).

    Args:
        x: ``(B, C, H, W)`` with even H and W.
        generator: the random source.

    Returns:
        ``g1``, ``g2`` (each ``(B, C, H/2, W/2)``) and the choice ``(B, 2, H/2, W/2)`` of cell
        positions (0..3 in raster order), to sub-sample another image the same way with
        :func:`subsample_like`.

    Example:
        >>> x = torch.arange(16.0).view(1, 1, 4, 4)
        >>> g1, g2, idx = neighbor_subsample(x, torch.Generator().manual_seed(0))
        >>> g1.shape, bool(((g1 - g2).abs() == 1).logical_or((g1 - g2).abs() == 4).all())
        (torch.Size([1, 1, 2, 2]), True)
    """
    B, C, H, W = x.shape
    if H % 2 or W % 2:
        raise RestorekitError(f"the neighbour sub-sampler needs even sizes, got {H}x{W}")
    first = torch.randint(4, (B, 1, H // 2, W // 2), generator=generator)
    # the two edge neighbours of position p (raster order in the 2x2 cell): p ^ 1 and p ^ 2
    flip = torch.randint(2, (B, 1, H // 2, W // 2), generator=generator) + 1
    idx = torch.cat([first, first ^ flip], dim=1).to(x.device)
    g1, g2 = subsample_like(x, idx)
    return g1, g2, idx


def subsample_like(x: torch.Tensor, idx: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Sub-sample ``x`` with the choice ``idx`` of :func:`neighbor_subsample`."""
    B, C, H, W = x.shape
    # (B, C, 4, H/2, W/2): the four pixels of each 2x2 cell, in raster order
    cells = torch.nn.functional.pixel_unshuffle(x, 2).view(B, C, 4, H // 2, W // 2)
    out = []
    for k in range(2):
        sel = idx[:, k : k + 1, None].expand(B, C, 1, H // 2, W // 2)
        out.append(cells.gather(2, sel)[:, :, 0])
    return out[0], out[1]


def fit_neighbor2neighbor(
    cfg: TrainConfig, resume: bool = False, progress: bool = True, max_steps: int | None = None
) -> TrainResult:
    """Neighbor2Neighbor from single noisy images (module docstring)."""
    run, net, model, optimizer, data = _one_denoiser(cfg, resume, progress, max_steps)
    d = cfg.data
    for step in run.steps():
        noisy = run.to_device(data.noisy(d.batch, d.patch, run.generator))
        g1, g2, idx = neighbor_subsample(noisy, run.generator)
        with torch.no_grad():
            e1, e2 = subsample_like(model(noisy), idx)  # the network on the whole image
        diff = model(g1) - g2
        gamma = cfg.selfsup.gamma * step / cfg.optim.steps
        rec = diff.square().mean()
        reg = (diff - (e1 - e2)).square().mean()
        loss = rec + gamma * reg
        optimizer.zero_grad(set_to_none=True)
        run.backward(loss, "model")
        optimizer.step()
        run.log(loss=loss.item(), reconstruction=rec.item(), regulariser=reg.item())
    return run.finish("model", lambda: {"train_noise": _noise_meta(cfg)})


@dataclass
class TCFLWeights:
    """The weights of one TCFL step (from the config's ``selfsup`` and ``adversarial``)."""

    consistency: float = 6.0
    adversarial: float = 1.0
    fake_weight: float = 0.1
    gp_weight: float = 10.0


def tcfl_step(
    G: nn.Module,
    D: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    gan: GANLoss,
    A: torch.Tensor,
    B: torch.Tensor,
    C: torch.Tensor,
    weights: TCFLWeights,
    backward: Callable[[torch.Tensor], None] = torch.Tensor.backward,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """One TCFL update (the paper's Fig. 2): the generator's three paths, then the
    discriminator's step on detached fakes, then the generator's step.

    Args:
        G: the generator, a residual denoiser (its noise estimate is ``x - G(x)``).
        D: the discriminator (scores, any shape).
        opt_g, opt_d: their optimizers.
        gan: the adversarial loss.
        A, B: two batches of noisy patches; C: a batch of unpaired clean patches.
        weights: the loss weights.
        backward: how to back-propagate (the run's, for precision and DDP).
        generator: the random source of the gradient penalty (wgan-gp).

    Returns:
        The step's scalars (losses) and the noise estimates ``n_A``, ``n_B`` (detached).
    """

    def noise(x: torch.Tensor) -> torch.Tensor:
        return x - G(x)  # the generator's noise estimate

    # N2P: each noisy image denoised
    n_A, n_B = noise(A), noise(B)
    C_A1, C_B1 = A - n_A, B - n_B
    # P2P: the noises swapped, denoised again
    I_A, I_B = C_A1 + n_B, C_B1 + n_A
    C_A2, C_B2 = I_A - noise(I_A), I_B - noise(I_B)
    # C2P: the clean image with each estimated noise, denoised again
    J_A, J_B = C + n_A, C + n_B
    C_C1, C_C2 = J_A - noise(J_A), J_B - noise(J_B)
    fakes = torch.cat([C_A1, C_B1, C_A2, C_B2, C_C1, C_C2])
    n_fakes = 6

    # 1. the discriminator, on detached fakes: real + fake_weight x the sum over the six fakes
    D.requires_grad_(True)
    real_logits = D(C)
    fake_logits = D(fakes.detach())
    loss_d = gan.discriminator(real_logits, fake_logits, fake_weight=weights.fake_weight * n_fakes)
    if gan.name == "wgan-gp":
        fake = fakes[: C.shape[0]].detach()
        loss_d = loss_d + gradient_penalty(D, C, fake, generator, weights.gp_weight)
    opt_d.zero_grad(set_to_none=True)
    backward(loss_d)
    opt_d.step()

    # 2. the generator: consistency, and fool the discriminator (fixed during this step)
    D.requires_grad_(False)
    consistency = (
        (C_A1 - C_A2).abs().mean()
        + (C_B1 - C_B2).abs().mean()
        + (C_C1 - C).abs().mean()
        + (C_C2 - C).abs().mean()
    )
    loss_adv = n_fakes * gan.generator(real_logits.detach(), D(fakes))
    loss_g = weights.consistency * consistency + weights.adversarial * loss_adv
    opt_g.zero_grad(set_to_none=True)
    backward(loss_g)
    opt_g.step()
    D.requires_grad_(True)
    return {
        "loss": loss_g.detach(),
        "discriminator": loss_d.detach(),
        "consistency": consistency.detach(),
        "adversarial": loss_adv.detach(),
        "n_A": n_A.detach(),
        "n_B": n_B.detach(),
    }


def fit_tcfl(
    cfg: TrainConfig, resume: bool = False, progress: bool = True, max_steps: int | None = None
) -> TrainResult:
    """TCFL (module docstring): the generator and a PatchGAN, one :func:`tcfl_step` per batch;
    the collapse watch stops a run whose generator became a constant."""
    from restorekit.models import build

    adv = cfg.adversarial
    if adv is None:
        raise RestorekitError("tcfl needs an adversarial section")
    run = Run(cfg, resume=resume, progress=progress, max_steps=max_steps)
    g_net = _denoiser(cfg, resume)
    d_net = build(adv.discriminator.name, **adv.discriminator.args)
    opt_g = run.adam(g_net.parameters())
    opt_d = run.adam(d_net.parameters(), lr=adv.lr, betas=adv.betas)
    G = run.network("generator", g_net, opt_g)
    D = run.network("discriminator", d_net, opt_d)
    gan = gan_loss(adv.loss)
    s = cfg.selfsup
    weights = TCFLWeights(s.consistency, adv.weight, adv.fake_weight, adv.gp_weight)
    if adv.weight == 0:
        hint = "with adversarial.weight 0 nothing opposes it: keep the discriminator"
    else:
        hint = (
            f"the discriminator (adversarial.weight {adv.weight:g}) did not hold it: raise the "
            "weight or lower the generator's learning rate"
        )
    watch = CollapseWatch(s.collapse_patience, s.collapse_threshold, hint)
    run.keep("collapse", watch)
    run.restore()
    data = training_data(cfg, progress and run.main)
    pairs = validation_pairs(cfg) if run.main else []
    run.start(_validation(g_net, pairs) if pairs else None)
    g_net.train()
    d_net.train()
    d = cfg.data
    for step in run.steps():
        A = run.to_device(data.noisy(d.batch, d.patch, run.generator))
        B = run.to_device(data.noisy(d.batch, d.patch, run.generator))
        C = run.to_device(data.clean(d.batch, d.patch, run.generator))
        out = tcfl_step(
            G, D, opt_g, opt_d, gan, A, B, C, weights, run.fabric.backward, run.generator
        )
        try:
            ratio = watch.update(step + 1, torch.cat([out["n_A"], out["n_B"]]), torch.cat([A, B]))
        except GeneratorCollapseError as e:
            if run.main:  # the run folder says why it has no model file
                atomic_write(run.out / "stopped.txt", f"{e}\n")
            raise
        run.log(
            **{k: v.item() for k, v in out.items() if v.ndim == 0},
            spread=ratio,
        )
    return run.finish("generator", lambda: {"train_noise": _noise_meta(cfg)})


def _noise_meta(cfg: TrainConfig) -> dict[str, object]:
    from restorekit.train.config import config_to_dict

    return config_to_dict(cfg.data.noise)
