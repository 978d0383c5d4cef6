"""Pure functions that build the reasoning graph (:class:`~torch_geometric.data.HeteroData`)."""

from iterative_reasoning.graph.assignment import (
    DenseAssignment,
    assignment_blocks,
    assignment_edges,
    assignment_index,
    assignment_weights,
    dense_assignment,
    region_images,
    region_slots,
)
from iterative_reasoning.graph.class_relations import ClassRelations, row_normalize
from iterative_reasoning.graph.reasoning_graph import (
    ReasoningGraph,
    assemble_reasoning_graph,
    build_reasoning_graph,
    reasoning_metadata,
)
from iterative_reasoning.graph.spatial import same_image_pairs, spatial_edges

__all__ = [
    "ClassRelations",
    "DenseAssignment",
    "ReasoningGraph",
    "assemble_reasoning_graph",
    "assignment_blocks",
    "assignment_edges",
    "assignment_index",
    "assignment_weights",
    "build_reasoning_graph",
    "dense_assignment",
    "reasoning_metadata",
    "region_images",
    "region_slots",
    "row_normalize",
    "same_image_pairs",
    "spatial_edges",
]
