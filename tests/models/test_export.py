"""ONNX export: dynamic height and width, onnxruntime equal to torch."""

from __future__ import annotations

import pytest
import torch

from restorekit.errors import RestorekitError
from restorekit.models import build
from restorekit.models.export import export_onnx, onnx_max_difference, run_onnx

pytest.importorskip("onnxruntime")
pytest.importorskip("onnxscript")


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    torch.manual_seed(0)
    net = build("demosaicnet", channels=16, depth=2).eval()
    torch.nn.init.normal_(net.tail.weight, std=0.05)
    path = export_onnx(net, tmp_path_factory.mktemp("onnx") / "net.onnx", cfa="GRBG")
    return net, path


@pytest.mark.slow
@pytest.mark.parametrize("size", [(61, 90), (128, 37), (4, 4), (257, 300)])
def test_onnxruntime_matches_torch_on_any_size(exported, size):
    net, path = exported
    raw = torch.rand(1, 1, *size, generator=torch.Generator().manual_seed(0))
    assert onnx_max_difference(path, net, raw, "GRBG") < 1e-4


@pytest.mark.slow
def test_batch_is_dynamic_too(exported):
    net, path = exported
    raw = torch.rand(3, 1, 40, 52)
    out = run_onnx(path, raw)
    assert out.shape == (3, 3, 40, 52)
    with torch.inference_mode():
        torch.testing.assert_close(out, net(raw, "GRBG"), rtol=0, atol=1e-4)


def test_bad_output_paths(tmp_path):
    net = build("demosaicnet", channels=4, depth=0)
    with pytest.raises(RestorekitError, match=r"must be a \.onnx file"):
        export_onnx(net, tmp_path / "net.pt")
    with pytest.raises(RestorekitError, match="does not exist"):
        export_onnx(net, tmp_path / "nope" / "net.onnx")
