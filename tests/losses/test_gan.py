"""Adversarial losses and WGAN-GP's gradient penalty, each against its formula written anew."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from helpers import assert_close
from restorekit.errors import RestorekitError
from restorekit.losses.gan import (
    GAN_LOSSES,
    RELATIVISTIC_GAN_LOSSES,
    GANLoss,
    gan_loss,
    gradient_penalty,
)

BCE = nn.BCEWithLogitsLoss()
MSE = nn.MSELoss()


def _bce(s: torch.Tensor, label: float) -> torch.Tensor:
    return BCE(s, torch.full_like(s, label))


def _mse(s: torch.Tensor, label: float) -> torch.Tensor:
    return MSE(s, torch.full_like(s, label))


def _relu(t: torch.Tensor) -> torch.Tensor:
    return torch.clamp(t, min=0)


def reference(name: str, r: torch.Tensor, f: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(discriminator loss, generator loss) from the papers' formulas and their code's scaling:
    pix2pix/CycleGAN's 0.5 on the LSGAN discriminator, the 1/2 of Jolicoeur-Martineau's RaSGAN /
    RaHingeGAN code (and ESRGAN's) on both relativistic losses."""
    if name == "vanilla":
        return _bce(r, 1) + _bce(f, 0), _bce(f, 1)
    if name == "lsgan":
        return 0.5 * (_mse(r, 1) + _mse(f, 0)), _mse(f, 1)
    if name == "wgan-gp":
        return f.mean() - r.mean(), -f.mean()
    if name == "hinge":
        return _relu(1 - r).mean() + _relu(1 + f).mean(), -f.mean()
    rr, ff = r - f.mean(), f - r.mean()  # relativistic average scores
    if name == "ragan":
        return (_bce(rr, 1) + _bce(ff, 0)) / 2, (_bce(rr, 0) + _bce(ff, 1)) / 2
    assert name == "rahinge"
    return (
        (_relu(1 - rr).mean() + _relu(1 + ff).mean()) / 2,
        (_relu(1 + rr).mean() + _relu(1 - ff).mean()) / 2,
    )


def _scores(shape: tuple[int, ...], seed: int, scale: float = 3.0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (scale * torch.randn(shape, generator=g, dtype=torch.float64)).requires_grad_(True)


SHAPES = [((4, 1, 6, 5), (4, 1, 6, 5)), ((8,), (8,)), ((3, 1, 7, 7), (2, 1, 7, 7))]


@pytest.mark.parametrize("name", GAN_LOSSES)
@pytest.mark.parametrize(("real_shape", "fake_shape"), SHAPES, ids=str)
def test_losses_match_their_formulas(name, real_shape, fake_shape):
    r, f = _scores(real_shape, 1), _scores(fake_shape, 2)
    want_d, want_g = reference(name, r, f)
    loss = gan_loss(name)
    got_d, got_g = loss.discriminator(r, f), loss.generator(r, f)
    assert got_d.shape == () and got_g.shape == ()
    assert got_d.dtype == torch.float64
    assert_close(got_d, want_d, atol=1e-12, msg=f"{name} D")
    assert_close(got_g, want_g, atol=1e-12, msg=f"{name} G")
    # the gradients too (a check of the relativistic means' paths)
    gd = torch.autograd.grad(got_d, (r, f))
    wd = torch.autograd.grad(want_d, (r, f))
    for a, b in zip(gd, wd, strict=True):
        assert_close(a, b, atol=1e-12, msg=f"{name} dD")


@pytest.mark.parametrize("name", GAN_LOSSES)
def test_float32_and_large_logits_stay_finite(name):
    # softplus form: no log(sigmoid) underflow at |logit| ~ 100
    r = torch.tensor([100.0, -100.0, 3.0])
    f = torch.tensor([-100.0, 100.0, 0.5])
    loss = gan_loss(name)
    for v in (loss.discriminator(r, f), loss.generator(r, f)):
        assert v.dtype == torch.float32 and torch.isfinite(v)
    want_d, want_g = reference(name, r.double(), f.double())
    assert_close(loss.discriminator(r, f), want_d, atol=1e-4, rtol=1e-6)
    assert_close(loss.generator(r, f), want_g, atol=1e-4, rtol=1e-6)


@pytest.mark.parametrize("name", GAN_LOSSES)
def test_generator_gradient_reaches_fake_and_real_only_when_relativistic(name):
    r, f = _scores((2, 1, 5, 5), 3), _scores((2, 1, 5, 5), 4)
    loss = gan_loss(name)
    loss.generator(r, f).backward()
    assert f.grad is not None and f.grad.abs().sum() > 0
    if name in RELATIVISTIC_GAN_LOSSES:
        assert loss.relativistic
        assert r.grad is not None and r.grad.abs().sum() > 0
    else:
        assert not loss.relativistic
        assert r.grad is None
        # real is ignored: None gives the same value
        assert torch.equal(loss.generator(None, f), loss.generator(r, f))


@pytest.mark.parametrize("name", RELATIVISTIC_GAN_LOSSES)
def test_relativistic_generator_refuses_real_none(name):
    with pytest.raises(RestorekitError) as e:
        gan_loss(name).generator(None, torch.zeros(2))
    assert str(e.value) == (
        f"the {name!r} generator loss is relativistic: it needs the discriminator's scores on "
        "real samples, got real=None"
    )


def test_known_values():
    ones, zeros = torch.ones(2, 1, 4, 4), torch.zeros(2, 1, 4, 4)
    log2 = math.log(2)
    # lsgan: a perfect discriminator (real -> 1, fake -> 0) has loss 0; a perfect fake too
    assert gan_loss("lsgan").discriminator(ones, zeros) == 0
    assert gan_loss("lsgan").generator(None, ones) == 0
    assert gan_loss("lsgan").discriminator(zeros, ones) == 1  # 0.5 * (1 + 1)
    # vanilla at logit 0 (D says 1/2 everywhere): D = 2 log 2, G = log 2
    assert_close(gan_loss("vanilla").discriminator(zeros, zeros), 2 * log2)
    assert_close(gan_loss("vanilla").generator(None, zeros), log2)
    # ragan with equal scores: every relativistic logit is 0, each side averages to log 2
    assert_close(gan_loss("ragan").discriminator(ones, ones), log2)
    assert_close(gan_loss("ragan").generator(ones, ones), log2)
    # wgan: equal scores give 0, the generator's loss is minus the fake score
    assert gan_loss("wgan-gp").discriminator(ones, ones) == 0
    assert gan_loss("wgan-gp").generator(None, 3 * ones) == -3
    assert gan_loss("hinge").generator(None, -2 * ones) == 2


def test_hinge_losses_are_zero_once_the_margins_are_met():
    real = torch.tensor([1.0, 1.5, 4.0])
    fake = torch.tensor([-1.0, -2.0, -7.0])
    assert gan_loss("hinge").discriminator(real, fake) == 0
    assert gan_loss("hinge").discriminator(real - 0.5, fake) > 0  # a real score inside the margin
    # rahinge: real - mean(fake) >= 1 and fake - mean(real) <= -1 everywhere
    assert gan_loss("rahinge").discriminator(real, fake) == 0
    # and the generator's side is zero when the roles are swapped
    assert gan_loss("rahinge").generator(fake, real) == 0
    assert gan_loss("rahinge").generator(real, fake) > 0


def test_names_are_normalised_and_unknown_names_list_the_closest_first():
    assert gan_loss(" WGAN-GP ") == GANLoss("wgan-gp")
    assert gan_loss("RaHinge").name == "rahinge"
    with pytest.raises(RestorekitError) as e:
        gan_loss("ra-hinge")
    assert str(e.value) == (
        "unknown GAN loss 'ra-hinge'; known: rahinge, hinge, ragan, wgan-gp, lsgan, vanilla"
    )
    with pytest.raises(RestorekitError) as e:
        GANLoss("wgan")
    assert str(e.value) == (
        "unknown GAN loss 'wgan'; known: wgan-gp, lsgan, ragan, vanilla, hinge, rahinge"
    )


def test_bad_scores_are_one_clear_error():
    loss = gan_loss("hinge")
    with pytest.raises(RestorekitError, match="fake scores must be a float tensor, got dtype"):
        loss.discriminator(torch.zeros(2), torch.zeros(2, dtype=torch.long))
    with pytest.raises(RestorekitError, match=r"real scores are empty \(shape \(0,\)\)"):
        loss.discriminator(torch.zeros(0), torch.zeros(2))
    with pytest.raises(RestorekitError, match=r"real must be a torch.Tensor of scores, got list"):
        loss.discriminator([1.0], torch.zeros(2))


# --- gradient penalty ------------------------------------------------------------------------


class LinearCritic(nn.Module):
    """D(x) = <w, x> per sample: its input gradient is w everywhere."""

    def __init__(self, numel: int, norm: float, seed: int = 0) -> None:
        super().__init__()
        w = torch.randn(numel, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
        self.w = nn.Parameter(norm * w / w.norm())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.flatten(1) @ self.w


def _conv_critic(seed: int = 0) -> nn.Module:
    """A small patch critic whose input gradient depends on every parameter: a smooth activation
    (with a piecewise-linear one the first bias only moves the kinks, its gradient is 0) and no
    bias on the last layer (a constant shift leaves the input gradient unchanged)."""
    torch.manual_seed(seed)
    return nn.Sequential(
        nn.Conv2d(1, 4, 3, padding=1), nn.Tanh(), nn.Conv2d(4, 1, 3, stride=2, bias=False)
    ).double()


def _pair(seed: int = 0, shape: tuple[int, ...] = (3, 1, 6, 6)) -> tuple[torch.Tensor, ...]:
    g = torch.Generator().manual_seed(seed)
    real = torch.rand(shape, generator=g, dtype=torch.float64)
    return real, torch.rand(shape, generator=g, dtype=torch.float64)


def test_penalty_is_zero_for_a_unit_gradient_critic_and_has_its_parameter_gradient():
    real, fake = _pair()
    critic = LinearCritic(36, norm=1.0)
    gp = gradient_penalty(critic, real, fake, torch.Generator().manual_seed(0))
    assert_close(gp, 0.0, atol=1e-12)
    gp.backward()
    assert critic.w.grad is not None  # (zero here: the minimum)
    assert_close(critic.w.grad, torch.zeros(36), atol=1e-12)


@pytest.mark.parametrize("norm", [0.0, 0.5, 2.0])
def test_penalty_of_a_linear_critic_is_weight_times_squared_norm_excess(norm):
    real, fake = _pair(1)
    critic = LinearCritic(36, norm=norm)
    gp = gradient_penalty(critic, real, fake, weight=3.0)
    assert_close(gp, 3.0 * (norm - 1) ** 2, atol=1e-12)
    gp.backward()
    # d/dw of 3 (|w| - 1)^2 = 6 (|w| - 1) w / |w|
    want = torch.zeros(36) if norm == 0 else 6 * (norm - 1) * critic.w.detach() / norm
    assert_close(critic.w.grad, want, atol=1e-12)


def test_penalty_matches_the_formula_and_trains_the_critic_only():
    real, fake = _pair(2)
    fake.requires_grad_(True)  # as a generator's output would
    critic = _conv_critic()
    gp = gradient_penalty(critic, real, fake, torch.Generator().manual_seed(7), weight=10.0)
    # written out: one epsilon per sample, the first draw of the generator
    eps = torch.rand((3, 1, 1, 1), generator=torch.Generator().manual_seed(7), dtype=torch.float64)
    x_hat = (eps * real + (1 - eps) * fake.detach()).requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x_hat).sum(), x_hat)
    want = 10.0 * ((grad.flatten(1).norm(dim=1) - 1) ** 2).mean()
    assert_close(gp, want, atol=1e-12)
    assert gp > 0
    gp.backward()
    for pname, p in critic.named_parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all() and p.grad.abs().sum() > 0, pname
    assert fake.grad is None  # the fakes are detached


def test_penalty_is_deterministic_for_a_fixed_generator():
    real, fake = _pair(3)
    critic = _conv_critic()

    def run(seed: int) -> torch.Tensor:
        return gradient_penalty(critic, real, fake, torch.Generator().manual_seed(seed)).detach()

    assert torch.equal(run(5), run(5))
    assert not torch.equal(run(5), run(6))


def test_penalty_works_under_no_grad_and_refuses_bad_input():
    real, fake = _pair(4)
    with torch.no_grad():
        gp = gradient_penalty(_conv_critic(), real, fake, torch.Generator().manual_seed(0))
    assert gp > 0
    with pytest.raises(RestorekitError) as e:
        gradient_penalty(_conv_critic(), real, fake[:2])
    assert (
        str(e.value) == "real and fake must have the same shape, got (3, 1, 6, 6) and (2, 1, 6, 6)"
    )
    with pytest.raises(RestorekitError, match="weight must be a finite number >= 0, got -1"):
        gradient_penalty(_conv_critic(), real, fake, weight=-1)
    with pytest.raises(
        RestorekitError, match=r"fake must be a float tensor \(B, \.\.\.\), got list"
    ):
        gradient_penalty(_conv_critic(), real, [0.0])
