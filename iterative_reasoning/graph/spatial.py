"""Region-region edges: directional relations of box centres, weighted by a distance kernel.

For two regions ``i != j`` of the same image with box centres ``c_i`` and ``c_j`` (input
pixels), the edge ``i -> j`` belongs to

- ``left_of`` when ``c_i.x < c_j.x`` (``i`` is left of ``j``), ``right_of`` when ``c_i.x > c_j.x``,
- ``above`` when ``c_i.y < c_j.y`` (image ``y`` points down), ``below`` when ``c_i.y > c_j.y``,

with weight ``exp(-||c_i - c_j|| / delta)``. A pair is thus linked by one horizontal and one
vertical relation (none where the centres are level). The optional ``overlaps`` relation links
intersecting boxes with their IoU as weight. Edges never cross images. Weights are
row-normalised per target region, so that ``j`` averages over the regions to its left, etc.
"""

from __future__ import annotations

import torch
from torch import Tensor

from iterative_reasoning.graph.class_relations import row_normalize
from iterative_reasoning.typing import OVERLAPS, SPATIAL_RELATIONS


def same_image_pairs(batch: Tensor) -> tuple[Tensor, Tensor]:
    """All ordered pairs ``(i, j)``, ``i != j``, of regions in the same image.

    Args:
        batch: image index of each region, sorted.

    Returns:
        ``(source, target)``, each ``[P]`` with ``P = sum_i R_i (R_i - 1)``, ordered by target.

    Shapes:
        batch: ``[R]``
    """
    if batch.numel() == 0:
        empty = batch.new_zeros(0)
        return empty, empty
    counts = torch.bincount(batch)
    start = torch.cumsum(counts, 0) - counts  # first region of each image
    per_region = counts[batch]  # R_i of each region's image
    target = torch.repeat_interleave(torch.arange(batch.numel(), device=batch.device), per_region)
    offset = torch.cumsum(per_region, 0) - per_region
    position = torch.arange(target.numel(), device=batch.device) - offset[target]
    source = start[batch[target]] + position
    keep = source != target
    return source[keep], target[keep]


def spatial_edges(
    boxes: Tensor,
    batch: Tensor,
    delta: float = 50.0,
    overlaps: bool = False,
    eps: float = 1e-14,
) -> dict[str, tuple[Tensor, Tensor]]:
    """Directional (and optionally overlap) edges between the regions of each image.

    Args:
        boxes: region boxes, ``xyxy`` in input pixels.
        batch: image index of each region, sorted.
        delta: the kernel's length scale in pixels (the paper's ``Delta = 50``).
        overlaps: also return the ``overlaps`` relation (IoU-weighted).
        eps: floor of the row sums in the normalisation.

    Returns:
        relation name -> ``(edge_index [2, E], edge_weight [E])``, weights row-normalised per
        target region. Every requested relation is present, possibly with ``E = 0``.

    Shapes:
        boxes: ``[R, 4]``; batch: ``[R]``

    Example:
        >>> import torch
        >>> boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [50.0, 0.0, 60.0, 10.0]])
        >>> edges = spatial_edges(boxes, torch.tensor([0, 0]))
        >>> edges["left_of"][0].tolist(), edges["left_of"][1].tolist()
        ([[0], [1]], [1.0])
    """
    source, target = same_image_pairs(batch)
    names = SPATIAL_RELATIONS + ((OVERLAPS,) if overlaps else ())
    return {name: relation_edges(boxes, source, target, name, delta, eps) for name in names}


def relation_edges(
    boxes: Tensor,
    source: Tensor,
    target: Tensor,
    relation: str,
    delta: float = 50.0,
    eps: float = 1e-14,
) -> tuple[Tensor, Tensor]:
    """The edges of one relation (``left_of``, ``right_of``, ``above``, ``below`` or
    ``overlaps``) among the pairs ``(source, target)`` of :func:`same_image_pairs`, as
    :func:`spatial_edges` gives them (a TorchScript function: the scripted head builds its
    graph with it).

    Returns:
        ``(edge_index [2, E], edge_weight [E])``, weights row-normalised per target region.
    """
    num_regions = boxes.size(0)
    if relation == "overlaps":
        iou = _pair_iou(boxes, source, target)
        return _masked(source, target, iou, iou > 0, num_regions, eps)
    centres = (boxes[:, :2] + boxes[:, 2:]) / 2
    c_s, c_t = centres[source], centres[target]
    weight = torch.exp(-torch.linalg.vector_norm(c_t - c_s, dim=-1) / delta)
    if relation == "left_of":
        mask = c_s[:, 0] < c_t[:, 0]
    elif relation == "right_of":
        mask = c_s[:, 0] > c_t[:, 0]
    elif relation == "above":
        mask = c_s[:, 1] < c_t[:, 1]
    elif relation == "below":
        mask = c_s[:, 1] > c_t[:, 1]
    else:
        raise ValueError("relation must be a spatial relation, got " + relation)
    return _masked(source, target, weight, mask, num_regions, eps)


def _masked(
    source: Tensor, target: Tensor, weight: Tensor, mask: Tensor, num_regions: int, eps: float
) -> tuple[Tensor, Tensor]:
    index = torch.stack([source[mask], target[mask]])
    return index, row_normalize(index[1], weight[mask], num_regions, eps)


def _pair_iou(boxes: Tensor, source: Tensor, target: Tensor) -> Tensor:
    """IoU of each pair; computed per pair, never as an ``[R, R]`` matrix over the batch."""
    if source.numel() == 0:
        return boxes.new_zeros(0)
    a, b = boxes[source], boxes[target]
    lt = torch.maximum(a[:, :2], b[:, :2])
    rb = torch.minimum(a[:, 2:], b[:, 2:])
    inter = (rb - lt).clamp_min(0).prod(-1)
    area = (boxes[:, 2:] - boxes[:, :2]).prod(-1)
    union = area[source] + area[target] - inter
    return torch.where(union > 0, inter / union.clamp_min(1e-12), torch.zeros_like(inter))


__all__ = ["relation_edges", "same_image_pairs", "spatial_edges"]
