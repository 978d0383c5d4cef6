"""Pure functions that build the reasoning graph (:class:`~torch_geometric.data.HeteroData`)."""

from iterative_reasoning.graph.assignment import (
    DenseAssignment,
    assignment_edges,
    dense_assignment,
)
from iterative_reasoning.graph.class_relations import ClassRelations, row_normalize
from iterative_reasoning.graph.reasoning_graph import ReasoningGraph, build_reasoning_graph
from iterative_reasoning.graph.spatial import same_image_pairs, spatial_edges

__all__ = [
    "ClassRelations",
    "DenseAssignment",
    "ReasoningGraph",
    "assignment_edges",
    "build_reasoning_graph",
    "dense_assignment",
    "row_normalize",
    "same_image_pairs",
    "spatial_edges",
]
