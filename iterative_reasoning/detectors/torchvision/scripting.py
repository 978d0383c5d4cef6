"""A torchvision detector with the reasoning head, for ``torch.jit.script``.

``torch.jit.script`` compiles a plain torchvision detector; it cannot compile
:class:`~iterative_reasoning.detectors.torchvision.ReasoningRoIHeads`, whose head builds its
region grid and graph from Python objects. :func:`scriptable` gives a copy of the detector
whose RoI heads run the head's inference as a TorchScript program
(:class:`~iterative_reasoning.nn.scripted_head.ScriptedHead`) on the same parameters:

.. code-block:: python

    scripted = torch.jit.script(scriptable(detector.eval()))
    scripted.save("detector.pt")          # torch.jit.load("detector.pt"), without this package

The scripted detector gives the eager detector's detections and is for inference only (it
refuses training mode); the detector given is not changed.
"""

from __future__ import annotations

import copy

import torch
from torch import Tensor
from torchvision.models.detection.generalized_rcnn import GeneralizedRCNN
from torchvision.models.detection.roi_heads import (
    RoIHeads,
    keypointrcnn_inference,
    maskrcnn_inference,
)

from iterative_reasoning.detectors.torchvision.detections import box_detections
from iterative_reasoning.detectors.torchvision.roi_heads import (
    ReasoningRoIHeads,
    _batch_of,
    _branches,
    _copy_training_parts,
    _inference_settings,
    level_at_scale,
    reasoned_proposals,
)
from iterative_reasoning.nn.scripted_head import ScriptedHead


def scriptable(detector: GeneralizedRCNN) -> GeneralizedRCNN:
    """A copy of ``detector`` (a torchvision detector with the head attached) that
    ``torch.jit.script`` compiles: its RoI heads are :class:`ScriptedReasoningRoIHeads`, on the
    same parameters (not copied); ``detector`` itself is not changed. A detector without the
    head comes back as it is (torchvision's detectors script as they are).

    Example:
        >>> import torch
        >>> from torchvision.models.detection import fasterrcnn_mobilenet_v3_large_fpn
        >>> from iterative_reasoning.detectors import attach_reasoning_head, reasoning_head_for
        >>> detector = fasterrcnn_mobilenet_v3_large_fpn(
        ...     weights=None, weights_backbone=None, num_classes=4, min_size=160, max_size=160)
        >>> from iterative_reasoning.graph import ClassRelations
        >>> relations = ClassRelations(4, {"is_kind_of": torch.tensor([[1], [2]])})
        >>> head = reasoning_head_for(detector, "final", class_relations=relations,
        ...                           fc_channels=64, memory_channels=16, hidden_channels=16)
        >>> detector = attach_reasoning_head(detector, head).eval()
        >>> scripted = torch.jit.script(scriptable(detector))
        >>> images = [torch.rand(3, 120, 150)]
        >>> eager, (_, detections) = detector(images), scripted(images)
        >>> torch.equal(eager[0]["labels"], detections[0]["labels"])
        True
    """
    if not isinstance(detector, GeneralizedRCNN):
        raise TypeError(
            f"detector must be a torchvision two-stage detector, got {type(detector).__name__}"
        )
    if not isinstance(detector.roi_heads, ReasoningRoIHeads):
        return detector
    copied = copy.copy(detector)
    copied._modules = dict(detector._modules)  # the same parts but the RoI heads
    copied.roi_heads = ScriptedReasoningRoIHeads(detector.roi_heads)
    return copied


class ScriptedReasoningRoIHeads(RoIHeads):
    """The inference of :class:`~iterative_reasoning.detectors.torchvision.ReasoningRoIHeads`
    in a form ``torch.jit.script`` compiles: the same RoI heads' parts and settings, the head
    as a :class:`~iterative_reasoning.nn.scripted_head.ScriptedHead`, torchvision's
    post-processing and mask and keypoint branches as in ``RoIHeads.forward``. Evaluation
    mode only.

    Args:
        roi_heads: the RoI heads with the reasoning head (the parts are shared, not copied).
    """

    def __init__(self, roi_heads: ReasoningRoIHeads) -> None:
        if not isinstance(roi_heads, ReasoningRoIHeads):
            raise TypeError(f"roi_heads must be ReasoningRoIHeads, got {type(roi_heads).__name__}")
        super().__init__(
            roi_heads.box_roi_pool,
            roi_heads.box_head,
            roi_heads.box_predictor,
            0.5,
            0.5,
            1,
            0.25,
            None,
            **_inference_settings(roi_heads),
            **_branches(roi_heads),
        )
        _copy_training_parts(roi_heads, self)
        self.head = ScriptedHead(roi_heads.head)
        self.feature_level: str = roi_heads.feature_level or ""
        #: proposals per image the head reasons over (0: all)
        self.reasoned_boxes: int = roi_heads.reasoned_boxes or 0
        self.spatial_scale: float = roi_heads.head.spatial_scale
        self.train(roi_heads.training)

    def forward(
        self,
        features: dict[str, Tensor],
        proposals: list[Tensor],
        image_shapes: list[tuple[int, int]],
        targets: list[dict[str, Tensor]] | None = None,
    ) -> tuple[list[dict[str, Tensor]], dict[str, Tensor]]:
        """``(detections, {})``, as the eager RoI heads in evaluation mode."""
        if self.training:
            raise RuntimeError(
                "the scripted detector with the reasoning head runs in evaluation mode only "
                "(call .eval()); train the eager detector"
            )
        box_features = self.box_head(self.box_roi_pool(features, proposals, image_shapes))
        class_logits, box_regression = self.box_predictor(box_features)
        counts = [p.size(0) for p in proposals]
        logits = self.reason(features, proposals, image_shapes, class_logits, box_features)
        result = box_detections(
            self.box_coder.decode(box_regression, proposals),
            logits,
            class_logits,
            counts,
            image_shapes,
            self.score_thresh,
            self.nms_thresh,
            self.detections_per_img,
        )
        if self.has_mask():
            boxes = [r["boxes"] for r in result]
            if self.mask_roi_pool is None:
                raise RuntimeError("the mask branch needs its mask_roi_pool")
            pooled = self.mask_roi_pool(features, boxes, image_shapes)
            mask_logits = self.mask_predictor(self.mask_head(pooled))
            probs = maskrcnn_inference(mask_logits, [r["labels"] for r in result])
            for k in range(len(result)):
                result[k]["masks"] = probs[k]
        if self.has_keypoint():
            boxes = [r["boxes"] for r in result]
            if self.keypoint_roi_pool is None:
                raise RuntimeError("the keypoint branch needs its keypoint_roi_pool")
            pooled = self.keypoint_roi_pool(features, boxes, image_shapes)
            keypoint_logits = self.keypoint_predictor(self.keypoint_head(pooled))
            keypoints, scores = keypointrcnn_inference(keypoint_logits, boxes)
            for k in range(len(result)):
                result[k]["keypoints"] = keypoints[k]
                result[k]["keypoints_scores"] = scores[k]
        losses: dict[str, Tensor] = {}
        return result, losses

    def reason(
        self,
        features: dict[str, Tensor],
        proposals: list[Tensor],
        image_shapes: list[tuple[int, int]],
        class_logits: Tensor,
        box_features: Tensor,
    ) -> Tensor:
        """:meth:`ReasoningRoIHeads.reason
        <iterative_reasoning.detectors.torchvision.ReasoningRoIHeads.reason>`."""
        if class_logits.size(0) == 0:
            return class_logits
        counts = [p.size(0) for p in proposals]
        batch = _batch_of(counts, class_logits.device)
        reasoned = self.reasoned_boxes if self.reasoned_boxes > 0 else None
        chosen = reasoned_proposals(class_logits, counts, reasoned)
        feature_map = self._feature_map(features, image_shapes)
        sizes = torch.tensor(
            [[float(s[0]), float(s[1])] for s in image_shapes], device=feature_map.device
        )
        logits = self.head(
            feature_map,
            torch.cat(proposals)[chosen],
            batch[chosen],
            sizes,
            class_logits[chosen],
            box_features[chosen],
        )
        out = class_logits.clone()
        out[chosen] = logits.to(out.dtype)
        return out

    def _feature_map(
        self, features: dict[str, Tensor], image_shapes: list[tuple[int, int]]
    ) -> Tensor:
        name = self.feature_level
        if name == "":
            name = level_at_scale(features, max([s[0] for s in image_shapes]), self.spatial_scale)
        if name not in features:
            raise RuntimeError("the backbone has no feature map at the head's spatial_scale")
        return features[name]
