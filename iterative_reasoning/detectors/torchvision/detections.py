"""What follows the reasoning in :class:`~iterative_reasoning.detectors.torchvision.
ReasoningRoIHeads`: torchvision's post-processing of the boxes on the reasoned logits, and the
mask and keypoint branches on the detections, as in its ``RoIHeads.forward`` (which does not
split them into functions)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.models.detection.roi_heads import (
    RoIHeads,
    keypointrcnn_inference,
    keypointrcnn_loss,
    maskrcnn_inference,
    maskrcnn_loss,
)
from torchvision.ops import boxes as box_ops

Detections = list[dict[str, Tensor]]


def postprocess(
    roi_heads: RoIHeads,
    logits: Tensor,
    detector_logits: Tensor,
    box_regression: Tensor,
    proposals: list[Tensor],
    image_shapes: list[tuple[int, int]],
) -> Detections:
    """torchvision's :meth:`~torchvision.models.detection.roi_heads.RoIHeads.
    postprocess_detections` on ``logits``, step for step, also keeping the detector's own
    score (of ``detector_logits``) of each detection."""
    return box_detections(
        roi_heads.box_coder.decode(box_regression, proposals),
        logits,
        detector_logits,
        [len(p) for p in proposals],
        image_shapes,
        roi_heads.score_thresh,
        roi_heads.nms_thresh,
        roi_heads.detections_per_img,
    )


def box_detections(
    pred_boxes: Tensor,
    logits: Tensor,
    detector_logits: Tensor,
    counts: list[int],
    image_shapes: list[tuple[int, int]],
    score_thresh: float,
    nms_thresh: float,
    detections_per_img: int,
) -> list[dict[str, Tensor]]:
    """:func:`postprocess` on the decoded boxes ``[R, C, 4]`` of images of ``counts``
    proposals (a TorchScript function: the scripted RoI heads call it too)."""
    num_classes = logits.shape[-1]
    image_boxes = pred_boxes.split(counts, 0)
    image_scores = F.softmax(logits, -1).split(counts, 0)
    image_detector = F.softmax(detector_logits, -1).split(counts, 0)
    result: list[dict[str, Tensor]] = []
    for k in range(len(counts)):
        boxes = box_ops.clip_boxes_to_image(image_boxes[k], image_shapes[k])
        scores, detector = image_scores[k], image_detector[k]
        labels = torch.arange(num_classes, device=logits.device).view(1, -1).expand_as(scores)
        # every class of every box, not background
        boxes, scores = boxes[:, 1:].reshape(-1, 4), scores[:, 1:].reshape(-1)
        labels, detector = labels[:, 1:].reshape(-1), detector[:, 1:].reshape(-1)
        keep = torch.where(scores > score_thresh)[0]
        boxes, scores, labels, detector = boxes[keep], scores[keep], labels[keep], detector[keep]
        keep = box_ops.remove_small_boxes(boxes, 1e-2)
        boxes, scores, labels, detector = boxes[keep], scores[keep], labels[keep], detector[keep]
        keep = box_ops.batched_nms(boxes, scores, labels, nms_thresh)
        keep = keep[:detections_per_img]
        result.append(
            {
                "boxes": boxes[keep],
                "labels": labels[keep],
                "scores": scores[keep],
                "detector_scores": detector[keep],
            }
        )
    return result


def _branch_boxes(
    roi_heads: RoIHeads,
    proposals: list[Tensor],
    result: Detections,
    labels: list[Tensor] | None,
    matched_idxs: list[Tensor] | None,
) -> tuple[list[Tensor], list[Tensor]]:
    """The boxes a mask or keypoint branch reads: in training the foreground proposals and
    the index of their ground-truth box, at inference the detections (and no index)."""
    if roi_heads.training:
        assert labels is not None and matched_idxs is not None
        return _positives(proposals, labels, matched_idxs)
    return [r["boxes"] for r in result], []


def mask_branch(
    roi_heads: RoIHeads,
    features: dict[str, Tensor],
    proposals: list[Tensor],
    image_shapes: list[tuple[int, int]],
    targets: list[dict[str, Tensor]] | None,
    result: Detections,
    labels: list[Tensor] | None,
    matched_idxs: list[Tensor] | None,
) -> dict[str, Tensor]:
    """Mask R-CNN's branch: its loss in training, each detection's mask at inference."""
    assert roi_heads.mask_roi_pool is not None
    boxes, positive_idxs = _branch_boxes(roi_heads, proposals, result, labels, matched_idxs)
    pooled = roi_heads.mask_roi_pool(features, boxes, image_shapes)
    mask_logits = roi_heads.mask_predictor(roi_heads.mask_head(pooled))
    if roi_heads.training:
        assert targets is not None
        gt_masks = [t["masks"] for t in targets]
        gt_labels = [t["labels"] for t in targets]
        return {"loss_mask": maskrcnn_loss(mask_logits, boxes, gt_masks, gt_labels, positive_idxs)}
    probs = maskrcnn_inference(mask_logits, [r["labels"] for r in result])
    for prob, r in zip(probs, result, strict=True):
        r["masks"] = prob
    return {}


def keypoint_branch(
    roi_heads: RoIHeads,
    features: dict[str, Tensor],
    proposals: list[Tensor],
    image_shapes: list[tuple[int, int]],
    targets: list[dict[str, Tensor]] | None,
    result: Detections,
    labels: list[Tensor] | None,
    matched_idxs: list[Tensor] | None,
) -> dict[str, Tensor]:
    """Keypoint R-CNN's branch: its loss in training, each detection's keypoints at
    inference."""
    assert roi_heads.keypoint_roi_pool is not None
    boxes, positive_idxs = _branch_boxes(roi_heads, proposals, result, labels, matched_idxs)
    pooled = roi_heads.keypoint_roi_pool(features, boxes, image_shapes)
    keypoint_logits = roi_heads.keypoint_predictor(roi_heads.keypoint_head(pooled))
    if roi_heads.training:
        assert targets is not None
        gt_keypoints = [t["keypoints"] for t in targets]
        loss = keypointrcnn_loss(keypoint_logits, boxes, gt_keypoints, positive_idxs)
        return {"loss_keypoint": loss}
    probs, scores = keypointrcnn_inference(keypoint_logits, boxes)
    for prob, score, r in zip(probs, scores, result, strict=True):
        r["keypoints"], r["keypoints_scores"] = prob, score
    return {}


def _positives(
    proposals: list[Tensor], labels: list[Tensor], matched_idxs: list[Tensor]
) -> tuple[list[Tensor], list[Tensor]]:
    """The foreground proposals of each image and the index of their ground-truth box."""
    boxes, idxs = [], []
    for image_proposals, image_labels, image_matched in zip(
        proposals, labels, matched_idxs, strict=True
    ):
        positive = torch.where(image_labels > 0)[0]
        boxes.append(image_proposals[positive])
        idxs.append(image_matched[positive])
    return boxes, idxs
