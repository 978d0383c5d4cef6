"""The reasoning head on the DETR family of Hugging Face ``transformers``: RT-DETR, DETR,
Conditional DETR and Deformable DETR (install the ``transformers`` extra:
``pip install 'iterative-reasoning[transformers]'``; it is imported only when used).

A DETR-family detector has no proposals and no RoI features: its decoder's queries are the
regions. The head re-classifies them: the region features are the decoder's last states, the
boxes its ``pred_boxes`` in input pixels, ``f_0`` its class logits, and the local module reads
a stride-16 map (RT-DETR: that level of the hybrid encoder's output; DETR, Conditional and
Deformable DETR: that stage of the backbone).

Class logits come in two forms, both mapped to the head's convention (``C = K + 1`` classes,
background at index 0) and back, exactly:

- **softmax with a no-object class** (DETR): ``K + 1`` logits, no-object last. The head's
  ``f_0`` is the same logits with no-object moved to the front; the head's logits go back by
  moving it to the end.
- **one sigmoid per class** (RT-DETR, Conditional and Deformable DETR): ``K`` logits
  :math:`l_k`. The head's ``f_0`` is :math:`[0, l_1, \\dots, l_K]` (background the reference
  logit, so :math:`\\sigma(l_k)` is the probability of class ``k`` against background). The
  head's softmax probabilities :math:`q` (and :math:`q^0` of its ``f_0``) go back as an update
  of the detector's odds, :math:`l'_k = l_k + \\operatorname{logit} q_k -
  \\operatorname{logit} q^0_k`, so that classes compete as they do in the head (mapping
  :math:`z_k - z_0` back instead would give every class the head thinks unlikely but not
  background a high score).

Shapes, per batch of ``B`` images: ``Q`` queries per image, ``K`` object classes.
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor, nn
from torchvision.ops import box_convert, clip_boxes_to_image

from iterative_reasoning._validation import check_count
from iterative_reasoning.detectors._common import (
    HeadAdapter,
    adapter_head_sizes,
    clip_to_inputs,
    device_of,
    odds_update,
)
from iterative_reasoning.detectors.detr_family import (
    EXTRA,
    FAMILIES,
    Family,
    box_frames,
    coco_annotation,
    family_of,
    feature_levels,
    hungarian_matcher,
    model_backbone,
    model_config,
    require_transformers,
)
from iterative_reasoning.losses import reasoning_loss
from iterative_reasoning.nn.reasoning_head import IterativeReasoningHead, ReasoningOutput

__all__ = [
    "EXTRA",
    "FAMILIES",
    "Family",
    "TransformersDetector",
    "family_of",
    "head_sizes",
]

Detections = list[dict[str, Tensor]]


class TransformersDetector(HeadAdapter):
    r"""A DETR-family detector of ``transformers`` with torchvision's detector interface, and
    with the reasoning head of `Iterative Visual Reasoning Beyond Convolutions
    <https://arxiv.org/abs/1803.11189>`_ re-classifying its queries (or without it:
    ``head=None`` gives the plain detector through the same pre- and post-processing, which
    is the baseline the head is compared with).

    - **Input** as torchvision's detectors take it: a list of ``[3, H_i, W_i]`` RGB images in
      ``[0, 1]`` at their own sizes and, in training, targets with ``"boxes"`` (``xyxy``,
      pixels of the image) and ``"labels"`` (``1..K``, background 0 as torchvision's). The
      model's image processor resizes, normalises and pads them and converts the targets.
    - **Training** returns ``{"loss_detector": ..., "loss_reasoning": ...}``: the detector's
      own loss (with its denoising and auxiliary terms), and the paper's loss of the head
      (:func:`~iterative_reasoning.losses.reasoning_loss` without its :math:`f_0` term, which
      the detector's loss already holds) on every query, labelled by the detector's own
      Hungarian matching on its final predictions: a matched query takes its object's class,
      the others background. With the model in evaluation mode (a frozen detector:
      ``model.eval()`` while this module trains) only the head's loss is given.
    - **Inference**: the head's fused prediction replaces the detector's class logits, and
      the image processor's ``post_process_object_detection`` gives the detections (boxes in
      pixels of each image, labels ``1..K``, scores above ``score_thresh``).

    The head never trains the detector: its inputs are stop-gradient.

    Args:
        model: ``RTDetrForObjectDetection``, ``DetrForObjectDetection`` (and the other
            :data:`~iterative_reasoning.detectors.detr_family.FAMILIES`), built from a config
            or loaded with ``from_pretrained``.
        processor: its image processor; by default the family's processor with its default
            settings (RT-DETR: 640 x 640; DETR: short side 800, long side at most 1333).
        head: the reasoning head (sized by
            :func:`iterative_reasoning.detectors.reasoning_head_for`), or ``None``.
        score_thresh: the post-processing's score threshold.
        loss_weight: weight of ``"loss_reasoning"``.
    """

    def __init__(
        self,
        model: nn.Module,
        processor: Any = None,
        head: IterativeReasoningHead | None = None,
        *,
        score_thresh: float = 0.05,
        loss_weight: float = 1.0,
    ) -> None:
        super().__init__()
        transformers = require_transformers()
        self.family = family_of(model)
        config = model_config(model)
        if int(config.num_queries) < 1:
            raise ValueError(f"the model has {config.num_queries} queries; it needs some")
        if processor is None:
            processor = getattr(transformers, self.family.processor)()
        if not callable(getattr(processor, "post_process_object_detection", None)):
            raise TypeError(
                "processor must be a transformers image processor with "
                f"post_process_object_detection, got {type(processor).__name__}"
            )
        if not 0 <= score_thresh < 1:
            raise ValueError(f"score_thresh must be in [0, 1), got {score_thresh}")
        if not math.isfinite(loss_weight) or loss_weight < 0:
            raise ValueError(f"loss_weight must be finite and non-negative, got {loss_weight}")
        self.model = model
        self.processor = processor
        self.score_thresh = score_thresh
        self.loss_weight = loss_weight
        self.num_classes = check_count("the model's config.num_labels", int(config.num_labels))
        self.strides, self.channels = feature_levels(model, self.family)
        self.region_channels = int(config.d_model)  # the decoder's states
        self.stride_hint = (
            "Give the config feat_strides with 16"
            if self.family.encoder_levels
            else "Build its backbone with the stride-16 stage among its outputs (e.g. "
            "out_features with 'stage3', or backbone_kwargs={'out_indices': (1, 2, 3, 4)})"
        )
        self.head = None
        if head is not None:
            self.attach(head)

    @property
    def num_queries(self) -> int:
        return int(self.model.config.num_queries)

    # -- forward ---------------------------------------------------------------------------

    def forward(
        self, images: list[Tensor], targets: list[dict[str, Tensor]] | None = None
    ) -> Detections | dict[str, Tensor]:
        """Losses in training mode (``targets`` needed), detections in evaluation mode."""
        self.check_input(images, targets)
        inputs = self._encode(images, targets if self.training else None)
        labels = inputs.get("labels")
        outputs = self._run_model(inputs, labels if self.model.training else None)
        logits, boxes, states = (
            outputs.logits[:, -self.num_queries :],
            outputs.pred_boxes[:, -self.num_queries :],
            outputs.last_hidden_state[:, -self.num_queries :],
        )
        if self.training:
            losses: dict[str, Tensor] = {}
            if outputs.loss is not None:
                losses["loss_detector"] = outputs.loss
            if self.head is not None:
                assert labels is not None
                losses["loss_reasoning"] = self.loss_weight * self._reasoning_loss(
                    inputs, logits, boxes, states, labels
                )
            return losses
        if self.head is not None:
            logits = self.reason(inputs, logits, boxes, states)
        return self._postprocess(inputs, outputs, logits, boxes, images)

    def reason(
        self, inputs: dict[str, Any], logits: Tensor, boxes: Tensor, states: Tensor
    ) -> Tensor:
        """The detector's class logits of the queries, ``[B, Q, K]`` or ``[B, Q, K + 1]``
        (its own form), after reasoning: the head's fused prediction mapped back."""
        assert self.head is not None
        output, _ = self._run_head(inputs, logits, boxes, states)
        fused = output.logits.to(logits.dtype).view(*logits.shape[:2], -1)
        reasoned = self.from_head_logits(fused, logits)
        # in the memory layout of the detector's logits (often a view of every decoder layer's),
        # so that the post-processing runs the same kernels on them, to the last bit
        laid_out = torch.empty_strided(
            logits.shape, logits.stride(), dtype=logits.dtype, device=logits.device
        )
        return laid_out.copy_(reasoned)

    def to_head_logits(self, logits: Tensor) -> Tensor:
        """The detector's class logits (``[..., K]`` or ``[..., K + 1]``) as the head's ``f_0``
        (``[..., K + 1]``, background first)."""
        if self.family.sigmoid:
            return torch.cat([torch.zeros_like(logits[..., :1]), logits], dim=-1)
        return torch.cat([logits[..., -1:], logits[..., :-1]], dim=-1)

    def from_head_logits(self, logits: Tensor, detector_logits: Tensor) -> Tensor:
        """The head's logits (``[..., K + 1]``, background first) in the detector's form, for
        the queries whose detector logits are ``detector_logits``: reordered (softmax form), or
        the detector's logits moved by the head's odds ratios (sigmoid form,
        :func:`~iterative_reasoning.detectors._common.odds_update`). The head's own input
        (:meth:`to_head_logits` of ``detector_logits``) gives ``detector_logits`` back
        exactly."""
        if self.family.sigmoid:
            return odds_update(
                detector_logits, logits, self.to_head_logits(detector_logits.detach())
            )
        return torch.cat([logits[..., 1:], logits[..., :1]], dim=-1)

    # -- steps -----------------------------------------------------------------------------

    def _encode(
        self, images: list[Tensor], targets: list[dict[str, Tensor]] | None
    ) -> dict[str, Any]:
        """The processor's pixel values (and mask, and labels), on the model's device, with
        the size of each image before padding (``"input_sizes"``)."""
        annotations = None
        if targets is not None:
            annotations = [coco_annotation(i, t) for i, t in enumerate(targets)]
        encoded = self.processor(
            images=[image.detach().cpu() for image in images],
            annotations=annotations,
            return_tensors="pt",
            do_rescale=False,
        )
        device = device_of(self.model)
        pixel_values = encoded["pixel_values"].to(device)
        mask = encoded.get("pixel_mask")
        if mask is not None:
            mask = mask.to(device)
            sizes = torch.stack([mask.any(2).sum(1), mask.any(1).sum(1)], dim=1).float()
        else:
            sizes = pixel_values.new_tensor([list(pixel_values.shape[-2:])]).expand(len(images), 2)
        inputs: dict[str, Any] = {
            "pixel_values": pixel_values,
            "pixel_mask": mask,
            "input_sizes": sizes.float(),
        }
        if targets is not None:
            inputs["labels"] = [
                {k: v.to(device) for k, v in label.items()} for label in encoded["labels"]
            ]
        return inputs

    def _run_model(self, inputs: dict[str, Any], labels: list[dict[str, Tensor]] | None) -> Any:
        """The model's outputs; the feature map the head reads is kept in ``inputs``."""
        kwargs: dict[str, Any] = {"pixel_values": inputs["pixel_values"], "labels": labels}
        if inputs["pixel_mask"] is not None:
            kwargs["pixel_mask"] = inputs["pixel_mask"]
        if self.head is None:
            return self.model(**kwargs)
        level = self.strides.index(round(1 / self.head.spatial_scale))
        if self.family.encoder_levels:
            outputs = self.model(**kwargs)
            inputs["feature_map"] = outputs.encoder_last_hidden_state[level]
            return outputs
        captured: list[Tensor] = []  # the backbone's stages, on the way through the model
        hook = model_backbone(self.model).register_forward_hook(
            lambda module, args, output: captured.extend(f for f, _ in output)
        )
        try:
            outputs = self.model(**kwargs)
        finally:
            hook.remove()
        inputs["feature_map"] = captured[level]
        return outputs

    def _run_head(
        self, inputs: dict[str, Any], logits: Tensor, boxes: Tensor, states: Tensor
    ) -> tuple[ReasoningOutput, Tensor]:
        """The head's output on every query, and the image of each query."""
        assert self.head is not None
        batch_size, queries = logits.shape[:2]
        height, width = inputs["pixel_values"].shape[-2:]
        xyxy = box_convert(boxes.detach().flatten(0, 1), "cxcywh", "xyxy")
        xyxy = xyxy * boxes.new_tensor([width, height, width, height])
        sizes = inputs["input_sizes"]
        batch = torch.arange(batch_size, device=logits.device).repeat_interleave(queries)
        output = self.head(
            inputs["feature_map"],
            clip_to_inputs(xyxy, batch, sizes),
            batch,
            sizes,
            self.to_head_logits(logits.detach()).flatten(0, 1),
            states.detach().flatten(0, 1),
        )
        return output, batch

    def _reasoning_loss(
        self,
        inputs: dict[str, Any],
        logits: Tensor,
        boxes: Tensor,
        states: Tensor,
        labels: list[dict[str, Tensor]],
    ) -> Tensor:
        """The paper's loss of the head (without ``f_0``) on every query, labelled by the
        detector's Hungarian matching (unmatched queries are background)."""
        matcher = hungarian_matcher(self.model, self.family)
        with torch.no_grad():
            indices = matcher({"logits": logits.detach(), "pred_boxes": boxes.detach()}, labels)
        classes = torch.zeros(logits.shape[:2], dtype=torch.long, device=logits.device)
        for image, (query, target) in enumerate(indices):
            image_labels = labels[image]["class_labels"]
            classes[image, query.to(logits.device)] = image_labels[target.to(logits.device)] + 1
        output, batch = self._run_head(inputs, logits, boxes, states)
        return reasoning_loss(output, classes.flatten(), batch, base_weight=0.0).total

    def _postprocess(
        self,
        inputs: dict[str, Any],
        outputs: Any,
        logits: Tensor,
        boxes: Tensor,
        images: list[Tensor],
    ) -> Detections:
        """The processor's post-processing of ``logits`` and the predicted boxes, in pixels of
        each image (labels ``1..K``)."""
        sizes = [(int(image.shape[-2]), int(image.shape[-1])) for image in images]
        frame = box_frames(inputs, sizes)
        post = type(outputs)(logits=logits, pred_boxes=boxes)
        found = self.processor.post_process_object_detection(
            post, threshold=self.score_thresh, target_sizes=frame
        )
        result = []
        for detections, size in zip(found, sizes, strict=True):
            result.append(
                {
                    "boxes": clip_boxes_to_image(detections["boxes"], size),
                    "labels": detections["labels"].long() + 1,
                    "scores": detections["scores"],
                }
            )
        return result

    def extra_repr(self) -> str:
        return (
            f"family={type(self.model).__name__}, num_classes={self.num_classes}, "
            f"num_queries={self.num_queries}, strides={self.strides}, "
            f"score_thresh={self.score_thresh}, loss_weight={self.loss_weight}"
        )


def head_sizes(model: nn.Module) -> dict[str, Any]:
    """The sizes of a head for a DETR-family ``model`` (:func:`adapter_head_sizes`): its ``K``
    classes plus background, its stride-16 map's channels and its decoder's ``d_model``, the
    width of the region features (the decoder's states) the adapter gives the head."""
    require_transformers()
    strides, channels = feature_levels(model, family_of(model))
    config = model_config(model)
    return adapter_head_sizes(int(config.num_labels), strides, channels, int(config.d_model))
