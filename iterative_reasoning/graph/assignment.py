"""Soft assignment between regions and classes.

Region ``r`` of image ``b`` is linked to the class node ``(b, c)`` with the probability
``p[r, c]`` of its previous prediction. Row normalisation of the two directions gives

- ``assigned_to`` (region -> class): ``A_rc[c, r] = p[r, c] / sum_{r' in b} p[r', c]``, each class
  node averages the regions of its image, weighted by how likely they are of that class;
- ``rev_assigned_to`` (class -> region): ``A_cr[r, c] = p[r, c] / sum_c' p[r, c']``, each region
  averages the classes it is likely to be (equal to ``p`` for softmax probabilities).

The fast path uses these as dense ``[R_i, C]`` blocks (:func:`dense_assignment`); the PyG
reference path uses them as edge lists (:func:`assignment_edges`).
"""

from __future__ import annotations

from typing import NamedTuple

import torch
from torch import Tensor
from torch_geometric.utils import to_dense_batch

from iterative_reasoning.graph.class_relations import row_normalize


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


def assignment_edges(
    class_probs: Tensor, batch: Tensor, eps: float = 1e-14, num_images: int | None = None
) -> tuple[tuple[Tensor, Tensor], tuple[Tensor, Tensor]]:
    """The assignment as two weighted edge lists over per-image class nodes.

    Class node ``b * C + c`` is class ``c`` of image ``b``. Pairs with ``p[r, c] = 0`` get no
    edge. ``num_images`` (``B``) defaults to ``max(batch) + 1``.

    Returns:
        ``((edge_index, edge_weight)`` of ``assigned_to`` (region -> class node),
        ``(edge_index, edge_weight)`` of ``rev_assigned_to`` (class node -> region)``).

    Shapes:
        class_probs: ``[R, C]``; batch: ``[R]``; each edge_index ``[2, E]``, edge_weight ``[E]``
    """
    num_regions, num_classes = class_probs.shape
    region, cls = (class_probs > 0).nonzero(as_tuple=True)
    prob = class_probs[region, cls]
    class_node = batch[region] * num_classes + cls
    if num_images is None:
        num_images = int(batch.max()) + 1 if num_regions else 0
    forward = row_normalize(class_node, prob, num_images * num_classes, eps)
    backward = row_normalize(region, prob, num_regions, eps)
    return (
        (torch.stack([region, class_node]), forward),
        (torch.stack([class_node, region]), backward),
    )
