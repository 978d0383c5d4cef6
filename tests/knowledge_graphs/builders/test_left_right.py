"""left_right_of: left_X and right_X pairs."""

from knowledge_graphs.builders.left_right import left_right_of


def test_left_right_pairs():
    names = ["left_arm", "right arm", "left_leg", "right_foot", "left_foot"]
    assert left_right_of(names) == [(0, 1, 1.0), (1, 0, 1.0), (3, 4, 1.0), (4, 3, 1.0)]
