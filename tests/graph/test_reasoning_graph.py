import pytest
import torch
from helpers import image_sizes, random_boxes, random_probs, random_relations
from torch_geometric.data import Batch

from iterative_reasoning.graph import ReasoningGraph, build_reasoning_graph
from iterative_reasoning.typing import SPATIAL_RELATIONS

C = 5


def build(counts, seed=0, **kwargs):
    boxes, batch = random_boxes(counts, seed=seed)
    probs = random_probs(boxes.size(0), C, seed=seed)
    return build_reasoning_graph(
        boxes, batch, image_sizes(len(counts)), probs, random_relations(C), **kwargs
    )


@pytest.mark.parametrize("counts", [[4, 3], [0], [1], [2, 0, 3]])
def test_schema_every_edge_type_present(counts):
    graph = build(counts)
    assert isinstance(graph, ReasoningGraph)
    node_types, edge_types = graph.metadata()
    assert node_types == ["region", "class"]
    expected = {("region", r, "region") for r in SPATIAL_RELATIONS}
    expected |= {
        ("region", "assigned_to", "class"),
        ("class", "rev_assigned_to", "region"),
        ("class", "rel_0", "class"),
        ("class", "rel_1", "class"),
    }
    assert set(edge_types) == expected
    assert graph["region"].num_nodes == sum(counts)
    assert graph["class"].num_nodes == len(counts) * C
    assert graph.num_images == len(counts)
    for edge_type in edge_types:
        store = graph[edge_type]
        assert store.edge_index.shape[0] == 2
        assert store.edge_weight.shape == (store.edge_index.size(1),)
    assert graph["region", "assigned_to", "class"].edge_index.size(1) == sum(counts) * C


def test_class_nodes_are_per_image_and_edges_stay_in_image():
    graph = build([3, 2])
    cls = graph["class"]
    assert cls.class_id.tolist() == list(range(C)) * 2
    assert cls.batch.tolist() == [0] * C + [1] * C
    for edge_type in graph.edge_types:
        index = graph[edge_type].edge_index
        src_batch = graph[edge_type[0]].batch[index[0]]
        dst_batch = graph[edge_type[2]].batch[index[1]]
        assert bool((src_batch == dst_batch).all()), edge_type


def test_pyg_batch_of_single_images_equals_batched_build():
    counts, seed = [3, 0, 2], 4
    boxes, batch = random_boxes(counts, seed=seed)
    probs = random_probs(boxes.size(0), C, seed=seed)
    rel = random_relations(C)
    whole = build_reasoning_graph(boxes, batch, image_sizes(3), probs, rel, overlaps=True)
    singles = [
        build_reasoning_graph(
            boxes[batch == b],
            torch.zeros(int((batch == b).sum()), dtype=torch.long),
            image_sizes(1),
            probs[batch == b],
            rel,
            overlaps=True,
        )
        for b in range(3)
    ]
    batched = Batch.from_data_list(singles)
    assert batched.num_images == 3 and batched.edge_lists
    assert torch.equal(batched["region"].batch, whole["region"].batch)
    assert torch.equal(batched["class"].batch, whole["class"].batch)
    for edge_type in whole.edge_types:
        a, b = whole[edge_type], batched[edge_type]
        ka, kb = _sorted_edges(a), _sorted_edges(b)
        assert [e[:2] for e in ka] == [e[:2] for e in kb], edge_type
        assert [e[2] for e in ka] == pytest.approx([e[2] for e in kb]), edge_type


def _sorted_edges(store):
    return sorted(zip(*store.edge_index.tolist(), store.edge_weight.tolist(), strict=True))


def test_without_edge_lists_keeps_types_but_no_class_edges():
    graph = build([3], edge_lists=False)
    assert not graph.edge_lists
    assert graph["region", "assigned_to", "class"].edge_index.shape == (2, 3 * C)
    assert graph["region", "assigned_to", "class"].edge_weight.shape == (3 * C,)
    assert graph["class", "rel_0", "class"].edge_index.shape == (2, 0)
    assert graph["region"].class_probs.shape == (3, C)


def test_region_features_and_device_move():
    boxes, batch = random_boxes([2])
    graph = build_reasoning_graph(
        boxes,
        batch,
        image_sizes(1),
        random_probs(2, C),
        random_relations(C),
        region_features=torch.ones(2, 7),
    )
    assert graph["region"].x.shape == (2, 7)
    assert graph.to("cpu")["region"].x.shape == (2, 7)


def _args(**over):
    boxes, batch = random_boxes([2, 1])
    args = {
        "boxes": boxes,
        "batch": batch,
        "image_sizes": image_sizes(2),
        "class_probs": random_probs(3, C),
        "class_relations": random_relations(C),
    }
    args.update(over)
    return args


@pytest.mark.parametrize(
    ("over", "error", "match"),
    [
        ({"boxes": torch.zeros(3, 5)}, ValueError, r"boxes must have shape \[R, 4\]"),
        ({"boxes": torch.zeros(3, 4, dtype=torch.long)}, TypeError, "floating"),
        (
            {"boxes": torch.tensor([[0.0, 0, 1, 1], [0, 0, float("nan"), 1], [0, 0, 1, 1]])},
            ValueError,
            "boxes must be finite",
        ),
        (
            {"boxes": torch.tensor([[5.0, 0, 1, 1], [0, 0, 1, 1], [0, 0, 1, 1]])},
            ValueError,
            "x2 >= x1",
        ),
        ({"batch": torch.tensor([0, 1])}, ValueError, r"batch must have shape \[R\] = \[3\]"),
        ({"batch": torch.tensor([1, 0, 0])}, ValueError, "sorted"),
        ({"batch": torch.tensor([0, 0, 2])}, ValueError, "image 2 but only 2"),
        ({"batch": torch.tensor([0.0, 0.0, 1.0])}, TypeError, "torch.long"),
        ({"image_sizes": torch.tensor([100.0, 100.0])}, ValueError, r"\[B, 2\]"),
        (
            {"class_probs": random_probs(3, C + 1)},
            ValueError,
            f"{C + 1} classes but the class graph has {C}",
        ),
        ({"class_probs": -random_probs(3, C)}, ValueError, "non-negative"),
        ({"class_probs": random_probs(2, C)}, ValueError, r"\[R, C\] = \[3, 5\]"),
        ({"class_relations": {"a": torch.tensor([[0], [1]])}}, TypeError, "ClassRelations"),
        ({"delta": 0.0}, ValueError, "delta"),
        ({"delta": float("nan")}, ValueError, "delta must be finite and positive, got nan"),
        ({"delta": float("inf")}, ValueError, "delta must be finite and positive, got inf"),
        ({"image_sizes": torch.tensor([[100.0, float("inf")], [90, 90]])}, ValueError, "finite"),
        (
            {"boxes": torch.tensor([[0.1, 0.1, 0.5, 0.6], [0.2, 0, 1, 1], [0, 0, 0.3, 0.3]])},
            ValueError,
            "look normalised to",
        ),
        ({"region_features": torch.ones(2, 4)}, ValueError, "region_features"),
    ],
)
def test_errors_name_the_argument(over, error, match):
    with pytest.raises(error, match=match):
        build_reasoning_graph(**_args(**over))


def test_boxes_in_original_image_coordinates_warn():
    boxes = torch.tensor([[10.0, 10.0, 900.0, 700.0]])
    with pytest.warns(UserWarning, match="outside their image"):
        build_reasoning_graph(
            boxes,
            torch.tensor([0]),
            torch.tensor([[100.0, 100.0]]),
            random_probs(1, C),
            random_relations(C),
        )


def test_metadata_drives_a_pyg_heterogeneous_layer():
    from torch_geometric.nn import HGTConv

    graph = build([3, 2])
    conv = HGTConv(8, 8, graph.metadata(), heads=2).double()
    x_dict = {
        "region": torch.randn(5, 8, dtype=torch.float64),
        "class": torch.randn(2 * C, 8, dtype=torch.float64),
    }
    out = conv(x_dict, graph.edge_index_dict)
    assert out["region"].shape == (5, 8) and out["class"].shape == (2 * C, 8)
