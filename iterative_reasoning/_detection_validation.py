"""The one validation of a detector's input and output, shared by the adapters of the three
detector families, the engine and the metrics: images float RGB in ``[0, 1]``, targets with
finite, ordered boxes and labels in ``1..K``, detections with finite boxes and scores.

Every value check of a call is read from the device at once (:class:`ValueChecks`). Errors
name the argument, the expected and the actual value.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import torch
from torch import Tensor

from iterative_reasoning._validation import (
    ValueChecks,
    _require,
    check_boxes,
    check_finite,
    check_float_on,
    check_tensor,
)

_CHANNELS_HINT = {
    1: " (a grey image: repeat it, image.expand(3, -1, -1))",
    4: " (RGBA: drop the alpha channel, image[:3])",
}


def check_detection_images(
    images: object,
    checks: ValueChecks | None = None,
    device: torch.device | None = None,
    dtype: torch.dtype | None = None,
) -> list[Tensor]:
    """A non-empty list of ``[3, H, W]`` float tensors, finite, in ``[0, 1]`` (torchvision's
    detector input: the detector normalises them itself); with ``device`` and ``dtype`` (the
    detector's), on that device and, outside autocast, of that dtype."""
    if not isinstance(images, (list, tuple)) or not images:
        raise ValueError(
            f"images must be a non-empty list of [3, H, W] tensors, got {_what(images)}"
        )
    for i, image in enumerate(images):
        name = f"images[{i}]"
        image = check_tensor(name, image)
        if image.dim() != 3 or image.size(0) != 3:
            hint = _CHANNELS_HINT.get(image.size(0), "") if image.dim() == 3 else ""
            raise ValueError(
                f"{name} must be a [3, H, W] RGB tensor, got {list(image.shape)}{hint}"
            )
        if not image.is_floating_point():
            raise TypeError(
                f"{name} must hold floats in [0, 1], got dtype {image.dtype} (divide a uint8 "
                "image by 255: image.float() / 255)"
            )
        if image.numel() == 0:
            raise ValueError(f"{name} is empty: {list(image.shape)}")
        if device is not None:
            check_float_on(name, image, device, dtype, "the detector")
        check_finite(name, image, checks)
        _check_unit_range(name, image, checks)
    return list(images)


def _check_unit_range(name: str, image: Tensor, checks: ValueChecks | None) -> None:
    low, high = torch.aminmax(image.detach())

    def report() -> None:
        if float(high) > 1:
            raise ValueError(
                f"{name} must hold values in [0, 1], got values up to {float(high):.4g} "
                "(an image in [0, 255]: divide it by 255)"
            )
        raise ValueError(
            f"{name} must hold values in [0, 1], got values down to {float(low):.4g} (was it "
            "normalised already? the detector normalises its input itself)"
        )

    _require(checks, (low < 0) | (high > 1), report)


def check_detection_targets(
    targets: object,
    num_images: int,
    num_classes: int | None = None,
    checks: ValueChecks | None = None,
) -> list[dict[str, Tensor]]:
    """One dict per image with ``"boxes"`` ``[n, 4]`` (``xyxy``, finite, ``x2 > x1`` and
    ``y2 > y1``) and ``"labels"`` ``[n]`` (integers in ``1..num_classes``; 0 is background).

    Args:
        targets: the targets.
        num_images: the images they go with.
        num_classes: ``K``, the detector's object classes (no upper bound when ``None``).
    """
    if not isinstance(targets, (list, tuple)) or len(targets) != num_images:
        raise ValueError(
            f"targets must be a list of {num_images} dict(s), one per image, got {_what(targets)}"
        )
    for i, target in enumerate(targets):
        if not isinstance(target, Mapping) or "boxes" not in target or "labels" not in target:
            raise ValueError(f"targets[{i}] must be a dict with 'boxes' and 'labels'")
        boxes = check_tensor(f"targets[{i}]['boxes']", target["boxes"])
        labels = check_tensor(f"targets[{i}]['labels']", target["labels"])
        if boxes.dim() != 2 or boxes.size(-1) != 4 or labels.shape != boxes.shape[:1]:
            raise ValueError(
                f"targets[{i}] must hold boxes [n, 4] and labels [n], got "
                f"{list(boxes.shape)} and {list(labels.shape)}"
            )
        if not boxes.is_floating_point():
            raise TypeError(f"targets[{i}]['boxes'] must be floats, got dtype {boxes.dtype}")
        if labels.dtype != torch.int64:
            raise TypeError(
                f"targets[{i}]['labels'] must have dtype torch.int64, got {labels.dtype}"
            )
        if boxes.numel():
            check_boxes(f"targets[{i}]['boxes']", boxes, checks, positive_size=True)
            check_labels(f"targets[{i}]['labels']", labels, num_classes, checks)
    return list(targets)


def check_detector_input(
    images: object,
    targets: object,
    num_classes: int | None,
    training: bool,
    detector: torch.nn.Module | None = None,
) -> None:
    """A detector's call ``detector(images, targets)`` in torchvision's format: the images (on
    ``detector``'s device, of its dtype), and the targets (needed in training), every value
    read from the device at once."""
    checks = ValueChecks()
    parameter = next(detector.parameters(), None) if detector is not None else None
    device, dtype = (parameter.device, parameter.dtype) if parameter is not None else (None, None)
    checked = check_detection_images(images, checks, device, dtype)
    if training and targets is None:
        raise ValueError("in training mode targets are needed")
    if targets is not None:
        check_detection_targets(targets, len(checked), num_classes, checks)
    checks.run()


def check_labels(
    name: str, labels: Tensor, num_classes: int | None, checks: ValueChecks | None = None
) -> None:
    """Labels in ``1..num_classes`` (0 is background)."""
    low, high = (
        torch.aminmax(labels) if labels.numel() else (labels.new_ones(()), labels.new_ones(()))
    )
    upper = num_classes if num_classes is not None else torch.iinfo(torch.int64).max
    expected = f"1..{num_classes}" if num_classes is not None else "1 or more"

    def report() -> None:
        raise ValueError(
            f"{name} must be object classes {expected} (0 is background), got labels from "
            f"{int(low)} to {int(high)}"
        )

    _require(checks, (low < 1) | (high > upper), report)


def check_detections(
    detections: object, num_images: int, checks: ValueChecks | None = None
) -> list[Mapping[str, Tensor]]:
    """A detector's output: per image ``"boxes"`` ``[N, 4]`` (``xyxy``, finite,
    ``x2 >= x1``, ``y2 >= y1``), ``"labels"`` ``[N]`` integers and ``"scores"`` ``[N]``
    finite."""
    if not isinstance(detections, Sequence) or len(detections) != num_images:
        raise ValueError(
            f"detections must be a list of {num_images} dict(s), one per image, got "
            f"{_what(detections)}"
        )
    for i, found in enumerate(detections):
        if not isinstance(found, Mapping):
            raise ValueError(f"detections[{i}] must be a dict, got {type(found).__name__}")
        missing = {"boxes", "labels", "scores"} - set(found)
        if missing:
            raise ValueError(f"detections[{i}] lacks {sorted(missing)}")
        boxes = check_tensor(f"detections[{i}]['boxes']", found["boxes"])
        labels = check_tensor(f"detections[{i}]['labels']", found["labels"])
        scores = check_tensor(f"detections[{i}]['scores']", found["scores"])
        count = boxes.size(0) if boxes.dim() == 2 else -1
        if boxes.dim() != 2 or boxes.size(1) != 4 or labels.shape != (count,):
            raise ValueError(
                f"detections[{i}] must hold boxes [N, 4], labels [N] and scores [N], got "
                f"{list(boxes.shape)}, {list(labels.shape)} and {list(scores.shape)}"
            )
        if scores.shape != (count,):
            raise ValueError(
                f"detections[{i}]['scores'] must have shape [{count}], got {list(scores.shape)}"
            )
        if labels.is_floating_point() or labels.dtype == torch.bool:
            raise TypeError(f"detections[{i}]['labels'] must be integers, got dtype {labels.dtype}")
        if not boxes.is_floating_point() or not scores.is_floating_point():
            raise TypeError(
                f"detections[{i}] must hold float boxes and scores, got {boxes.dtype} and "
                f"{scores.dtype}"
            )
        if count:
            check_boxes(f"detections[{i}]['boxes']", boxes, checks)
            check_finite(f"detections[{i}]['scores']", scores, checks)
    return list(detections)


def _what(value: object) -> str:
    if isinstance(value, (list, tuple)):
        return f"a {type(value).__name__} of {len(value)}"
    return type(value).__name__
