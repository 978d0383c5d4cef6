"""Checks of user input at the public boundary: each error names the argument, the expected
and the actual value."""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence

import torch
from torch import Tensor


def check_tensor(name: str, value: object) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor, got {type(value).__name__}")
    return value


def check_finite(name: str, value: Tensor) -> None:
    if value.is_floating_point() and not bool(torch.isfinite(value).all()):
        bad = int((~torch.isfinite(value)).sum())
        raise ValueError(f"{name} must be finite, got {bad} non-finite value(s) (NaN or inf)")


def check_boxes(name: str, boxes: object) -> Tensor:
    """Boxes ``[R, 4]`` in ``xyxy`` with ``x2 >= x1`` and ``y2 >= y1``, finite."""
    boxes = check_tensor(name, boxes)
    if boxes.dim() != 2 or boxes.size(-1) != 4:
        raise ValueError(f"{name} must have shape [R, 4] (x1, y1, x2, y2), got {list(boxes.shape)}")
    if not boxes.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {boxes.dtype}")
    check_finite(name, boxes)
    bad = (boxes[:, 2] < boxes[:, 0]) | (boxes[:, 3] < boxes[:, 1])
    if bool(bad.any()):
        i = int(bad.nonzero()[0, 0])
        raise ValueError(
            f"{name} must be xyxy with x2 >= x1 and y2 >= y1; box {i} is "
            f"{[round(v, 3) for v in boxes[i].tolist()]} (were they given as xywh?)"
        )
    return boxes


def check_batch(batch: object, num_regions: int, num_images: int | None = None) -> Tensor:
    """A ``batch`` vector ``[R]`` of image indices in ``[0, B)``, sorted, as in PyG."""
    batch = check_tensor("batch", batch)
    if batch.dim() != 1 or batch.numel() != num_regions:
        raise ValueError(
            f"batch must have shape [R] = [{num_regions}] (one image index per region), "
            f"got {list(batch.shape)}"
        )
    if batch.dtype != torch.long:
        raise TypeError(f"batch must have dtype torch.long, got {batch.dtype}")
    if num_regions > 0:
        if int(batch.min()) < 0:
            raise ValueError(f"batch must be non-negative, got minimum {int(batch.min())}")
        if bool((batch[1:] < batch[:-1]).any()):
            raise ValueError(
                "batch must be sorted (regions of image 0 first, then image 1, ...), "
                "as produced by torch_geometric.data.Batch"
            )
        if num_images is not None and int(batch.max()) >= num_images:
            raise ValueError(
                f"batch refers to image {int(batch.max())} but only {num_images} image(s) "
                "were given (image_sizes has one row per image)"
            )
    return batch


def check_image_sizes(image_sizes: object) -> Tensor:
    """``[B, 2]`` (height, width) of the network input, positive."""
    if isinstance(image_sizes, Sequence) and not isinstance(image_sizes, Tensor):
        image_sizes = torch.as_tensor(image_sizes, dtype=torch.float)
    sizes = check_tensor("image_sizes", image_sizes)
    if sizes.dim() != 2 or sizes.size(-1) != 2:
        raise ValueError(
            f"image_sizes must have shape [B, 2] (height, width of each network input), "
            f"got {list(sizes.shape)}"
        )
    if sizes.numel() > 0 and not bool(torch.isfinite(sizes).all()):
        raise ValueError(f"image_sizes must be finite, got {sizes.tolist()}")
    if sizes.numel() > 0 and bool((sizes <= 0).any()):
        raise ValueError(f"image_sizes must be positive, got {sizes.tolist()}")
    return sizes


def check_positive(name: str, value: float) -> float:
    """A finite, positive number (a length scale, a learning rate...)."""
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise TypeError(f"{name} must be a number, got {type(value).__name__}")
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{name} must be finite and positive, got {value}")
    return float(value)


def check_not_normalised(boxes: Tensor, batch: Tensor, image_sizes: Tensor) -> None:
    """Raise if boxes look normalised to ``[0, 1]`` (all within the unit square, in images of
    more than 32 pixels): they must be in pixels of the network input."""
    if boxes.numel() == 0:
        return
    hw = image_sizes.to(boxes)[batch]
    if (
        float(boxes.detach().max()) <= 1.0
        and float(hw.min()) > 32
        and bool((boxes[:, 2:] > 0).any())
    ):
        raise ValueError(
            "boxes look normalised to [0, 1]; they must be xyxy in pixels of the network input "
            "(multiply by the input's width and height)"
        )


def check_probabilities(name: str, probs: object, num_regions: int, num_classes: int) -> Tensor:
    probs = check_tensor(name, probs)
    if probs.dim() != 2 or probs.size(0) != num_regions:
        raise ValueError(
            f"{name} must have shape [R, C] = [{num_regions}, {num_classes}], "
            f"got {list(probs.shape)}"
        )
    if probs.size(1) != num_classes:
        raise ValueError(
            f"{name} has {probs.size(1)} classes but the class graph has {num_classes}; "
            "the class graph must have one node per classifier output (background included)"
        )
    if not probs.is_floating_point():
        raise TypeError(f"{name} must be a floating-point tensor, got dtype {probs.dtype}")
    check_finite(name, probs)
    if probs.numel() > 0 and bool((probs < 0).any()):
        raise ValueError(
            f"{name} must be non-negative probabilities (softmax of the logits), "
            f"got minimum {float(probs.min()):.4g}"
        )
    return probs


def warn_boxes_outside(boxes: Tensor, batch: Tensor, sizes: Tensor, stacklevel: int = 3) -> None:
    """Warn when boxes reach far outside their image: likely a wrong coordinate frame."""
    if boxes.numel() == 0:
        return
    hw = sizes.to(boxes)[batch]
    limit = torch.stack([hw[:, 1], hw[:, 0]], dim=-1) * 1.05 + 1
    outside = (boxes[:, 2:] > limit).any(-1) | (boxes[:, :2] < -0.05 * limit).any(-1)
    if bool(outside.any()):
        i = int(outside.nonzero()[0, 0])
        warnings.warn(
            f"{int(outside.sum())} box(es) lie outside their image, e.g. box {i} = "
            f"{[round(v, 1) for v in boxes[i].tolist()]} in an image of (height, width) = "
            f"{sizes[batch[i]].tolist()}; boxes must be xyxy in pixels of the network input "
            "(after resizing), not of the original image",
            stacklevel=stacklevel,
        )
