from __future__ import annotations

import json

import pytest
import torch

from helpers import DATA
from restorekit.cli.main import main
from restorekit.errors import RestorekitError
from restorekit.eval import run_benchmark
from restorekit.tasks import DemosaicTask, DenoiseTask, SRTask, get_task


def test_sr_benchmark_writes_markdown_json_and_a_crop(tmp_path):
    task = SRTask()
    r = run_benchmark(
        task,
        [DATA / "test/color/Set5"],
        task.conditions([4]),
        limit=2,
        figures_dir=tmp_path,
        progress=False,
    )
    js, md = r.write(tmp_path)
    data = json.loads(js.read_text())
    assert [r["method"] for r in data["runs"]] == ["learned", "bicubic", "nearest"]
    run = data["runs"][1]
    assert run["method"] == "bicubic" and sorted(run["per_image"]) == ["baby", "bird"]
    assert data["speed_mp_per_s"]["bicubic"]["runs"] == 2
    # the learned method is another network per scale: its speed is kept per condition too
    assert data["speed_mp_per_s_by_condition"]["learned"]["scale=4"]["runs"] == 2
    learned, bicubic = (data["runs"][i]["metrics"]["psnr_y"] for i in (0, 1))
    assert learned > bicubic + 2  # the shipped x4 model on Set5's first two images
    assert data["machine"]["cpu_count"] >= 1 and data["versions"]["torch"].startswith("2.")
    text = md.read_text()
    assert "## psnr_y (dB)" in text and "| bicubic |" in text and "MP/s median" in text
    assert "| learned scale=4 |" in text and "## Published light models" in text
    pngs = list(tmp_path.glob("sr-Set5-scale4.png"))
    assert len(pngs) == 1 and pngs[0].stat().st_size > 1000


def test_demosaic_task_scores_like_the_reference_convention():
    colour_demosaicing = pytest.importorskip("colour_demosaicing")
    import numpy as np

    task = DemosaicTask()
    cond = task.conditions(["RGGB"])[0]
    from helpers import read_uint8, shared_images

    path = shared_images("test/color/Kodak24")[0]
    pair = next(task.pairs([(path.stem, read_uint8(path))], cond))
    out = task.run("bilinear", pair, cond)
    got = task.score(out, pair, cond)["cpsnr"]
    # the convention written out with numpy and colour-demosaicing directly
    gt = read_uint8(path).astype(np.float64)
    ref = colour_demosaicing.demosaicing_CFA_Bayer_bilinear(
        colour_demosaicing.mosaicing_CFA_Bayer(gt / 255, "RGGB"), "RGGB"
    )
    ref = np.clip(np.rint(ref * 255), 0, 255)
    mse = np.mean((ref - gt)[10:-10, 10:-10] ** 2)
    assert got == pytest.approx(10 * np.log10(255**2 / mse), abs=1e-3)


def test_denoise_pairs_follow_the_seed_convention():
    import numpy as np

    task = DenoiseTask()
    cond = task.conditions([25])[0]
    clean = [("a", np.full((4, 5), 100, np.uint8)), ("b", np.full((3, 3), 50, np.uint8))]
    pairs = list(task.pairs(clean, cond))
    np.random.seed(0)
    n1 = 100 + 25 * np.random.randn(4, 5)
    n2 = 50 + 25 * np.random.randn(3, 3)
    np.testing.assert_allclose(pairs[0].input[0, 0].numpy() * 255, n1, atol=1e-9)
    np.testing.assert_allclose(pairs[1].input[0, 0].numpy() * 255, n2, atol=1e-9)


def test_denoise_8bit_convention_clips_rounds_and_scores_rounded_outputs():
    import numpy as np
    import torch

    task = DenoiseTask()
    conds = task.conditions([50], quantize=8)
    assert [c.label for c in conds] == ["sigma=50", "sigma=50 8-bit"]
    clean = [("a", np.full((16, 17), 240, np.uint8)), ("b", np.full((12, 12), 10, np.uint8))]
    floats = list(task.pairs(clean, conds[0]))
    files = list(task.pairs(clean, conds[1]))
    for f, q in zip(floats, files, strict=True):
        expected = np.clip(np.round(f.input.numpy() * 255), 0, 255)
        np.testing.assert_array_equal(q.input.numpy() * 255, expected)  # the same draws
    assert files[0].input.max() == 1.0 and files[1].input.min() == 0.0  # clipped
    out = files[0].target + 0.3 / 255  # off the 8-bit grid: rounded before scoring
    assert task.score(out, files[0], conds[1])["psnr"] == float("inf")
    assert task.score(out, files[0], conds[0])["psnr"] < 60
    with pytest.raises(RestorekitError, match="quantizes to 8 bits"):
        task.conditions([25], quantize=16)
    assert torch.is_tensor(out)


def test_bench_quantize_is_for_denoise(capsys, tmp_path):
    code = main(["bench", "sr", "--quantize", "8", "--out", str(tmp_path)])
    assert code == 2 and "--quantize is for bench denoise" in capsys.readouterr().err


def test_unknown_task_and_method():
    with pytest.raises(RestorekitError, match="unknown task 'denoize'; known: denoise"):
        get_task("denoize")
    task = SRTask()
    with pytest.raises(RestorekitError, match="unknown sr method 'lanczos'"):
        run_benchmark(
            task,
            [DATA / "test/color/Set5"],
            task.conditions([2]),
            methods=["lanczos"],
            progress=False,
        )
    with pytest.raises(RestorekitError, match="scale must be an integer >= 2"):
        task.conditions([1.5])


def test_bench_cli_missing_dataset(capsys, tmp_path):
    code = main(["bench", "sr", "--data", str(tmp_path / "nope"), "--out", str(tmp_path)])
    assert code == 2
    assert "dataset folder" in capsys.readouterr().err


def test_bench_cli_denoise_small(capsys, tmp_path):
    code = main(
        [
            "bench",
            "denoise",
            "--data",
            str(DATA / "test/gray/Set12"),
            "--limit",
            "1",
            "--sigma",
            "25",
            "--methods",
            "tv",
            "--out",
            str(tmp_path),
            "--quiet",
        ]
    )
    assert code == 0, capsys.readouterr().err
    data = json.loads((tmp_path / "denoise.json").read_text())
    assert data["conditions"] == ["sigma=25"] and data["methods"] == ["tv"]
    assert 20 < data["runs"][0]["metrics"]["psnr"] < 40
    assert 0 < data["runs"][0]["metrics"]["ssim"] < 1


def test_quick_demo_writes_a_report(tmp_path):
    from restorekit.demo import run_demo

    report = run_demo(tmp_path / "demo", quick=True)
    text = report.read_text()
    assert "<table>" in text and "mhc" in text and "nlm-opencv" in text and "bicubic" in text
    for src in text.split("<img src='")[1:]:
        assert (report.parent / src.split("'")[0]).is_file()


def test_quantized_outputs_are_8bit():
    from restorekit.tasks import quantize

    x = torch.rand(1, 3, 4, 4)
    q = quantize(x) * 255
    assert torch.equal(q, q.round())


def test_demosaic_noise_conditions_follow_the_seed_convention():
    import numpy as np

    task = DemosaicTask()
    conds = task.conditions(["RGGB"], noise=[0, 10])
    assert [c.label for c in conds] == ["cfa=RGGB", "cfa=RGGB sigma=10"]
    gt = np.random.RandomState(5).randint(0, 256, (2, 24, 32, 3)).astype(np.uint8)
    images = [("a", gt[0]), ("b", gt[1])]
    pairs = list(task.pairs(images, conds[1]))
    rng = np.random.RandomState(0)  # once per (dataset, condition), images in order
    for (name, arr), pair in zip(images, pairs, strict=True):
        clean = next(task.pairs([(name, arr)], conds[0])).input
        want = clean + torch.from_numpy(10 / 255 * rng.randn(1, 1, 24, 32))
        assert torch.equal(pair.input, want)  # not clipped
    assert pairs[0].input.min() < 0 or pairs[0].input.max() > 1
    # the pipelines run on noisy raws only; the demosaicers that take no level are references
    assert not task.applies("bm3d+menon", conds[0]) and task.applies("bm3d+menon", conds[1])
    assert task.applies("opencv-vng", conds[0]) and not task.applies("opencv-vng", conds[1])
    assert task.applies("menon", conds[1])
    with pytest.raises(RestorekitError):
        task.conditions(["RGGB"], noise=[-5])


def test_bench_reuses_an_earlier_run_and_checks_it(tmp_path, monkeypatch):
    task = DemosaicTask()
    folder = DATA / "test/color/Kodak24"
    conds = task.conditions(["RGGB"], noise=[0, 5])
    methods = ["mhc", "bilinear"]
    first = run_benchmark(task, [folder], conds, methods=methods, limit=2, progress=False)
    path, _ = first.write(tmp_path / "first")
    calls = []
    import importlib

    classical = importlib.import_module("restorekit.classical.demosaic")

    real = classical.DEMOSAICERS["mhc"]
    monkeypatch.setitem(classical.DEMOSAICERS, "mhc", lambda *a: calls.append(1) or real(*a))

    def rerun():
        return run_benchmark(
            task, [folder], conds, methods=methods, limit=2, figures_dir=tmp_path,
            progress=False, reuse=path,
        )  # fmt: skip

    again = rerun()
    # mhc ran once per condition, on the crop image, instead of on both images, and no warm-up
    assert len(calls) == 2
    for r in again.runs:
        old = first.run_for(r.dataset, r.condition, r.method)
        assert r.per_image == old.per_image
    assert set(again.reused) == set(methods)
    assert "scores and timings from an earlier run" in again.to_markdown()
    # a changed method is caught on the crop image
    monkeypatch.setitem(classical.DEMOSAICERS, "mhc", lambda *a: real(*a) * 0.9)
    with pytest.raises(RestorekitError, match="the method or the data changed"):
        rerun()
    with pytest.raises(RestorekitError, match="another convention"):
        run_benchmark(
            SRTask(),
            [folder],
            SRTask().conditions([2]),
            methods=["bicubic"],
            limit=1,
            progress=False,
            reuse=path,
        )
