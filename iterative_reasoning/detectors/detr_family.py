"""The DETR family of Hugging Face ``transformers`` as the adapter of
:mod:`~iterative_reasoning.detectors.transformers` reads it: which models it serves and their
logit forms, where their stride-16 maps and Hungarian matchers are, and the conversion of
torchvision's targets and boxes to the image processors' conventions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

EXTRA = "pip install 'iterative-reasoning[transformers]'"


def require_transformers() -> Any:
    try:
        import transformers
    except ImportError as error:  # pragma: no cover - depends on the environment
        raise ImportError(
            f"the DETR-family adapter needs Hugging Face transformers (and scipy): {EXTRA}"
        ) from error
    return transformers


@dataclass(frozen=True)
class Family:
    """How one DETR-family model gives what the head needs.

    Attributes:
        sigmoid: its class logits are one sigmoid per class (else softmax with no-object last).
        matcher: the Hungarian matcher its loss uses (``"detr"``, ``"deformable"``,
            ``"rt_detr"``).
        encoder_levels: its stride-16 map is a level of the encoder's output (RT-DETR's hybrid
            encoder) rather than a stage of the backbone.
        processor: the name of its image processor class in ``transformers``.
    """

    sigmoid: bool
    matcher: str
    encoder_levels: bool
    processor: str


#: The detectors the adapter serves, by class name.
FAMILIES: dict[str, Family] = {
    "RTDetrForObjectDetection": Family(True, "rt_detr", True, "RTDetrImageProcessor"),
    "RTDetrV2ForObjectDetection": Family(True, "rt_detr", True, "RTDetrImageProcessor"),
    "DetrForObjectDetection": Family(False, "detr", False, "DetrImageProcessor"),
    "ConditionalDetrForObjectDetection": Family(
        True, "deformable", False, "ConditionalDetrImageProcessor"
    ),
    "DeformableDetrForObjectDetection": Family(
        True, "deformable", False, "DeformableDetrImageProcessor"
    ),
}


def family_of(model: nn.Module) -> Family:
    """The :class:`Family` of ``model``; a clear error for any other model."""
    name = type(model).__name__
    if name not in FAMILIES or not hasattr(model, "config"):
        raise TypeError(
            f"model must be a transformers DETR-family detector ({', '.join(FAMILIES)}), got {name}"
        )
    return FAMILIES[name]


def feature_levels(model: nn.Module, family: Family) -> tuple[list[int], list[int]]:
    """The stride and channels of each map the head could read."""
    config = model_config(model)
    if family.encoder_levels:
        strides = [int(s) for s in config.feat_strides]
        return strides, [int(config.encoder_hidden_dim)] * len(strides)
    backbone = model_backbone(model)
    size = 256
    parameter = next(model.parameters())
    training = backbone.training
    try:
        with torch.no_grad():
            maps = backbone.eval()(
                torch.zeros(1, 3, size, size, device=parameter.device),
                torch.ones(1, size, size, dtype=torch.long, device=parameter.device),
            )
    finally:
        backbone.train(training)
    return [round(size / f.shape[-2]) for f, _ in maps], [int(f.shape[1]) for f, _ in maps]


def model_config(model: Any) -> Any:
    return model.config


def model_backbone(model: nn.Module) -> nn.Module:
    backbone = getattr(getattr(model, "model", None), "backbone", None)
    if not isinstance(backbone, nn.Module):
        raise TypeError(f"{type(model).__name__} has no model.backbone to read a feature map from")
    return backbone


def hungarian_matcher(model: nn.Module, family: Family) -> nn.Module:
    """The Hungarian matcher the model's loss builds, with the model's costs."""
    config = model_config(model)
    if family.matcher == "rt_detr":
        from transformers.loss.loss_rt_detr import RTDetrHungarianMatcher

        return RTDetrHungarianMatcher(config)
    costs = {"class_cost": config.class_cost, "bbox_cost": config.bbox_cost}
    costs["giou_cost"] = config.giou_cost
    if family.matcher == "deformable":
        from transformers.loss.loss_deformable_detr import DeformableDetrHungarianMatcher

        return DeformableDetrHungarianMatcher(**costs)
    from transformers.loss.loss_for_object_detection import HungarianMatcher

    return HungarianMatcher(**costs)


def coco_annotation(image_id: int, target: dict[str, Tensor]) -> dict[str, Any]:
    """A torchvision target (``xyxy`` boxes, labels ``1..K``) as the COCO annotation the image
    processors convert (``xywh``, category ids ``0..K-1``)."""
    if "boxes" not in target or "labels" not in target:
        raise ValueError(f"targets[{image_id}] needs 'boxes' and 'labels'")
    boxes, labels = target["boxes"].detach().cpu(), target["labels"].detach().cpu()
    if bool((labels < 1).any()):
        raise ValueError(
            f"targets[{image_id}]['labels'] must be 1..K (0 is background), got {labels.tolist()}"
        )
    annotations = []
    for (x0, y0, x1, y1), label in zip(boxes.tolist(), labels.tolist(), strict=True):
        w, h = x1 - x0, y1 - y0
        annotations.append(
            {"bbox": [x0, y0, w, h], "category_id": label - 1, "area": w * h, "iscrowd": 0}
        )
    return {"image_id": image_id, "annotations": annotations}


def box_frames(inputs: dict[str, Any], sizes: list[tuple[int, int]]) -> Tensor:
    """The size, in pixels of each image, of the frame its normalised boxes refer to: the
    padded input scaled back to the image (the image itself when nothing is padded)."""
    padded = torch.tensor(list(inputs["pixel_values"].shape[-2:]), dtype=torch.float)
    original = torch.tensor([list(size) for size in sizes], dtype=torch.float)
    return original * padded / inputs["input_sizes"].cpu()
