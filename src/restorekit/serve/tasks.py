"""What the local web page runs: each task's settings, checked, and the library call the command
line makes for them (so a download equals the CLI's output for the same settings, bit for bit).

Every setting arrives from the page as JSON; :func:`run_task` validates it (one clear message
per mistake, as a :class:`~restorekit.errors.RestorekitError`) and never takes a path.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import torch

from restorekit.errors import RestorekitError

__all__ = [
    "TASKS",
    "Settings",
    "cli_command",
    "develop_raw",
    "is_rgb_photo",
    "parse_settings",
    "run_task",
    "task_metrics",
]

#: the tasks on the page and their controls
TASKS = ("denoise", "demosaic", "grain", "film", "upscale")
CFAS = ("RGGB", "BGGR", "GRBG", "GBRG")
DEMOSAIC_METHODS = ("learned", "menon", "mhc", "bilinear")
DENOISE_METHODS = ("learned", "tv", "nlm-skimage")
#: "default": the shipped calibrated gray or colour model; "oct": the self-supervised OCT model
DENOISE_MODELS = ("default", "oct")
GRAIN_ENGINES = ("learned", "gaussian", "boolean")
UPSCALE_SCALES = (2, 3, 4)


@dataclass(frozen=True)
class Settings:
    """One task's settings, checked."""

    task: str
    values: dict[str, Any]


def _number(raw: dict, key: str, lo: float, hi: float, default: float) -> float:
    value = raw.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise RestorekitError(f"{key} must be a number, got {value!r}")
    if not lo <= value <= hi:
        raise RestorekitError(f"{key} must be in [{lo:g}, {hi:g}], got {value:g}")
    return float(value)


def _choice(raw: dict, key: str, known: tuple, default: Any) -> Any:
    value = raw.get(key, default)
    if value not in known:
        raise RestorekitError(f"unknown {key} {value!r}; known: {', '.join(map(str, known))}")
    return value


def parse_settings(raw: Any) -> Settings:
    """Check the page's JSON ``{"task": ..., ...}`` and fill in the defaults."""
    from restorekit.film.tone import TONE_PRESETS

    if not isinstance(raw, dict):
        raise RestorekitError("settings must be a JSON object")
    task = _choice(raw, "task", TASKS, None)
    if task == "denoise":
        auto = raw.get("sigma") == "auto"
        values = {
            "method": _choice(raw, "method", DENOISE_METHODS, "learned"),
            "sigma": "auto" if auto else _number(raw, "sigma", 0, 75, 25),
            "model": _choice(raw, "model", DENOISE_MODELS, "default"),
        }
        if values["model"] == "oct" and values["method"] != "learned":
            raise RestorekitError("the OCT model is a learned denoiser: use method 'learned'")
    elif task == "demosaic":
        values = {
            "cfa": _choice(raw, "cfa", CFAS, "RGGB"),
            "method": _choice(raw, "method", DEMOSAIC_METHODS, "learned"),
        }
    elif task == "grain":
        values = {
            "engine": _choice(raw, "engine", GRAIN_ENGINES, "learned"),
            "radius": _number(raw, "radius", 0.3, 1.0, 0.5),
            "blur": _number(raw, "blur", 0.5, 1.4, 0.8),
            "amount": _number(raw, "amount", 0, 1, 0.5),
            "seed": int(_number(raw, "seed", 0, 2**31 - 1, 0)),
        }
    elif task == "film":
        look = raw.get("look")
        if look is not None and not isinstance(look, str):
            raise RestorekitError("look must be the token of an uploaded look, or null")
        values = {
            "look": look,
            "strength": _number(raw, "strength", 0, 1, 1.0),
            "tone": _choice(raw, "tone", tuple(TONE_PRESETS), "soft-negative"),
            "grain_amount": _number(raw, "grain_amount", 0, 1, 0.35),
            "seed": int(_number(raw, "seed", 0, 2**31 - 1, 0)),
        }
    else:
        values = {"scale": int(_choice(raw, "scale", UPSCALE_SCALES, 2))}
    return Settings(task, values)


def cli_command(settings: Settings) -> tuple[list[str], list[str]]:
    """The ``restorekit`` command and its options (``restorekit CMD IN OUT OPTIONS``) that give
    the same output (for demosaic: from the mosaic, ``restorekit mosaic`` of an RGB image)."""
    v = settings.values
    if settings.task == "demosaic":
        return ["demosaic"], ["--cfa", v["cfa"], "--method", v["method"]]
    if settings.task == "denoise":
        if v["model"] == "oct":
            return ["denoise"], ["--model", "oct"]
        sigma = "auto" if v["sigma"] == "auto" else f"{v['sigma']:g}"
        return ["denoise"], ["--method", v["method"], "--sigma", sigma]
    if settings.task == "grain":
        return ["grain", "render"], [
            "--engine", v["engine"], "--radius", f"{v['radius']:g}", "--blur", f"{v['blur']:g}",
            "--amount", f"{v['amount']:g}", "--seed", str(v["seed"]),
        ]  # fmt: skip
    if settings.task == "film":
        amount = f"{v['grain_amount']:g}"
        look = ["--look", "LOOK", "--strength", f"{v['strength']:g}"] if v["look"] else []
        return ["film"], [
            *look, "--tone", v["tone"], "--grain-amount", amount, "--seed", str(v["seed"]),
        ]  # fmt: skip
    return ["upscale"], ["--scale", str(v["scale"])]


def run_task(x: torch.Tensor, settings: Settings, look: Any = None) -> torch.Tensor:
    """The task's output for the RGB or gray image ``x`` ``(1, C, H, W)``, as the CLI makes it
    (``look``: the film task's LUT, read from the uploaded look file)."""
    v = settings.values
    if settings.task == "denoise":
        if v["model"] == "oct":
            return _denoise_oct(x)
        return _denoise(x, v["method"], v["sigma"])
    if settings.task == "demosaic":
        from restorekit.degrade import mosaic, parse_cfa
        from restorekit.tasks import DemosaicTask

        cfa = parse_cfa(v["cfa"])
        raw = mosaic(x, cfa) if is_rgb_photo(x) else x[:, :1]
        return DemosaicTask().methods()[v["method"]](raw, cfa).clamp(0, 1)
    if settings.task == "grain":
        from restorekit.film.boolean import BooleanGrain
        from restorekit.film.pipeline import blend_grain, render_grain

        params = [BooleanGrain(radius=v["radius"], blur=v["blur"])] * x.shape[1]
        g = torch.Generator().manual_seed(v["seed"])
        y = render_grain(v["engine"], x, params, g)
        return y if v["amount"] == 1 else blend_grain(x, y, v["amount"])
    if settings.task == "film":
        from restorekit.film.boolean import BooleanGrain
        from restorekit.film.pipeline import film_pipeline, render_grain
        from restorekit.film.tone import tone_preset

        _need_rgb(x, "film")
        g = torch.Generator().manual_seed(v["seed"])
        params = [BooleanGrain(radius=0.5, blur=0.8)] * 3

        def grain(t: torch.Tensor) -> torch.Tensor:
            return render_grain("learned", t, params, g)

        tone = tone_preset(v["tone"])
        return film_pipeline(x, look, v["strength"], tone, grain, grain_amount=v["grain_amount"])
    from restorekit.models.sr import load_upscaler, upscale_learned

    _need_rgb(x, "upscale")
    return upscale_learned(x, model=load_upscaler(v["scale"])).clamp(0, 1)


def _need_rgb(x: torch.Tensor, task: str) -> None:
    if x.shape[1] != 3:
        raise RestorekitError(f"{task} needs an RGB image, this one has {x.shape[1]} channel(s)")


def _denoise(x: torch.Tensor, method: str, sigma: float | str) -> torch.Tensor:
    from restorekit.tasks.denoise import auto_sigma, denoise_image

    sigma = auto_sigma(x) if sigma == "auto" else sigma
    return x.clone() if sigma == 0 else denoise_image(x, sigma, method)


def _denoise_oct(x: torch.Tensor) -> torch.Tensor:
    """The shipped self-supervised OCT model (blind), as ``restorekit denoise --model oct``."""
    from restorekit.models.pretrained import load_shipped_denoiser
    from restorekit.tasks.denoise import denoise_image

    model, cal = load_shipped_denoiser("oct")
    if x.shape[1] != model.in_channels:
        raise RestorekitError(
            f"the OCT model takes gray B-scans; this image has {x.shape[1]} channels"
        )
    return denoise_image(x, None, "learned", model, cal, level=0.0)


def is_rgb_photo(x: torch.Tensor) -> bool:
    """An RGB image that is not a gray mosaic stored as RGB: the demosaic task mosaics it
    first (as ``restorekit mosaic``), to show what demosaicing recovers."""
    return x.shape[1] == 3 and not torch.equal(x[:, :1].expand_as(x), x)


def task_metrics(out: torch.Tensor, reference: torch.Tensor, settings: Settings) -> dict[str, Any]:
    """The task's metrics of the output against a reference, in the convention its benchmark
    uses (the output rounded to 8 bits first, as the downloaded file holds it).

    - denoise: PSNR and SSIM (Wang et al. 2004) on RGB or gray;
    - demosaic: CPSNR with a 10-pixel border;
    - upscale: PSNR and SSIM on BT.601 Y with ``scale`` pixels cropped (the SR convention);
    - grain and film: none (grain is random: judged by statistics, not pixel by pixel).
    """
    from restorekit.metrics import cpsnr, psnr, ssim

    task = settings.task
    if task in ("grain", "film"):
        raise RestorekitError(
            "film grain is random: it is judged by statistics (spectrum, variance), not against "
            "a reference pixel by pixel"
        )
    if reference.shape[1] != out.shape[1] or reference.shape[-2:] != out.shape[-2:]:
        h, w = out.shape[-2:]
        raise RestorekitError(
            f"the reference must be the output's size and channels ({w}x{h}, {out.shape[1]} "
            f"channel(s)), got {reference.shape[-1]}x{reference.shape[-2]}, "
            f"{reference.shape[1]} channel(s)"
        )
    y = (out.double() * 255).round() / 255
    ref = reference.double()
    if task == "demosaic":
        return {"CPSNR (dB, 10-px border)": float(cpsnr(y, ref)[0])}
    if task == "upscale":
        s = settings.values["scale"]
        return {
            f"PSNR Y (dB, crop {s})": float(psnr(y, ref, crop=s, y_only=True)[0]),
            f"SSIM Y (crop {s})": float(ssim(y, ref, crop=s, y_only=True)[0]),
        }
    return {"PSNR (dB)": float(psnr(y, ref)[0]), "SSIM": float(ssim(y, ref)[0])}


def develop_raw(raw: Any, settings: Settings) -> torch.Tensor:
    """A camera raw developed with the demosaic task's method, as ``restorekit develop``
    (camera white balance, colour matrix, sRGB; the CFA comes from the file)."""
    from restorekit.io.raw import develop
    from restorekit.tasks import DemosaicTask

    method = settings.values["method"]
    rgb, _ = develop(raw, DemosaicTask().methods()[method], method=method)
    return rgb
