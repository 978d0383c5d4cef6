"""Transforms of an image and its boxes: the paper's resize (short side 600, long side at most
1000) and the horizontal flip that swaps ``left_*`` and ``right_*`` labels."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

from iterative_reasoning.ops.geometry import resized_shape


def flip_permutation(class_names: Sequence[str]) -> Tensor:
    """``[C]`` label map of a horizontal flip: ``left_X`` <-> ``right_X`` (also with spaces),
    every other label to itself.

    Example:
        >>> flip_permutation(["__background__", "left_arm", "car", "right_arm"]).tolist()
        [0, 3, 2, 1]
    """
    index = {name.replace(" ", "_"): i for i, name in enumerate(class_names)}
    perm = list(range(len(class_names)))
    for name, i in index.items():
        for a, b in (("left_", "right_"), ("right_", "left_")):
            if name.startswith(a) and b + name[len(a) :] in index:
                perm[i] = index[b + name[len(a) :]]
    return torch.tensor(perm, dtype=torch.long)


def hflip(image: Tensor, boxes: Tensor, labels: Tensor, permutation: Tensor) -> tuple[Tensor, ...]:
    """Mirror ``image`` ``[3, H, W]``, its ``xyxy`` boxes and swap left/right labels."""
    width = image.size(-1)
    flipped = torch.stack([width - boxes[:, 2], boxes[:, 1], width - boxes[:, 0], boxes[:, 3]], 1)
    return image.flip(-1), flipped, permutation[labels]


def resize(
    image: Tensor, boxes: Tensor, min_size: int = 600, max_size: int = 1000
) -> tuple[Tensor, Tensor, float]:
    """Resize ``image`` ``[3, H, W]`` so its short side is ``min_size`` unless its long side
    would exceed ``max_size`` (bilinear), and its boxes with it; also the scale."""
    height, width = image.shape[-2:]
    new_h, new_w, scale = resized_shape(height, width, min_size, max_size)
    out = F.interpolate(image[None], size=(new_h, new_w), mode="bilinear", align_corners=False)
    sx, sy = new_w / width, new_h / height
    return out[0], boxes * boxes.new_tensor([sx, sy, sx, sy]), scale
