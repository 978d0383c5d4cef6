"""The checks of :class:`~iterative_reasoning.nn.IterativeReasoningHead`: of its parts when it
is built, and of its inputs at every call (every shape, then every value check in one host
read per device)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

import torch
from torch import Tensor

from iterative_reasoning._validation import (
    ValueChecks,
    check_batch,
    check_boxes,
    check_finite,
    check_float_on,
    check_image_sizes,
    check_not_normalised,
    check_tensor,
    warn_boxes_outside,
)
from iterative_reasoning.ops import RegionCrop, grid_sizes_of
from iterative_reasoning.ops.masks import check_masks
from iterative_reasoning.ops.region_grid import check_grid_sizes

#: How each module's input is fed from the iteration before (the head's ``feed``).
FeedMode = Literal["cross", "self", "mean"]
FEED_MODES: tuple[str, ...] = ("cross", "self", "mean")

if TYPE_CHECKING:
    from iterative_reasoning.nn.global_module import GlobalModule
    from iterative_reasoning.nn.local_module import LocalModule
    from iterative_reasoning.nn.reasoning_head import IterativeReasoningHead
    from iterative_reasoning.nn.region_batch import RegionBatch


def check_head_input(
    head: IterativeReasoningHead,
    features: object,
    boxes: object,
    batch: object,
    image_sizes: object,
    base_logits: object,
    region_features: object,
    masks: Tensor | None,
) -> Tensor:
    """Check the inputs of ``head.forward`` and return ``image_sizes`` as a tensor; errors name
    the argument, the expected and the actual value."""
    checks = ValueChecks()
    features = check_tensor("features", features)
    device, dtype = _features_fit(head, features)
    check_finite("features", features, checks)
    boxes = check_boxes("boxes", boxes, checks)
    check_float_on("boxes", boxes, device, None, "the head")
    sizes = check_image_sizes(image_sizes, checks)
    if sizes.size(0) != features.size(0):
        raise ValueError(
            f"image_sizes has {sizes.size(0)} row(s) but features hold {features.size(0)} "
            "image(s); give one (height, width) per image"
        )
    height, width = features.shape[2:]
    check_grid_sizes(grid_sizes_of(sizes, head.spatial_scale), height, width, checks)
    batch = check_batch(batch, boxes.size(0), sizes.size(0), checks)
    if batch.device != device:
        raise ValueError(f"batch is on {batch.device} but the head is on {device}; move it there")
    check_not_normalised(boxes, batch, sizes, checks)
    logits = check_tensor("base_logits", base_logits)
    features_of_regions = None
    if region_features is not None and head.global_ is not None:
        features_of_regions = check_tensor("region_features", region_features)
    _region_inputs_fit(head, boxes.size(0), logits, features_of_regions, device, dtype)
    check_finite("base_logits", logits, checks)
    if features_of_regions is not None:
        check_finite("region_features", features_of_regions, checks)
    check_masks(masks, boxes.size(0), head.crop.output_size, checks)
    # the user's call: check_head_input <- forward <- nn.Module's _call_impl, _wrapped_call_impl
    warn_boxes_outside(boxes, batch, sizes, stacklevel=6, checks=checks)
    checks.run()
    return sizes


def check_head_fit(head: IterativeReasoningHead, regions: RegionBatch) -> None:
    """A :class:`~iterative_reasoning.nn.RegionBatch` that :func:`region_batch` built (and
    checked) fits the head: its shapes, device and dtype, and its masks. Nothing here reads a
    value of the tensors but the masks' (one host read, when there are masks)."""
    device, dtype = _features_fit(head, regions.features)
    boxes = regions.boxes
    check_float_on("boxes", boxes, device, None, "the head")
    if regions.batch.device != device:
        raise ValueError(
            f"batch is on {regions.batch.device} but the head is on {device}; move it there"
        )
    region_features = regions.region_features if head.global_ is not None else None
    _region_inputs_fit(head, boxes.size(0), regions.base_logits, region_features, device, dtype)
    if regions.masks is not None:
        checks = ValueChecks()
        check_masks(regions.masks, boxes.size(0), head.crop.output_size, checks)
        checks.run()


def _features_fit(
    head: IterativeReasoningHead, features: Tensor
) -> tuple[torch.device, torch.dtype | None]:
    """The feature map's shape fits the head; returns the head's device and its dtype (``None``
    when its parts have several: not judged), which the feature map has."""
    if features.dim() != 4:
        raise ValueError(f"features must have shape [B, D_f, H, W], got {list(features.shape)}")
    if head.local is not None and features.size(1) != head.local.in_channels:
        raise ValueError(
            f"features have {features.size(1)} channels but the local module was built for "
            f"in_channels = {head.local.in_channels}"
        )
    parameter = next(head.parameters(), None)
    device = parameter.device if parameter is not None else features.device
    dtypes = {p.dtype for p in head.parameters()}
    dtype = dtypes.pop() if len(dtypes) == 1 else None  # parts of other dtypes: not judged
    check_float_on("features", features, device, dtype, "the head")
    return device, dtype


def _region_inputs_fit(
    head: IterativeReasoningHead,
    num_regions: int,
    logits: Tensor,
    region_features: Tensor | None,
    device: torch.device,
    dtype: torch.dtype | None,
) -> None:
    """The base logits (and the region features, when given) have the head's shapes, device
    and dtype."""
    if logits.shape != (num_regions, head.num_classes):
        raise ValueError(
            f"base_logits must have shape [R, C] = [{num_regions}, {head.num_classes}], "
            f"got {list(logits.shape)}"
        )
    check_float_on("base_logits", logits, device, dtype, "the head")
    if region_features is None:
        return
    if region_features.shape != (num_regions, head.region_channels):
        raise ValueError(
            f"region_features must have shape [R, D_r] = [{num_regions}, "
            f"{head.region_channels}] (D_r = global module in_channels - C), "
            f"got {list(region_features.shape)}"
        )
    check_float_on("region_features", region_features, device, dtype, "the head")


def check_head_config(
    num_classes: int,
    local: LocalModule | None,
    global_: GlobalModule | None,
    num_iterations: int,
    feed: str,
    crop: RegionCrop,
) -> None:
    """The head's parts fit: a module at least, its classes, the crop's size."""
    if local is None and global_ is None:
        raise ValueError("the head needs a local module, a global module or both; got neither")
    if not isinstance(num_iterations, int) or isinstance(num_iterations, bool):
        raise TypeError(f"num_iterations must be an integer, got {num_iterations!r}")
    if num_iterations < 2:
        raise ValueError(
            f"num_iterations must be >= 2 (the ConvNet prediction plus at least one reasoning "
            f"round), got {num_iterations}"
        )
    if feed not in FEED_MODES:
        raise ValueError(f"feed must be one of {FEED_MODES}, got {feed!r}")
    if not isinstance(crop, RegionCrop):
        raise TypeError(f"crop must be an iterative_reasoning.ops.RegionCrop, got {crop!r}")
    if local is not None:
        if local.num_classes != num_classes:
            raise ValueError(
                f"the local module has {local.num_classes} classes, the head {num_classes}"
            )
        if crop.output_size != local.crop_size:
            raise ValueError(
                f"crop.output_size is {crop.output_size} but the local module reads "
                f"{local.crop_size} x {local.crop_size} crops (crop_size)"
            )
    if global_ is not None:
        if global_.num_classes != num_classes:
            raise ValueError(
                f"the global module has {global_.num_classes} classes, the head {num_classes}"
            )
        if global_.in_channels <= num_classes:
            raise ValueError(
                f"the global module's in_channels ({global_.in_channels}) must be D_r + C: the "
                f"region features concatenated with the {num_classes} logits"
            )
