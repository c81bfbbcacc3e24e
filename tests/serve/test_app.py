"""The web page's API without a browser: uploads, views, downloads equal to the CLI's output,
bad uploads, tabs kept apart."""

from __future__ import annotations

import io
import subprocess

import numpy as np
import pytest
from PIL import Image

from helpers import cli, shared_images
from restorekit.serve.app import create_app
from serve_tools import bad_uploads


@pytest.fixture(scope="module")
def client():
    from starlette.testclient import TestClient

    return TestClient(create_app())


@pytest.fixture(scope="module")
def kodak():
    return shared_images("test/color/Kodak24")[4]


def _upload(client, data: bytes) -> dict:
    r = client.post("/api/upload", content=data)
    assert r.status_code == 200, r.text
    return r.json()


def test_page_and_samples_are_served_offline(client):
    page = client.get("/").text
    assert "<script>" in page and "http" not in page.split("<script>")[1]  # no CDN, no URL
    assert "astronaut" in client.get("/api/samples").json()["samples"]
    info = client.post("/api/sample/coffee").json()
    assert info["channels"] == 3 and info["bits"] == 8


@pytest.mark.parametrize(
    "settings",
    [
        {"task": "denoise", "sigma": 15},
        {"task": "denoise", "sigma": 30, "method": "tv"},
        {"task": "grain", "engine": "gaussian", "amount": 0.6, "seed": 3},
        {"task": "film", "tone": "faded-print", "grain_amount": 0.2},
        {"task": "upscale", "scale": 2},
    ],
)
def test_download_equals_the_command_line(client, tmp_path, kodak, settings):
    info = _upload(client, kodak.read_bytes())
    r = client.post("/api/download", json={"token": info["token"], "settings": settings})
    assert r.status_code == 200, r.text
    ours = np.asarray(Image.open(io.BytesIO(r.content)))
    command = r.headers["X-Restorekit-Command"].split()
    out = tmp_path / "cli.png"
    argv = [str(kodak) if w == "IN" else str(out) if w == "OUT" else w for w in command[1:]]
    subprocess.run(cli(*argv), check=True, capture_output=True)
    assert np.array_equal(ours, np.asarray(Image.open(out)))


def test_film_look_upload_and_oct_model_equal_the_command_line(client, tmp_path, kodak):
    from helpers import DATA
    from restorekit.film.lut import read_hald, resample_lut, write_cube

    cube = tmp_path / "look.cube"
    write_cube(cube, resample_lut(read_hald(DATA / "looks" / "kodak-portra-400-nc.png"), 17))
    look = client.post("/api/look", content=cube.read_bytes()).json()["look"]
    hald = DATA / "looks" / "fuji-velvia-50.png"
    assert client.post("/api/look", content=hald.read_bytes()).json()["size"] == 144
    bad = client.post("/api/look", content=b"LUT_3D_SIZE 2\n0 0 0\n")
    assert bad.status_code == 400 and "expected 2^3 (3D) = 8 table rows" in bad.json()["error"]
    assert "/tmp" not in bad.json()["error"]
    oct_scan = sorted((DATA / "oct" / "Duke18" / "test").rglob("*.png"))[0]
    cases = [
        (kodak, {"task": "film", "look": look, "strength": 0.7, "grain_amount": 0.3}),
        (oct_scan, {"task": "denoise", "model": "oct"}),
    ]
    for src, settings in cases:
        token = _upload(client, src.read_bytes())["token"]
        r = client.post("/api/download", json={"token": token, "settings": settings})
        assert r.status_code == 200, r.text
        out = tmp_path / "cli.png"
        words = r.headers["X-Restorekit-Command"].split()[1:]
        table = {"IN": str(src), "OUT": str(out), "LOOK": str(cube)}
        subprocess.run(cli(*[table.get(w, w) for w in words]), check=True, capture_output=True)
        assert np.array_equal(
            np.asarray(Image.open(io.BytesIO(r.content))), np.asarray(Image.open(out))
        )


@pytest.mark.parametrize("method", ["learned", "menon"])
def test_demosaic_download_equals_mosaic_then_demosaic(client, tmp_path, kodak, method):
    token = _upload(client, kodak.read_bytes())["token"]
    settings = {"task": "demosaic", "cfa": "GRBG", "method": method}
    r = client.post("/api/download", json={"token": token, "settings": settings})
    assert r.status_code == 200, r.text
    table = {"IN": str(kodak), "MOSAIC": str(tmp_path / "raw.png"), "OUT": str(tmp_path / "o.png")}
    for command in r.headers["X-Restorekit-Command"].split(" && "):
        words = [table.get(w, w) for w in command.split()[1:]]
        subprocess.run(cli(*words), check=True, capture_output=True)
    expected = np.asarray(Image.open(tmp_path / "o.png"))
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(r.content))), expected)
    # the mosaic itself, uploaded: the same result, and the same command without the mosaic step
    raw = _upload(client, (tmp_path / "raw.png").read_bytes())
    assert raw["channels"] == 1
    r2 = client.post("/api/download", json={"token": raw["token"], "settings": settings})
    assert np.array_equal(np.asarray(Image.open(io.BytesIO(r2.content))), expected)
    assert "mosaic" not in r2.headers["X-Restorekit-Command"].replace("demosaic", "")


def test_metrics_against_a_reference_follow_the_task_convention(client, tmp_path, kodak):
    from restorekit.io import read_image
    from restorekit.metrics import psnr

    noisy = tmp_path / "noisy.png"
    subprocess.run(cli("noise", str(kodak), str(noisy), "--sigma", "25"), check=True)
    token = _upload(client, noisy.read_bytes())["token"]
    settings = {"task": "denoise", "sigma": 25}
    none = client.post("/api/metrics", json={"token": token, "settings": settings})
    assert none.status_code == 400 and "reference image first" in none.json()["error"]
    r = client.post(f"/api/reference?token={token}", content=kodak.read_bytes())
    assert r.status_code == 200
    got = client.post("/api/metrics", json={"token": token, "settings": settings}).json()
    out = tmp_path / "out.png"
    subprocess.run(cli("denoise", str(noisy), str(out), "--sigma", "25"), check=True)
    expected = float(psnr(read_image(out).double(), read_image(kodak).double())[0])
    assert abs(got["metrics"]["PSNR (dB)"] - expected) < 1e-6
    grain = client.post("/api/metrics", json={"token": token, "settings": {"task": "grain"}})
    assert grain.status_code == 400 and "judged by statistics" in grain.json()["error"]
    up = client.post("/api/metrics", json={"token": token, "settings": {"task": "upscale"}})
    assert up.status_code == 400 and "the reference must be the output's size" in up.json()["error"]


def test_camera_raw_is_developed_as_restorekit_develop(client, tmp_path):
    from helpers import DATA

    raw = DATA / "raw" / "kodak_dc50.kdc"
    info = _upload(client, raw.read_bytes())
    assert info["raw"] and "camera raw" in info["note"]
    for method in ("learned", "menon"):
        settings = {"task": "demosaic", "method": method}
        r = client.post("/api/download", json={"token": info["token"], "settings": settings})
        assert r.status_code == 200, r.text
        command = r.headers["X-Restorekit-Command"]
        assert command == f"restorekit develop IN OUT --method {method}"
        out = tmp_path / f"{method}.png"
        subprocess.run(cli("develop", str(raw), str(out), "--method", method), check=True)
        ours = np.asarray(Image.open(io.BytesIO(r.content)))
        assert np.array_equal(ours, np.asarray(Image.open(out)))
    view = client.post(
        "/api/view", json={"token": info["token"], "settings": settings, "x": 40, "y": 30}
    )
    assert view.status_code == 200


def test_view_is_a_region_and_changes_with_the_slider(client, kodak):
    token = _upload(client, kodak.read_bytes())["token"]
    digests = set()
    for sigma in (5, 25, 50):
        body = {"token": token, "settings": {"task": "denoise", "sigma": sigma}, "x": 10, "y": 20}
        r = client.post("/api/view", json=body)
        assert r.status_code == 200
        assert Image.open(io.BytesIO(r.content)).size == (500, 500)  # 512 asked, 500 px high
        digests.add(r.headers["X-Digest"])
    assert len(digests) == 3
    # the view's pixels are the download's (the margin covers the receptive field), up to
    # float summation order: a rare rounding flip of one level
    settings = {"task": "denoise", "sigma": 25}
    full = client.post("/api/download", json={"token": token, "settings": settings}).content
    view = client.post("/api/view", json={"token": token, "settings": settings, "x": 64, "y": 32,
                                          "size": 128}).content  # fmt: skip
    a = np.asarray(Image.open(io.BytesIO(full)))[32:160, 64:192]
    d = np.abs(np.asarray(Image.open(io.BytesIO(view))).astype(int) - a)
    assert d.max() <= 1 and d.mean() < 0.01


def test_bad_uploads_give_a_message_and_the_server_keeps_serving(client, kodak):
    for name, (data, needle) in bad_uploads().items():
        r = client.post("/api/upload", content=data)
        if needle.endswith("image") or "converted" in needle:  # accepted, with a note
            assert r.status_code == 200 and needle in r.json()["note"], (name, r.text)
        else:
            assert r.status_code == 400 and needle in r.json()["error"], (name, r.text)
            assert "/tmp" not in r.json()["error"]  # no server path in a message
    assert _upload(client, kodak.read_bytes())["width"] > 0


def test_tabs_never_see_each_others_images_and_settings_are_checked(client, kodak):
    a = _upload(client, kodak.read_bytes())["token"]
    b = _upload(client, kodak.read_bytes())["token"]
    assert a != b and len(a) >= 20
    for body, needle in [
        ({"token": "guess", "settings": {"task": "denoise"}}, "no such image"),
        ({"token": a, "settings": {"task": "denoise", "sigma": 80}}, "sigma must be in [0, 75]"),
        ({"token": a, "settings": {"task": "paint"}}, "unknown task 'paint'"),
        ({"token": a, "settings": {"task": "upscale", "scale": 8}}, "unknown scale 8"),
        ({"token": a, "settings": {"task": "grain", "engine": "../../etc"}}, "unknown engine"),
    ]:
        r = client.post("/api/view", json=body)
        assert r.status_code == 400 and needle in r.json()["error"], r.text
    assert client.post("/api/upload", content=b"x" * 10).status_code == 400
