"""The super-resolution task, bicubic degradation, scored on the Y channel.

Convention (REFERENCE.md, as the SR literature since SRCNN): the 8-bit RGB HR image is cropped
to a multiple of the scale; LR = MATLAB-compatible bicubic downscale, rounded to 8 bit; the SR
output is rounded to 8 bit; PSNR and SSIM on the BT.601 studio-range Y channel
(Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255 on 0..255, as MATLAB ``rgb2ycbcr``) with
``scale`` pixels cropped on every side.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import torch

from restorekit._checks import check_positive
from restorekit.errors import RestorekitError
from restorekit.io import from_numpy
from restorekit.tasks.base import Condition, Pair, quantize

__all__ = ["PUBLISHED", "SRTask", "bicubic_lr"]

#: published Y-PSNR (dB) of light models, (Set5, Set14) at x2, x3, x4, and their parameters at
#: x4, as tabulated by Hui et al., "Lightweight image super-resolution with information
#: multi-distillation network" (IMDN), ACM MM 2019, Table 2 (trained on 91 images + General-100,
#: or DIV2K)
PUBLISHED: dict[str, dict[str, Any]] = {
    "FSRCNN": {"params": "12K", 2: (37.00, 32.63), 3: (33.16, 29.43), 4: (30.71, 27.59)},
    "CARN-M": {"params": "412K", 2: (37.53, 33.26), 3: (33.99, 30.08), 4: (31.92, 28.42)},
    "IMDN": {"params": "715K", 2: (38.00, 33.63), 3: (34.36, 30.32), 4: (32.21, 28.58)},
}


def bicubic_lr(hr: torch.Tensor, scale: int) -> torch.Tensor:
    """The convention's LR image: HR cropped to a multiple of ``scale``, MATLAB-bicubic downscaled
    and rounded to 8 bits (what training pairs and benchmark inputs both use).

    Example:
        >>> bicubic_lr(torch.rand(1, 3, 50, 41), 4).shape
        torch.Size([1, 3, 12, 10])
    """
    from restorekit.degrade.resize import imresize

    H, W = hr.shape[-2:]
    hr = hr[..., : H - H % scale, : W - W % scale]
    return quantize(imresize(hr, scale=1 / scale))


class SRTask:
    """Bicubic super-resolution at x2, x3, x4 by default.

    Example:
        >>> task = SRTask()
        >>> cond = task.conditions([4])[0]
        >>> pair = next(task.pairs([("x", np.zeros((50, 41, 3), np.uint8))], cond))
        >>> tuple(pair.target.shape), tuple(pair.input.shape)
        ((1, 3, 48, 40), (1, 3, 12, 10))
    """

    name = "sr"
    #: the learned method is another network at each scale: time each scale on its own
    speed_by_condition = True
    default_datasets = ("test/color/Set5", "test/color/Set14")
    metric_names = ("psnr_y", "ssim_y")
    convention = (
        "HR RGB uint8 cropped to a multiple of the scale; LR = MATLAB-compatible bicubic "
        "(antialiased) downscale rounded to 8 bit; SR rounded to 8 bit; PSNR / SSIM on BT.601 "
        "studio-range Y (MATLAB rgb2ycbcr) with `scale` pixels cropped on every side."
    )

    def conditions(self, values: list[Any] | None = None) -> list[Condition]:
        out = []
        for v in values or [2, 3, 4]:
            s = check_positive(v, "scale", allow_zero=False)
            if s != int(s) or s < 2:
                raise RestorekitError(f"scale must be an integer >= 2, got {v}")
            out.append(Condition("scale", int(s)))
        return out

    def methods(self) -> dict[str, Callable[..., torch.Tensor]]:
        from restorekit.classical.upscale import UPSCALERS
        from restorekit.models.sr import upscale_learned

        return {"learned": lambda x, s: upscale_learned(x, int(s)), **UPSCALERS}

    def pairs(self, images: list[tuple[str, np.ndarray]], cond: Condition) -> Iterator[Pair]:
        s = cond.value
        for name, arr in images:
            hr = from_numpy(arr, dtype=torch.float64)
            if hr.shape[1] == 1:
                hr = hr.expand(-1, 3, -1, -1).contiguous()
            H, W = hr.shape[-2:]
            yield Pair(name, bicubic_lr(hr, s), hr[..., : H - H % s, : W - W % s])

    def run(self, method: str, pair: Pair, cond: Condition) -> torch.Tensor:
        return self.methods()[method](pair.input, cond.value)

    def report_notes(self, methods: list[str], conditions: list[Condition]) -> str:
        """Markdown: the shipped models' size and cost per scale, and published values."""
        from restorekit.models import describe
        from restorekit.models.sr import load_upscaler
        from restorekit.reports import markdown_table

        scales = [c.value for c in conditions]
        out = []
        if "learned" in methods:
            rows = []
            for s in scales:
                net = load_upscaler(s)
                d = describe(net, torch.rand(1, 3, 64, 64))
                rows.append([f"x{s}", f"{d['params']:,}", f"{d['macs_per_pixel'] / 1e3:.1f} K"])
            out += [
                "## The learned models",
                "",
                markdown_table(["scale", "parameters", "MACs per output pixel"], rows),
                "",
            ]
        rows = [
            [name, v["params"], *(f"{v[s][0]:.2f} / {v[s][1]:.2f}" for s in scales if s in v)]
            for name, v in PUBLISHED.items()
        ]
        heads = [
            "published",
            "params (x4)",
            *(f"Set5 / Set14 x{s}" for s in scales if s in (2, 3, 4)),
        ]
        out += [
            "## Published light models, for orientation",
            "",
            "As tabulated by IMDN (Hui et al. 2019, Table 2); trained on other data (DIV2K or "
            "91 + General-100 images) for far longer than ours.",
            "",
            markdown_table(heads, rows),
        ]
        return "\n".join(out)

    def score(self, output: torch.Tensor, pair: Pair, cond: Condition) -> dict[str, float]:
        from restorekit.metrics import psnr, ssim

        out = quantize(output.to(pair.target.dtype))
        s = cond.value
        return {
            "psnr_y": float(psnr(out, pair.target, crop=s, y_only=True)[0]),
            "ssim_y": float(ssim(out, pair.target, crop=s, y_only=True)[0]),
        }
