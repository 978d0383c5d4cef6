"""The RoI heads of torchvision's two-stage detectors with the reasoning head between the box
head and the post-processing.

Shapes, per batch of ``B`` images: ``R`` boxes (proposals) over the batch, ``C`` classes with
background at index 0 (torchvision's convention), ``D_f`` channels of the feature map at the
head's stride (16), ``D_r`` the box head's representation size.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torchvision.models.detection.roi_heads import (
    RoIHeads,
    fastrcnn_loss,
)

from iterative_reasoning._detection_validation import check_detection_targets
from iterative_reasoning.detectors.torchvision.detections import (
    keypoint_branch,
    mask_branch,
    postprocess,
)
from iterative_reasoning.losses import reasoning_loss
from iterative_reasoning.nn.reasoning_head import IterativeReasoningHead, ReasoningOutput

TrainOn = Literal["proposals", "ground_truth"]
TRAIN_ON: tuple[str, ...] = ("proposals", "ground_truth")
#: Proposals per image that the head reasons over at inference by default (the top ones by the
#: detector's score; the others keep the detector's scores).
DEFAULT_REASONED_BOXES = 100

Detections = list[dict[str, Tensor]]


class ReasoningRoIHeads(RoIHeads):
    r"""torchvision's RoI heads with the reasoning head of `Iterative Visual Reasoning Beyond
    Convolutions <https://arxiv.org/abs/1803.11189>`_ between the box head and the
    post-processing.

    The head reads, for each box, the detector's class logits as :math:`f_0`, the box head's
    representation as the region feature, and the backbone's feature map at the head's stride
    (16) as its mid-level map; it never trains the detector (its inputs are stop-gradient).

    - **Training** on the proposals that torchvision's matcher and sampler pick for the box
      classifier (foreground and background, ``batch_size_per_image`` per image), labelled as
      the box classifier's targets, so the head learns background as the detector's classifier
      does. The paper's loss (:func:`~iterative_reasoning.losses.reasoning_loss`, without its
      :math:`f_0` term, which is the detector's own ``"loss_classifier"``) is added to the
      detector's losses as ``"loss_reasoning"``; the box regression is unchanged. The paper
      classified ground-truth boxes instead: ``train_on="ground_truth"`` does that (the head
      then never sees a background box).
    - **Inference**: the head reasons over the ``reasoned_boxes`` proposals of each image with
      the highest detector score (all with ``None``); its fused prediction gives their class
      scores and the other proposals keep the detector's. torchvision's post-processing follows
      as it is: class-specific boxes from the regression, ``score_thresh``, per-class NMS at
      ``nms_thresh``, ``detections_per_img``. Each detection also carries
      ``"detector_scores"``, the detector's own probability of the detection's class.

    Args:
        box_roi_pool: as for :class:`~torchvision.models.detection.roi_heads.RoIHeads`, as are
            ``box_head``, ``box_predictor``, the training settings (``fg_iou_thresh``,
            ``bg_iou_thresh``, ``batch_size_per_image``, ``positive_fraction``,
            ``bbox_reg_weights``), the inference settings (``score_thresh``, ``nms_thresh``,
            ``detections_per_img``) and the mask and keypoint branches.
        head: the reasoning head, built for the detector's ``C`` classes, the feature map's
            ``D_f`` channels and the representation's ``D_r``.
        feature_level: the name of the backbone's feature map the head reads; by default the
            one at the head's ``spatial_scale``, found from the shapes.
        reasoned_boxes: proposals per image the head reasons over at inference (``None``: all).
        train_on: ``"proposals"`` (default) or ``"ground_truth"``.
        loss_weight: weight of ``"loss_reasoning"``.

    Use :meth:`from_roi_heads` (or :func:`attach_reasoning_head`) to build one from a
    detector's own RoI heads.
    """

    def __init__(
        self,
        box_roi_pool: nn.Module,
        box_head: nn.Module,
        box_predictor: nn.Module,
        head: IterativeReasoningHead,
        *,
        fg_iou_thresh: float = 0.5,
        bg_iou_thresh: float = 0.5,
        batch_size_per_image: int = 512,
        positive_fraction: float = 0.25,
        bbox_reg_weights: tuple[float, float, float, float] | None = None,
        score_thresh: float = 0.05,
        nms_thresh: float = 0.5,
        detections_per_img: int = 100,
        mask_roi_pool: nn.Module | None = None,
        mask_head: nn.Module | None = None,
        mask_predictor: nn.Module | None = None,
        keypoint_roi_pool: nn.Module | None = None,
        keypoint_head: nn.Module | None = None,
        keypoint_predictor: nn.Module | None = None,
        feature_level: str | None = None,
        reasoned_boxes: int | None = DEFAULT_REASONED_BOXES,
        train_on: TrainOn = "proposals",
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__(
            box_roi_pool,
            box_head,
            box_predictor,
            fg_iou_thresh,
            bg_iou_thresh,
            batch_size_per_image,
            positive_fraction,
            bbox_reg_weights,
            score_thresh,
            nms_thresh,
            detections_per_img,
            mask_roi_pool,
            mask_head,
            mask_predictor,
            keypoint_roi_pool,
            keypoint_head,
            keypoint_predictor,
        )
        if not isinstance(head, IterativeReasoningHead):
            raise TypeError(f"head must be an IterativeReasoningHead, got {type(head).__name__}")
        if reasoned_boxes is not None and reasoned_boxes < 1:
            raise ValueError(f"reasoned_boxes must be positive or None, got {reasoned_boxes}")
        if train_on not in TRAIN_ON:
            raise ValueError(f"train_on must be one of {TRAIN_ON}, got {train_on!r}")
        if not math.isfinite(loss_weight) or loss_weight < 0:
            raise ValueError(f"loss_weight must be finite and non-negative, got {loss_weight}")
        self.head = head
        self.feature_level = feature_level
        self.reasoned_boxes = reasoned_boxes
        self.train_on: TrainOn = train_on
        self.loss_weight = loss_weight

    @classmethod
    def from_roi_heads(
        cls, roi_heads: RoIHeads, head: IterativeReasoningHead, **options: object
    ) -> ReasoningRoIHeads:
        """The same RoI heads (the same sub-modules, matcher, sampler, box coder and
        inference settings) with ``head`` added; ``options`` are this class's own arguments
        (``feature_level``, ``reasoned_boxes``, ``train_on``, ``loss_weight``)."""
        if not isinstance(roi_heads, RoIHeads):
            raise TypeError(
                f"roi_heads must be a torchvision RoIHeads, got {type(roi_heads).__name__}"
            )
        new = cls(
            roi_heads.box_roi_pool,
            roi_heads.box_head,
            roi_heads.box_predictor,
            head,
            **_inference_settings(roi_heads),
            **_branches(roi_heads),
            **options,  # type: ignore[arg-type]
        )
        _copy_training_parts(roi_heads, new)
        return new

    def to_roi_heads(self) -> RoIHeads:
        """The plain torchvision :class:`~torchvision.models.detection.roi_heads.RoIHeads` with
        the same parts and settings, without the reasoning head."""
        plain = RoIHeads(
            self.box_roi_pool,
            self.box_head,
            self.box_predictor,
            0.5,
            0.5,
            1,
            0.25,
            None,
            **_inference_settings(self),
            **_branches(self),
        )
        _copy_training_parts(self, plain)
        plain.train(self.training)
        return plain

    # -- forward ---------------------------------------------------------------------------

    def forward(
        self,
        features: dict[str, Tensor],
        proposals: list[Tensor],
        image_shapes: list[tuple[int, int]],
        targets: list[dict[str, Tensor]] | None = None,
    ) -> tuple[Detections, dict[str, Tensor]]:
        """As :meth:`RoIHeads.forward <torchvision.models.detection.roi_heads.RoIHeads.forward>`:
        ``(detections, {})`` in evaluation mode, ``([], losses)`` in training mode."""
        if targets is not None:  # boxes in pixels of the network input by now
            check_detection_targets(targets, len(proposals), self.head.num_classes - 1)
            _check_keypoint_types(targets, self.has_keypoint())
        matched_idxs = labels = regression_targets = None
        if self.training:
            proposals, matched_idxs, labels, regression_targets = self.select_training_samples(
                proposals, targets
            )
        box_features = self.box_head(self.box_roi_pool(features, proposals, image_shapes))
        class_logits, box_regression = self.box_predictor(box_features)
        result: Detections = []
        losses: dict[str, Tensor] = {}
        if self.training:
            assert labels is not None and regression_targets is not None and targets is not None
            classifier, box_reg = fastrcnn_loss(
                class_logits, box_regression, labels, regression_targets
            )
            losses = {"loss_classifier": classifier, "loss_box_reg": box_reg}
            losses["loss_reasoning"] = self.loss_weight * self._reasoning_loss(
                features, proposals, image_shapes, class_logits, box_features, labels, targets
            )
        else:
            logits = self.reason(features, proposals, image_shapes, class_logits, box_features)
            result = postprocess(
                self, logits, class_logits, box_regression, proposals, image_shapes
            )
        if self.has_mask():
            losses.update(
                mask_branch(
                    self, features, proposals, image_shapes, targets, result, labels, matched_idxs
                )
            )
        if self.has_keypoint():
            losses.update(
                keypoint_branch(
                    self, features, proposals, image_shapes, targets, result, labels, matched_idxs
                )
            )
        return result, losses

    def reason(
        self,
        features: dict[str, Tensor],
        proposals: list[Tensor],
        image_shapes: list[tuple[int, int]],
        class_logits: Tensor,
        box_features: Tensor,
    ) -> Tensor:
        """The class logits of the proposals after reasoning, ``[R, C]``: the head's fused
        prediction for the ``reasoned_boxes`` proposals of each image with the highest
        detector score, the detector's ``class_logits`` for the others."""
        if class_logits.size(0) == 0:
            return class_logits
        chosen = self._reasoned(class_logits, [len(p) for p in proposals])
        output = self._run_head(
            features,
            torch.cat(proposals)[chosen],
            _batch_of([len(p) for p in proposals], class_logits.device)[chosen],
            image_shapes,
            class_logits[chosen],
            box_features[chosen],
        )
        logits = class_logits.clone()
        logits[chosen] = output.logits.to(logits.dtype)
        return logits

    # -- steps -----------------------------------------------------------------------------

    def _run_head(
        self,
        features: dict[str, Tensor],
        boxes: Tensor,
        batch: Tensor,
        image_shapes: list[tuple[int, int]],
        class_logits: Tensor,
        box_features: Tensor,
    ) -> ReasoningOutput:
        feature_map = self._feature_map(features, image_shapes)
        sizes = torch.tensor(image_shapes, dtype=torch.float, device=feature_map.device)
        return self.head(feature_map, boxes, batch, sizes, class_logits, box_features)

    def _reasoning_loss(
        self,
        features: dict[str, Tensor],
        proposals: list[Tensor],
        image_shapes: list[tuple[int, int]],
        class_logits: Tensor,
        box_features: Tensor,
        labels: list[Tensor],
        targets: list[dict[str, Tensor]],
    ) -> Tensor:
        """The paper's loss of the head (without the ``f_0`` term) on the sampled proposals,
        or on the ground-truth boxes."""
        if self.train_on == "ground_truth":
            proposals = [t["boxes"].to(class_logits.dtype) for t in targets]
            labels = [t["labels"] for t in targets]
            with torch.no_grad():  # the detector's box head is trained by its own loss only
                box_features = self.box_head(self.box_roi_pool(features, proposals, image_shapes))
                class_logits, _ = self.box_predictor(box_features)
        batch = _batch_of([len(p) for p in proposals], class_logits.device)
        output = self._run_head(
            features, torch.cat(proposals), batch, image_shapes, class_logits, box_features
        )
        return reasoning_loss(output, torch.cat(labels), batch, base_weight=0.0).total

    def _reasoned(self, class_logits: Tensor, counts: list[int]) -> Tensor:
        """Indices of the proposals to reason over (:func:`reasoned_proposals`)."""
        return reasoned_proposals(class_logits, counts, self.reasoned_boxes)

    def _feature_map(
        self, features: dict[str, Tensor], image_shapes: list[tuple[int, int]]
    ) -> Tensor:
        """The feature map at the head's stride: ``feature_level``, or the level whose size,
        against the largest image, rounds to ``head.spatial_scale`` (as torchvision's
        ``MultiScaleRoIAlign`` infers its scales)."""
        if self.feature_level is not None:
            if self.feature_level not in features:
                raise ValueError(
                    f"feature_level {self.feature_level!r} is not among the backbone's feature "
                    f"maps {list(features)}"
                )
            return features[self.feature_level]
        height = max(s[0] for s in image_shapes)
        name = level_at_scale(features, height, self.head.spatial_scale)
        if name:
            return features[name]
        found = ", ".join(
            f"{n!r}: 1/{1 / level_scale(f.shape[-2], height):g}" for n, f in features.items()
        )
        raise ValueError(
            f"the backbone has no feature map at the head's spatial_scale 1/"
            f"{1 / self.head.spatial_scale:g} (its maps: {found}); build the head with "
            "spatial_scale of one of them, or give feature_level"
        )

    def __prepare_scriptable__(self) -> RoIHeads:
        """Called by ``torch.jit.script`` before it compiles a module: these RoI heads do not
        compile (the head's region grid and graph are Python objects), so the error says
        what does."""
        raise TypeError(
            "torch.jit.script cannot compile ReasoningRoIHeads directly; script "
            "iterative_reasoning.detectors.torchvision.scriptable(detector), a copy of the "
            "detector (on the same parameters, for inference) whose RoI heads run the "
            "reasoning head as a TorchScript program"
        )

    def extra_repr(self) -> str:
        return (
            f"feature_level={self.feature_level!r}, reasoned_boxes={self.reasoned_boxes}, "
            f"train_on={self.train_on!r}, loss_weight={self.loss_weight}"
        )


def reasoned_proposals(
    class_logits: Tensor, counts: list[int], reasoned_boxes: int | None
) -> Tensor:
    """Indices of the proposals to reason over: per image (of ``counts`` proposals), the
    ``reasoned_boxes`` with the highest detector score (background excluded), in proposal
    order; all with ``None``. A TorchScript function, as :func:`level_at_scale`."""
    if reasoned_boxes is None:
        return torch.arange(class_logits.size(0), device=class_logits.device)
    scores = F.softmax(class_logits.detach(), -1)[:, 1:].amax(-1)
    image_scores = scores.split(counts)
    chosen: list[Tensor] = []
    start = 0
    for k in range(len(counts)):
        top = image_scores[k].topk(min(reasoned_boxes, counts[k])).indices
        chosen.append(top.sort().values + start)
        start += counts[k]
    return torch.cat(chosen)


def level_scale(size: int, height: int) -> float:
    """The scale of a feature map ``size`` cells high against an input ``height`` pixels
    high, rounded to a power of two (as torchvision's ``MultiScaleRoIAlign`` infers it)."""
    return 2.0 ** round(math.log(size / height) / math.log(2.0))


def level_at_scale(features: dict[str, Tensor], height: int, spatial_scale: float) -> str:
    """The name of the first feature map at ``spatial_scale`` (:func:`level_scale`, to
    ``math.isclose``) for inputs up to ``height`` pixels high; ``""`` when none is."""
    for name, level in features.items():
        scale = level_scale(level.shape[-2], height)
        if abs(scale - spatial_scale) <= 1e-9 * max(abs(scale), abs(spatial_scale)):
            return name
    return ""


def _inference_settings(roi_heads: RoIHeads) -> dict[str, Any]:
    return {
        "score_thresh": roi_heads.score_thresh,
        "nms_thresh": roi_heads.nms_thresh,
        "detections_per_img": roi_heads.detections_per_img,
    }


def _branches(roi_heads: RoIHeads) -> dict[str, Any]:
    names: tuple[str, ...] = ("mask_roi_pool", "mask_head", "mask_predictor")
    names += ("keypoint_roi_pool", "keypoint_head", "keypoint_predictor")
    return {name: getattr(roi_heads, name) for name in names}


def _copy_training_parts(source: RoIHeads, target: RoIHeads) -> None:
    """The matcher, sampler and box coder objects themselves, with every setting they carry."""
    target.proposal_matcher = source.proposal_matcher
    target.fg_bg_sampler = source.fg_bg_sampler
    target.box_coder = source.box_coder
    target.box_similarity = source.box_similarity


def _batch_of(counts: list[int], device: torch.device) -> Tensor:
    return torch.repeat_interleave(
        torch.arange(len(counts), device=device), torch.tensor(counts, device=device)
    )


def _check_keypoint_types(targets: list[dict[str, Tensor]], keypoints: bool) -> None:
    """torchvision's check of the keypoints' dtype."""
    for t in targets:
        if keypoints and t["keypoints"].dtype != torch.float32:
            raise TypeError(
                f"target keypoints must of float type, instead got {t['keypoints'].dtype}"
            )
