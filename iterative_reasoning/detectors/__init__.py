"""Adapters: the only place a detector's conventions appear. Any backbone or detector plugs in
through :func:`region_batch`; :mod:`~iterative_reasoning.detectors.torchvision` has two real
uses of it."""

from iterative_reasoning.detectors.base import (
    CropRegionClassifier,
    RegionBatch,
    check_box_frame,
    pad_images,
    region_batch,
    rescale_boxes,
    resized_shape,
)
from iterative_reasoning.detectors.small_convnet import SmallConvNetClassifier
from iterative_reasoning.detectors.torchvision import FasterRCNNReasoning, ResNetRegionClassifier

__all__ = [
    "CropRegionClassifier",
    "FasterRCNNReasoning",
    "RegionBatch",
    "ResNetRegionClassifier",
    "SmallConvNetClassifier",
    "check_box_frame",
    "pad_images",
    "region_batch",
    "rescale_boxes",
    "resized_shape",
]
