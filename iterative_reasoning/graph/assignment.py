"""Soft assignment between regions and classes.

Region ``r`` of image ``b`` is linked to the class node ``(b, c)`` (node ``b * C + c``) with
the probability ``p[r, c]`` of its previous prediction. Row normalisation of the two directions
gives

- ``assigned_to`` (region -> class): ``A_rc[c, r] = p[r, c] / sum_{r' in b} p[r', c]``, each class
  node averages the regions of its image, weighted by how likely they are of that class;
- ``rev_assigned_to`` (class -> region): ``A_cr[r, c] = p[r, c] / sum_c' p[r, c']``, each region
  averages the classes it is likely to be (equal to ``p`` for softmax probabilities).

The graph carries them as two edge types (:func:`assignment_edges`): every region to every
class node of its image, region by region. The edges are the same at every iteration of the
head (:func:`assignment_index`, built once); only their weights follow each prediction
(:func:`assignment_weights`). The fast layer reads them back as dense ``[R_i, C]`` blocks per
image (:func:`assignment_blocks`, equal to :func:`dense_assignment` of the probabilities).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch_geometric.utils import to_dense_batch

from iterative_reasoning.typing import ASSIGNMENT_EDGE, REV_ASSIGNMENT_EDGE, EdgeType


class DenseAssignment(NamedTuple):
    """Row-normalised assignment in padded per-image blocks.

    Attributes:
        to_class: ``A_rc`` per image, ``[B, C, R_max]``; padded regions have zero weight.
        to_region: ``A_cr``, ``[R, C]`` (regions of all images, concatenated).
        mask: ``[B, R_max]``, true where a padded slot holds a real region.
    """

    to_class: Tensor
    to_region: Tensor
    mask: Tensor


def dense_assignment(
    class_probs: Tensor,
    batch: Tensor,
    num_images: int,
    eps: float = 1e-14,
    max_regions: int | None = None,
) -> DenseAssignment:
    """The two row-normalised assignment matrices as dense per-image blocks.

    Args:
        class_probs: previous prediction's class probabilities of each region.
        batch: image index of each region, sorted.
        num_images: ``B``.
        eps: floor of the row sums.
        max_regions: ``R_max``, the most regions of an image, when known (otherwise it is
            read from ``batch``, a host synchronisation on a GPU).

    Shapes:
        class_probs: ``[R, C]``; batch: ``[R]``
    """
    padded, mask = to_dense_batch(
        class_probs, batch, batch_size=num_images, max_num_nodes=max_regions
    )  # [B, R_max, C]
    per_class = padded.sum(dim=1, keepdim=True).clamp_min(eps)
    to_class = (padded / per_class).transpose(1, 2)
    to_region = class_probs / class_probs.sum(dim=-1, keepdim=True).clamp_min(eps)
    return DenseAssignment(to_class, to_region, mask)


def assignment_index(batch: Tensor, num_classes: int) -> tuple[Tensor, Tensor]:
    """The edges of the two assignment types: region ``r`` to each class node
    ``batch[r] * C + c``, region by region (``R * C`` edges), and the same pairs reversed.
    They depend on the regions' images only, so they serve every iteration.

    Returns:
        ``(edge_index of assigned_to, edge_index of rev_assigned_to)``, each ``[2, R * C]``.

    Example:
        >>> to_class, to_region = assignment_index(torch.tensor([0, 1]), num_classes=2)
        >>> to_class.tolist()
        [[0, 0, 1, 1], [0, 1, 2, 3]]
    """
    num_regions = batch.numel()
    pairs = torch.empty(3, num_regions * num_classes, dtype=torch.long, device=batch.device)
    region = torch.arange(num_regions, device=batch.device)
    pairs[0] = region.repeat_interleave(num_classes)
    classes = torch.arange(num_classes, device=batch.device)
    pairs[1] = (batch[:, None] * num_classes + classes).reshape(-1)
    pairs[2] = pairs[0]
    # two views of one tensor: (region, class node) and (class node, region)
    return pairs[0:2], pairs[1:3]


def assignment_weights(
    class_probs: Tensor,
    batch: Tensor,
    num_images: int,
    eps: float = 1e-14,
    max_regions: int | None = None,
) -> tuple[Tensor, Tensor]:
    """The row-normalised weights of the edges of :func:`assignment_index`, in its order:
    the very numbers of :func:`dense_assignment` (``max_regions`` as there).

    Returns:
        ``(edge_weight of assigned_to, edge_weight of rev_assigned_to)``, each ``[R * C]``.
    """
    if class_probs.size(0) == 0:
        empty = class_probs.reshape(-1)
        return empty, empty.clone()
    padded, _ = to_dense_batch(
        class_probs, batch, batch_size=num_images, max_num_nodes=max_regions
    )  # [B, R_max, C]
    per_class = padded.sum(dim=1).clamp_min(eps)  # [B, C]
    to_class = class_probs / per_class[batch]
    to_region = class_probs / class_probs.sum(dim=-1, keepdim=True).clamp_min(eps)
    return to_class.reshape(-1), to_region.reshape(-1)


def assignment_edges(
    class_probs: Tensor,
    batch: Tensor,
    eps: float = 1e-14,
    num_images: int | None = None,
) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """The assignment as two weighted edge lists over per-image class nodes:
    :func:`assignment_index` with :func:`assignment_weights`. A pair with ``p[r, c] = 0`` is
    an edge of weight 0 (it adds nothing). ``num_images`` (``B``) defaults to
    ``max(batch) + 1``.

    Returns:
        ``((edge_index, edge_weight)`` of ``assigned_to`` (region -> class node),
        ``(edge_index, edge_weight)`` of ``rev_assigned_to`` (class node -> region)``).

    Shapes:
        class_probs: ``[R, C]``; batch: ``[R]``; each edge_index ``[2, R * C]``, edge_weight
        ``[R * C]``
    """
    num_regions, num_classes = class_probs.shape
    if num_images is None:
        num_images = int(batch.max()) + 1 if num_regions else 0
    to_class, to_region = assignment_index(batch, num_classes)
    w_class, w_region = assignment_weights(class_probs, batch, num_images, eps)
    return (to_class, w_class), (to_region, w_region)


def region_slots(batch: Tensor, num_images: int) -> Tensor:
    """Each region's place among its image's regions (``0, 1, ...`` per image), for ``batch``
    sorted: its row in the padded per-image blocks.

    Example:
        >>> region_slots(torch.tensor([0, 0, 2, 2, 2]), num_images=3).tolist()
        [0, 1, 0, 1, 2]
    """
    counts = torch.bincount(batch, minlength=num_images)
    return torch.arange(batch.numel(), device=batch.device) - (counts.cumsum(0) - counts)[batch]


def assignment_blocks(
    edge_index_dict: dict[EdgeType, Tensor],
    edge_weight_dict: dict[EdgeType, Tensor],
    batch: Tensor,
    num_classes: int,
    num_images: int,
    max_regions: int,
    slot: Tensor | None = None,
) -> DenseAssignment:
    """The assignment edges of a graph (any order, any subset of the pairs) as the dense
    per-image blocks of :func:`dense_assignment`; a pair without an edge weighs 0.

    Args:
        edge_index_dict, edge_weight_dict: the graph's, with the two assignment types.
        batch: image index of each region, sorted.
        num_classes: ``C``.
        num_images: ``B``.
        max_regions: ``R_max``, the most regions of an image.
        slot: :func:`region_slots` of ``batch``, when the caller has it.
    """
    num_regions = batch.numel()
    if slot is None:
        slot = region_slots(batch, num_images)
    # class node b * C + c, slot s -> (b * C + c) * R_max + s in the flat [B, C, R_max] block
    region, node = edge_index_dict[ASSIGNMENT_EDGE]
    weight = edge_weight_dict[ASSIGNMENT_EDGE]
    flat = torch.add(slot[region], node, alpha=max_regions)
    to_class = weight.new_zeros(num_images * num_classes * max_regions).index_add(0, flat, weight)
    # region r, class node b * C + c -> r * C + c in the flat [R, C] block
    node, region = edge_index_dict[REV_ASSIGNMENT_EDGE]
    rev_weight = edge_weight_dict[REV_ASSIGNMENT_EDGE]
    flat = torch.remainder(node, num_classes).add_(region, alpha=num_classes)
    to_region = rev_weight.new_zeros(num_regions * num_classes).index_add(0, flat, rev_weight)
    mask = torch.zeros(num_images, max_regions, dtype=torch.bool, device=batch.device)
    mask[batch, slot] = True
    return DenseAssignment(
        to_class.view(num_images, num_classes, max_regions),
        to_region.view(num_regions, num_classes),
        mask,
    )


def region_images(to_class_index: Tensor, num_regions: int, num_classes: int) -> Tensor:
    """The image of each region, read from its ``assigned_to`` edges (class node
    ``b * C + c`` is of image ``b``); a region without an edge gets image 0.

    Shapes:
        to_class_index: ``[2, E]``; output: ``[R]``
    """
    region, node = to_class_index
    images = torch.zeros(num_regions, dtype=torch.long, device=to_class_index.device)
    return images.scatter(0, region, torch.div(node, num_classes, rounding_mode="floor"))
