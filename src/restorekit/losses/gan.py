"""Adversarial losses for a GAN step, by name, and WGAN-GP's gradient penalty.

A :class:`GANLoss` turns the discriminator's raw scores (logits, never probabilities) on real and
on fake samples into the discriminator's loss and the generator's loss. Scores may have any shape,
one per sample ``(B,)`` or a PatchGAN map ``(B, 1, h, w)``: every mean below is over all their
elements. Real and fake scores need not have the same shape. With :math:`r` the scores on real
samples, :math:`f` on fakes, :math:`sp` the softplus (so :math:`sp(-s)` is the binary
cross-entropy of a logit :math:`s` against label 1 and :math:`sp(s)` against label 0) and
:math:`[\\cdot]_+` the ReLU, the losses (D: discriminator, G: generator) are

- ``vanilla``: D :math:`\\overline{sp(-r)} + \\overline{sp(f)}`,
  G :math:`\\overline{sp(-f)}` (the non-saturating :math:`-\\log D(G(z))`)
- ``lsgan``: D :math:`\\frac12 (\\overline{(r - 1)^2} + \\overline{f^2})`,
  G :math:`\\overline{(f - 1)^2}`
- ``wgan-gp``: D :math:`\\bar f - \\bar r` (plus :func:`gradient_penalty`), G :math:`-\\bar f`
- ``hinge``: D :math:`\\overline{[1 - r]_+} + \\overline{[1 + f]_+}`, G :math:`-\\bar f`
- ``ragan``: D :math:`\\frac12 (\\overline{sp(-\\tilde r)} + \\overline{sp(\\tilde f)})`,
  G :math:`\\frac12 (\\overline{sp(\\tilde r)} + \\overline{sp(-\\tilde f)})`
- ``rahinge``: D :math:`\\frac12 (\\overline{[1 - \\tilde r]_+} + \\overline{[1 + \\tilde f]_+})`,
  G :math:`\\frac12 (\\overline{[1 + \\tilde r]_+} + \\overline{[1 - \\tilde f]_+})`

where a bar is the mean over all elements and the relativistic scores are
:math:`\\tilde r = r - \\bar f`, :math:`\\tilde f = f - \\bar r` (each compared with the mean score
of the other kind: a scalar over the whole batch and all patch positions, as ``torch.mean`` in the
reference code). Conventions, where the sources differ:

- ``lsgan``: the 1/2 on the discriminator and none on the generator are those of pix2pix and
  CycleGAN, whose ``GANLoss`` is ``MSELoss`` against 1 and 0 and whose models halve the
  discriminator's sum (``(loss_D_fake + loss_D_real) * 0.5`` in ``Pix2PixModel.backward_D`` and
  ``CycleGANModel.backward_D_basic``); it is Mao et al.'s discriminator objective with
  ``a, b, c = 0, 1, 1`` (their generator objective has a 1/2 that the code drops).
- ``vanilla``: Goodfellow et al.'s sum, not halved (pix2pix halves it as above; halving only
  rescales the discriminator's gradient).
- ``ragan`` and ``rahinge``: the 1/2 of Jolicoeur-Martineau's reference code
  (``GAN_losses_iter.py``, RaSGAN and RaHingeGAN) and of ESRGAN's code (``l_d_total =
  (l_d_real + l_d_fake) / 2``); the papers write the sums. Nothing is detached: the discriminator's
  loss sends gradient through both means, and the generator's loss through the real scores too
  (the caller detaches them if it wants to).

The generator's loss of the non-relativistic GANs ignores ``real`` (``None`` is fine); the
relativistic ones need it, so a trainer feeds the real batch to the discriminator in the generator
step as well.

References:
    I. Goodfellow et al., "Generative adversarial nets", NeurIPS, 2014 (``vanilla``).
    X. Mao, Q. Li, H. Xie, R. Lau, Z. Wang, S. P. Smolley, "Least squares generative adversarial
    networks", ICCV, 2017 (``lsgan``). P. Isola, J.-Y. Zhu, T. Zhou, A. Efros, "Image-to-image
    translation with conditional adversarial networks", CVPR, 2017, and J.-Y. Zhu, T. Park,
    P. Isola, A. Efros, "Unpaired image-to-image translation using cycle-consistent adversarial
    networks", ICCV, 2017 (their code's conventions). I. Gulrajani, F. Ahmed, M. Arjovsky,
    V. Dumoulin, A. Courville, "Improved training of Wasserstein GANs", NeurIPS, 2017
    (``wgan-gp``). J. H. Lim, J. C. Ye, "Geometric GAN", arXiv:1705.02894, 2017, and T. Miyato,
    T. Kataoka, M. Koyama, Y. Yoshida, "Spectral normalization for generative adversarial
    networks", ICLR, 2018 (``hinge``). A. Jolicoeur-Martineau, "The relativistic discriminator:
    a key element missing from standard GAN", arXiv:1807.00734, 2018 (ICLR 2019) (``ragan``,
    ``rahinge``). X. Wang et al., "ESRGAN: enhanced super-resolution generative adversarial
    networks", ECCV Workshops, 2018 (``ragan`` in restoration).

Example:
    >>> loss = gan_loss("lsgan")
    >>> real, fake = torch.ones(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)  # a perfect discriminator
    >>> loss.discriminator(real, fake), loss.generator(None, fake)
    (tensor(0.), tensor(1.))
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn

from restorekit._checks import check_positive, closest_names
from restorekit.errors import RestorekitError

__all__ = ["GAN_LOSSES", "RELATIVISTIC_GAN_LOSSES", "GANLoss", "gan_loss", "gradient_penalty"]

#: The adversarial losses :func:`gan_loss` knows.
GAN_LOSSES: tuple[str, ...] = ("vanilla", "lsgan", "wgan-gp", "hinge", "ragan", "rahinge")

#: Those whose generator loss needs the discriminator's scores on real samples too.
RELATIVISTIC_GAN_LOSSES: tuple[str, ...] = ("ragan", "rahinge")

_Pair = Callable[[torch.Tensor, torch.Tensor], torch.Tensor]


def _bce_real(s: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of logits ``s`` against label 1: ``-log sigmoid(s)``."""
    return F.softplus(-s).mean()


def _bce_fake(s: torch.Tensor) -> torch.Tensor:
    """Mean binary cross-entropy of logits ``s`` against label 0: ``-log(1 - sigmoid(s))``."""
    return F.softplus(s).mean()


def _vanilla_d(real: torch.Tensor, fake: torch.Tensor, w: float) -> torch.Tensor:
    return _bce_real(real) + w * _bce_fake(fake)


def _vanilla_g(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return _bce_real(fake)  # non-saturating: -log D(G(z)), not log(1 - D(G(z)))


def _lsgan_d(real: torch.Tensor, fake: torch.Tensor, w: float) -> torch.Tensor:
    return 0.5 * ((real - 1).square().mean() + w * fake.square().mean())


def _lsgan_g(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return (fake - 1).square().mean()


def _wgan_d(real: torch.Tensor, fake: torch.Tensor, w: float) -> torch.Tensor:
    return w * fake.mean() - real.mean()


def _minus_fake(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return -fake.mean()


def _hinge_d(real: torch.Tensor, fake: torch.Tensor, w: float) -> torch.Tensor:
    return F.relu(1 - real).mean() + w * F.relu(1 + fake).mean()


def _ragan_d(real: torch.Tensor, fake: torch.Tensor, w: float) -> torch.Tensor:
    return 0.5 * (_bce_real(real - fake.mean()) + w * _bce_fake(fake - real.mean()))


def _ragan_g(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (_bce_fake(real - fake.mean()) + _bce_real(fake - real.mean()))


def _rahinge_d(real: torch.Tensor, fake: torch.Tensor, w: float) -> torch.Tensor:
    hinge_real = F.relu(1 - (real - fake.mean())).mean()
    return 0.5 * (hinge_real + w * F.relu(1 + (fake - real.mean())).mean())


def _rahinge_g(real: torch.Tensor, fake: torch.Tensor) -> torch.Tensor:
    return 0.5 * (F.relu(1 + (real - fake.mean())).mean() + F.relu(1 - (fake - real.mean())).mean())


#: name -> (discriminator loss ``(real, fake, fake_weight)``, generator loss ``(real, fake)``)
_LOSSES: dict[str, tuple[Callable[..., torch.Tensor], _Pair]] = {
    "vanilla": (_vanilla_d, _vanilla_g),
    "lsgan": (_lsgan_d, _lsgan_g),
    "wgan-gp": (_wgan_d, _minus_fake),
    "hinge": (_hinge_d, _minus_fake),
    "ragan": (_ragan_d, _ragan_g),
    "rahinge": (_rahinge_d, _rahinge_g),
}


def _check_scores(s: torch.Tensor, name: str) -> torch.Tensor:
    if not isinstance(s, torch.Tensor):
        raise RestorekitError(f"{name} must be a torch.Tensor of scores, got {type(s).__name__}")
    if not s.is_floating_point():
        raise RestorekitError(f"{name} scores must be a float tensor, got dtype {s.dtype}")
    if s.numel() == 0:
        raise RestorekitError(f"{name} scores are empty (shape {tuple(s.shape)})")
    return s


def _check_name(name: str) -> str:
    key = str(name).strip().lower()
    if key not in GAN_LOSSES:
        known = ", ".join(closest_names(key, GAN_LOSSES))
        raise RestorekitError(f"unknown GAN loss {name!r}; known: {known}")
    return key


@dataclass(frozen=True)
class GANLoss:
    """One adversarial loss: the discriminator's and the generator's side, from raw scores.

    A plain (frozen) object rather than an ``nn.Module``: it holds no parameters or buffers, only
    the choice of loss, and its two methods are the two steps of a GAN update. The formulas and
    conventions are in the module's docstring (:mod:`restorekit.losses.gan`).

    Args:
        name: one of :data:`GAN_LOSSES` (case and surrounding spaces ignored).

    Raises:
        RestorekitError: for an unknown name, listing the known ones closest first.

    Example:
        >>> loss = GANLoss("hinge")
        >>> real, fake = torch.full((2, 1, 4, 4), 2.0), torch.full((2, 1, 4, 4), -3.0)
        >>> loss.discriminator(real, fake), loss.generator(None, fake)  # margins met: D loss 0
        (tensor(0.), tensor(3.))
    """

    name: str = "vanilla"

    def __post_init__(self) -> None:
        object.__setattr__(self, "name", _check_name(self.name))

    @property
    def relativistic(self) -> bool:
        """Whether :meth:`generator` needs the scores on real samples (``ragan``, ``rahinge``)."""
        return self.name in RELATIVISTIC_GAN_LOSSES

    def discriminator(
        self, real: torch.Tensor, fake: torch.Tensor, fake_weight: float = 1.0
    ) -> torch.Tensor:
        """The discriminator's loss, to minimise over the discriminator's parameters.

        Args:
            real: the discriminator's raw scores (logits) on real samples, any shape.
            fake: its scores on generated samples (computed from detached fakes), any shape.
            fake_weight: the weight of the fake samples' term against the real samples' (1 in
                every paper's formula; TCFL weighs six kinds of fakes 0.1 each: pass 0.6 with
                the six concatenated).

        Returns:
            A scalar in the scores' dtype.

        Example:
            >>> GANLoss("vanilla").discriminator(torch.zeros(3), torch.zeros(3))  # 2 log 2
            tensor(1.3863)
        """
        _check_scores(real, "real")
        _check_scores(fake, "fake")
        return _LOSSES[self.name][0](real, fake, float(fake_weight))

    def generator(self, real: torch.Tensor | None, fake: torch.Tensor) -> torch.Tensor:
        """The generator's loss, to minimise over the generator's parameters.

        Args:
            real: the discriminator's scores on real samples; needed by the relativistic losses
                (see :attr:`relativistic`), ignored (and may be ``None``) by the others.
            fake: its scores on generated samples, not detached, so that gradient reaches the
                generator.

        Returns:
            A scalar in the scores' dtype.

        Raises:
            RestorekitError: a relativistic loss given ``real=None``.

        Example:
            >>> GANLoss("ragan").generator(torch.zeros(3), torch.zeros(3))  # log 2
            tensor(0.6931)
        """
        _check_scores(fake, "fake")
        if self.relativistic:
            if real is None:
                raise RestorekitError(
                    f"the {self.name!r} generator loss is relativistic: it needs the "
                    "discriminator's scores on real samples, got real=None"
                )
            _check_scores(real, "real")
        return _LOSSES[self.name][1](real, fake)  # type: ignore[arg-type]


def gan_loss(name: str) -> GANLoss:
    """The adversarial loss ``name``, one of :data:`GAN_LOSSES` (case and spaces ignored).

    Raises:
        RestorekitError: for an unknown name, listing the known ones closest first.

    Example:
        >>> gan_loss(" RaGAN ")
        GANLoss(name='ragan')
        >>> gan_loss("hinj")
        Traceback (most recent call last):
        ...
        restorekit.errors.RestorekitError: unknown GAN loss 'hinj'; known: hinge, rahinge, lsgan, ragan, vanilla, wgan-gp
    """  # noqa: E501
    return GANLoss(name)


def gradient_penalty(
    discriminator: nn.Module,
    real: torch.Tensor,
    fake: torch.Tensor,
    generator: torch.Generator | None = None,
    weight: float = 10.0,
) -> torch.Tensor:
    """WGAN-GP's gradient penalty, pulling the critic's input-gradient norm towards 1.

    .. math::

        \\lambda\\, \\frac1B \\sum_b \\big(\\lVert \\nabla_{\\hat x} D(\\hat x)_b \\rVert_2 - 1
        \\big)^2, \\qquad \\hat x_b = \\epsilon_b\\, x_b + (1 - \\epsilon_b)\\, \\tilde x_b,
        \\quad \\epsilon_b \\sim U(0, 1)

    with one :math:`\\epsilon` per sample, drawn from ``generator`` (on its own device, then moved
    to ``real``'s), and the
    norm over all of a sample's elements. A critic that outputs a map (PatchGAN) has its scores
    summed per sample before the gradient (``grad_outputs`` of ones, as in the pix2pix code's
    ``cal_gradient_penalty``). The interpolates are built from ``real.detach()`` and
    ``fake.detach()``: the penalty trains the critic only (``create_graph=True``), never the
    generator. It assumes the critic treats the samples of a batch independently, so no batch
    normalisation in training mode (Gulrajani et al. use none or layer norm).

    Args:
        discriminator: the critic, called as ``discriminator(x_hat)``.
        real: a batch of real samples ``(B, ...)``, e.g. images ``(B, C, H, W)``.
        fake: generated samples of the same shape.
        generator: the random generator for :math:`\\epsilon` (on any device); ``None``
            uses torch's default one.
        weight: :math:`\\lambda` (>= 0); 10 in the paper.

    Returns:
        A scalar in the critic's output dtype; add it to the discriminator's loss.

    Raises:
        RestorekitError: ``real`` and ``fake`` of different shapes, or a negative weight.

    References:
        I. Gulrajani, F. Ahmed, M. Arjovsky, V. Dumoulin, A. Courville, "Improved training of
        Wasserstein GANs", NeurIPS, 2017.

    Example:
        >>> critic = nn.Linear(4, 1, bias=False)  # gradient = its weight, of norm 1 here
        >>> _ = torch.nn.init.constant_(critic.weight, 0.5)
        >>> real, fake = torch.rand(3, 4), torch.rand(3, 4)
        >>> gradient_penalty(critic, real, fake, torch.Generator().manual_seed(0))
        tensor(0., grad_fn=<MulBackward0>)
    """
    weight = check_positive(weight, "weight")
    for t, what in ((real, "real"), (fake, "fake")):
        if not isinstance(t, torch.Tensor) or not t.is_floating_point() or t.ndim < 1:
            is_tensor = isinstance(t, torch.Tensor)
            got = f"dtype {t.dtype}, shape {tuple(t.shape)}" if is_tensor else type(t).__name__
            raise RestorekitError(f"{what} must be a float tensor (B, ...), got {got}")
    if real.shape != fake.shape:
        raise RestorekitError(
            f"real and fake must have the same shape, got {tuple(real.shape)} and "
            f"{tuple(fake.shape)}"
        )
    B = real.shape[0]
    shape = (B,) + (1,) * (real.ndim - 1)  # one epsilon per sample, broadcast over the rest
    # drawn where the generator lives (a CPU generator serves a GPU run too), then moved
    gen_device = generator.device if generator is not None else real.device
    eps = torch.rand(shape, generator=generator, device=gen_device, dtype=real.dtype)
    eps = eps.to(real.device)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    with torch.enable_grad():
        scores = discriminator(x_hat)
        (grad,) = torch.autograd.grad(
            scores, x_hat, grad_outputs=torch.ones_like(scores), create_graph=True
        )
    norm = torch.linalg.vector_norm(grad.flatten(1), dim=1)  # (B,)
    return weight * (norm - 1).square().mean()
