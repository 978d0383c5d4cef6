"""Image geometry between an image and the network input: the paper's resize, boxes from one
image size to another, and a padded batch. Coordinate frames are the commonest mistake with a
detector, so these convert boxes explicitly."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import Tensor

from iterative_reasoning._validation import check_tensor


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
