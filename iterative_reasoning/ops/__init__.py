"""Differentiable region ops: the crop of boxes out of a feature map and its inverse, the
paste of per-region updates back onto the grid."""

from iterative_reasoning.ops.crop import RegionCrop, crop_regions
from iterative_reasoning.ops.interpolation import CROP_MODES, CropMode, crop_kernel, paste_kernel
from iterative_reasoning.ops.paste import Paste, paste_regions
from iterative_reasoning.ops.region_grid import RegionGrid, box_masks, grid_sizes_of

__all__ = [
    "CROP_MODES",
    "CropMode",
    "Paste",
    "RegionCrop",
    "RegionGrid",
    "box_masks",
    "crop_kernel",
    "crop_regions",
    "grid_sizes_of",
    "paste_kernel",
    "paste_regions",
]
