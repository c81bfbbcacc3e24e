"""Unpack training images carried to a lent GPU machine into ``../shared/data/train/color``.

The device tool carries at most 64 MiB per call, so ``../shared/data/train/color`` travels in
parts (``.gpudata/pN/<set>/``): CBSD432's JPEGs as they are, the PNG sets as lossless WebP (a third
smaller). This writes every image back in its original format and name (WebP -> PNG, the same
pixels), so the training configs read the same folders with the same sorted names as on the CPU.

    python3 benchmarks/device/unpack_train_color.py .gpudata/p1 ../shared/data/train/color
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from PIL import Image


def unpack(src: Path, dest: Path) -> int:
    count = 0
    for folder in sorted(p for p in src.iterdir() if p.is_dir()):
        out = dest / folder.name
        out.mkdir(parents=True, exist_ok=True)
        for f in sorted(folder.iterdir()):
            if f.suffix.lower() == ".webp":
                Image.open(f).save(out / f"{f.stem}.png", compress_level=1)
            else:
                shutil.copy(f, out / f.name)
            count += 1
    return count


if __name__ == "__main__":
    n = unpack(Path(sys.argv[1]), Path(sys.argv[2]))
    print(f"{sys.argv[1]}: {n} images")
