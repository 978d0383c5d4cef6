"""The contract between a detector (or any backbone) and the reasoning head.

A detector hands over a mid-level feature map, boxes in pixels of the network input, the size
of each network input, and the ConvNet's logits for the boxes (or a function producing them);
:func:`region_batch` checks and packs them into a :class:`RegionBatch`, which the head takes
as is: ``head(*region_batch)``. Coordinate frames are the commonest mistake, so the helpers
here convert boxes between the original image and the network input explicitly.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import NamedTuple

import torch
from torch import Tensor, nn

from iterative_reasoning._validation import (
    check_batch,
    check_boxes,
    check_finite,
    check_image_sizes,
    check_not_normalised,
    check_tensor,
)
from iterative_reasoning.ops import RegionCrop, grid_sizes_of

ClassifierOutput = Tensor | tuple[Tensor, Tensor]
RegionClassifier = Callable[[Tensor, Tensor, Tensor, Tensor], ClassifierOutput]


class RegionBatch(NamedTuple):
    """Everything :class:`~iterative_reasoning.nn.IterativeReasoningHead` needs, in the order
    of its ``forward``.

    Attributes:
        features: mid-level feature map of the padded batch, ``[B, D_f, H, W]``.
        boxes: ``xyxy`` boxes in pixels of the network input, ``[R, 4]``.
        batch: image index of each box, ``[R]``.
        image_sizes: ``(height, width)`` of each network input before padding, ``[B, 2]``.
        base_logits: the ConvNet's logits ``f_0``, ``[R, C]``.
        region_features: the regions' visual features for the global module, ``[R, D_r]``,
            or ``None`` (the head then pools the crops of ``features``).
    """

    features: Tensor
    boxes: Tensor
    batch: Tensor
    image_sizes: Tensor
    base_logits: Tensor
    region_features: Tensor | None


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
            ``(features, boxes, batch, image_sizes) -> logits`` or ``(logits, region_features)``.
        spatial_scale: feature cells per input pixel.

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
        base_logits, region_features = (
            produced if isinstance(produced, tuple) else (produced, region_features)
        )
    base_logits = check_tensor("base_logits", base_logits)
    if base_logits.dim() != 2 or base_logits.size(0) != boxes.size(0):
        raise ValueError(
            f"base_logits must have shape [R, C] with R = {boxes.size(0)} boxes, "
            f"got {list(base_logits.shape)}"
        )
    check_finite("base_logits", base_logits)
    if region_features is not None:
        region_features = check_tensor("region_features", region_features)
        if region_features.dim() != 2 or region_features.size(0) != boxes.size(0):
            raise ValueError(
                f"region_features must have shape [R, D_r] with R = {boxes.size(0)} boxes, "
                f"got {list(region_features.shape)}"
            )
    return RegionBatch(features, boxes, batch, sizes, base_logits, region_features)


class CropRegionClassifier(nn.Module):
    """A ConvNet region classifier of the paper's shape: a backbone gives the mid-level map,
    each box is cropped from it, a region head pools the crop into a feature, and a linear
    classifier gives the logits ``f_0``. Subclasses set :attr:`crop`, :attr:`classifier` and
    :attr:`spatial_scale` and define :meth:`features` and :meth:`region_features`."""

    crop: RegionCrop
    classifier: nn.Linear
    spatial_scale: float

    def features(self, images: Tensor) -> Tensor:
        """The mid-level map ``[B, D_f, H, W]`` of a padded batch of images."""
        raise NotImplementedError

    def region_features(self, crops: Tensor) -> Tensor:
        """Pooled region features ``[R, D_r]`` from crops ``[R, D_f, P, P]``."""
        raise NotImplementedError

    def classify(
        self, features: Tensor, boxes: Tensor, batch: Tensor, image_sizes: Tensor
    ) -> tuple[Tensor, Tensor]:
        """Base logits ``[R, C]`` and region features ``[R, D_r]``."""
        crops = self.crop(features, boxes, batch, grid_sizes_of(image_sizes, self.spatial_scale))
        region = self.region_features(crops)
        return self.classifier(region), region

    def forward(
        self,
        images: Tensor,
        boxes: Tensor | Sequence[Tensor],
        image_sizes: Tensor | Sequence[Sequence[int]],
        batch: Tensor | None = None,
    ) -> RegionBatch:
        return region_batch(
            self.features(images),
            boxes,
            image_sizes,
            batch=batch,
            classifier=self.classify,
            spatial_scale=self.spatial_scale,
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


def resized_shape(
    height: int, width: int, min_size: int = 600, max_size: int = 1000
) -> tuple[int, int, float]:
    """The network-input size of an image resized as the paper (and Faster R-CNN) does: the
    short side to ``min_size`` unless the long side would exceed ``max_size``.

    Returns:
        ``(new_height, new_width, scale)``.

    Example:
        >>> resized_shape(480, 640)
        (600, 800, 1.25)
        >>> resized_shape(300, 1200)
        (250, 1000, 0.8333333333333334)
    """
    if min(height, width) <= 0:
        raise ValueError(f"height and width must be positive, got {(height, width)}")
    scale = min_size / min(height, width)
    if round(scale * max(height, width)) > max_size:
        scale = max_size / max(height, width)
    return int(round(height * scale)), int(round(width * scale)), scale


def rescale_boxes(boxes: Tensor, from_size: Sequence[float], to_size: Sequence[float]) -> Tensor:
    """Boxes ``[R, 4]`` (``xyxy``) from an image of ``from_size`` ``(height, width)`` to the same
    image resized to ``to_size``: original image -> network input, or back.

    Example:
        >>> import torch
        >>> rescale_boxes(torch.tensor([[10.0, 20.0, 30.0, 40.0]]), (480, 640), (600, 800))
        tensor([[12.5000, 25.0000, 37.5000, 50.0000]])
    """
    boxes = check_tensor("boxes", boxes)
    if len(from_size) != 2 or len(to_size) != 2 or min(*from_size, *to_size) <= 0:
        raise ValueError(
            f"from_size and to_size must be positive (height, width), got {from_size}, {to_size}"
        )
    sy, sx = to_size[0] / from_size[0], to_size[1] / from_size[1]
    return boxes * boxes.new_tensor([sx, sy, sx, sy])


def pad_images(images: Sequence[Tensor], size_divisible: int = 16) -> tuple[Tensor, Tensor]:
    """Pad ``[3, h_i, w_i]`` images into one ``[B, 3, H, W]`` batch (zeros at the bottom and
    right), ``H`` and ``W`` multiples of ``size_divisible``; also their ``[B, 2]`` sizes."""
    if not images:
        raise ValueError("images must hold at least one image")
    for i, image in enumerate(images):
        if not isinstance(image, Tensor) or image.dim() != 3:
            raise ValueError(f"images[{i}] must be a [C, h, w] tensor")
    height = max(int(i.shape[1]) for i in images)
    width = max(int(i.shape[2]) for i in images)
    height = int(math.ceil(height / size_divisible) * size_divisible)
    width = int(math.ceil(width / size_divisible) * size_divisible)
    out = images[0].new_zeros(len(images), images[0].size(0), height, width)
    for i, image in enumerate(images):
        out[i, :, : image.size(1), : image.size(2)] = image
    sizes = torch.tensor([list(i.shape[1:]) for i in images], dtype=torch.float)
    return out, sizes
