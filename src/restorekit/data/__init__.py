"""Training data: image folders decoded once into memory, random patches, hard-patch mining."""

from __future__ import annotations

from restorekit.data.noisy import NoiseModel, NoisyPatches, frame_groups
from restorekit.data.patches import (
    HardPatchMiner,
    ImageBank,
    PatchBatch,
    color_augment,
    dihedral,
    sample_patches,
)

__all__ = [
    "HardPatchMiner",
    "ImageBank",
    "NoiseModel",
    "NoisyPatches",
    "PatchBatch",
    "color_augment",
    "dihedral",
    "frame_groups",
    "sample_patches",
]
