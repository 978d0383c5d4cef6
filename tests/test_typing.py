from iterative_reasoning.graph import ClassRelations, build_reasoning_graph
from iterative_reasoning.typing import (
    ASSIGNMENT_EDGE,
    CLASS,
    OVERLAPS,
    REGION,
    REV_ASSIGNMENT_EDGE,
    SPATIAL_RELATIONS,
    class_edge,
    region_edge,
)


def test_edge_types_are_the_graph_s_keys():
    import torch

    relations = ClassRelations(3, {"is_part_of": torch.tensor([[1], [2]])})
    graph = build_reasoning_graph(
        torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 0.0, 30.0, 10.0]]),
        torch.tensor([0, 0]),
        torch.tensor([[40.0, 40.0]]),
        torch.full((2, 3), 1 / 3),
        relations,
        overlaps=True,
    )
    node_types, edge_types = graph.metadata()
    assert set(node_types) == {REGION, CLASS}
    expected = {region_edge(r) for r in (*SPATIAL_RELATIONS, OVERLAPS)}
    expected |= {ASSIGNMENT_EDGE, REV_ASSIGNMENT_EDGE, class_edge("is_part_of")}
    assert expected <= set(edge_types)


def test_names():
    assert region_edge("above") == ("region", "above", "region")
    assert class_edge("similar_to") == ("class", "similar_to", "class")
    assert SPATIAL_RELATIONS == ("left_of", "right_of", "above", "below")
    assert ASSIGNMENT_EDGE == ("region", "assigned_to", "class")
    assert REV_ASSIGNMENT_EDGE == ("class", "rev_assigned_to", "region")
