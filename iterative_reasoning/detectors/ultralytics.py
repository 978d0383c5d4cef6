"""The reasoning head on YOLO detectors of ``ultralytics`` (YOLOv8, YOLO11 and the other
anchor-free ``Detect`` heads). ``ultralytics`` is AGPL-3.0: this package (MIT) never requires
it; install it yourself (``pip install ultralytics``) to use this adapter, which imports it
only when used, and then with the process-wide changes that importing it makes undone
(:func:`import_ultralytics`).

A one-stage detector has no proposals and no RoI features: the head re-scores YOLO's
detections after its non-maximum suppression. The regions are the kept detections, ``f_0`` the
raw class logits of the anchor that gave each one, and both the local module and the region
features read the neck's stride-16 map (the map the ``Detect`` head takes at stride 16),
cropped by the package's own crop (the global module's region feature is the mean of a
region's crop). YOLO's class scores are one sigmoid per class, mapped to the head's
convention (background at index 0) as :math:`[0, l_1, \\dots, l_K]` and back as an update of
YOLO's odds by the head's (:func:`~iterative_reasoning.detectors._common.odds_update`: the head
returning its input gives YOLO's scores exactly); each detection then takes the class of its
highest re-scored probability, and a class-wise NMS at the same IoU removes what became
duplicates.

Shapes, per batch of ``B`` images: ``K`` object classes; ``A`` anchors.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.ops import batched_nms, box_convert, box_iou, clip_boxes_to_image

from iterative_reasoning._validation import check_count
from iterative_reasoning.detectors._common import (
    HeadAdapter,
    adapter_head_sizes,
    clip_to_inputs,
    device_of,
    odds_update,
)
from iterative_reasoning.detectors.yolo_network import (
    INSTALL,
    detect_head,
    detection_model_of,
    import_ultralytics,
    level_channels,
)
from iterative_reasoning.losses import reasoning_loss
from iterative_reasoning.nn.reasoning_head import IterativeReasoningHead, ReasoningOutput

__all__ = [
    "INSTALL",
    "YOLODetector",
    "detection_model_of",
    "import_ultralytics",
    "head_sizes",
]

Detections = list[dict[str, Tensor]]


class YOLODetector(HeadAdapter):
    r"""An ``ultralytics`` YOLO detector with torchvision's detector interface, and with the
    reasoning head of `Iterative Visual Reasoning Beyond Convolutions
    <https://arxiv.org/abs/1803.11189>`_ re-scoring its detections (or without it: ``head=None``
    gives YOLO's own detections through the same pre- and post-processing).

    - **Input** as torchvision's detectors take it: a list of ``[3, H_i, W_i]`` RGB images in
      ``[0, 1]`` and, in training, targets with ``"boxes"`` (``xyxy`` pixels) and ``"labels"``
      (``1..K``, background 0). Each image is resized so that its long side is ``imgsz`` and
      padded (bottom and right, YOLO's grey) to a multiple of the largest stride.
    - **Inference**: YOLO's decoded predictions, its ``non_max_suppression`` (``conf``, ``iou``,
      ``max_det``), then the head's fused prediction re-scores the kept detections and a
      class-wise NMS at ``iou`` follows. Boxes in pixels of each image, labels ``1..K``; each
      detection also carries ``"detector_scores"``, YOLO's own score of its class.
    - **Training**: the head's loss (:func:`~iterative_reasoning.losses.reasoning_loss` without
      its :math:`f_0` term) on the detections of the current model, each labelled with the class
      of the ground-truth box it overlaps by at least ``fg_iou`` (else background). With the
      YOLO network in training mode its own loss (box, class, DFL: ultralytics'
      ``v8DetectionLoss`` with the network's ``args``) is added as ``"loss_detector"``; with the
      network in evaluation mode (a frozen detector, trained by ultralytics' trainer) the head
      trains alone.

    The head never trains the detector: its inputs are stop-gradient.

    Args:
        model: ``YOLO("yolov8n.yaml")`` (or ``.pt``) or its ``DetectionModel``.
        head: the reasoning head (sized by
            :func:`iterative_reasoning.detectors.reasoning_head_for`), or ``None``.
        imgsz: the long side of the network input.
        conf, iou, max_det: YOLO's NMS settings (``conf`` 0.001 and ``max_det`` 100 score COCO
            mAP as ultralytics' validation does, with at most 100 regions for the head).
        fg_iou: the overlap that makes a detection a positive in training.
        loss_weight: weight of ``"loss_reasoning"``.
    """

    def __init__(
        self,
        model: nn.Module,
        head: IterativeReasoningHead | None = None,
        *,
        imgsz: int = 640,
        conf: float = 0.001,
        iou: float = 0.7,
        max_det: int = 100,
        fg_iou: float = 0.5,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        self.model = detection_model_of(model)
        detect = detect_head(self.model)
        self.strides = [int(s) for s in detect.stride.tolist()]
        self.num_classes = check_count("the YOLO model's class count (nc)", int(detect.nc))
        if imgsz < 1 or imgsz % max(self.strides):
            raise ValueError(
                f"imgsz must be a positive multiple of {max(self.strides)}, got {imgsz}"
            )
        for name, value in (("conf", conf), ("iou", iou), ("fg_iou", fg_iou)):
            if not 0 <= value <= 1:
                raise ValueError(f"{name} must be in [0, 1], got {value}")
        if max_det < 1:
            raise ValueError(f"max_det must be positive, got {max_det}")
        if not math.isfinite(loss_weight) or loss_weight < 0:
            raise ValueError(f"loss_weight must be finite and non-negative, got {loss_weight}")
        self.imgsz, self.conf, self.iou, self.max_det = imgsz, conf, iou, max_det
        self.fg_iou, self.loss_weight = fg_iou, loss_weight
        self.channels = level_channels(self.model, self.strides)
        self.head = None
        if head is not None:
            self.attach(head)

    def region_channels_at(self, stride: int) -> int:
        """YOLO's region features are crops of the map the head reads: its channels."""
        return self.channels[self.strides.index(stride)]

    # -- forward ---------------------------------------------------------------------------

    def forward(
        self, images: list[Tensor], targets: list[dict[str, Tensor]] | None = None
    ) -> Detections | dict[str, Tensor]:
        """Losses in training mode (``targets`` needed), detections in evaluation mode."""
        self.check_input(images, targets)
        pixels, scales, sizes = self._encode(images)
        raw = self.model(pixels)
        if self.training:
            assert targets is not None
            return self._losses(pixels, raw, targets, scales, sizes)
        predictions, raw = raw
        kept, found = self._nms(predictions)
        if self.head is not None:
            found = self._rescore(raw, kept, found, sizes)
        return [
            _to_image(f, scale, (int(image.shape[-2]), int(image.shape[-1])))
            for f, scale, image in zip(found, scales, images, strict=True)
        ]

    # -- steps -----------------------------------------------------------------------------

    def _encode(self, images: list[Tensor]) -> tuple[Tensor, list[float], Tensor]:
        """The padded batch on the network's device, each image's scale, and each input's
        ``(height, width)`` before padding."""
        device = device_of(self.model)
        resized, scales = [], []
        for image in images:
            height, width = image.shape[-2:]
            scale = self.imgsz / max(height, width)
            size = (max(1, round(height * scale)), max(1, round(width * scale)))
            resized.append(
                F.interpolate(
                    image[None].to(device, torch.float), size=size, mode="bilinear"
                ).squeeze(0)
                if size != (height, width)
                else image.to(device, torch.float)
            )
            scales.append(scale)
        multiple = max(self.strides)
        height = math.ceil(max(r.shape[1] for r in resized) / multiple) * multiple
        width = math.ceil(max(r.shape[2] for r in resized) / multiple) * multiple
        pixels = torch.full((len(images), 3, height, width), 114 / 255, device=device)
        for i, r in enumerate(resized):
            pixels[i, :, : r.shape[1], : r.shape[2]] = r
        sizes = torch.tensor([list(r.shape[1:]) for r in resized], dtype=torch.float)
        return pixels, scales, sizes.to(device)

    def _nms(self, predictions: Tensor) -> tuple[list[Tensor], list[dict[str, Tensor]]]:
        """YOLO's NMS: the anchor index of each kept detection, and the detections (input
        pixels, labels ``0..K-1``)."""
        from ultralytics.utils.nms import non_max_suppression

        output, kept = non_max_suppression(
            predictions.detach(),
            conf_thres=self.conf,
            iou_thres=self.iou,
            max_det=self.max_det,
            nc=self.num_classes,
            max_time_img=math.inf,  # never drop an image's detections for time
            return_idxs=True,
        )
        found = [
            {"boxes": o[:, :4], "scores": o[:, 4], "labels": o[:, 5].long(), "detector": o[:, 4]}
            for o in output
        ]
        return [k.view(-1).long() for k in kept], found

    def _run_head(
        self, raw: dict[str, Any], kept: list[Tensor], found: Detections, sizes: Tensor
    ) -> tuple[ReasoningOutput, Tensor, Tensor]:
        """The head's output on the kept detections, the image of each, and YOLO's logits
        of each (``[R, K]``)."""
        assert self.head is not None
        level = self.strides.index(round(1 / self.head.spatial_scale))
        feature_map = raw["feats"][level].detach()
        logits = _anchor_logits(raw, kept)
        boxes = torch.cat([f["boxes"] for f in found])
        batch = torch.repeat_interleave(
            torch.arange(len(kept), device=boxes.device),
            torch.tensor([len(k) for k in kept], device=boxes.device),
        )
        base = torch.cat([torch.zeros_like(logits[:, :1]), logits], dim=-1)
        output = self.head(feature_map, clip_to_inputs(boxes, batch, sizes), batch, sizes, base)
        return output, batch, logits

    def _rescore(
        self, raw: dict[str, Any], kept: list[Tensor], found: Detections, sizes: Tensor
    ) -> Detections:
        """The detections re-scored by the head, with a class-wise NMS after."""
        if sum(len(k) for k in kept) == 0:
            return found
        output, batch, detector_logits = self._run_head(raw, kept, found, sizes)
        base = torch.cat([torch.zeros_like(detector_logits[:, :1]), detector_logits], dim=-1)
        probabilities = torch.sigmoid(odds_update(detector_logits, output.logits, base))
        detector_probabilities = torch.sigmoid(detector_logits)
        rescored = []
        for b, f in enumerate(found):
            scores, labels = probabilities[batch == b].max(-1)
            detector = detector_probabilities[batch == b].gather(1, labels[:, None])[:, 0]
            keep = batched_nms(f["boxes"], scores, labels, self.iou)
            rescored.append(
                {
                    "boxes": f["boxes"][keep],
                    "scores": scores[keep],
                    "labels": labels[keep],
                    "detector": detector[keep],
                }
            )
        return rescored

    def _losses(
        self,
        pixels: Tensor,
        raw: Any,
        targets: list[dict[str, Tensor]],
        scales: list[float],
        sizes: Tensor,
    ) -> dict[str, Tensor]:
        losses: dict[str, Tensor] = {}
        if not isinstance(raw, tuple):  # the network in training mode: its own loss too
            batch = _yolo_batch(pixels, targets, scales)
            if getattr(self.model, "args", None) is None or isinstance(self.model.args, dict):
                from ultralytics.cfg import get_cfg

                self.model.args = get_cfg(overrides=getattr(self.model, "args", None) or {})
            total, _ = self.model.loss(batch, raw)
            losses["loss_detector"] = total.sum() / len(targets)
        if self.head is not None:
            if isinstance(raw, tuple):  # the network in evaluation mode: decoded already
                predictions, raw = raw
            else:
                with torch.no_grad():
                    predictions = detect_head(self.model)._inference(raw)
            kept, found = self._nms(predictions)
            if sum(len(k) for k in kept) == 0:
                losses["loss_reasoning"] = torch.stack(
                    [p.sum() * 0 for p in self.head.parameters()]
                ).sum()
                return losses
            labels = _match(found, targets, scales, self.fg_iou)
            output, batch_of, _ = self._run_head(raw, kept, found, sizes)
            loss = reasoning_loss(output, labels, batch_of, base_weight=0.0).total
            losses["loss_reasoning"] = self.loss_weight * loss
        return losses

    def extra_repr(self) -> str:
        return (
            f"num_classes={self.num_classes}, strides={self.strides}, imgsz={self.imgsz}, "
            f"conf={self.conf}, iou={self.iou}, max_det={self.max_det}, fg_iou={self.fg_iou}"
        )


def head_sizes(model: nn.Module) -> dict[str, Any]:
    """The sizes of a head for a YOLO ``model`` (:func:`adapter_head_sizes`): its ``K``
    classes plus background, and the channels of the stride-16 map its ``Detect`` head reads
    (the region features are crops of that map)."""
    network = detection_model_of(model)
    strides = [int(s) for s in detect_head(network).stride.tolist()]
    channels = level_channels(network, strides)
    region = channels[strides.index(16)] if 16 in strides else None
    return adapter_head_sizes(int(detect_head(network).nc), strides, channels, region)


# -- helpers -------------------------------------------------------------------------------


def _anchor_logits(raw: dict[str, Any], kept: list[Tensor]) -> Tensor:
    """YOLO's class logits ``[R, K]`` of the anchors of the kept detections."""
    return torch.cat([raw["scores"][b].detach().t()[k] for b, k in enumerate(kept)])


def _yolo_batch(
    pixels: Tensor, targets: list[dict[str, Tensor]], scales: list[float]
) -> dict[str, Tensor]:
    """The targets as ultralytics' loss reads them: ``batch_idx``, ``cls`` (``0..K-1``) and
    ``bboxes`` (``cx, cy, w, h`` normalised by the padded input)."""
    height, width = pixels.shape[-2:]
    index, classes, boxes = [], [], []
    for i, (target, scale) in enumerate(zip(targets, scales, strict=True)):
        labels = target["labels"].to(pixels.device)
        xyxy = target["boxes"].to(pixels.device, torch.float) * scale
        cxcywh = box_convert(xyxy, "xyxy", "cxcywh") / xyxy.new_tensor([width, height] * 2)
        index.append(torch.full((len(labels),), float(i), device=pixels.device))
        classes.append((labels - 1).float())
        boxes.append(cxcywh)
    return {
        "img": pixels,
        "batch_idx": torch.cat(index),
        "cls": torch.cat(classes)[:, None],
        "bboxes": torch.cat(boxes),
    }


def _match(
    found: Detections, targets: list[dict[str, Tensor]], scales: list[float], fg_iou: float
) -> Tensor:
    """The class (``1..K``) of the ground-truth box each detection overlaps by at least
    ``fg_iou``, else background (0)."""
    labels = []
    for f, target, scale in zip(found, targets, scales, strict=True):
        boxes = f["boxes"]
        gt = target["boxes"].to(boxes.device, torch.float) * scale
        classes = torch.zeros(len(boxes), dtype=torch.long, device=boxes.device)
        if len(gt) and len(boxes):
            best, index = box_iou(boxes, gt).max(1)
            positive = best >= fg_iou
            classes[positive] = target["labels"].to(boxes.device)[index[positive]]
        labels.append(classes)
    return torch.cat(labels)


def _to_image(found: dict[str, Tensor], scale: float, size: tuple[int, int]) -> dict[str, Tensor]:
    """Detections from input pixels to pixels of the image (``size``), labels ``1..K``."""
    return {
        "boxes": clip_boxes_to_image(found["boxes"] / scale, size),
        "labels": found["labels"] + 1,
        "scores": found["scores"],
        "detector_scores": found["detector"],
    }
