"""Build the heterogeneous reasoning graph of a batch of images."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import Tensor
from torch_geometric.data import HeteroData
from torch_geometric.typing import Metadata

from iterative_reasoning._validation import (
    ValueChecks,
    check_batch,
    check_boxes,
    check_image_sizes,
    check_not_normalised,
    check_positive,
    check_probabilities,
    check_tensor,
    warn_boxes_outside,
)
from iterative_reasoning.graph.assignment import assignment_index, assignment_weights
from iterative_reasoning.graph.class_relations import ClassRelations
from iterative_reasoning.graph.spatial import spatial_edges
from iterative_reasoning.typing import (
    ASSIGNMENT_EDGE,
    CLASS,
    REGION,
    REV_ASSIGNMENT_EDGE,
    SPATIAL_RELATIONS,
    class_edge,
    region_edge,
)


class ReasoningGraph(HeteroData):
    """:class:`~torch_geometric.data.HeteroData` of the reasoning graph.

    It batches like any PyG graph: :meth:`torch_geometric.data.Batch.from_data_list` of the
    graphs of single images equals the graph built for the batch at once (the ``batch``
    vectors of regions and classes are offset by the number of images).
    """

    def __inc__(self, key: str, value: object, *args: object, **kwargs: object) -> object:
        if key == "batch":
            return self.num_images
        return super().__inc__(key, value, *args, **kwargs)

    @property
    def num_images(self) -> int:
        """``B``, the number of images (rows of ``image_sizes``)."""
        return int(self["image_sizes"].size(0))

    @property
    def edge_lists(self) -> bool:
        """Whether the class relations are materialised as edge lists (for a PyG batch: in
        every graph of it)."""
        return bool(self["edge_lists_flag"].all())


def build_reasoning_graph(
    boxes: Tensor,
    batch: Tensor,
    image_sizes: Tensor,
    class_probs: Tensor,
    class_relations: ClassRelations,
    *,
    delta: float = 50.0,
    overlaps: bool = False,
    edge_lists: bool = True,
    region_features: Tensor | None = None,
) -> ReasoningGraph:
    """The graph of regions and classes that the global module reasons over.

    Node types ``"region"`` (``R`` nodes over the batch) and ``"class"`` (``B * C`` nodes: each
    image has its own copy of the ``C`` class nodes, so that images never interact). Edge types,
    each always present (possibly empty), with row-normalised ``edge_weight``:

    - ``("region", r, "region")`` for ``r`` in ``left_of``, ``right_of``, ``above``, ``below``
      (and ``overlaps`` if asked): see :func:`~iterative_reasoning.graph.spatial_edges`;
    - ``("region", "assigned_to", "class")`` and ``("class", "rev_assigned_to", "region")``:
      every region with each class node of its image (``R * C`` edges), weighted by the
      row-normalised ``class_probs``; see :mod:`~iterative_reasoning.graph.assignment`;
    - ``("class", rel, "class")`` for each relation of ``class_relations``.

    Node attributes: ``region.box``, ``region.batch``, ``region.class_probs`` (the dense
    assignment), ``region.x`` (if ``region_features`` is given), ``class.class_id`` and
    ``class.batch``. Graph attributes: ``image_sizes``; properties ``num_images``,
    ``edge_lists``.

    Args:
        boxes: region boxes, ``xyxy`` in pixels of the network input.
        batch: image index of each region, sorted (PyG convention).
        image_sizes: ``(height, width)`` of each network input.
        class_probs: the previous prediction's class probabilities (softmax of its logits),
            background column included.
        class_relations: the class graph; its ``num_classes`` must equal ``C``.
        delta: spatial kernel length scale, pixels.
        overlaps: add the IoU-weighted ``overlaps`` region relation.
        edge_lists: materialise the class relations as edge lists (``B`` copies of the class
            graph). The fast layer of :class:`~iterative_reasoning.nn.GlobalModule` holds the
            class graph itself, so it can skip them; the PyG reference layer and PyG layers
            need them. When false, those edge types are present but empty and
            ``graph.edge_lists`` is false.
        region_features: optional features stored as ``region.x``.

    Shapes:
        boxes: ``[R, 4]``; batch: ``[R]``; image_sizes: ``[B, 2]``; class_probs: ``[R, C]``;
        region_features: ``[R, D_r]``

    Example:
        >>> import torch
        >>> rel = ClassRelations(3, {"is_part_of": torch.tensor([[1], [2]])})
        >>> graph = build_reasoning_graph(
        ...     boxes=torch.tensor([[0.0, 0.0, 10.0, 10.0], [40.0, 0.0, 60.0, 20.0]]),
        ...     batch=torch.tensor([0, 0]),
        ...     image_sizes=torch.tensor([[100, 100]]),
        ...     class_probs=torch.full((2, 3), 1 / 3),
        ...     class_relations=rel,
        ... )
        >>> graph["region"].num_nodes, graph["class"].num_nodes
        (2, 3)
        >>> graph["region", "left_of", "region"].edge_index.tolist()
        [[0], [1]]
    """
    checks = ValueChecks()
    boxes = check_boxes("boxes", boxes, checks)
    sizes = check_image_sizes(image_sizes, checks)
    num_images = sizes.size(0)
    batch = check_batch(batch, boxes.size(0), num_images, checks)
    if not isinstance(class_relations, ClassRelations):
        raise TypeError(
            "class_relations must be an iterative_reasoning.graph.ClassRelations, "
            f"got {type(class_relations).__name__}"
        )
    num_classes = class_relations.num_classes
    class_probs = check_probabilities(
        "class_probs", class_probs, boxes.size(0), num_classes, checks
    )
    check_positive("delta", delta)
    check_not_normalised(boxes, batch, sizes, checks)
    warn_boxes_outside(boxes, batch, sizes, checks=checks)
    checks.run()
    if region_features is not None:
        region_features = check_tensor("region_features", region_features)
        if region_features.dim() != 2 or region_features.size(0) != boxes.size(0):
            raise ValueError(
                f"region_features must have shape [R, D_r] with R = {boxes.size(0)}, "
                f"got {list(region_features.shape)}"
            )
    return assemble_reasoning_graph(
        boxes,
        batch,
        sizes,
        class_relations,
        class_probs,
        delta=delta,
        overlaps=overlaps,
        edge_lists=edge_lists,
        region_features=region_features,
    )


def assemble_reasoning_graph(
    boxes: Tensor,
    batch: Tensor,
    image_sizes: Tensor,
    class_relations: ClassRelations,
    class_probs: Tensor | None = None,
    *,
    delta: float = 50.0,
    overlaps: bool = False,
    edge_lists: bool = True,
    region_features: Tensor | None = None,
) -> ReasoningGraph:
    """:func:`build_reasoning_graph` without its input checks, for callers that checked them
    (the head checks its inputs once, at its boundary). Without ``class_probs`` the graph's
    assignment edges have no weights: the head gives them the probabilities of every
    iteration (:func:`~iterative_reasoning.graph.assignment.assignment_weights`).

    Shapes:
        as :func:`build_reasoning_graph`; image_sizes: ``[B, 2]``
    """
    num_images, num_classes = image_sizes.size(0), class_relations.num_classes
    graph = ReasoningGraph()
    graph.image_sizes = image_sizes
    graph.edge_lists_flag = torch.tensor([edge_lists])
    graph.class_relations_digest = class_relations.digest  # which relations it holds
    region = graph[REGION]
    region.num_nodes = boxes.size(0)
    region.box = boxes
    region.batch = batch
    if class_probs is not None:
        region.class_probs = class_probs
    if region_features is not None:
        region.x = region_features
    cls = graph[CLASS]
    cls.num_nodes = num_images * num_classes
    node = torch.arange(num_images * num_classes, device=boxes.device)
    cls.class_id = node % num_classes
    cls.batch = torch.div(node, num_classes, rounding_mode="floor")

    for name, (index, weight) in spatial_edges(boxes, batch, delta, overlaps).items():
        graph[region_edge(name)].edge_index = index
        graph[region_edge(name)].edge_weight = weight
    _add_semantic_edges(graph, class_probs, batch, class_relations, num_images, edge_lists)
    return graph


def reasoning_metadata(
    class_relations: Sequence[str] = (),
    spatial_relations: Sequence[str] = SPATIAL_RELATIONS,
) -> Metadata:
    """The ``(node_types, edge_types)`` of a reasoning graph with these relations, as
    :meth:`~torch_geometric.data.HeteroData.metadata` gives them, without building one: what
    :class:`~iterative_reasoning.nn.GlobalReasoningConv` is sized by. The assignment edge types
    come with the class relations.

    Example:
        >>> reasoning_metadata(["is_part_of"], ["left_of"])
        (['region', 'class'], [('region', 'left_of', 'region'), \
('region', 'assigned_to', 'class'), ('class', 'rev_assigned_to', 'region'), \
('class', 'is_part_of', 'class')])
    """
    edge_types = [region_edge(r) for r in spatial_relations]
    if class_relations:
        edge_types += [ASSIGNMENT_EDGE, REV_ASSIGNMENT_EDGE]
        edge_types += [class_edge(r) for r in class_relations]
    return [REGION, CLASS], edge_types


def metadata_relations(metadata: Metadata) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The ``region -> region`` and the ``class -> class`` relations of ``metadata`` (a
    reasoning graph's, :func:`reasoning_metadata`), in order; a graph with class relations
    must have the assignment edge types too.

    Example:
        >>> metadata_relations(reasoning_metadata(["is_part_of"], ["left_of", "above"]))
        (('left_of', 'above'), ('is_part_of',))
    """
    if not (isinstance(metadata, (tuple, list)) and len(metadata) == 2):
        raise TypeError(
            "metadata must be (node_types, edge_types), as HeteroData.metadata() gives them, "
            f"got {type(metadata).__name__}"
        )
    node_types, edge_types = metadata
    edge_types = [tuple(t) for t in edge_types]
    bad = [t for t in edge_types if len(t) != 3]
    if bad:
        raise ValueError(f"metadata's edge types must be (source, relation, target), got {bad}")
    spatial = tuple(rel for src, rel, dst in edge_types if src == dst == REGION)
    semantic = tuple(rel for src, rel, dst in edge_types if src == dst == CLASS)
    needs = {REGION} | ({CLASS} if semantic else set())
    if not needs <= set(node_types):
        raise ValueError(
            f"metadata's node types {list(node_types)} lack {sorted(needs - set(node_types))}"
        )
    if not spatial and not semantic:
        raise ValueError(
            "metadata has neither region -> region nor class -> class edge types: the layer "
            f"would have no path (edge types {edge_types})"
        )
    for needed in (ASSIGNMENT_EDGE, REV_ASSIGNMENT_EDGE):
        if semantic and needed not in edge_types:
            raise ValueError(
                f"metadata has class relations but not the assignment edge type {needed}; "
                "give the reasoning graph's metadata (reasoning_metadata)"
            )
    return spatial, semantic


def _add_semantic_edges(
    graph: HeteroData,
    class_probs: Tensor | None,
    batch: Tensor,
    class_relations: ClassRelations,
    num_images: int,
    edge_lists: bool,
) -> None:
    device, dtype = batch.device, graph[REGION].box.dtype
    to_class, to_region = assignment_index(batch, class_relations.num_classes)
    graph[ASSIGNMENT_EDGE].edge_index = to_class
    graph[REV_ASSIGNMENT_EDGE].edge_index = to_region
    if class_probs is not None:
        weights = assignment_weights(class_probs, batch, num_images)
        graph[ASSIGNMENT_EDGE].edge_weight, graph[REV_ASSIGNMENT_EDGE].edge_weight = weights
    if not edge_lists:
        empty = (
            torch.zeros(2, 0, dtype=torch.long, device=device),
            torch.zeros(0, dtype=dtype, device=device),
        )
        for name in class_relations.names:
            graph[class_edge(name)].edge_index, graph[class_edge(name)].edge_weight = empty
        return
    offsets = torch.arange(num_images, device=device) * class_relations.num_classes
    for name, (index, weight) in class_relations.normalized().items():
        index = (index.to(device)[:, None, :] + offsets[None, :, None]).reshape(2, -1)
        weight = weight.to(device, dtype).repeat(num_images)
        graph[class_edge(name)].edge_index = index
        graph[class_edge(name)].edge_weight = weight
