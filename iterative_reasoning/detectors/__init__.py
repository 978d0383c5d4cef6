"""Adapters: the only place a detector's conventions appear. Any backbone or detector plugs in
through :func:`region_batch`; :mod:`~iterative_reasoning.detectors.torchvision` puts the head
inside torchvision's two-stage detectors (:func:`attach_reasoning_head`), and
:mod:`~iterative_reasoning.models.resnet` is the paper's ResNet-50 region classifier."""

from iterative_reasoning.detectors.base import (
    CropRegionClassifier,
    RegionBatch,
    check_box_frame,
    pad_images,
    region_batch,
    rescale_boxes,
    resized_shape,
)
from iterative_reasoning.detectors.random_inputs import random_detection_batch
from iterative_reasoning.detectors.torchvision import (
    ReasoningRoIHeads,
    attach_reasoning_head,
    check_head_fits,
    detach_reasoning_head,
    feature_strides,
    reasoning_head_for,
)

__all__ = [
    "CropRegionClassifier",
    "ReasoningRoIHeads",
    "RegionBatch",
    "attach_reasoning_head",
    "check_box_frame",
    "check_head_fits",
    "detach_reasoning_head",
    "feature_strides",
    "pad_images",
    "random_detection_batch",
    "reasoning_head_for",
    "region_batch",
    "rescale_boxes",
    "resized_shape",
]
