"""Cycle-consistent super-resolution from unpaired images (SRResCycGAN), on :class:`Run`.

Two image sets that never meet: LR images of unknown degradation (here made from one half of the
training images by ``data.degradation``, which the networks are not told) and HR images (the other
half). Four networks:

- G_HR (LR -> HR): the upscaler (:class:`~restorekit.models.SRNet`), the model that ships;
- G_LR (HR -> LR): the learned degradation (:class:`~restorekit.models.DegradeNet`, with noise
  inputs: a real degradation is random);
- D_HR, D_LR: PatchGANs on HR and on LR images.

One step (:func:`cycle_step`), as the paper's figure: the forward cycle ``lr -> G_HR -> sr ->
G_LR -> lr_rec`` and the backward cycle ``hr -> G_LR -> lr_fake -> G_HR -> hr_rec``; first the
discriminators, on detached fakes (D_HR: ``hr`` real, ``sr`` fake; D_LR: ``lr`` real, ``lr_fake``
fake), then both generators with the discriminators fixed:

.. math::
    L_G = \\lambda_{content} \\lVert G_{HR}(\\mathrm{sg}[G_{LR}(hr)]) - hr \\rVert_1
        + \\lambda_{cycle} \\lVert L(G_{LR}(\\mathrm{sg}[G_{HR}(lr)])) - L(lr) \\rVert_1
        + \\lambda_{perc} P(hr_{rec}, hr) + \\lambda_{tv} \\mathrm{GD}(hr_{rec}, hr)
        + \\lambda_{adv,HR} A_{HR}(sr) + \\lambda_{adv,LR} A_{LR}(lr_{fake})
        + \\lambda_{fid} \\lVert L(lr_{fake}) - L(\\mathrm{bicubic}(hr)) \\rVert_1

Each cycle trains the network that closes it, the other's output held fixed (``sg``:
stop-gradient). The backward cycle is G_HR's content loss: it learns to undo the learned
degradation on pseudo-pairs ``(G_LR(hr), hr)``. The forward cycle teaches G_LR the real
degradation: it must turn G_HR's restored image back into the real LR image, compared through a
Gaussian low-pass L (``cycle.lowpass_sigma``: an L1 on the noise itself would teach G_LR to leave
it out, its median), and D_LR makes its outputs look like real LR images, noise and compression
included (the frequency separation of Fritsche et al. 2019). Letting the forward
cycle's gradient reach G_HR instead teaches G_HR to keep the noise (so that G_LR can give it back):
measured here, that variant scored below bicubic on the degraded validation images. P is the
perceptual loss (VGG19 features from a file, or any fixed feature network), GD the gradient
difference (the paper's total-variation term). The fidelity term anchors G_LR: without it a
darkening G_HR and a brightening G_LR closed both cycles together (measured here: outputs 9-23
levels too dark). The paper's optional identity term is left out.

References:
    M. Umer, C. Micheloni, "Deep cyclic generative adversarial residual convolutional networks
    for real image super-resolution", ECCV Workshops 2020.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import nn

from restorekit.data import ImageBank, sample_patches
from restorekit.degrade import imresize
from restorekit.errors import RestorekitError
from restorekit.losses.gan import GANLoss, gan_loss
from restorekit.train.config import CycleConfig, TrainConfig
from restorekit.train.run import Run, TrainResult
from restorekit.train.sr import _scale_of, real_degradation

__all__ = ["cycle_step", "fit_cycle_sr", "unpaired_halves"]


def _lowpass(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """A Gaussian blur of ``sigma`` pixels (none for 0): the forward cycle compares low
    frequencies only, so the noise and texture of the degradation are D_LR's to judge
    (the frequency separation of Fritsche, Gu, Timofte, ICCVW 2019)."""
    if sigma <= 0:
        return x
    from restorekit.degrade.blur import blur, gaussian_kernel

    size = 2 * math.ceil(3 * sigma) + 1
    return blur(x, gaussian_kernel(size, sigma).to(x))


def _gradient_difference(x: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
    from restorekit.losses import gradient_difference

    return gradient_difference(x, y)


def cycle_step(
    G_HR: nn.Module,
    G_LR: nn.Module,
    D_HR: nn.Module,
    D_LR: nn.Module,
    opt_g: torch.optim.Optimizer,
    opt_d: torch.optim.Optimizer,
    gan: GANLoss,
    lr: torch.Tensor,
    hr: torch.Tensor,
    weights: CycleConfig,
    perceptual: nn.Module | None = None,
    backward: Callable[[torch.Tensor], None] = torch.Tensor.backward,
    generator: torch.Generator | None = None,
) -> dict[str, torch.Tensor]:
    """One SRResCycGAN update: both cycles, the discriminators on detached fakes, then the
    generators with the discriminators fixed.

    Args:
        G_HR, G_LR: the upscaler and the degradation network (one optimizer ``opt_g`` for both).
        D_HR, D_LR: the discriminators (one optimizer ``opt_d`` for both).
        gan: the adversarial loss.
        lr: a batch of real LR patches; hr: a batch of HR patches, not paired with ``lr``.
        weights: the loss weights (``content``, ``cycle``, ``fidelity``, ``perceptual``, ``tv``,
            ``adversarial_hr``, ``adversarial_lr``, ``lowpass_sigma``).
        perceptual: the perceptual loss (needed when ``weights.perceptual > 0``).
        backward: how to back-propagate (the run's).
        generator: G_LR's noise source.

    Returns:
        The step's scalars.
    """
    # the two cycles, each closed by the network it trains (the other one's output fixed)
    sr = G_HR(lr)
    lr_fake = G_LR(hr, generator)
    hr_rec = G_HR(lr_fake.detach())
    lr_rec = G_LR(sr.detach(), generator)

    # 1. the discriminators, on detached fakes
    D_HR.requires_grad_(True)
    D_LR.requires_grad_(True)
    loss_d_hr = gan.discriminator(D_HR(hr), D_HR(sr.detach()))
    loss_d_lr = gan.discriminator(D_LR(lr), D_LR(lr_fake.detach()))
    opt_d.zero_grad(set_to_none=True)
    backward(loss_d_hr + loss_d_lr)
    opt_d.step()

    # 2. the generators, the discriminators fixed
    D_HR.requires_grad_(False)
    D_LR.requires_grad_(False)
    content = F.l1_loss(hr_rec, hr)
    sigma = weights.lowpass_sigma
    cycle = F.l1_loss(_lowpass(lr_rec, sigma), _lowpass(lr, sigma))
    # G_LR's anchor: its output keeps the low frequencies (brightness, colour) of a plain
    # bicubic downscale, so the two generators cannot drift together
    scale = hr.shape[-1] // lr_fake.shape[-1]
    fidelity = F.l1_loss(
        _lowpass(lr_fake, sigma), _lowpass(imresize(hr, scale=1 / scale).detach(), sigma)
    )
    with torch.no_grad():  # the relativistic losses compare with the real images' scores
        real_hr, real_lr = D_HR(hr), D_LR(lr)
    adv_hr = gan.generator(real_hr, D_HR(sr))
    adv_lr = gan.generator(real_lr, D_LR(lr_fake))
    loss = (
        weights.content * content
        + weights.cycle * cycle
        + weights.adversarial_hr * adv_hr
        + weights.adversarial_lr * adv_lr
        + weights.fidelity * fidelity
    )
    parts = {
        "content": content,
        "cycle": cycle,
        "fidelity": fidelity,
        "adv_hr": adv_hr,
        "adv_lr": adv_lr,
    }
    if weights.perceptual:
        if perceptual is None:
            raise RestorekitError("cycle.perceptual > 0 needs a perceptual loss")
        parts["perceptual"] = perceptual(hr_rec, hr)
        loss = loss + weights.perceptual * parts["perceptual"]
    if weights.tv:
        parts["tv"] = _gradient_difference(hr_rec, hr)
        loss = loss + weights.tv * parts["tv"]
    opt_g.zero_grad(set_to_none=True)
    backward(loss)
    opt_g.step()
    D_HR.requires_grad_(True)
    D_LR.requires_grad_(True)
    return {
        "loss": loss.detach(),
        "d_hr": loss_d_hr.detach(),
        "d_lr": loss_d_lr.detach(),
        **{k: v.detach() for k, v in parts.items()},
    }


def unpaired_halves(bank: ImageBank) -> tuple[ImageBank, ImageBank]:
    """The images of ``bank`` split in two that never pair: even positions (the LR side) and odd
    ones (the HR side).

    Example:
        >>> a, b = unpaired_halves(ImageBank.from_tensors([torch.rand(3, 8, 8)] * 5))
        >>> len(a), len(b)
        (3, 2)
    """
    if len(bank) < 2:
        raise RestorekitError("cycle-sr needs at least two training images (two unpaired halves)")
    return ImageBank.from_tensors(bank.images[0::2]), ImageBank.from_tensors(bank.images[1::2])


def fit_cycle_sr(
    cfg: TrainConfig, resume: bool = False, progress: bool = True, max_steps: int | None = None
) -> TrainResult:
    """Train SRResCycGAN (module docstring); the final model file holds G_HR."""
    from restorekit.models import build
    from restorekit.train.sr import SRRecipe
    from restorekit.train.supervised import init_from, validation_images

    adv = cfg.adversarial
    if adv is None:
        raise RestorekitError("cycle-sr needs an adversarial section (D_HR)")
    c = cfg.cycle
    scale = _scale_of(cfg)
    degradation = real_degradation(cfg.data.degradation, scale)
    run = Run(cfg, resume=resume, progress=progress, max_steps=max_steps)
    g_hr = build(cfg.model.name, **cfg.model.args)
    if cfg.model.init and not resume:
        init_from(g_hr, cfg.model.init)
    g_lr = build(c.degrader.name, **c.degrader.args)
    if getattr(g_lr, "scale", scale) != scale:
        raise RestorekitError(
            f"config: cycle.degrader scale {g_lr.scale} differs from model scale {scale}"
        )
    d_hr = build(adv.discriminator.name, **adv.discriminator.args)
    d_lr = build(c.lr_discriminator.name, **c.lr_discriminator.args)
    opt_g = run.adam(
        [
            {"params": g_hr.parameters()},
            {"params": g_lr.parameters(), "lr": c.degrader_lr or cfg.optim.lr},
        ]
    )
    opt_d = run.adam([*d_hr.parameters(), *d_lr.parameters()], lr=adv.lr, betas=adv.betas)
    G_HR = run.network("generator", g_hr, opt_g)
    G_LR = run.network("degrader", g_lr)
    D_HR = run.network("discriminator", d_hr, opt_d)
    D_LR = run.network("lr_discriminator", d_lr)
    gan = gan_loss(adv.loss)
    perceptual = _perceptual(c) if c.perceptual else None
    if perceptual is not None:
        perceptual = run.fabric.to_device(perceptual)
    run.restore()
    d = cfg.data
    bank = ImageBank(
        d.train,
        mode=d.mode,
        downscale=d.downscale,
        holdout=d.holdout,
        min_size=d.patch,
        progress=progress and run.main,
    )
    lr_side, hr_side = unpaired_halves(bank)
    recipe = SRRecipe(scale, degradation)
    val_images = validation_images(cfg) if run.main else []

    def validate() -> tuple[dict[str, float], torch.Tensor]:
        return recipe.validate(g_hr, val_images), recipe.preview(g_hr, val_images[0])

    run.start(validate if val_images else None)
    for net in (g_hr, g_lr, d_hr, d_lr):
        net.train()
    for _step in run.steps():
        # the LR side: other images than the HR side's, degraded by what the networks are not told
        lr = degradation(sample_patches(lr_side, d.batch, d.patch, run.generator), run.generator)
        hr = sample_patches(hr_side, d.batch, d.patch, run.generator)
        out = cycle_step(
            G_HR,
            G_LR,
            D_HR,
            D_LR,
            opt_g,
            opt_d,
            gan,
            run.to_device(lr),
            run.to_device(hr),
            c,
            perceptual,
            run.fabric.backward,
            run.generator,
        )
        run.log(**{k: v.item() for k, v in out.items()})
    return run.finish("generator")


def _perceptual(c: CycleConfig) -> nn.Module:
    from restorekit.losses import build_loss

    return build_loss("perceptual", c.perceptual_options)
