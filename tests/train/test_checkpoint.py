"""Checkpoints: exact round trip of model, optimizer, scheduler and extra state; clear refusals."""

from __future__ import annotations

import pytest
import torch

from restorekit.errors import ImageFileError, RestorekitError
from restorekit.models import build
from restorekit.train.checkpoint import load_checkpoint, save_checkpoint


def _setup(**kw):
    torch.manual_seed(0)
    net = build("demosaicnet", channels=8, depth=1, **kw)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-2)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: 0.5**s)
    return net, opt, sched


def _train(net, opt, sched, steps):
    g = torch.Generator().manual_seed(1)
    for _ in range(steps):
        raw = torch.rand(2, 1, 16, 16, generator=g)
        net(raw).square().mean().backward()
        opt.step()
        opt.zero_grad()
        sched.step()


def test_round_trip_continues_identically(tmp_path):
    net, opt, sched = _setup()
    _train(net, opt, sched, 3)
    g = torch.Generator().manual_seed(9)
    path = tmp_path / "ck.safetensors"
    save_checkpoint(path, net, opt, 3, sched, {"gen": g.get_state()}, {"a": 1})

    net2, opt2, sched2 = _setup()
    ck = load_checkpoint(path, net2, opt2, sched2)
    assert ck.step == 3 and ck.meta["config"] == {"a": 1}
    assert torch.equal(ck.extra["gen"], g.get_state())
    assert sched2.get_last_lr() == sched.get_last_lr()
    _train(net, opt, sched, 2)
    _train(net2, opt2, sched2, 2)
    for a, b in zip(net.parameters(), net2.parameters(), strict=True):
        assert torch.equal(a, b)


def test_other_model_is_refused(tmp_path):
    net, opt, sched = _setup()
    path = tmp_path / "ck.safetensors"
    save_checkpoint(path, net, opt, 1, sched)
    other, opt2, _ = _setup(separable=True)
    with pytest.raises(RestorekitError, match=r"is a checkpoint of demosaicnet .* this run builds"):
        load_checkpoint(path, other, opt2)


def test_corrupt_and_foreign_files_are_refused(tmp_path):
    net, opt, sched = _setup()
    path = tmp_path / "ck.safetensors"
    save_checkpoint(path, net, opt, 1, sched)
    broken = tmp_path / "broken.safetensors"
    broken.write_bytes(path.read_bytes()[: len(path.read_bytes()) // 2])
    with pytest.raises(ImageFileError, match="not a safetensors file"):
        load_checkpoint(broken, net)
    text = tmp_path / "text.safetensors"
    text.write_text("hello")
    with pytest.raises(ImageFileError, match="not a safetensors file"):
        load_checkpoint(text, net)
    from restorekit.models import save_model

    model_file = tmp_path / "model.safetensors"
    save_model(model_file, net)
    with pytest.raises(RestorekitError, match="not a restorekit training checkpoint"):
        load_checkpoint(model_file, net)
