"""torchvision's two-stage detectors by name, for the command line and the benchmarks."""

from __future__ import annotations

from typing import Any

from torchvision.models.detection.generalized_rcnn import GeneralizedRCNN

from iterative_reasoning.models.small_detectors import small_faster_rcnn

#: The detectors :func:`build_detector` makes: torchvision's two-stage builders, and
#: ``"small"``, a Faster R-CNN on a small stride-16 backbone for CPU runs.
DETECTORS = (
    "fasterrcnn_resnet50_fpn",
    "fasterrcnn_resnet50_fpn_v2",
    "fasterrcnn_mobilenet_v3_large_fpn",
    "fasterrcnn_mobilenet_v3_large_320_fpn",
    "maskrcnn_resnet50_fpn",
    "maskrcnn_resnet50_fpn_v2",
    "small",
)


def build_detector(
    name: str,
    num_classes: int,
    *,
    weights: str | None = None,
    weights_backbone: str | None = None,
    **kwargs: Any,
) -> GeneralizedRCNN:
    """A torchvision detector by its builder's name (:data:`DETECTORS`), for ``num_classes``
    classes (background included).

    Args:
        name: ``"fasterrcnn_resnet50_fpn"``, ..., or ``"small"``
            (:func:`~iterative_reasoning.models.small_detectors.small_faster_rcnn`).
        num_classes: ``C``.
        weights: the whole detector's weights through torchvision's weights API (e.g.
            ``"DEFAULT"``: COCO, 91 classes), downloaded and cached by torchvision on first use.
        weights_backbone: the backbone's weights (e.g. ``"IMAGENET1K_V1"``); ``None``: random.
        kwargs: further arguments of the builder (``min_size``, ``box_score_thresh``, ...).
    """
    from torchvision.models import detection

    if name not in DETECTORS:
        raise ValueError(f"detector must be one of {DETECTORS}, got {name!r}")
    if name == "small":
        if weights is not None or weights_backbone is not None:
            raise ValueError("the 'small' detector has no pretrained weights; give none")
        return small_faster_rcnn(num_classes, **kwargs)
    builder = getattr(detection, name)
    return builder(
        weights=weights, weights_backbone=weights_backbone, num_classes=num_classes, **kwargs
    )
