"""What the reasoning head takes: a :class:`RegionBatch`, built and checked once by
:func:`region_batch` from a detector's (or any ConvNet's) outputs.

A detector hands over a mid-level feature map, boxes in pixels of the network input, the size
of each network input, and the ConvNet's logits for the boxes (or a function producing them);
:func:`region_batch` checks and packs them, and the head takes the result as it is:
``head(regions)``, with no check of the values again. A ConvNet that has cropped the boxes
from the map with the head's crop hands the crops over too (``crops``, ``cropped_by``), and the
head does not crop them again.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor

from iterative_reasoning._validation import (
    ValueChecks,
    check_batch,
    check_boxes,
    check_finite,
    check_image_sizes,
    check_not_normalised,
    check_tensor,
)
from iterative_reasoning.ops import RegionCrop, grid_sizes_of

ClassifierOutput = Tensor | tuple[Tensor, Tensor] | tuple[Tensor, Tensor, Tensor]
RegionClassifier = Callable[[Tensor, Tensor, Tensor, Tensor], ClassifierOutput]


class RegionBatch(NamedTuple):
    """Everything :class:`~iterative_reasoning.nn.IterativeReasoningHead` needs, in the order
    of its ``forward``: ``head(regions)`` reads it as built by :func:`region_batch`, which
    checked it (a ``RegionBatch`` made by hand is not checked: ``head(*regions)`` checks it).

    Attributes:
        features: mid-level feature map of the padded batch, ``[B, D_f, H, W]``.
        boxes: ``xyxy`` boxes in pixels of the network input, ``[R, 4]``.
        batch: image index of each box, ``[R]``.
        image_sizes: ``(height, width)`` of each network input before padding, ``[B, 2]``.
        base_logits: the ConvNet's logits ``f_0``, ``[R, C]``.
        region_features: the regions' visual features for the global module, ``[R, D_r]``,
            or ``None`` (the head then pools the crops of ``features``).
        masks: ``[R, P, P]`` instance-mask coverage of each crop bin, or ``None`` (the
            head's ``masks``).
        crops: the boxes cropped from ``features``, ``[R, D_f, P, P]``, or ``None``.
        cropped_by: the :class:`~iterative_reasoning.ops.RegionCrop` that made ``crops``: the
            head reads them in place of its own crops when its crop has the same settings.
    """

    features: Tensor
    boxes: Tensor
    batch: Tensor
    image_sizes: Tensor
    base_logits: Tensor
    region_features: Tensor | None = None
    masks: Tensor | None = None
    crops: Tensor | None = None
    cropped_by: RegionCrop | None = None

    def crops_for(self, crop: RegionCrop) -> Tensor | None:
        """``crops`` if they are what ``crop`` makes of these boxes (the same settings),
        else ``None``."""
        if self.crops is None or self.cropped_by is None:
            return None
        return self.crops if self.cropped_by.options() == crop.options() else None


def region_batch(
    features: Tensor,
    boxes: Tensor | Sequence[Tensor],
    image_sizes: Tensor | Sequence[Sequence[int]],
    *,
    batch: Tensor | None = None,
    base_logits: Tensor | None = None,
    region_features: Tensor | None = None,
    classifier: RegionClassifier | None = None,
    spatial_scale: float = 1 / 16,
    crops: Tensor | None = None,
    cropped_by: RegionCrop | None = None,
) -> RegionBatch:
    """Check and pack a detector's outputs for the reasoning head.

    Args:
        features: the mid-level feature map (stride ``1 / spatial_scale``) of the padded batch.
        boxes: ``xyxy`` boxes in pixels of the network input (after resizing): one ``[R_i, 4]``
            tensor per image, or one ``[R, 4]`` tensor with ``batch``.
        image_sizes: ``(height, width)`` of each network input before padding.
        batch: image index of each box when ``boxes`` is one tensor.
        base_logits: the ConvNet's logits for the boxes.
        region_features: the boxes' pooled high-level features (for the global module).
        classifier: instead of ``base_logits``, a function
            ``(features, boxes, batch, image_sizes) -> logits``, ``(logits, region_features)``
            or ``(logits, region_features, crops)`` (crops made by ``cropped_by``).
        spatial_scale: feature cells per input pixel.
        crops, cropped_by: the boxes' crops of ``features`` and the crop that made them
            (:class:`RegionBatch`).

    Shapes:
        features: ``[B, D_f, H, W]``; boxes: ``[R, 4]`` or ``B`` x ``[R_i, 4]``;
        image_sizes: ``[B, 2]``; base_logits: ``[R, C]``; region_features: ``[R, D_r]``

    Example:
        >>> import torch
        >>> rb = region_batch(torch.randn(2, 8, 38, 50),
        ...                   [torch.tensor([[10.0, 20.0, 200.0, 300.0]]), torch.zeros(0, 4)],
        ...                   [(600, 800), (480, 640)], base_logits=torch.randn(1, 5))
        >>> rb.batch.tolist(), rb.image_sizes.tolist()
        ([0], [[600.0, 800.0], [480.0, 640.0]])
    """
    features = check_tensor("features", features)
    if features.dim() != 4:
        raise ValueError(f"features must have shape [B, D_f, H, W], got {list(features.shape)}")
    sizes = check_image_sizes(image_sizes).to(features.device, torch.float)
    if sizes.size(0) != features.size(0):
        raise ValueError(
            f"image_sizes has {sizes.size(0)} row(s) for {features.size(0)} feature map(s)"
        )
    grids = grid_sizes_of(sizes, spatial_scale)
    too_big = (grids[:, 0] > features.size(2)) | (grids[:, 1] > features.size(3))
    if bool(too_big.any()):
        b = int(too_big.nonzero()[0, 0])
        raise ValueError(
            f"image {b} of size {sizes[b].tolist()} needs a {grids[b].tolist()} grid at "
            f"spatial_scale = {spatial_scale}, but the features are "
            f"{list(features.shape[2:])}; is spatial_scale the stride of this feature map?"
        )
    boxes, batch = _concat_boxes(boxes, batch, features.size(0))
    check_box_frame(boxes, batch, sizes)
    if base_logits is None:
        if classifier is None:
            raise ValueError("give base_logits or a classifier that produces them")
        produced = classifier(features, boxes, batch, sizes)
        if isinstance(produced, tuple) and len(produced) == 3:
            base_logits, region_features, crops = produced
        elif isinstance(produced, tuple):
            base_logits, region_features = produced
        else:
            base_logits = produced
    base_logits = check_tensor("base_logits", base_logits)
    if base_logits.dim() != 2 or base_logits.size(0) != boxes.size(0):
        raise ValueError(
            f"base_logits must have shape [R, C] with R = {boxes.size(0)} boxes, "
            f"got {list(base_logits.shape)}"
        )
    checks = ValueChecks()
    check_finite("features", features, checks)
    check_finite("base_logits", base_logits, checks)
    if region_features is not None:
        region_features = check_tensor("region_features", region_features)
        if region_features.dim() != 2 or region_features.size(0) != boxes.size(0):
            raise ValueError(
                f"region_features must have shape [R, D_r] with R = {boxes.size(0)} boxes, "
                f"got {list(region_features.shape)}"
            )
        check_finite("region_features", region_features, checks)
    checks.run()
    regions = RegionBatch(
        features, boxes, batch, sizes, base_logits, region_features, None, crops, cropped_by
    )
    check_crops(regions)
    return regions


def check_crops(regions: RegionBatch) -> None:
    """``regions.crops``, when given, come with the crop that made them and have its shape."""
    crops, cropped_by = regions.crops, regions.cropped_by
    if crops is None and cropped_by is None:
        return
    if not isinstance(cropped_by, RegionCrop) or not isinstance(crops, Tensor):
        raise ValueError(
            "crops and cropped_by go together: the crops and the RegionCrop that made them"
        )
    size = cropped_by.output_size
    expected = (regions.boxes.size(0), regions.features.size(1), size, size)
    if tuple(crops.shape) != expected:
        raise ValueError(
            f"crops must have shape [R, D_f, P, P] = {list(expected)} (P: cropped_by's "
            f"output_size), got {list(crops.shape)}"
        )


def _concat_boxes(
    boxes: Tensor | Sequence[Tensor], batch: Tensor | None, num_images: int
) -> tuple[Tensor, Tensor]:
    if isinstance(boxes, Tensor):
        boxes = check_boxes("boxes", boxes)
        if batch is None:
            if num_images != 1:
                raise ValueError(
                    f"boxes is one tensor for {num_images} images: give batch, or one boxes "
                    "tensor per image"
                )
            batch = torch.zeros(boxes.size(0), dtype=torch.long, device=boxes.device)
        return boxes, check_batch(batch, boxes.size(0), num_images)
    if batch is not None:
        raise ValueError("give batch only with boxes as one tensor, not a list per image")
    if len(boxes) != num_images:
        raise ValueError(f"boxes has {len(boxes)} entries for {num_images} images; give one each")
    checked = [check_boxes(f"boxes[{i}]", b.reshape(-1, 4)) for i, b in enumerate(boxes)]
    device = checked[0].device if checked else torch.device("cpu")
    batch = (
        torch.cat(
            [
                torch.full((b.size(0),), i, dtype=torch.long, device=device)
                for i, b in enumerate(checked)
            ]
        )
        if checked
        else torch.zeros(0, dtype=torch.long)
    )
    return (torch.cat(checked) if checked else torch.zeros(0, 4)), batch


def check_box_frame(boxes: Tensor, batch: Tensor, image_sizes: Tensor) -> None:
    """Raise if boxes are evidently not in pixels of the network input: normalised to
    ``[0, 1]``, or reaching far beyond their image (original-image coordinates)."""
    if boxes.numel() == 0:
        return
    boxes = boxes.detach()
    check_not_normalised(boxes, batch, image_sizes)
    hw = image_sizes.to(boxes)[batch]
    limit = torch.stack([hw[:, 1], hw[:, 0]], dim=-1)
    outside = (boxes[:, 2:] > limit * 1.05 + 1).any(-1) | (boxes[:, :2] < -0.05 * limit).any(-1)
    if bool(outside.any()):
        i = int(outside.nonzero()[0, 0])
        raise ValueError(
            f"{int(outside.sum())} box(es) lie outside their network input, e.g. box {i} = "
            f"{[round(v, 1) for v in boxes[i].tolist()]} in an input of (height, width) = "
            f"{image_sizes[batch[i]].tolist()}; boxes in original-image pixels must be "
            "rescaled with rescale_boxes(boxes, original_size, input_size)"
        )
