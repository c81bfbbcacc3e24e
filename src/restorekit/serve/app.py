"""The local web page: a small Starlette app that puts the tasks behind sliders.

Why Starlette and not Gradio: Gradio is the convention for ML demos, but it pulls in a large
stack (FastAPI, a Node-built front end, telemetry, CDN fonts by default) and decides the page's
layout; restorekit needs a before/after split view, a 100 % / 400 % zoom on a region and
bit-exact downloads, offline. Starlette is one small dependency (plus uvicorn to serve it); the
page is one static HTML file with plain JavaScript, no CDN.

Endpoints (JSON errors as ``{"error": "..."}`` with status 400 or 413; the page shows them):

- ``GET /``: the page. ``GET /api/samples``: the bundled sample names.
- ``POST /api/upload`` (the file's bytes as the body) or ``POST /api/sample/{name}``: checks the
  file (size in bytes, type by content, pixels from the header before decoding, decompression
  bombs), decodes it as the CLI does and returns ``{"token", "width", "height", "bits",
  "channels", "note"}``. The token names the image for this tab only (a random 128-bit value;
  each tab keeps its own): two tabs never see each other's images.
- ``POST /api/look`` (a ``.cube`` or Hald CLUT file's bytes): ``{"look": token}`` for the film
  task's settings.
- ``POST /api/reference?token=T`` (an image's bytes): the reference of image T;
  ``POST /api/metrics`` ``{"token", "settings"}``: the whole image run, measured against it in
  the task's convention (:func:`~restorekit.serve.tasks.task_metrics`).
- ``POST /api/view`` ``{"token", "settings", "x", "y", "size"}``: the task run on a region
  (with context around it) -> PNG; ``POST /api/original`` the same region untouched.
- ``POST /api/download`` ``{"token", "settings"}``: the whole image, run as
  ``restorekit`` would (the same library call, the same bit depth) -> PNG.

No path from the client is ever opened: uploads go to a temporary file the server names.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import secrets
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from restorekit.errors import RestorekitError

__all__ = ["MAX_UPLOAD_BYTES", "MAX_UPLOAD_PIXELS", "create_app", "sniff_image"]

#: the largest upload in bytes, and in pixels (width x height, read from the header)
MAX_UPLOAD_BYTES = 64 * 1024 * 1024
MAX_UPLOAD_PIXELS = 40_000_000
#: images kept in memory at once (the oldest is forgotten first)
MAX_IMAGES = 16
#: the view's context margin around the region (covers every shipped network's receptive radius)
VIEW_MARGIN = 48
SAMPLES = ("astronaut", "coffee", "chelsea")
STATIC = Path(__file__).with_name("static")


@dataclass
class _Image:
    x: torch.Tensor  # (1, 3 or 1, H, W) in [0, 1]
    alpha: torch.Tensor | None
    bits: int
    name: str
    reference: torch.Tensor | None = None
    raw: Any = None  # a camera raw (restorekit.io.raw.RawImage): x is its developed preview
    developed: dict = field(default_factory=dict)  # the raw developed, per demosaic method


def sniff_image(data: bytes) -> str:
    """The image type by content (``png``, ``jpeg``, ``tiff``), whatever the file is called."""
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "png"
    if data.startswith(b"\xff\xd8\xff"):
        return "jpeg"
    if data[:4] in (b"II*\x00", b"MM\x00*"):
        return "tiff"
    raise RestorekitError("not a PNG, JPEG or TIFF image (checked by content, not by name)")


def _header_size(data: bytes, kind: str) -> tuple[int, int, str]:
    """(width, height, mode) from the header alone, before any pixel is decoded."""
    from PIL import Image

    try:
        with Image.open(io.BytesIO(data)) as im:
            return im.size[0], im.size[1], im.mode
    except Image.DecompressionBombError:
        raise RestorekitError(
            "the image is too large: its header declares more pixels than a decompression-bomb "
            "check allows"
        ) from None
    except Exception:
        raise RestorekitError(f"this {kind.upper()} file is corrupt or truncated") from None


def check_upload(data: bytes, max_bytes: int, max_pixels: int) -> tuple[str, str]:
    """Refuse a bad upload with one message; return (type, a note for the page)."""
    if not data:
        raise RestorekitError("the upload is empty")
    if len(data) > max_bytes:
        raise RestorekitError(f"the file is over the {max_bytes // 2**20} MB limit")
    kind = sniff_image(data)
    width, height, mode = _header_size(data, kind)
    if width * height > max_pixels:
        raise RestorekitError(
            f"the image is too large: {width}x{height} ({width * height / 1e6:.0f} megapixels), "
            f"over the {max_pixels / 1e6:g} megapixel limit"
        )
    return kind, "CMYK image: converted to RGB" if mode == "CMYK" else ""


def _decode(data: bytes, kind: str) -> tuple[torch.Tensor, int]:
    """Decode as the CLI does (``restorekit.io``), through a temporary file the server names."""
    from restorekit.io import read_image_with_depth

    fd, name = tempfile.mkstemp(suffix={"png": ".png", "jpeg": ".jpg", "tiff": ".tif"}[kind])
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            return read_image_with_depth(name, mode="alpha")
        except RestorekitError as e:  # the message names the file: not the server's path
            raise RestorekitError(str(e).replace(f"'{name}'", "the upload")) from None
    finally:
        os.unlink(name)


def _read_look(data: bytes, max_pixels: int) -> Any:
    """An uploaded look: a Hald CLUT image (PNG / TIFF, by content) or a ``.cube`` text."""
    from restorekit.film.lut import read_lut

    try:
        kind = sniff_image(data)
    except RestorekitError:
        kind = "cube"
    if kind == "jpeg":
        raise RestorekitError("a look is a .cube file or a Hald CLUT image (PNG or TIFF)")
    if kind != "cube":
        check_upload(data, len(data), max_pixels)
    suffix = {"cube": ".cube", "png": ".png", "tiff": ".tif"}[kind]
    fd, name = tempfile.mkstemp(suffix=suffix)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            return read_lut(name)
        except RestorekitError as e:  # the message names the file: not the server's path
            message = str(e).replace(f"'{name}'", "the look").replace(name, "the look")
            raise RestorekitError(message) from None
    finally:
        os.unlink(name)


def _view_png(x: torch.Tensor) -> bytes:
    """An 8-bit PNG for the page's view, encoded for speed (zlib level 1), in memory."""
    from PIL import Image

    from restorekit.io import to_numpy

    buf = io.BytesIO()
    Image.fromarray(to_numpy(x, bits=8)).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def _read_camera_raw(data: bytes, max_pixels: int) -> Any:
    """A camera raw LibRaw reads (DNG, NEF, CR2, ARW, KDC, ...), or None when it is not one."""
    try:
        from restorekit.io.raw import read_raw
    except ImportError:  # rawpy missing: raws are not offered
        return None
    fd, name = tempfile.mkstemp(suffix=".raw")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        try:
            raw = read_raw(name)
        except RestorekitError:
            return None
    finally:
        os.unlink(name)
    if raw.mosaic.shape[-1] * raw.mosaic.shape[-2] > max_pixels:
        raise RestorekitError(f"the raw is over the {max_pixels / 1e6:g} megapixel limit")
    return raw


def _png(x: torch.Tensor, bits: int = 8) -> bytes:
    from restorekit.io import write_image

    fd, name = tempfile.mkstemp(suffix=".png")
    os.close(fd)
    try:
        write_image(name, x, bits=bits)
        return Path(name).read_bytes()
    finally:
        os.unlink(name)


def create_app(max_bytes: int = MAX_UPLOAD_BYTES, max_pixels: int = MAX_UPLOAD_PIXELS) -> Any:
    """The Starlette application (serve it with uvicorn: ``restorekit serve``)."""
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import FileResponse, JSONResponse, Response
    from starlette.routing import Route

    from restorekit.serve.tasks import (
        cli_command,
        develop_raw,
        is_rgb_photo,
        parse_settings,
        run_task,
        task_metrics,
    )

    images: OrderedDict[str, _Image] = OrderedDict()
    looks: OrderedDict[str, Any] = OrderedDict()
    lock = threading.Lock()
    work = threading.Lock()  # one computation at a time: the machine has few cores

    def error(message: str, status: int = 400) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    def keep(x: torch.Tensor, bits: int, name: str, note: str, raw: Any = None) -> JSONResponse:
        alpha = None
        if x.shape[1] == 4:
            x, alpha = x[:, :3], x[:, 3:]
        token = secrets.token_urlsafe(16)
        with lock:
            images[token] = _Image(x, alpha, bits, name, raw=raw)
            while len(images) > MAX_IMAGES:
                images.popitem(last=False)
        H, W = x.shape[-2:]
        info = {"token": token, "width": W, "height": H, "bits": bits, "channels": x.shape[1]}
        info["raw"] = raw is not None
        return JSONResponse({**info, "note": note})

    def image_of(body: dict) -> _Image:
        token = body.get("token")
        with lock:
            found = images.get(token) if isinstance(token, str) else None
        if found is None:
            raise RestorekitError(
                "no such image (expired, or uploaded in another tab): upload it again"
            )
        return found

    async def body_json(request: Request) -> dict:
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            raise RestorekitError("the request is not JSON") from None
        if not isinstance(body, dict):
            raise RestorekitError("the request must be a JSON object")
        return body

    def look_of(settings: Any) -> Any:
        token = settings.values.get("look")
        if not token:
            return None
        with lock:
            found = looks.get(token)
        if found is None:
            raise RestorekitError("no such look (expired, or uploaded in another tab)")
        return found

    async def read_body(request: Request) -> bytes | None:
        """The request's bytes, or None when over the byte limit."""
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > max_bytes:
            return None
        data = bytearray()
        async for chunk in request.stream():
            data += chunk
            if len(data) > max_bytes:
                return None
        return bytes(data)

    def developed(img: _Image, settings: Any) -> torch.Tensor:
        """The raw developed with the settings' method, once per method (views reuse it)."""
        method = settings.values["method"]
        if method not in img.developed:
            img.developed[method] = develop_raw(img.raw, settings)
        return img.developed[method]

    async def page(request: Request) -> Response:
        return FileResponse(STATIC / "index.html", media_type="text/html")

    async def samples(request: Request) -> Response:
        return JSONResponse({"samples": list(SAMPLES)})

    async def upload(request: Request) -> Response:
        data = await read_body(request)
        if data is None:
            return error(f"the file is over the {max_bytes // 2**20} MB limit", 413)
        try:
            raw = None
            if not data.startswith((b"\x89PNG", b"\xff\xd8\xff")):
                raw = _read_camera_raw(bytes(data), max_pixels)
            if raw is not None:
                from restorekit.io.raw import develop
                from restorekit.tasks import DemosaicTask

                preview, info = develop(raw, DemosaicTask().methods()["learned"], method="learned")
                note = f"camera raw, CFA {info['cfa']}: developed (demosaic: learned)"
                return keep(preview, 8, "raw", note, raw=raw)
            kind, note = check_upload(bytes(data), max_bytes, max_pixels)
            x, bits = _decode(bytes(data), kind)
            if bits == 16:
                note = "16-bit image: shown at 8 bits, downloads keep 16 bits"
            if x.shape[1] not in (1, 3, 4):
                raise RestorekitError(f"images with {x.shape[1]} channels are not supported")
        except RestorekitError as e:
            return error(str(e))
        return keep(x, bits, "upload", note)

    async def upload_look(request: Request) -> Response:
        data = await read_body(request)
        if data is None:
            return error(f"the file is over the {max_bytes // 2**20} MB limit", 413)
        try:
            lut = _read_look(data, max_pixels)
        except RestorekitError as e:
            return error(str(e))
        token = secrets.token_urlsafe(16)
        with lock:
            looks[token] = lut
            while len(looks) > MAX_IMAGES:
                looks.popitem(last=False)
        return JSONResponse({"look": token, "size": lut.size})

    async def upload_reference(request: Request) -> Response:
        data = await read_body(request)
        if data is None:
            return error(f"the file is over the {max_bytes // 2**20} MB limit", 413)
        try:
            img = image_of({"token": request.query_params.get("token")})
            kind, _ = check_upload(data, max_bytes, max_pixels)
            ref, _ = _decode(data, kind)
        except RestorekitError as e:
            return error(str(e))
        img.reference = ref[:, :3]
        return JSONResponse({"width": ref.shape[-1], "height": ref.shape[-2]})

    async def metrics(request: Request) -> Response:
        try:
            body = await body_json(request)
            img = image_of(body)
            settings = parse_settings(body.get("settings"))
            if img.reference is None:
                raise RestorekitError("give a reference image first")
            with work:
                out = run_task(img.x, settings, look_of(settings))
            values = task_metrics(out, img.reference, settings)
        except RestorekitError as e:
            return error(str(e))
        return JSONResponse({"metrics": values})

    async def sample(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in SAMPLES:
            return error(f"unknown sample {name!r}; known: {', '.join(SAMPLES)}")
        import numpy as np
        import skimage.data

        from restorekit.io import from_numpy

        return keep(from_numpy(np.asarray(getattr(skimage.data, name)())), 8, name, "")

    def region(img: _Image, body: dict, scale: int) -> tuple[int, int, int]:
        H, W = img.x.shape[-2:]
        size = body.get("size", 512)
        x0, y0 = body.get("x", 0), body.get("y", 0)
        for v in (size, x0, y0):
            if isinstance(v, bool) or not isinstance(v, int):
                raise RestorekitError("x, y and size must be integers")
        side = max(8, min(size // scale, 1024, H, W))
        # even offsets: a Bayer mosaic's phase is kept in the region
        return max(0, min(x0, W - side)) // 2 * 2, max(0, min(y0, H - side)) // 2 * 2, side

    async def view(request: Request) -> Response:
        try:
            body = await body_json(request)
            img = image_of(body)
            settings = parse_settings(body.get("settings"))
            scale = settings.values.get("scale", 1)
            x0, y0, side = region(img, body, scale)
            H, W = img.x.shape[-2:]
            m = VIEW_MARGIN
            t0, l0 = max(0, y0 - m), max(0, x0 - m)
            crop = img.x[..., t0 : min(H, y0 + side + m), l0 : min(W, x0 + side + m)]
            with work:
                if img.raw is not None and settings.task == "demosaic":
                    out = developed(img, settings)[..., t0:, l0:]
                else:
                    out = run_task(crop, settings, look_of(settings))
            top, left = (y0 - t0) * scale, (x0 - l0) * scale
            out = out[..., top : top + side * scale, left : left + side * scale]
        except RestorekitError as e:
            return error(str(e))
        png = _view_png(out)
        digest = hashlib.sha256(png).hexdigest()[:16]
        return Response(png, media_type="image/png", headers={"X-Digest": digest})

    async def original(request: Request) -> Response:
        try:
            body = await body_json(request)
            img = image_of(body)
            scale = int(body.get("scale", 1)) if body.get("scale", 1) in (1, 2, 3, 4) else 1
            x0, y0, side = region(img, body, scale)
            crop = img.x[..., y0 : y0 + side, x0 : x0 + side]
            if scale > 1:
                crop = torch.nn.functional.interpolate(crop, scale_factor=scale, mode="nearest")
        except RestorekitError as e:
            return error(str(e))
        return Response(_view_png(crop), media_type="image/png")

    async def download(request: Request) -> Response:
        from restorekit.io import attach_alpha

        try:
            body = await body_json(request)
            img = image_of(body)
            settings = parse_settings(body.get("settings"))
            with work:
                if img.raw is not None and settings.task == "demosaic":
                    out = developed(img, settings)
                else:
                    out = attach_alpha(run_task(img.x, settings, look_of(settings)), img.alpha)
        except RestorekitError as e:
            return error(str(e))
        words, options = cli_command(settings)
        command = " ".join(["restorekit", *words, "IN", "OUT", *options])
        if img.raw is not None and settings.task == "demosaic":
            command = f"restorekit develop IN OUT --method {settings.values['method']}"
        elif settings.task == "demosaic" and is_rgb_photo(img.x):
            cfa = settings.values["cfa"]
            command = f"restorekit mosaic IN MOSAIC --cfa {cfa} && " + command.replace(
                " IN ", " MOSAIC ", 1
            )
        headers = {
            "Content-Disposition": f'attachment; filename="{img.name}-{settings.task}.png"',
            "X-Restorekit-Command": command,
        }
        return Response(_png(out, img.bits), media_type="image/png", headers=headers)

    routes = [
        Route("/", page),
        Route("/api/samples", samples),
        Route("/api/upload", upload, methods=["POST"]),
        Route("/api/sample/{name}", sample, methods=["POST"]),
        Route("/api/look", upload_look, methods=["POST"]),
        Route("/api/reference", upload_reference, methods=["POST"]),
        Route("/api/metrics", metrics, methods=["POST"]),
        Route("/api/view", view, methods=["POST"]),
        Route("/api/original", original, methods=["POST"]),
        Route("/api/download", download, methods=["POST"]),
    ]
    return Starlette(routes=routes)
