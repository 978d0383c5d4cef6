"""Differentiable region ops: the crop of boxes out of a feature map and its inverse, the
paste of per-region updates back onto the grid.

Like torchvision's ``roi_align``, the ops check shapes, not values: a non-finite feature comes
out non-finite where it is read (a deliberate pass-through, tested). The public entry points
that take user data (the head, the global module, :func:`~iterative_reasoning.graph.
build_reasoning_graph`, the metrics) refuse non-finite values.
"""

from iterative_reasoning.ops.crop import RegionCrop, crop_regions
from iterative_reasoning.ops.geometry import pad_images, rescale_boxes, resized_shape
from iterative_reasoning.ops.interpolation import CROP_MODES, CropMode, crop_kernel, paste_kernel
from iterative_reasoning.ops.masks import box_masks
from iterative_reasoning.ops.paste import Paste, paste_regions
from iterative_reasoning.ops.region_grid import RegionGrid, grid_sizes_of

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
    "pad_images",
    "rescale_boxes",
    "resized_shape",
]
