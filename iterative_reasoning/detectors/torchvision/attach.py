"""Putting the reasoning head into a built torchvision detector, and taking it out again."""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor, nn
from torchvision.models.detection.generalized_rcnn import GeneralizedRCNN
from torchvision.models.detection.roi_heads import RoIHeads

from iterative_reasoning.detectors._common import check_head_sizes
from iterative_reasoning.detectors.torchvision.roi_heads import (
    DEFAULT_REASONED_BOXES,
    ReasoningRoIHeads,
    TrainOn,
)
from iterative_reasoning.nn.reasoning_head import IterativeReasoningHead


def attach_reasoning_head(
    detector: GeneralizedRCNN,
    head: IterativeReasoningHead,
    *,
    feature_level: str | None = None,
    reasoned_boxes: int | None = DEFAULT_REASONED_BOXES,
    train_on: TrainOn = "proposals",
    loss_weight: float = 1.0,
) -> GeneralizedRCNN:
    """Put ``head`` into a torchvision two-stage detector: its ``roi_heads`` become a
    :class:`ReasoningRoIHeads` with the same parts and settings. The detector is changed in
    place and returned; it keeps its class and torchvision's interface.

    Args:
        detector: a :class:`~torchvision.models.detection.FasterRCNN` (``fasterrcnn_*``),
            :class:`~torchvision.models.detection.MaskRCNN` or
            :class:`~torchvision.models.detection.KeypointRCNN`, built by torchvision or on a
            backbone of one's own.
        head: the reasoning head, for the detector's classes (background included), the
            channels of its stride-16 feature map (``detector.backbone.out_channels``) and its
            box representation (``box_predictor.cls_score.in_features``).
        feature_level, reasoned_boxes, train_on, loss_weight: see :class:`ReasoningRoIHeads`.

    Example:
        >>> import torch
        >>> from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn
        >>> detector = fasterrcnn_mobilenet_v3_large_fpn(
        ...     weights=None, weights_backbone=None, num_classes=4, min_size=160, max_size=160)
        >>> from iterative_reasoning.detectors import reasoning_head_for
        >>> head = reasoning_head_for(detector, "local", fc_channels=64, memory_channels=16)
        >>> head.spatial_scale  # this backbone's maps are all at stride 32
        0.03125
        >>> detector = attach_reasoning_head(detector, head).eval()
        >>> detections = detector([torch.rand(3, 120, 150)])
        >>> sorted(detections[0])
        ['boxes', 'detector_scores', 'labels', 'scores']
    """
    if not isinstance(detector, GeneralizedRCNN) or not isinstance(
        getattr(detector, "roi_heads", None), RoIHeads
    ):
        raise TypeError(
            "detector must be a torchvision two-stage detector (FasterRCNN, MaskRCNN, "
            f"KeypointRCNN) with RoIHeads, got {type(detector).__name__}"
        )
    if isinstance(detector.roi_heads, ReasoningRoIHeads):
        raise ValueError("the detector already has a reasoning head (detach_reasoning_head first)")
    check_head_fits(detector, head, feature_level)
    detector.roi_heads = ReasoningRoIHeads.from_roi_heads(
        detector.roi_heads,
        head,
        feature_level=feature_level,
        reasoned_boxes=reasoned_boxes,
        train_on=train_on,
        loss_weight=loss_weight,
    )
    return detector


def detach_reasoning_head(detector: GeneralizedRCNN) -> IterativeReasoningHead:
    """Give ``detector`` back its plain :class:`~torchvision.models.detection.roi_heads.RoIHeads`
    (the same parts and settings, in place) and return the head it had: the detector then
    gives exactly the detections it would give without ever having had the head."""
    roi_heads = getattr(detector, "roi_heads", None)
    if not isinstance(roi_heads, ReasoningRoIHeads):
        raise ValueError("the detector has no reasoning head (attach_reasoning_head adds one)")
    detector.roi_heads = roi_heads.to_roi_heads()
    return roi_heads.head


def check_head_fits(
    detector: GeneralizedRCNN, head: IterativeReasoningHead, feature_level: str | None = None
) -> None:
    """Raise when ``head`` was built for other classes, widths or a stride than ``detector``
    gives (:func:`~iterative_reasoning.detectors._common.check_head_sizes`, the check of every
    family; the strides are found by :func:`feature_strides`), or than its ``feature_level``
    has."""
    if not isinstance(head, IterativeReasoningHead):
        raise TypeError(f"head must be an IterativeReasoningHead, got {type(head).__name__}")
    strides = feature_strides(detector.backbone)
    stride = round(1 / head.spatial_scale)
    if feature_level is not None:
        found = ", ".join(f"{name!r}: {s}" for name, s in strides.items())
        if feature_level not in strides:
            raise ValueError(
                f"feature_level {feature_level!r} is not among the backbone's feature maps "
                f"({found})"
            )
        if strides[feature_level] != stride:
            raise ValueError(
                f"feature_level {feature_level!r} has stride {strides[feature_level]} but the "
                f"head was built for spatial_scale 1/{stride}"
            )
    score = getattr(detector.roi_heads.box_predictor, "cls_score", None)
    classes, region = (score.out_features, score.in_features) if score is not None else (0, None)
    channels = getattr(detector.backbone, "out_channels", None)  # the same at every level
    check_head_sizes(
        head,
        classes - 1 if isinstance(score, nn.Linear) else None,
        list(strides.values()),
        [channels] * len(strides),
        region if isinstance(score, nn.Linear) else None,
        "Build the head with spatial_scale = 1/stride of one of them "
        "(fasterrcnn_mobilenet_v3_large_fpn has stride 32 only), or give feature_level",
    )


def feature_strides(backbone: nn.Module, size: int = 256) -> dict[str, int]:
    """The stride of each feature map of a detector's ``backbone``, from one pass of a blank
    ``size x size`` image (in evaluation mode and without gradients; the mode is restored).

    Example:
        >>> from torchvision.models.detection import fasterrcnn_resnet50_fpn
        >>> feature_strides(fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None).backbone)
        {'0': 4, '1': 8, '2': 16, '3': 32, 'pool': 64}
    """
    parameter = next(backbone.parameters(), None)
    device = parameter.device if parameter is not None else torch.device("cpu")
    training = backbone.training
    try:
        with torch.no_grad():
            features = backbone.eval()(torch.zeros(1, 3, size, size, device=device))
    finally:
        backbone.train(training)
    if isinstance(features, Tensor):
        features = {"0": features}
    return {name: round(size / f.shape[-2]) for name, f in features.items()}


def head_sizes(detector: GeneralizedRCNN) -> dict[str, Any]:
    """The sizes of a head for ``detector``, as :meth:`IterativeReasoningHead.paper
    <iterative_reasoning.nn.IterativeReasoningHead.paper>` takes them: its classes
    (background included), its backbone's channels, its box representation's width and the
    stride 16 (or, for a backbone without one, its finest stride above 16)."""
    score = getattr(detector.roi_heads.box_predictor, "cls_score", None)
    if not isinstance(score, nn.Linear):
        raise ValueError(
            "the detector's box predictor has no cls_score layer to read its classes and "
            "representation size from: build the head with IterativeReasoningHead.paper"
        )
    strides = sorted(set(feature_strides(detector.backbone).values()))
    stride = 16 if 16 in strides else min((s for s in strides if s > 16), default=strides[-1])
    return {
        "num_classes": score.out_features,
        "feature_channels": detector.backbone.out_channels,
        "region_channels": score.in_features,
        "spatial_scale": 1 / stride,
    }


# -- helpers -------------------------------------------------------------------------------
