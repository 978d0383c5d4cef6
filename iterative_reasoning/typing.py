"""Names of the node and edge types of the reasoning graph.

The names are part of the public data model (see :doc:`/graph_schema`): they are the keys of
:class:`torch_geometric.data.HeteroData` and of every ``dict`` keyed by edge type.
"""

from __future__ import annotations

NodeType = str
EdgeType = tuple[str, str, str]

REGION: NodeType = "region"
CLASS: NodeType = "class"

LEFT_OF = "left_of"
RIGHT_OF = "right_of"
ABOVE = "above"
BELOW = "below"
OVERLAPS = "overlaps"
ASSIGNED_TO = "assigned_to"
REV_ASSIGNED_TO = "rev_assigned_to"

#: The four directional region-region relations, always present in the graph.
SPATIAL_RELATIONS: tuple[str, ...] = (LEFT_OF, RIGHT_OF, ABOVE, BELOW)

ASSIGNMENT_EDGE: EdgeType = (REGION, ASSIGNED_TO, CLASS)
REV_ASSIGNMENT_EDGE: EdgeType = (CLASS, REV_ASSIGNED_TO, REGION)


def region_edge(relation: str) -> EdgeType:
    """The edge type ``("region", relation, "region")``."""
    return (REGION, relation, REGION)


def class_edge(relation: str) -> EdgeType:
    """The edge type ``("class", relation, "class")``."""
    return (CLASS, relation, CLASS)
