"""Instance masks as the memory writes through them: the fraction of each crop bin of a box
that its region's mask covers (:func:`box_masks`)."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from iterative_reasoning._validation import ValueChecks, check_boxes, check_tensor


def box_masks(masks: Tensor, boxes: Tensor, output_size: int = 7) -> Tensor:
    """The fraction of each of the ``P x P`` bins of each box that its instance mask covers:
    ``[R, P, P]`` from full-image binary masks ``[R, H, W]`` and ``xyxy`` boxes in the same
    pixels (an area average, so the result does not depend on the image's resolution).

    Example:
        >>> import torch
        >>> mask = torch.zeros(1, 8, 8)
        >>> mask[0, :, :4] = 1  # the left half of the image
        >>> box_masks(mask, torch.tensor([[0.0, 0.0, 8.0, 8.0]]), output_size=2)
        tensor([[[1., 0.],
                 [1., 0.]]])
    """
    masks = check_tensor("masks", masks)
    boxes = check_boxes("boxes", boxes)
    if masks.dim() != 3 or masks.size(0) != boxes.size(0):
        raise ValueError(
            f"masks must have shape [R, H, W] with R = {boxes.size(0)}, got {list(masks.shape)}"
        )
    out = masks.new_zeros(boxes.size(0), output_size, output_size, dtype=torch.float32)
    height, width = masks.shape[1:]
    for r, (x1, y1, x2, y2) in enumerate(boxes.tolist()):
        top, left = max(int(math.floor(y1)), 0), max(int(math.floor(x1)), 0)
        bottom, right = min(int(math.ceil(y2)), height), min(int(math.ceil(x2)), width)
        if bottom <= top or right <= left:
            continue
        inside = masks[r, top:bottom, left:right].float()[None, None]
        out[r] = torch.nn.functional.adaptive_avg_pool2d(inside, output_size)[0, 0]
    return out


def check_masks(
    masks: Tensor | None, num_regions: int, output_size: int, checks: ValueChecks
) -> Tensor | None:
    """Region masks ``[R, P, P]`` of fractions (see :func:`box_masks`), detached."""
    if masks is None:
        return None
    masks = check_tensor("masks", masks)
    if masks.shape != (num_regions, output_size, output_size):
        raise ValueError(
            f"masks must have shape [R, P, P] = [{num_regions}, {output_size}, {output_size}] "
            f"(the fraction of each crop bin the region covers), got {list(masks.shape)}"
        )

    def report() -> None:
        raise ValueError("masks must be fractions in [0, 1]")

    if masks.numel():
        checks.add((masks.min() < 0) | (masks.max() > 1), report)
    return masks.detach()
