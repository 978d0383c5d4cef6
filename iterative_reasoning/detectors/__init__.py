"""Adapters: the only place a detector's conventions appear. Any backbone or detector plugs in
through :func:`region_batch`; :mod:`~iterative_reasoning.detectors.torchvision` puts the head
inside torchvision's two-stage detectors (:func:`attach_reasoning_head`), and the adapters of
:mod:`~iterative_reasoning.detectors.transformers` and
:mod:`~iterative_reasoning.detectors.ultralytics` around the DETR family and YOLO. Every
family meets one contract (:func:`contract_of`), and :func:`reasoning_head_for` sizes a head
for a detector of any of them."""

from iterative_reasoning.detectors.contract import contract_of, reasoning_head_for
from iterative_reasoning.detectors.torchvision import (
    ReasoningRoIHeads,
    attach_reasoning_head,
    check_head_fits,
    detach_reasoning_head,
    feature_strides,
    scriptable,
)
from iterative_reasoning.nn.region_batch import RegionBatch, check_box_frame, region_batch
from iterative_reasoning.ops.geometry import pad_images, rescale_boxes, resized_shape

__all__ = [
    "ReasoningRoIHeads",
    "RegionBatch",
    "attach_reasoning_head",
    "check_box_frame",
    "check_head_fits",
    "contract_of",
    "detach_reasoning_head",
    "feature_strides",
    "pad_images",
    "reasoning_head_for",
    "region_batch",
    "rescale_boxes",
    "resized_shape",
    "scriptable",
]
