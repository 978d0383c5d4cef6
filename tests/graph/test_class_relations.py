import pytest
import torch

from iterative_reasoning.graph import ClassRelations


def test_normalised_per_target_and_unit_weights():
    rel = ClassRelations(
        4,
        {
            "a": (torch.tensor([[0, 1, 2], [3, 3, 1]]), torch.tensor([1.0, 3.0, 2.0])),
            "b": torch.tensor([[1], [2]]),
        },
    )
    norm = rel.normalized()
    assert norm["a"][1].tolist() == [0.25, 0.75, 1.0]
    assert norm["b"][1].tolist() == [1.0]
    assert rel.names == ("a", "b") and rel.num_edges == {"a": 3, "b": 1}
    assert "num_classes=4" in repr(rel)


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"num_classes": 0, "edges": {}}, ValueError, "num_classes"),
        ({"num_classes": 3, "edges": [1]}, TypeError, "mapping"),
        ({"num_classes": 3, "edges": {"": torch.tensor([[0], [1]])}}, ValueError, "non-empty"),
        ({"num_classes": 3, "edges": {"a": torch.tensor([0, 1])}}, ValueError, r"\[2, E\]"),
        ({"num_classes": 3, "edges": {"a": torch.tensor([[0], [3]])}}, ValueError, r"\[0, 3\)"),
        ({"num_classes": 3, "edges": {"a": torch.tensor([[0.0], [1.0]])}}, TypeError, "long"),
        (
            {"num_classes": 3, "edges": {"a": (torch.tensor([[0], [1]]), torch.ones(2))}},
            ValueError,
            r"\[E\] = \[1\]",
        ),
        (
            {"num_classes": 3, "edges": {"a": (torch.tensor([[0], [1]]), torch.tensor([-1.0]))}},
            ValueError,
            "non-negative",
        ),
        (
            {
                "num_classes": 3,
                "edges": {"a": (torch.tensor([[0], [1]]), torch.tensor([float("nan")]))},
            },
            ValueError,
            "finite",
        ),
        ({"num_classes": 3, "edges": {"a": [torch.tensor([[0], [1]])]}}, TypeError, "edge_index"),
    ],
)
def test_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        ClassRelations(**kwargs)


def test_self_loop_warns():
    with pytest.warns(UserWarning, match="self-loops"):
        ClassRelations(3, {"a": torch.tensor([[1], [1]])})
